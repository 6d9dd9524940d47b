#include "common/http_exchange.h"

#include <poll.h>
#include <sys/socket.h>

#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <limits>

#include "tunnel/dial.h"

namespace allot::http {
namespace {

namespace beast = boost::beast;

// Up to `size` bytes, 0 at the end of the stream, -1 on an error, -2 when
// nothing came within `timeout_ms`.
ssize_t ReadSome(int fd, char* buffer, size_t size, int timeout_ms) {
  while (true) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return -2;
    if (ready < 0) return -1;
    ssize_t n = ::recv(fd, buffer, size, 0);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

Error Broken(Failure& failure, Failure kind, const std::string& why) {
  failure = kind;
  return Error::Coded("unreachable", why);
}

Reply HeadOf(const beast::http::response<beast::http::string_body>& message, bool keep_alive) {
  Reply reply;
  reply.status = static_cast<int>(message.result_int());
  reply.content_type = std::string(message[beast::http::field::content_type]);
  reply.keep_alive = keep_alive;
  return reply;
}

}  // namespace

std::string Request(const std::string& method, const std::string& path, const std::string& host,
                    const std::string& authorization, const std::string* body) {
  std::string out;
  out.reserve(256 + (body ? body->size() : 0));
  out.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: ").append(host);
  if (!authorization.empty()) out.append("\r\nAuthorization: ").append(authorization);
  out.append("\r\nAccept: application/json\r\nConnection: keep-alive");
  if (body != nullptr) {
    out.append("\r\nContent-Type: application/json\r\nContent-Length: ");
    out.append(std::to_string(body->size()));
  }
  out.append("\r\n\r\n");
  if (body != nullptr) out.append(*body);
  return out;
}

Result<Reply> Exchange(int fd, const std::string& request, int timeout_ms, const BodySink* sink,
                       Failure& failure) {
  failure = Failure::kNone;
  if (!tunnel::WriteAll(fd, request.data(), request.size())) {
    return Broken(failure, Failure::kNotSent, "the connection closed before the request was sent");
  }
  beast::http::response_parser<beast::http::string_body> parser;
  // Logs and long lists: the sink takes them as they come. (Not boost::none:
  // Boost 1.74 takes none for a limit below any Content-Length.)
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.skip(request.rfind("HEAD ", 0) == 0);
  std::string pending;  // read, not yet taken by the parser
  char buffer[16 * 1024];
  bool any = false;
  while (!parser.is_done()) {
    ssize_t n = ReadSome(fd, buffer, sizeof buffer, timeout_ms);
    if (n == -2) {
      return Broken(failure, any ? Failure::kBrokenReply : Failure::kTimeout,
                    "no reply within " + std::to_string(timeout_ms / 1000) + " s");
    }
    beast::error_code ec;
    if (n <= 0) {
      if (parser.is_header_done() && n == 0)
        parser.put_eof(ec);  // a body that ends with the stream
      if (n < 0 || ec || !parser.is_done()) {
        return Broken(
            failure, any ? Failure::kBrokenReply : Failure::kNoReply,
            any ? "the connection broke during the reply" : "the connection closed before a reply");
      }
      break;
    }
    any = true;
    pending.append(buffer, static_cast<size_t>(n));
    while (!pending.empty() && !parser.is_done()) {
      size_t used = parser.put(boost::asio::buffer(pending), ec);
      pending.erase(0, used);
      if (ec == beast::http::error::need_more) break;
      if (ec) return Broken(failure, Failure::kBrokenReply, "a malformed reply: " + ec.message());
      if (used == 0) break;
    }
    if (sink != nullptr && parser.is_header_done() && parser.get().result_int() / 100 == 2) {
      std::string& body = parser.get().body();
      if (!body.empty()) {
        bool more = (*sink)(body.data(), body.size());
        body.clear();
        if (!more) return HeadOf(parser.get(), false);
      }
    }
  }
  Reply reply = HeadOf(parser.get(), parser.get().keep_alive() && pending.empty());
  reply.body = std::move(parser.get().body());
  return reply;
}

}  // namespace allot::http

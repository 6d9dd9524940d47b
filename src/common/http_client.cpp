#include "common/http_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>

#include "common/http_exchange.h"
#include "tunnel/dial.h"

namespace allot {
namespace {

constexpr int kConnectTimeoutMs = 5000;

Error Unreachable(const std::string& servers, const std::string& why) {
  if (why.rfind("TLS with ", 0) == 0) {  // it says what to do (tunnel/tls.h)
    return Error::Coded("unreachable", "cannot reach the allot server at " + servers + ": " + why);
  }
  return Error::Coded("unreachable", "cannot reach the allot server at " + servers + " (" + why +
                                         "): is it running (allot up)? Set the address with "
                                         "ALLOT_SERVER or allot login --server");
}

// An API error reply {"error": {"code", "message", "field"}} as that Error.
Error ReplyError(int status, const std::string& body) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    const nlohmann::json& error = parsed["error"];
    return Error::Coded(error.value("code", "internal"), error.value("message", body),
                        error.value("field", ""));
  }
  return Error::Coded("internal", "HTTP " + std::to_string(status) + " from the server: " + body);
}

}  // namespace

struct HttpClient::Impl {
  std::vector<tunnel::HostPort> servers;
  std::vector<std::string> names;  // as given, for messages
  std::string ca_file;
  std::string authorization;  // "Bearer ..." or empty
  int read_timeout_ms = 30'000;
  size_t current = 0;  // the server that answered last

  std::mutex fd_mutex;  // fd and canceled, which Cancel() touches from another thread
  int fd = -1;          // the kept-alive connection to servers[current]
  bool canceled = false;

  ~Impl() { Close(); }

  void Close() {
    std::lock_guard lock(fd_mutex);
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  // The kept-alive connection when the server has not closed it (it would
  // be readable), else a new one; `reused` says which.
  Result<int> Connection(bool& reused) {
    reused = false;
    {
      std::lock_guard lock(fd_mutex);
      if (canceled) return Error::Coded("unreachable", "the call was canceled");
      if (fd >= 0) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 0) == 0) {
          reused = true;
          return fd;
        }
        ::close(fd);
        fd = -1;
      }
    }
    Result<int> fresh = tunnel::ConnectServer(servers[current], ca_file, kConnectTimeoutMs);
    if (!fresh) return fresh;
    std::lock_guard lock(fd_mutex);
    fd = *fresh;
    return fd;
  }

  // One request to the current server. `reused`: the connection had served
  // a request before.
  Result<http::Reply> SendOnce(const std::string& request, const http::BodySink* sink,
                               http::Failure& failure, bool& reused) {
    Result<int> connection = Connection(reused);
    if (!connection) {
      failure = http::Failure::kNotSent;
      return connection.error();
    }
    Result<http::Reply> head = http::Exchange(*connection, request, read_timeout_ms, sink, failure);
    if (!head || !head->keep_alive) Close();
    return head;
  }

  // Sends to the current server, then the others in turn while it could
  // not connect (or, when `idempotent`, gave no reply), or answered 503: a
  // server that cannot reach its store, where another may. A reused
  // connection that the server closed before it read the request is tried
  // again on a new one. Callers retry an unavailable call anyway; allot's
  // creations are named, so one that did land before the 503 answers
  // already_exists, not twice.
  Result<http::Reply> Send(const std::string& method, const std::string& path,
                           const std::string* body, const http::BodySink* sink, bool idempotent) {
    std::string why;
    for (size_t tried = 0; tried < servers.size(); ++tried) {
      std::string request = http::Request(method, path, Host(), authorization, body);
      http::Failure failure = http::Failure::kNone;
      bool reused = false;
      Result<http::Reply> head = SendOnce(request, sink, failure, reused);
      if (!head && reused && failure == http::Failure::kNoReply) {
        head = SendOnce(request, sink, failure, reused);
      }
      if (head && head->status != 503) return head;
      if (IsCanceled()) return Error::Coded("unreachable", "the call was canceled");
      bool next = head || failure == http::Failure::kNotSent ||
                  (idempotent && failure != http::Failure::kBrokenReply);
      if (!next || tried + 1 == servers.size()) {
        if (head) return head;
        return Unreachable(Names(), head.error().message);
      }
      why = head ? "503" : head.error().message;
      Close();
      current = (current + 1) % servers.size();
    }
    return Unreachable(Names(), why);
  }

  std::string Host() const {
    const tunnel::HostPort& server = servers[current];
    bool v6 = server.host.find(':') != std::string::npos;
    return (v6 ? "[" + server.host + "]" : server.host) + ":" + std::to_string(server.port);
  }

  bool IsCanceled() {
    std::lock_guard lock(fd_mutex);
    return canceled;
  }

  std::string Names() const {
    std::string joined;
    for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
    return joined;
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::Create(const std::string& server,
                                                       const std::string& token,
                                                       const std::string& ca_file) {
  auto impl = std::make_unique<Impl>();
  impl->names = SplitServers(server);
  if (impl->names.empty()) {
    return Error::Coded("invalid", "server: no address given: use a form like http://host:7070",
                        "server");
  }
  for (const std::string& base : impl->names) {
    Result<tunnel::HostPort> parsed = tunnel::ParseServerUrl(base);
    if (!parsed) {
      return Error::Coded("invalid",
                          "server: '" + base + "' is not a URL: use a form like http://host:7070",
                          "server");
    }
    impl->servers.push_back(*parsed);
  }
  if (!ca_file.empty() && ::access(ca_file.c_str(), R_OK) != 0) {
    return Error::Coded("invalid", "ca: cannot read the CA file '" + ca_file + "'", "ca");
  }
  impl->ca_file = ca_file;
  if (!token.empty()) impl->authorization = "Bearer " + token;
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

void HttpClient::SetReadTimeout(std::chrono::seconds timeout) {
  impl_->read_timeout_ms =
      static_cast<int>(std::min<int64_t>(std::chrono::milliseconds(timeout).count(), INT32_MAX));
}

Result<HttpReply> HttpClient::GetRaw(const std::string& path) {
  Result<http::Reply> reply = impl_->Send("GET", path, nullptr, nullptr, true);
  if (!reply) return reply.error();
  return HttpReply{reply->status, reply->content_type, std::move(reply->body)};
}

Result<int> HttpClient::Stream(const std::string& path,
                               const std::function<bool(const char*, size_t)>& receive) {
  bool started = false;  // some of the body came: the stream broke, it did not fail
  http::BodySink sink = [&](const char* data, size_t size) {
    started = true;
    return receive(data, size);
  };
  Result<http::Reply> reply = impl_->Send("GET", path, nullptr, &sink, false);
  if (!reply) {
    if (started) return 200;
    return reply.error();
  }
  if (reply->status >= 200 && reply->status < 300) return reply->status;
  return ReplyError(reply->status, reply->body);
}

void HttpClient::Cancel() {
  std::lock_guard lock(impl_->fd_mutex);
  impl_->canceled = true;
  if (impl_->fd >= 0) ::shutdown(impl_->fd, SHUT_RDWR);
}

Result<nlohmann::json> HttpClient::Call(const std::string& method, const std::string& path,
                                        const nlohmann::json* body) {
  std::string text = body ? body->dump() : std::string();
  bool idempotent = method == "GET" || method == "PUT" || method == "DELETE";
  Result<http::Reply> reply =
      impl_->Send(method, path, method == "GET" ? nullptr : &text, nullptr, idempotent);
  if (!reply) return reply.error();
  if (reply->status < 200 || reply->status >= 300) return ReplyError(reply->status, reply->body);
  nlohmann::json parsed = nlohmann::json::parse(reply->body, nullptr, false);
  if (parsed.is_discarded()) {
    return Error::Coded("internal", "the server sent a reply that is not JSON: " + reply->body);
  }
  return parsed;
}

std::string UrlEncode(const std::string& text) {
  return tunnel::QueryEscape(text);
}

Result<std::vector<nlohmann::json>> ListAll(HttpClient& http, const std::string& path, int64_t max,
                                            int64_t* revision) {
  std::vector<nlohmann::json> items;
  std::string separator = path.find('?') == std::string::npos ? "?" : "&";
  std::string after;
  while (static_cast<int64_t>(items.size()) < max) {
    std::string page_path = path + separator + "limit=1000";
    if (!after.empty()) page_path += "&after=" + UrlEncode(after);
    Result<nlohmann::json> page = http.Call("GET", page_path);
    if (!page) return page.error();
    if (revision && after.empty()) *revision = page->value("revision", int64_t{0});
    for (auto& item : (*page)["items"]) {
      if (static_cast<int64_t>(items.size()) >= max) break;
      items.push_back(std::move(item));
    }
    const nlohmann::json& next = (*page)["next"];
    if (!next.is_string()) break;
    after = next.get<std::string>();
  }
  return items;
}

}  // namespace allot

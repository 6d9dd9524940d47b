#include "tunnel/dial.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/server_list.h"
#include "tunnel/protocol.h"
#include "tunnel/tls.h"

namespace allot::tunnel {
namespace {

std::string CodeOfStatus(int status) {
  switch (status) {
    case 400:
      return "invalid";
    case 401:
      return "unauthenticated";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 409:
      return "conflict";
    default:
      return status >= 500 ? "unavailable" : "invalid";
  }
}

// The reply's head (through the blank line) and what came after it.
Result<std::pair<std::string, std::string>> ReadHead(int fd, int timeout_ms) {
  std::string got;
  char buffer[4096];
  while (got.find("\r\n\r\n") == std::string::npos) {
    if (got.size() > 64 * 1024)
      return Error::Coded("unavailable", "the server's reply is too long");
    if (!WaitFor(fd, POLLIN, timeout_ms)) {
      return Error::Coded("unavailable", "the server did not answer within " +
                                             std::to_string(timeout_ms / 1000) + " s");
    }
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::Coded("unavailable", "the server closed the connection");
    got.append(buffer, static_cast<size_t>(n));
  }
  size_t end = got.find("\r\n\r\n") + 4;
  return std::make_pair(got.substr(0, end), got.substr(end));
}

// The message of a refusal: the API's {"error": {"message"}} when the body
// is one, else the status line.
std::string RefusalMessage(int fd, const std::string& head, std::string body, int timeout_ms) {
  size_t length = 0;
  std::string lower = head;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (size_t at = lower.find("content-length:"); at != std::string::npos) {
    length = static_cast<size_t>(std::atol(lower.c_str() + at + 15));
  }
  char buffer[4096];
  while (body.size() < length && body.size() < 64 * 1024 && WaitFor(fd, POLLIN, timeout_ms)) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    body.append(buffer, static_cast<size_t>(n));
  }
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    return parsed["error"].value("message", head.substr(0, head.find('\r')));
  }
  return head.substr(0, head.find('\r'));
}

}  // namespace

Result<HostPort> ParseServerUrl(const std::string& url) {
  HostPort out;
  out.tls = url.rfind("https://", 0) == 0;
  if (!out.tls && url.rfind("http://", 0) != 0) {
    return Error::Coded("invalid", "server " + url + ": give it as https://HOST:PORT", "server");
  }
  std::string rest = url.substr(out.tls ? 8 : 7);
  rest = rest.substr(0, rest.find('/'));
  size_t colon = rest.rfind(':');
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    out.host = rest.substr(1, close - 1);
    colon = rest.find(':', close);
  } else {
    out.host = rest.substr(0, colon);
  }
  out.port =
      colon == std::string::npos ? (out.tls ? 443 : 80) : std::atoi(rest.c_str() + colon + 1);
  if (out.host.empty() || out.port <= 0 || out.port > 65535) {
    return Error::Coded("invalid", "server " + url + ": give it as https://HOST:PORT", "server");
  }
  return out;
}

Result<int> ConnectServer(const HostPort& server, const std::string& ca_file, int timeout_ms) {
  Result<int> fd = ConnectTcp(server.host, server.port, timeout_ms);
  if (!fd || !server.tls) return fd;
  Result<TlsContextPtr> context = ClientTlsContext(ca_file);
  if (!context) {
    ::close(*fd);
    return context.error();
  }
  return TlsRelay::ForClients().Connect(*fd, server.host, *context, timeout_ms);
}

bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int got;
  do {
    got = ::poll(&p, 1, timeout_ms);
  } while (got < 0 && errno == EINTR);
  return got == 1 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      WaitFor(fd, POLLOUT, 1000);
      continue;
    }
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool WriteFully(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Result<int> ConnectTcp(const std::string& host, int port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  if (int e = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); e != 0) {
    return Error::Coded("unavailable", "cannot resolve " + host + ": " + gai_strerror(e));
  }
  std::string why = "no address";
  int fd = -1;
  for (addrinfo* at = found; at != nullptr && fd < 0; at = at->ai_next) {
    int s = ::socket(at->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) continue;
    int rc = ::connect(s, at->ai_addr, at->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS && WaitFor(s, POLLOUT, timeout_ms)) {
      int error = 0;
      socklen_t size = sizeof error;
      ::getsockopt(s, SOL_SOCKET, SO_ERROR, &error, &size);
      rc = error == 0 ? 0 : -1;
      errno = error != 0 ? error : ETIMEDOUT;
    } else if (rc != 0 && errno == EINPROGRESS) {
      errno = ETIMEDOUT;
    }
    if (rc != 0) {
      why = std::strerror(errno);
      ::close(s);
      continue;
    }
    int flags = 0;
    ::ioctl(s, FIONBIO, &flags);
    int one = 1;
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd = s;
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    return Error::Coded("unavailable",
                        "cannot connect to " + host + ":" + std::to_string(port) + ": " + why);
  }
  return fd;
}

Result<UpgradedStream> DialUpgrade(const std::string& server_url, const std::string& target,
                                   const std::string& token, const std::string& ca_file,
                                   int timeout_ms) {
  // Several servers: the first that takes the connection.
  std::vector<std::string> servers = SplitServers(server_url);
  if (servers.empty()) servers.push_back(server_url);
  Result<HostPort> server = Error::Coded("invalid", "no server");
  Result<int> fd = Error::Coded("unavailable", "no server");
  for (const std::string& one : servers) {
    server = ParseServerUrl(one);
    if (!server) return server.error();
    fd = ConnectServer(*server, ca_file, timeout_ms);
    if (fd) break;
  }
  if (!fd) return fd.error();
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + server->host + ":" +
                        std::to_string(server->port) + "\r\nAuthorization: Bearer " + token +
                        "\r\nConnection: Upgrade\r\nUpgrade: " + kUpgradeProtocol + "\r\n\r\n";
  if (!WriteAll(*fd, request.data(), request.size())) {
    ::close(*fd);
    return Error::Coded("unavailable", "the server closed the connection");
  }
  Result<std::pair<std::string, std::string>> head = ReadHead(*fd, timeout_ms);
  if (!head) {
    ::close(*fd);
    return head.error();
  }
  int status = 0;
  std::sscanf(head->first.c_str(), "HTTP/1.%*d %d", &status);
  if (status != 101) {
    std::string message = RefusalMessage(*fd, head->first, head->second, timeout_ms);
    ::close(*fd);
    return Error::Coded(CodeOfStatus(status), message);
  }
  return UpgradedStream{*fd, head->second};
}

std::string QueryEscape(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace allot::tunnel

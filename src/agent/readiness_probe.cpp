#include "agent/readiness_probe.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/task_network.h"

namespace allot::agent {
namespace {

// The status code of an HTTP response's first line, or 0.
int StatusOf(const std::string& head) {
  // "HTTP/1.1 200 OK"
  size_t space = head.find(' ');
  if (head.rfind("HTTP/", 0) != 0 || space == std::string::npos || head.size() < space + 4) {
    return 0;
  }
  int code = 0;
  for (size_t i = space + 1; i < space + 4; ++i) {
    if (head[i] < '0' || head[i] > '9') return 0;
    code = code * 10 + (head[i] - '0');
  }
  return code;
}

}  // namespace

Readiness ProbeReadiness(const std::string& dir, int port, const std::string& ready_path,
                         int timeout_ms) {
  Result<int> connected = ConnectToTask(dir, port);
  if (!connected) return {false, connected.error().message};
  int fd = *connected;
  if (ready_path.empty()) {
    ::close(fd);
    return {true, ""};
  }
  timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string request = "GET " + ready_path +
                        " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: allot-probe\r\n"
                        "Connection: close\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return {false, "GET " + ready_path + " could not be sent"};
  }
  std::string head;
  char buffer[512];
  while (head.find("\r\n") == std::string::npos && head.size() < 4096) {
    ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) break;
    head.append(buffer, static_cast<size_t>(got));
  }
  ::close(fd);
  int status = StatusOf(head);
  if (status >= 200 && status < 400) return {true, ""};
  if (status == 0) {
    return {false, "GET " + ready_path + " on port " + std::to_string(port) +
                       " gave no HTTP answer within " + std::to_string(timeout_ms) + " ms"};
  }
  return {false, "GET " + ready_path + " answered " + std::to_string(status)};
}

int PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace allot::agent

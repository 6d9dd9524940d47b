#include "api/front_door.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "tunnel/dial.h"

namespace allot::api {
namespace {

// A request head longer than this is httplib's to refuse.
constexpr size_t kMaxHead = 64 * 1024;

void Describe(const sockaddr_storage& address, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  }
  ip = text;
}

// What a plain-text request from another host gets from a TLS server.
void RefusePlainText(int fd) {
  static const std::string body =
      "{\"error\":{\"code\":\"invalid\",\"message\":\"this server takes TLS: use an "
      "https:// address (plain http is served to this machine only)\",\"field\":\"server\"}}";
  std::string reply =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  [[maybe_unused]] ssize_t sent = ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
}

// The connection as httplib reads it: the bytes already read first, then
// the socket, through a buffer (httplib reads request heads a byte at a time).
class ConnectionStream : public httplib::Stream {
 public:
  ConnectionStream(int fd, Peer peer, std::string buffered, time_t read_timeout_s,
                   time_t write_timeout_s)
      : fd_(fd),
        peer_(std::move(peer)),
        buffer_(std::move(buffered)),
        read_timeout_ms_(static_cast<int>(read_timeout_s * 1000)),
        write_timeout_ms_(static_cast<int>(write_timeout_s * 1000)) {}

  bool is_readable() const override {
    return offset_ < buffer_.size() || Wait(POLLIN, read_timeout_ms_);
  }
  bool is_writable() const override { return Wait(POLLOUT, write_timeout_ms_); }

  ssize_t read(char* ptr, size_t size) override {
    if (offset_ >= buffer_.size() && !Fill(read_timeout_ms_)) return -1;
    size_t n = std::min(size, buffer_.size() - offset_);
    std::copy_n(buffer_.data() + offset_, n, ptr);
    offset_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && Wait(POLLOUT, write_timeout_ms_)) {
        continue;
      }
      if (n <= 0) return done > 0 ? static_cast<ssize_t>(done) : -1;
      done += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(done);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = peer_.ip;
    port = peer_.port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t size = sizeof address;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0)
      Describe(address, ip, port);
  }
  socket_t socket() const override { return fd_; }

  // Reads until the buffer holds a whole request head (or kMaxHead
  // bytes); false when the connection ends or idles past `timeout_ms`.
  bool ReadHead(int timeout_ms) {
    Compact();
    while (buffer_.find("\r\n\r\n") == std::string::npos && buffer_.size() < kMaxHead) {
      if (!Fill(timeout_ms)) return false;
    }
    return true;
  }
  // The request line's target of the buffered head ("" when malformed).
  std::string_view Target() const {
    return RequestTarget(std::string_view(buffer_.data() + offset_, buffer_.size() - offset_));
  }
  std::string TakeBuffered() {
    Compact();
    return std::move(buffer_);
  }

 private:
  bool Wait(short events, int timeout_ms) const { return tunnel::WaitFor(fd_, events, timeout_ms); }
  void Compact() {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  // Appends what the socket has (waiting up to `timeout_ms`).
  bool Fill(int timeout_ms) {
    if (!Wait(POLLIN, timeout_ms)) return false;
    Compact();
    char chunk[16 * 1024];
    ssize_t n;
    do {
      n = ::recv(fd_, chunk, sizeof chunk, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  Peer peer_;
  std::string buffer_;
  size_t offset_ = 0;
  int read_timeout_ms_;
  int write_timeout_ms_;
};

}  // namespace

std::string_view RequestTarget(std::string_view head) {
  std::string_view line = head.substr(0, head.find("\r\n"));
  size_t first = line.find(' ');
  if (first == std::string_view::npos) return {};
  size_t second = line.find(' ', first + 1);
  return line.substr(
      first + 1, second == std::string_view::npos ? std::string_view::npos : second - first - 1);
}

bool IsLoopbackAddress(const std::string& ip) {
  return ip.rfind("127.", 0) == 0 || ip == "::1" || ip.rfind("::ffff:127.", 0) == 0;
}

FrontDoor::FrontDoor(int threads) {
  new_task_queue = [this, threads] {
    pool_ = new httplib::ThreadPool(static_cast<size_t>(threads));
    return pool_;
  };
}

void FrontDoor::SetGateway(Claim claim, Handoff handoff) {
  claim_ = std::move(claim);
  handoff_ = std::move(handoff);
}

void FrontDoor::Resume(int fd, std::string buffered) {
  if (!is_running() || pool_ == nullptr) {
    ::close(fd);
    return;
  }
  pool_->enqueue([this, fd, buffered = std::move(buffered)]() mutable {
    ServeConnection(fd, std::move(buffered));
  });
}

void FrontDoor::SetTls(tunnel::TlsContextPtr context) {
  tls_context_ = std::move(context);
  tls_relay_ = std::make_unique<tunnel::TlsRelay>();
}

Peer FrontDoor::PeerOf(int fd) const {
  Peer peer;
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return peer;
  if (address.ss_family == AF_UNIX) {
    std::lock_guard lock(peers_mutex_);
    auto found = relayed_peers_.find(fd);
    return found == relayed_peers_.end() ? peer : found->second;
  }
  size = sizeof address;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    Describe(address, peer.ip, peer.port);
  }
  return peer;
}

bool FrontDoor::process_and_close_socket(socket_t sock) {
  if (tls_context_) {
    AcceptWithTls(sock);
  } else {
    ServeConnection(sock, {});
  }
  return true;
}

void FrontDoor::AcceptWithTls(int fd) {
  // A TLS connection opens with a handshake record (type 22); HTTP with a
  // method's letter.
  unsigned char first = 0;
  bool readable = tunnel::WaitFor(fd, POLLIN, static_cast<int>(read_timeout_sec_ * 1000));
  if (!readable || ::recv(fd, &first, 1, MSG_PEEK) != 1) {
    ::close(fd);
    return;
  }
  Peer peer = PeerOf(fd);
  if (first == 0x16) {
    tls_relay_->Accept(fd, tls_context_, [this, peer](int plain) {
      {
        std::lock_guard lock(peers_mutex_);
        relayed_peers_[plain] = peer;
      }
      Resume(plain, {});
    });
    return;
  }
  if (!IsLoopbackAddress(peer.ip)) {
    RefusePlainText(fd);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    return;
  }
  ServeConnection(fd, {});
}

void FrontDoor::ServeConnection(int fd, std::string buffered) {
  ConnectionStream stream(fd, PeerOf(fd), std::move(buffered), read_timeout_sec_,
                          write_timeout_sec_);
  int keep_alive_ms = static_cast<int>(keep_alive_timeout_sec_ * 1000);
  while (is_running() && stream.ReadHead(keep_alive_ms)) {
    if (claim_ && claim_(stream.Target())) {
      handoff_(fd, stream.TakeBuffered());
      return;
    }
    bool closed = false;
    if (!process_request(stream, false, closed, nullptr) || closed) break;
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace allot::api

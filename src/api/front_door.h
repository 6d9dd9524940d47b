// The server's one listening port, shared by two engines (docs/gateway.md
// §1). The API is cpp-httplib: a worker thread per connection, fine for
// short requests and the watches' long polls. The gateway's streams (open
// notebooks, WebSockets, port-forwards, agents' tunnels) live for hours,
// by the thousand, which a thread each cannot carry: they go to the
// gateway's Boost.Asio loop instead.
//
// FrontDoor serves each kept-alive connection request by request: it reads
// the next request's head, and hands the connection to the gateway when
// the gateway claims the request, or lets httplib answer it. The gateway
// hands a connection back (Resume) when its next request is the API's, so
// a browser's connection may carry both.
//
// With TLS (SetTls), a new connection whose first byte opens a TLS
// handshake goes through a relay (tunnel/tls.h) and comes back decrypted,
// as a socketpair end; FrontDoor remembers the peer's address for it. A
// connection in plain text is served only from a loopback address; any
// other peer gets a refusal that names https.
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tunnel/tls.h"

namespace allot::api {

// The target of the request line at the start of `head` ("" when malformed).
std::string_view RequestTarget(std::string_view head);

// Where a connection comes from.
struct Peer {
  std::string ip;  // "" when unknown
  int port = 0;
};

// Whether `ip` is a loopback address (127.0.0.0/8, ::1, or v4 in v6).
bool IsLoopbackAddress(const std::string& ip);

class FrontDoor : public httplib::Server {
 public:
  // Whether the gateway takes a request for `target` (path and query).
  using Claim = std::function<bool(std::string_view target)>;
  // Takes over `fd`; `buffered` holds the bytes read from it so far (the
  // claimed request's head first).
  using Handoff = std::function<void(int fd, std::string buffered)>;

  // The worker pool: `threads` connections served at once.
  explicit FrontDoor(int threads);

  void SetGateway(Claim claim, Handoff handoff);
  // Serves TLS with `context` (the server's certificate) from now on.
  void SetTls(tunnel::TlsContextPtr context);

  // The peer of a connection FrontDoor serves or handed off: the TCP
  // socket's own, or the one the TLS relay was connected from.
  Peer PeerOf(int fd) const;

  // Serves `fd` from its next request on, `buffered` being bytes already
  // read from it. Closes it when the server is not running.
  void Resume(int fd, std::string buffered);

 private:
  bool process_and_close_socket(socket_t sock) override;
  // A new connection with TLS on: to the relay, served, or refused.
  void AcceptWithTls(int fd);
  // Serves requests on `fd` until it closes or goes to the gateway.
  void ServeConnection(int fd, std::string buffered);

  Claim claim_;
  Handoff handoff_;
  httplib::TaskQueue* pool_ = nullptr;  // httplib owns it while it listens
  tunnel::TlsContextPtr tls_context_;
  std::unique_ptr<tunnel::TlsRelay> tls_relay_;
  // The peers of relayed connections, by their plain end. An entry outlives
  // its descriptor when the gateway closes it; the next relayed connection
  // on that number replaces it, and a TCP socket never looks here.
  mutable std::mutex peers_mutex_;
  std::unordered_map<int, Peer> relayed_peers_;
};

}  // namespace allot::api

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
#pragma once

#include <httplib.h>

#include <functional>
#include <string>
#include <string_view>

namespace allot::api {

// The target of the request line at the start of `head` ("" when malformed).
std::string_view RequestTarget(std::string_view head);

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

  // Serves `fd` from its next request on, `buffered` being bytes already
  // read from it. Closes it when the server is not running.
  void Resume(int fd, std::string buffered);

 private:
  bool process_and_close_socket(socket_t sock) override;
  // Serves requests on `fd` until it closes or goes to the gateway.
  void ServeConnection(int fd, std::string buffered);

  Claim claim_;
  Handoff handoff_;
  httplib::TaskQueue* pool_ = nullptr;  // httplib owns it while it listens
};

}  // namespace allot::api

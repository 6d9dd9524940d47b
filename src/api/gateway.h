// The gateway (docs/gateway.md): the server's door to the tasks. On the
// API's port, it serves
//   /workspaces/<project>/<name>/...        HTTP and WebSocket to a workspace
//   /api/v1/workloads/<name>/port-forward   a raw stream to a task's TCP port
//   /api/v1/workloads/<name>/exec           a command in a task (exec frames)
//   /api/v1/agents/tunnel[/streams/<id>]    the agents' side of the tunnel
// authenticated by allot (bearer token or the page's session cookie),
// allowed by the workload's project roles, audited. Traffic reaches the
// task through the tunnel its node's agent keeps open to the server, so a
// node needs no inbound port. Boost.Asio and Boost.Beast on one thread of
// its own: every stream is a coroutine, not a thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace allot::api {

class ApiContext;
class FrontDoor;

class Gateway {
 public:
  // Serves with `ctx` (store, authentication, audit, metrics); gives
  // connections whose next request is the API's back to `front_door`.
  Gateway(ApiContext& ctx, FrontDoor& front_door);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Whether a request for `target` (path and query) is the gateway's.
  static bool Claims(std::string_view target);
  // Takes over connection `fd`; `buffered` starts with a claimed request.
  void Adopt(int fd, std::string buffered);
  // Closes every stream and stops the loop.
  void Stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace allot::api

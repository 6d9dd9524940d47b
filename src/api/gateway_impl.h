// The gateway's insides, shared by its files: gateway.cpp (the loop, the
// connections, the agents' routes), gateway_streams.cpp (port-forward and
// exec) and gateway_proxy.cpp (the workspaces' HTTP and WebSocket).
#pragma once

#include <utility>  // before Boost 1.74's awaitable, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/api_context.h"
#include "api/front_door.h"
#include "api/gateway.h"
#include "api/gateway_access.h"
#include "api/tunnel_broker.h"

namespace allot::api {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;

// How long a stream may take to open, and a kept-alive connection to idle.
constexpr auto kOpenTimeout = std::chrono::seconds(10);
constexpr auto kIdleTimeout = std::chrono::seconds(120);
// Request bodies through the gateway are read whole, up to this.
constexpr uint64_t kMaxProxiedBody = 64ull << 20;
// How long a connection's authorization of a workspace stands (a revoked
// token or a changed role takes effect within this).
constexpr auto kPlanReuse = std::chrono::seconds(1);

// A workspace request, allowed: who sent it and where it goes.
struct WorkspacePlan {
  std::string user;
  std::string agent;
  std::string key;   // "<workload>.<attempt>": which backend stream serves it
  std::string what;  // "<project>/<name>"
  tunnel::StreamRequest stream;
};

// One client connection while the gateway has it.
struct GatewayConnection {
  explicit GatewayConnection(tunnel::Socket s) : socket(std::move(s)) {}
  tunnel::Socket socket;
  std::string pending;  // read, not yet parsed
  std::string source;   // the peer's address
  // The workspace backend kept between requests, and which task it reaches.
  std::optional<AgentStream> backend;
  std::string backend_key;
  boost::beast::flat_buffer backend_buffer;
  std::set<std::string> audited;  // workspaces whose opening was audited
  // The last workspace request's plan, reused on this connection for
  // kPlanReuse by the same credentials for the same workspace: a page's many
  // requests cost one authorization (store reads) a second, not one each.
  std::optional<WorkspacePlan> plan;
  std::string plan_for;  // token and workspace
  std::chrono::steady_clock::time_point plan_at;
};

// A stream a client asked for, allowed: the agent to ask and what to ask.
struct StreamPlan {
  std::string agent;
  tunnel::StreamRequest request;
};

// Where a task of a workload runs, for a stream to it.
struct TaskRoute {
  std::string agent;
  int32_t attempt = 0;
};

class Gateway::Impl {
 public:
  Impl(ApiContext& ctx, FrontDoor& front_door);
  ~Impl();
  void Adopt(int fd, std::string buffered);
  void Stop();

 private:
  // gateway.cpp
  boost::asio::awaitable<void> Serve(std::shared_ptr<GatewayConnection> connection);
  // Reads more into connection.pending; false at its end or after `idle`.
  boost::asio::awaitable<bool> ReadMore(GatewayConnection& connection, std::chrono::seconds idle);
  // The next request, whole; nullopt when the connection ended or sent
  // something unreadable (answered and closed).
  boost::asio::awaitable<std::optional<HttpRequest>> ReadRequest(GatewayConnection& connection);
  boost::asio::awaitable<void> Send(GatewayConnection& connection, std::string bytes);
  // An API-style error reply {"error": ...}; keeps the connection unless `close`.
  boost::asio::awaitable<void> SendError(GatewayConnection& connection, const Error& error,
                                         bool close, const HttpRequest* request = nullptr);
  boost::asio::awaitable<void> AgentControl(std::shared_ptr<GatewayConnection> connection,
                                            const HttpRequest& request);
  boost::asio::awaitable<void> AgentStreamBack(std::shared_ptr<GatewayConnection> connection,
                                               const HttpRequest& request);
  void Audit(const GatewayConnection& connection, const HttpRequest& request,
             const std::string& actor, bool allowed, int status, const std::string& detail);
  Result<TaskRoute> RouteToTask(const wire::WorkloadResource& workload, int32_t task);

  // gateway_streams.cpp: port-forward and exec.
  boost::asio::awaitable<void> ClientStream(std::shared_ptr<GatewayConnection> connection,
                                            const HttpRequest& request);
  Result<StreamPlan> PlanStream(const Result<User>& caller, const std::string& name, bool exec,
                                const HttpRequest& request);

  // gateway_proxy.cpp: a workspace's request; false when the connection is
  // done (closed, or upgraded and spliced).
  boost::asio::awaitable<bool> ProxyWorkspace(std::shared_ptr<GatewayConnection> connection,
                                              HttpRequest& request);
  Result<WorkspacePlan> PlanWorkspace(const WorkspaceTarget& target, const std::string& token);
  boost::asio::awaitable<bool> RelayResponse(GatewayConnection& connection, bool head_request,
                                             bool& keep_alive);

  // A response's relay buffer, taken from the spares for the relay and given
  // back after: no allocation per request, none held by idle connections.
  struct RelayBuffer {
    explicit RelayBuffer(std::vector<std::vector<char>>& spares) : spares_(spares) {
      if (spares_.empty()) {
        buffer.resize(64 * 1024);
      } else {
        buffer = std::move(spares_.back());
        spares_.pop_back();
      }
    }
    ~RelayBuffer() {
      if (spares_.size() < 64) spares_.push_back(std::move(buffer));
    }
    RelayBuffer(const RelayBuffer&) = delete;
    RelayBuffer& operator=(const RelayBuffer&) = delete;
    std::vector<char> buffer;

   private:
    std::vector<std::vector<char>>& spares_;
  };

  ApiContext& ctx_;
  FrontDoor& front_door_;
  std::vector<std::vector<char>> spare_buffers_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  TunnelBroker broker_;
  std::thread thread_;
};

// The reply that switches a connection to a tunnel stream.
std::string SwitchingProtocols();
// The path of a target, without its query.
std::string_view PathOf(std::string_view target);
// Query parameter `name`'s values, decoded.
std::vector<std::string> QueryValues(std::string_view target, std::string_view name);
// Whether the request asks to upgrade to `protocol` (case-insensitive).
bool AsksUpgrade(const HttpRequest& request, std::string_view protocol);

}  // namespace allot::api

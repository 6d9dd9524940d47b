// The gateway's insides, shared by its files: gateway.cpp (the loop, the
// connections, the agents' routes), gateway_streams.cpp (port-forward and
// exec) and gateway_proxy.cpp (the workspaces' HTTP and WebSocket).
#pragma once

#include <utility>  // before Boost 1.74's awaitable, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <mutex>
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
#include "server/service_directory.h"

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

// A connection to a task's port through the tunnel, and what was read of it.
struct Backend {
  explicit Backend(tunnel::Socket s) : socket(std::move(s)) {}
  tunnel::Socket socket;
  boost::beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since;
};

// How relaying a response ended.
enum class Relayed {
  kNoAnswer,   // the backend failed before a byte reached the client: retry
  kKeepAlive,  // done; both sides may go on
  kClose,      // done; the backend's connection is not reusable
  kUpgraded,   // 101: the connections are spliced now
  kCut,        // the answer was cut: the client's connection is closed
};

// One client connection while the gateway has it.
struct GatewayConnection {
  explicit GatewayConnection(tunnel::Socket s) : socket(std::move(s)) {}
  tunnel::Socket socket;
  std::string pending;  // read, not yet parsed
  std::string source;   // the peer's address
  // The workspace backend kept between requests, and which task it reaches.
  std::optional<Backend> backend;
  std::string backend_key;
  std::set<std::string> audited;  // workspaces whose opening was audited
  // The last workspace request's plan, reused on this connection for
  // kPlanReuse by the same credentials for the same workspace: a page's many
  // requests cost one authorization (store reads) a second, not one each.
  std::optional<WorkspacePlan> plan;
  std::string plan_for;  // token and workspace
  std::chrono::steady_clock::time_point plan_at;
};

struct ServiceExchange;  // gateway_serve.cpp

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
  // Relays one response from `backend` to the client; its status goes in
  // `status` when given.
  boost::asio::awaitable<Relayed> RelayResponse(GatewayConnection& connection, Backend& backend,
                                                bool head_request, int* status = nullptr);
  // A new connection to `request`'s task port through `agent`'s tunnel.
  boost::asio::awaitable<Result<Backend>> OpenBackend(const std::string& agent,
                                                      tunnel::StreamRequest request);

  // gateway_serve.cpp: an inference service's request; false when the
  // connection is done.
  boost::asio::awaitable<bool> ProxyService(std::shared_ptr<GatewayConnection> connection);
  // The request's head (false: the connection is done, answered if it
  // was unreadable).
  boost::asio::awaitable<bool> ReadServiceHead(GatewayConnection& connection,
                                               http::request_parser<http::buffer_body>& parser);
  // The body's first kRetryableBody bytes (all of a small one).
  boost::asio::awaitable<bool> ReadBodyStart(GatewayConnection& connection,
                                             ServiceExchange& exchange, bool expects_continue);
  // The first call of each user to each service per minute.
  void AuditServiceCall(const GatewayConnection& connection, const HttpRequest& request,
                        const server::ServiceRoute& route, const std::string& user);
  boost::asio::awaitable<bool> ForwardToService(std::shared_ptr<GatewayConnection> connection,
                                                ServiceExchange& exchange);
  boost::asio::awaitable<Relayed> TryReplica(GatewayConnection& connection,
                                             ServiceExchange& exchange,
                                             const server::ServiceEndpoint& endpoint);
  boost::asio::awaitable<bool> StreamRequestBody(GatewayConnection& connection, Backend& backend,
                                                 ServiceExchange& exchange);
  // Who may call the service: nullopt and `refusal` set when nobody.
  std::optional<std::string> AuthorizeService(const server::ServiceRoute& route,
                                              const std::string& token, Error& refusal);
  // The ready replica with the fewest requests in flight, or null.
  const server::ServiceEndpoint* PickReplica(const server::ServiceRoute& route,
                                             const std::set<std::string>& tried);
  // Waits until the directory changes or `until`; false at `until`.
  boost::asio::awaitable<bool> WaitForDirectory(std::chrono::steady_clock::time_point until);
  void DirectoryChanged();
  // Lets the directory's listener (which may outlive the gateway) reach it.
  struct Listening {
    std::mutex mutex;
    Impl* impl = nullptr;
  };

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
  // Services (gateway thread only): idle connections per replica attempt,
  // requests in flight per replica, replicas out of rotation until a time,
  // a second's authorizations, and when each caller's use was last audited.
  std::map<std::string, std::vector<Backend>> idle_backends_;
  std::map<std::string, int64_t> outstanding_;
  std::map<std::string, std::chrono::steady_clock::time_point> excluded_;
  uint64_t rotation_ = 0;
  std::set<boost::asio::steady_timer*> directory_waiters_;
  std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>>
      service_grants_;
  std::map<std::string, std::chrono::steady_clock::time_point> service_audited_;
  std::shared_ptr<Listening> listening_ = std::make_shared<Listening>();
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
// Takes allot's credentials out of a request's header and says who sent it
// (X-Forwarded-*), so that the task (untrusted code) never sees the user's
// token.
void PrepareHeaderForTask(http::request_header<>& header, bool token_from_header,
                          const std::string& user, const std::string& source);
// Methods that may be sent again when no answer came (RFC 9110 §9.2.2).
bool Idempotent(http::verb method);
// Whether the request asks to upgrade to `protocol` (case-insensitive).
bool AsksUpgrade(const HttpRequest& request, std::string_view protocol);

}  // namespace allot::api

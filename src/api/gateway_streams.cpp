// Port-forward and exec through the gateway (docs/gateway.md §4): the
// caller's connection is upgraded and joined to a stream the task's agent
// opens, to a TCP port of the task or to a command it runs there.
#include <utility>  // before Boost 1.74's awaitable, which uses std::exchange

#include "api/gateway_access.h"
#include "api/gateway_impl.h"
#include "api/route_support.h"

namespace allot::api {
namespace {

using boost::system::error_code;

// An integer query parameter in [min, max], `fallback` when absent.
Result<int32_t> IntParameter(std::string_view target, const char* name, int32_t fallback,
                             int32_t min, int32_t max) {
  std::vector<std::string> values = QueryValues(target, name);
  if (values.empty()) return fallback;
  char* end = nullptr;
  long value = std::strtol(values.front().c_str(), &end, 10);
  if (values.front().empty() || *end != '\0' || value < min || value > max) {
    return Error::Coded("invalid",
                        std::string(name) + ": give a whole number from " + std::to_string(min) +
                            " to " + std::to_string(max),
                        name);
  }
  return static_cast<int32_t>(value);
}

// The stream request of a port-forward or exec, from the query.
Result<tunnel::StreamRequest> StreamRequestOf(std::string_view target, bool exec) {
  tunnel::StreamRequest request;
  Result<int32_t> task = IntParameter(target, "task", 0, 0, 1000000);
  if (!task) return task.error();
  request.task = *task;
  if (!exec) {
    request.kind = "connect";
    Result<int32_t> port = IntParameter(target, "port", 0, 1, 65535);
    if (!port) return port.error();
    if (*port == 0) return Error::Coded("invalid", "port: give the task's TCP port", "port");
    request.port = *port;
    return request;
  }
  request.kind = "exec";
  request.command = QueryValues(target, "command");
  if (request.command.empty() || request.command.front().empty()) {
    return Error::Coded("invalid", "command: give the command to run (command=ARG, repeated)",
                        "command");
  }
  std::vector<std::string> tty = QueryValues(target, "tty");
  request.tty = !tty.empty() && (tty.front() == "1" || tty.front() == "true");
  Result<int32_t> rows = IntParameter(target, "rows", 0, 0, 10000);
  if (!rows) return rows.error();
  Result<int32_t> cols = IntParameter(target, "cols", 0, 0, 10000);
  if (!cols) return cols.error();
  request.rows = *rows;
  request.cols = *cols;
  return request;
}

std::string Describe(const tunnel::StreamRequest& request) {
  if (request.kind == "connect") {
    return "port-forward to port " + std::to_string(request.port) + " of task " +
           std::to_string(request.task);
  }
  std::string command;
  for (const std::string& arg : request.command) command += (command.empty() ? "" : " ") + arg;
  return std::string("exec") + (request.tty ? " -it" : "") + " in task " +
         std::to_string(request.task) + ": " + command.substr(0, 200);
}

}  // namespace

// Who asks, whether they may, and where the stream goes: everything but the
// waiting, which the coroutine does.
Result<StreamPlan> Gateway::Impl::PlanStream(const Result<User>& caller, const std::string& name,
                                             bool exec, const HttpRequest& request) {
  if (!caller) return caller.error();
  Result<StoredWorkload> stored = ctx_.LoadWorkload(name, *caller);
  if (!stored) {
    return MissingOr(stored.error(),
                     Error::Coded("not_found", "no workload named '" + name + "'", "name"));
  }
  if (!MayOpen(*caller, stored->workload, stored->scope)) {
    return Forbidden(std::string(exec ? "exec into" : "port-forward to") + " workload '" + name +
                     "' (its owner and the project's admins may)");
  }
  if (!AsksUpgrade(request, tunnel::kUpgradeProtocol)) {
    return Error::Coded("invalid",
                        "this route upgrades the connection: send 'Connection: Upgrade' and "
                        "'Upgrade: allot-tunnel' (allot exec, allot port-forward)");
  }
  Result<tunnel::StreamRequest> wanted = StreamRequestOf(request.target(), exec);
  if (!wanted) return wanted.error();
  Result<TaskRoute> route = RouteToTask(stored->workload, wanted->task);
  if (!route) return route.error();
  wanted->workload = name;
  wanted->attempt = route->attempt;
  return StreamPlan{route->agent, *wanted};
}

boost::asio::awaitable<void> Gateway::Impl::ClientStream(
    std::shared_ptr<GatewayConnection> connection, const HttpRequest& request) {
  std::string_view path = PathOf(request.target());
  std::string_view rest = path.substr(std::string_view("/api/v1/workloads/").size());
  std::string name(rest.substr(0, rest.find('/')));
  bool exec = rest.substr(rest.find('/')) == "/exec";
  bool from_header = false;
  std::string token = RequestToken(std::string(request[http::field::authorization]),
                                   std::string(request[http::field::cookie]), from_header);
  Result<User> caller =
      token.empty() ? Result<User>(Error::Coded("unauthenticated",
                                                "no bearer token: send 'Authorization: Bearer "
                                                "<token>' (allot login)"))
                    : ctx_.AuthenticateToken(token);
  Result<StreamPlan> plan = PlanStream(caller, name, exec, request);
  if (!plan) {
    // Named, not a temporary inside co_await: GCC 12 destroys some of those twice.
    Error refusal = plan.error();
    Audit(*connection, request, caller ? caller->name : "anonymous", false,
          HttpStatusOf(refusal.code), refusal.message);
    co_await SendError(*connection, refusal, true);
    co_return;
  }
  Result<AgentStream> stream = co_await broker_.Open(plan->agent, plan->request, kOpenTimeout);
  if (!stream) {
    Error refusal = stream.error();
    Audit(*connection, request, caller->name, false, HttpStatusOf(refusal.code), refusal.message);
    co_await SendError(*connection, refusal, true);
    co_return;
  }
  Audit(*connection, request, caller->name, true, 101, Describe(plan->request));
  std::string switching = SwitchingProtocols();
  co_await Send(*connection, std::move(switching));
  tunnel::StartSplice(std::move(connection->socket), std::move(stream->socket),
                      std::move(connection->pending), std::move(stream->leftover));
}

}  // namespace allot::api

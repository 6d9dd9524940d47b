// A workspace's HTTP and WebSocket traffic through the gateway
// (docs/gateway.md §3): allot authenticates and authorizes each request,
// takes its own credentials out, and relays it to the workspace's port
// through the tunnel; the response streams back as it comes (Beast's
// buffer_body relay), and an upgrade (a notebook's kernel WebSocket) turns
// the connection into a spliced stream.
#include <utility>  // before Boost 1.74's awaitable, which uses std::exchange

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include "api/gateway_access.h"
#include "api/gateway_impl.h"
#include "api/route_support.h"

#include <cstring>
#include <limits>

namespace allot::api {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

enum class Relayed { kKeepAlive, kClose, kUpgraded, kBackendFailed };

// The header of a response as bytes (a 101's, which ends the HTTP part).
std::string HeadBytes(const http::response_header<>& header) {
  std::string head = "HTTP/1.1 " + std::to_string(header.result_int()) + " " +
                     std::string(header.reason()) + "\r\n";
  for (const auto& field : header) {
    head += std::string(field.name_string()) + ": " + std::string(field.value()) + "\r\n";
  }
  return head + "\r\n";
}

// Takes allot's credentials out of the request and says who sent it, so
// that the task (untrusted code) never sees the user's token.
void PrepareForTask(HttpRequest& request, bool token_from_header, const std::string& user,
                    const std::string& source) {
  if (token_from_header) request.erase(http::field::authorization);
  if (request.find(http::field::cookie) != request.end()) {
    std::string kept = CookieWithoutSession(std::string(request[http::field::cookie]));
    if (kept.empty()) {
      request.erase(http::field::cookie);
    } else {
      request.set(http::field::cookie, kept);
    }
  }
  std::string forwarded = std::string(request["X-Forwarded-For"]);
  request.set("X-Forwarded-For", forwarded.empty() ? source : forwarded + ", " + source);
  request.set("X-Forwarded-Proto", "http");
  request.set("X-Forwarded-Host", std::string(request[http::field::host]));
  request.set("X-Forwarded-User", user);
  if (!request.chunked() && !request.body().empty()) request.prepare_payload();
}

bool Idempotent(http::verb method) {
  return method == http::verb::get || method == http::verb::head || method == http::verb::options ||
         method == http::verb::put || method == http::verb::delete_;
}

}  // namespace

asio::awaitable<bool> Gateway::Impl::RelayResponse(GatewayConnection& connection, bool head_request,
                                                   bool& keep_alive) {
  AgentStream& backend = *connection.backend;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (head_request) parser.skip(true);
  error_code ec;
  co_await http::async_read_header(backend.socket, connection.backend_buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    keep_alive = false;
    co_return false;  // nothing reached the client: the caller may retry
  }
  if (parser.get().result_int() == 101) {
    std::string head = HeadBytes(parser.get().base());
    co_await Send(connection, std::move(head));
    auto data = connection.backend_buffer.data();
    std::string backend_first(static_cast<const char*>(data.data()), data.size());
    tunnel::StartSplice(std::move(connection.socket), std::move(backend.socket),
                        std::move(connection.pending), std::move(backend_first));
    connection.backend.reset();
    keep_alive = false;
    co_return true;
  }
  http::response_serializer<http::buffer_body> serializer(parser.get());
  co_await http::async_write_header(connection.socket, serializer,
                                    asio::redirect_error(asio::use_awaitable, ec));
  RelayBuffer relay(spare_buffers_);
  std::vector<char>& chunk = relay.buffer;
  while (!ec && !parser.is_done() && !serializer.is_done()) {
    auto& body = parser.get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    // read_some, not read: whatever arrives goes on at once (server-sent
    // events, streamed tokens), not when the buffer is full.
    co_await http::async_read_some(backend.socket, connection.backend_buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) break;
    body.size = chunk.size() - body.size;
    body.data = chunk.data();
    body.more = !parser.is_done();
    co_await http::async_write(connection.socket, serializer,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
  }
  if (!ec && !serializer.is_done()) {
    auto& body = parser.get().body();
    body.data = nullptr;
    body.size = 0;
    body.more = false;
    co_await http::async_write(connection.socket, serializer,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
  }
  keep_alive = !ec && parser.get().keep_alive();
  if (!keep_alive) {
    connection.backend.reset();
    connection.backend_key.clear();
  }
  if (ec) {
    // The response was cut: the client sees the connection end.
    connection.socket.close(ec);
  }
  co_return true;
}

Result<WorkspacePlan> Gateway::Impl::PlanWorkspace(const WorkspaceTarget& target,
                                                   const std::string& token) {
  WorkspacePlan plan;
  if (token.empty()) {
    return Error::Coded("unauthenticated",
                        "log in first: open the allot page and log in, or send "
                        "'Authorization: Bearer <token>'");
  }
  Result<User> caller = ctx_.AuthenticateToken(token);
  if (!caller) return caller.error();
  plan.user = caller->name;
  std::string what = target.project + "/" + target.name;
  Result<StoredWorkload> stored = ctx_.LoadWorkload(target.name, *caller);
  if (!stored || stored->workload.spec.queue != target.project ||
      !stored->workload.workspace.IsSet()) {
    return Error::Coded("not_found", "no workspace " + what + " (allot workspace list)");
  }
  const wire::WorkloadResource& workload = stored->workload;
  if (!MayOpen(*caller, workload, stored->scope)) {
    return Forbidden("opening workspace " + what +
                     (workload.workspace.shared ? " (its project's members may)"
                                                : " (it is private to its owner)"));
  }
  Result<TaskRoute> route = RouteToTask(workload, 0);
  if (!route) return route.error();
  plan.agent = route->agent;
  plan.key = workload.spec.name + "." + std::to_string(route->attempt);
  plan.stream.kind = "connect";
  plan.stream.workload = workload.spec.name;
  plan.stream.attempt = route->attempt;
  plan.stream.port = workload.workspace.port;
  plan.what = what;
  return plan;
}

asio::awaitable<bool> Gateway::Impl::ProxyWorkspace(std::shared_ptr<GatewayConnection> connection,
                                                    HttpRequest& request) {
  std::optional<WorkspaceTarget> target = ParseWorkspaceTarget(request.target());
  if (!target) {
    Error refusal = Error::Coded("not_found", "open a workspace at /workspaces/PROJECT/NAME/");
    co_await SendError(*connection, refusal, false);
    co_return true;
  }
  if (target->bare) {
    std::string_view query = request.target();
    query = query.find('?') == std::string_view::npos ? "" : query.substr(query.find('?'));
    std::string redirect = "HTTP/1.1 301 Moved Permanently\r\nLocation: " +
                           wire::WorkspacePath(target->project, target->name) + std::string(query) +
                           "\r\nContent-Length: 0\r\n\r\n";
    co_await Send(*connection, std::move(redirect));
    co_return true;
  }
  bool from_header = false;
  std::string token = RequestToken(std::string(request[http::field::authorization]),
                                   std::string(request[http::field::cookie]), from_header);
  std::string plan_for = token + "\n" + target->project + "/" + target->name;
  auto now = std::chrono::steady_clock::now();
  bool reuse = connection->plan && connection->plan_for == plan_for &&
               now - connection->plan_at <= kPlanReuse;
  Result<WorkspacePlan> plan =
      reuse ? Result<WorkspacePlan>(*connection->plan) : PlanWorkspace(*target, token);
  if (!reuse) {
    connection->plan.reset();
    if (plan) {
      connection->plan = *plan;
      connection->plan_for = plan_for;
      connection->plan_at = now;
    }
  }
  // Errors are named, never temporaries inside co_await: GCC 12 destroys
  // some of those twice.
  Error refusal = Error::Coded("internal", "not answered");
  if (!plan) {
    refusal = plan.error();
  } else {
    PrepareForTask(request, from_header, plan->user, connection->source);
    bool retry_allowed = Idempotent(request.method());
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = connection->backend && connection->backend_key == plan->key;
      if (!reused) {
        connection->backend.reset();
        connection->backend_buffer.clear();
        // Beast reads as much as the buffer holds: a small one makes bulk
        // responses crawl.
        connection->backend_buffer.reserve(256 * 1024);
        Result<AgentStream> stream = co_await broker_.Open(plan->agent, plan->stream, kOpenTimeout);
        if (!stream) {
          refusal = Error::Coded(
              "unavailable", "workspace " + plan->what + " does not answer on port " +
                                 std::to_string(plan->stream.port) + ": " + stream.error().message);
          break;
        }
        auto buffer = connection->backend_buffer.prepare(stream->leftover.size());
        std::memcpy(buffer.data(), stream->leftover.data(), stream->leftover.size());
        connection->backend_buffer.commit(stream->leftover.size());
        connection->backend.emplace(AgentStream{std::move(stream->socket), {}});
        connection->backend_key = plan->key;
      }
      if (!connection->audited.count(plan->key)) {
        connection->audited.insert(plan->key);
        Audit(*connection, request, plan->user, true, 200, "opened workspace " + plan->what);
      }
      error_code ec;
      co_await http::async_write(connection->backend->socket, request,
                                 asio::redirect_error(asio::use_awaitable, ec));
      bool keep_alive = false;
      bool head = request.method() == http::verb::head;
      bool answered = !ec && co_await RelayResponse(*connection, head, keep_alive);
      if (answered) co_return keep_alive && connection->socket.is_open();
      connection->backend.reset();
      connection->backend_key.clear();
      refusal = Error::Coded("unavailable", "workspace " + plan->what + " closed the connection");
      // A kept-alive stream the task had closed: once more on a new one.
      if (!reused || !retry_allowed) break;
    }
  }
  Audit(*connection, request, plan ? plan->user : "anonymous", false, HttpStatusOf(refusal.code),
        refusal.message);
  co_await SendError(*connection, refusal, false, &request);
  co_return connection->socket.is_open();
}

}  // namespace allot::api

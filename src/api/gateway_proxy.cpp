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

// The header of a response as bytes (a 101's, which ends the HTTP part).
std::string HeadBytes(const http::response_header<>& header) {
  std::string head = "HTTP/1.1 " + std::to_string(header.result_int()) + " " +
                     std::string(header.reason()) + "\r\n";
  for (const auto& field : header) {
    head += std::string(field.name_string()) + ": " + std::string(field.value()) + "\r\n";
  }
  return head + "\r\n";
}

}  // namespace

void PrepareHeaderForTask(http::request_header<>& request, bool token_from_header,
                          const std::string& user, const std::string& source) {
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
  if (user.empty()) {
    request.erase("X-Forwarded-User");
  } else {
    request.set("X-Forwarded-User", user);
  }
}

bool Idempotent(http::verb method) {
  return method == http::verb::get || method == http::verb::head || method == http::verb::options ||
         method == http::verb::put || method == http::verb::delete_;
}

asio::awaitable<Result<Backend>> Gateway::Impl::OpenBackend(const std::string& agent,
                                                            tunnel::StreamRequest request) {
  Result<AgentStream> stream = co_await broker_.Open(agent, std::move(request), kOpenTimeout);
  if (!stream) co_return stream.error();
  Backend backend(std::move(stream->socket));
  // Beast reads as much as the buffer holds: a small one makes bulk
  // responses crawl.
  backend.buffer.reserve(256 * 1024);
  auto buffer = backend.buffer.prepare(stream->leftover.size());
  std::memcpy(buffer.data(), stream->leftover.data(), stream->leftover.size());
  backend.buffer.commit(stream->leftover.size());
  co_return std::move(backend);
}

asio::awaitable<Relayed> Gateway::Impl::RelayResponse(GatewayConnection& connection,
                                                      Backend& backend, bool head_request,
                                                      int* status) {
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (head_request) parser.skip(true);
  error_code ec;
  co_await http::async_read_header(backend.socket, backend.buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Relayed::kNoAnswer;  // nothing reached the client
  if (status) *status = parser.get().result_int();
  if (parser.get().result_int() == 101) {
    std::string head = HeadBytes(parser.get().base());
    co_await Send(connection, std::move(head));
    auto data = backend.buffer.data();
    std::string backend_first(static_cast<const char*>(data.data()), data.size());
    tunnel::StartSplice(std::move(connection.socket), std::move(backend.socket),
                        std::move(connection.pending), std::move(backend_first));
    co_return Relayed::kUpgraded;
  }
  http::response_serializer<http::buffer_body> serializer(parser.get());
  // When the body's first bytes (or all of a small one) came with the
  // header, both go out in one write below; otherwise the header goes now,
  // so that a client of a slow stream sees it at once.
  if (backend.buffer.size() == 0 && !parser.is_done()) {
    co_await http::async_write_header(connection.socket, serializer,
                                      asio::redirect_error(asio::use_awaitable, ec));
  }
  RelayBuffer relay(spare_buffers_);
  std::vector<char>& chunk = relay.buffer;
  while (!ec && !parser.is_done() && !serializer.is_done()) {
    auto& body = parser.get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    // read_some, not read: whatever arrives goes on at once (server-sent
    // events, streamed tokens), not when the buffer is full.
    co_await http::async_read_some(backend.socket, backend.buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) break;
    body.size = chunk.size() - body.size;
    body.data = chunk.data();
    body.more = !parser.is_done();
    // A read that parsed only framing (a chunk's size line) has nothing to
    // pass on, and an empty piece would end a chunked answer early.
    if (body.size == 0 && body.more) continue;
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
  if (ec) {
    // The response was cut: the client sees the connection end.
    connection.socket.close(ec);
    co_return Relayed::kCut;
  }
  co_return parser.get().keep_alive() ? Relayed::kKeepAlive : Relayed::kClose;
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
    PrepareHeaderForTask(request.base(), from_header, plan->user, connection->source);
    if (!request.chunked() && !request.body().empty()) request.prepare_payload();
    bool retry_allowed = Idempotent(request.method());
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = connection->backend && connection->backend_key == plan->key;
      if (!reused) {
        connection->backend.reset();
        Result<Backend> opened = co_await OpenBackend(plan->agent, plan->stream);
        if (!opened) {
          refusal = Error::Coded(
              "unavailable", "workspace " + plan->what + " does not answer on port " +
                                 std::to_string(plan->stream.port) + ": " + opened.error().message);
          break;
        }
        connection->backend.emplace(std::move(*opened));
        connection->backend_key = plan->key;
      }
      if (!connection->audited.count(plan->key)) {
        connection->audited.insert(plan->key);
        Audit(*connection, request, plan->user, true, 200, "opened workspace " + plan->what);
      }
      error_code ec;
      co_await http::async_write(connection->backend->socket, request,
                                 asio::redirect_error(asio::use_awaitable, ec));
      bool head = request.method() == http::verb::head;
      Relayed relayed =
          ec ? Relayed::kNoAnswer : co_await RelayResponse(*connection, *connection->backend, head);
      if (relayed != Relayed::kNoAnswer) {
        if (relayed != Relayed::kKeepAlive) {
          connection->backend.reset();
          connection->backend_key.clear();
        }
        co_return relayed == Relayed::kKeepAlive && connection->socket.is_open();
      }
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

// An inference service's requests through the gateway (docs/serving.md §2):
// authenticated by allot (or public), sent to the ready replica with the
// fewest requests in flight over a pooled tunnel connection, held while the
// service has no ready replica (a cold start from zero), and retried on
// another replica when one fails before answering and the request may be
// sent again. Request bodies stream to the replica as they arrive (the
// first 64 KiB are kept, so that a small request can be retried); responses
// stream back as they come (RelayResponse).
#include <utility>  // before Boost 1.74's awaitable, which uses std::exchange

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "api/gateway_access.h"
#include "api/gateway_impl.h"
#include "api/route_support.h"
#include "server/service_traffic.h"

namespace allot::api {

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

// A request body up to this is kept whole, so that it can be sent again.
constexpr size_t kRetryableBody = 64 * 1024;
constexpr size_t kMaxHead = 64 * 1024;
// A replica that failed a connection is out of rotation this long.
constexpr auto kExcludedFor = std::chrono::seconds(2);
// Pooled connections idle longer than this are not reused (servers close
// idle keep-alive connections after a few seconds).
constexpr auto kPooledIdle = std::chrono::seconds(4);
constexpr size_t kPoolPerReplica = 512;
constexpr int kMaxTries = 3;
constexpr auto kGrantReuse = std::chrono::seconds(1);
constexpr auto kAuditEvery = std::chrono::seconds(60);

// Whether a pooled connection is still open: the replica (through the
// agent's splice) may have closed it while it idled, and a request that
// may not be sent twice must not go out on a connection that is gone.
bool StillOpen(Backend& backend) {
  char byte = 0;
  ssize_t got = ::recv(backend.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::string PoolKey(const std::string& service, const server::ServiceEndpoint& endpoint) {
  return service + "/" + endpoint.replica + "." + std::to_string(endpoint.attempt);
}

}  // namespace

// One request to a service while the gateway handles it.
struct ServiceExchange {
  http::request_parser<http::buffer_body> parser;
  std::string body;               // the body read so far: all of it when complete
  bool complete = false;          // the whole body is in `body`
  bool sent = false;              // some of the request reached a replica
  http::request_header<> header;  // as the replica gets it
  ServiceTarget target;
  std::string user;  // "" for a public service's anonymous caller
  Clock::time_point start;
  int status = 0;
};

asio::awaitable<bool> Gateway::Impl::ProxyService(std::shared_ptr<GatewayConnection> connection) {
  auto exchange = std::make_unique<ServiceExchange>();
  http::request_parser<http::buffer_body>& parser = exchange->parser;
  if (!co_await ReadServiceHead(*connection, parser)) co_return false;
  exchange->start = Clock::now();
  http::request<http::buffer_body>& request = parser.get();
  std::optional<ServiceTarget> target = ParseServiceTarget(request.target());
  std::shared_ptr<const server::ServiceRoute> route =
      target ? ctx_.services().Find(target->name) : nullptr;
  HttpRequest for_errors(request.base());
  Error refusal = Error::Coded("internal", "not answered");
  bool from_header = false;
  std::string token = RequestToken(std::string(request[http::field::authorization]),
                                   std::string(request[http::field::cookie]), from_header);
  std::optional<std::string> user;
  if (!target) {
    refusal = Error::Coded("not_found", "call a service at /serve/PROJECT/NAME/");
  } else if (!route || route->project != target->project) {
    refusal = Error::Coded(
        "not_found", "no service " + target->project + "/" + target->name + " (allot serve list)");
  } else {
    user = AuthorizeService(*route, token, refusal);
  }
  if (!user) {
    Audit(*connection, for_errors, "anonymous", false, HttpStatusOf(refusal.code), refusal.message);
    // The body is not read: the connection cannot go on.
    co_await SendError(*connection, refusal, true, &for_errors);
    co_return false;
  }
  exchange->target = *target;
  exchange->user = *user;
  AuditServiceCall(*connection, for_errors, *route, *user);
  bool expects_continue = request[http::field::expect] == "100-continue";
  exchange->header = request.base();
  http::request_header<>& header = exchange->header;
  header.target(exchange->target.forward);
  header.erase(http::field::expect);
  PrepareHeaderForTask(header, from_header || route->is_public, exchange->user, connection->source);
  header.set("X-Forwarded-Prefix", exchange->target.prefix);
  if (!co_await ReadBodyStart(*connection, *exchange, expects_continue)) co_return false;
  exchange->complete = parser.is_done();
  ctx_.service_traffic().Begin(route->name, ctx_.options().now_ms());
  bool go_on = co_await ForwardToService(connection, *exchange);
  double seconds = std::chrono::duration<double>(Clock::now() - exchange->start).count();
  ctx_.service_traffic().End(route->name, ctx_.options().now_ms(), exchange->status, seconds);
  co_return go_on;
}

asio::awaitable<bool> Gateway::Impl::ReadServiceHead(
    GatewayConnection& connection, http::request_parser<http::buffer_body>& parser) {
  parser.header_limit(kMaxHead);
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  error_code ec;
  while (!parser.is_header_done()) {
    size_t used = parser.put(asio::buffer(connection.pending), ec);
    connection.pending.erase(0, used);
    if (ec == http::error::need_more) ec = {};
    if (ec) break;
    if (!parser.is_header_done() && !co_await ReadMore(connection, kIdleTimeout)) co_return false;
  }
  if (!ec) co_return true;
  Error refusal = Error::Coded("invalid", "the request could not be read: " + ec.message());
  co_await SendError(connection, refusal, true);
  co_return false;
}

asio::awaitable<bool> Gateway::Impl::ReadBodyStart(GatewayConnection& connection,
                                                   ServiceExchange& exchange,
                                                   bool expects_continue) {
  http::request_parser<http::buffer_body>& parser = exchange.parser;
  if (expects_continue && !parser.is_done()) {
    std::string go_on = "HTTP/1.1 100 Continue\r\n\r\n";
    co_await Send(connection, std::move(go_on));
  }
  RelayBuffer relay(spare_buffers_);
  std::vector<char>& chunk = relay.buffer;
  error_code ec;
  while (!parser.is_done() && exchange.body.size() < kRetryableBody) {
    if (connection.pending.empty() && !co_await ReadMore(connection, kIdleTimeout)) {
      co_return false;
    }
    auto& body = parser.get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    size_t used = parser.put(asio::buffer(connection.pending), ec);
    connection.pending.erase(0, used);
    if (ec == http::error::need_buffer || ec == http::error::need_more) ec = {};
    if (ec) {
      Error unreadable =
          Error::Coded("invalid", "the request body could not be read: " + ec.message());
      co_await SendError(connection, unreadable, true);
      co_return false;
    }
    exchange.body.append(chunk.data(), chunk.size() - body.size);
    if (used == 0 && !parser.is_done() && !co_await ReadMore(connection, kIdleTimeout)) {
      co_return false;
    }
  }
  co_return true;
}

void Gateway::Impl::AuditServiceCall(const GatewayConnection& connection,
                                     const HttpRequest& request, const server::ServiceRoute& route,
                                     const std::string& user) {
  if (user.empty()) return;  // a public service's anonymous caller
  std::string key = user + "\n" + route.name;
  auto now = Clock::now();
  auto audited = service_audited_.find(key);
  if (audited != service_audited_.end() && now - audited->second < kAuditEvery) return;
  service_audited_[key] = now;
  Audit(connection, request, user, true, 200, "called service " + route.project + "/" + route.name);
}

std::optional<std::string> Gateway::Impl::AuthorizeService(const server::ServiceRoute& route,
                                                           const std::string& token,
                                                           Error& refusal) {
  if (route.is_public) return std::string();
  if (token.empty()) {
    refusal = Error::Coded("unauthenticated",
                           "service " + route.project + "/" + route.name +
                               " needs an allot token: send 'Authorization: Bearer <token>'");
    return std::nullopt;
  }
  std::string key = token + "\n" + route.name;
  auto now = Clock::now();
  auto granted = service_grants_.find(key);
  if (granted != service_grants_.end() && now - granted->second.second <= kGrantReuse) {
    return granted->second.first;
  }
  if (service_grants_.size() > 10000) service_grants_.clear();
  Result<User> caller = ctx_.AuthenticateToken(token);
  if (!caller) {
    refusal = caller.error();
    return std::nullopt;
  }
  Caller as{*caller, "", "", ""};
  if (!caller->agent.empty() || !ctx_.MayRead(as, route.project)) {
    refusal = Forbidden("calling service " + route.project + "/" + route.name +
                        " (members of its project may)");
    return std::nullopt;
  }
  service_grants_[key] = {caller->name, now};
  return caller->name;
}

const server::ServiceEndpoint* Gateway::Impl::PickReplica(const server::ServiceRoute& route,
                                                          const std::set<std::string>& tried) {
  const server::ServiceEndpoint* best = nullptr;
  int64_t best_load = 0;
  auto now = Clock::now();
  size_t count = route.endpoints.size();
  // Ties go round: a rotating start, the first least loaded from it.
  ++rotation_;
  for (size_t i = 0; i < count; ++i) {
    const server::ServiceEndpoint& endpoint = route.endpoints[(rotation_ + i) % count];
    if (endpoint.draining) continue;
    std::string key = PoolKey(route.name, endpoint);
    if (tried.count(key)) continue;
    auto excluded = excluded_.find(key);
    if (excluded != excluded_.end()) {
      if (now < excluded->second) continue;
      excluded_.erase(excluded);
    }
    auto found = outstanding_.find(key);
    int64_t load = found == outstanding_.end() ? 0 : found->second;
    if (!best || load < best_load) {
      best = &endpoint;
      best_load = load;
    }
  }
  return best;
}

asio::awaitable<bool> Gateway::Impl::WaitForDirectory(Clock::time_point until) {
  asio::steady_timer timer(io_);
  timer.expires_at(until);
  directory_waiters_.insert(&timer);
  error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  directory_waiters_.erase(&timer);
  co_return ec == asio::error::operation_aborted;
}

void Gateway::Impl::DirectoryChanged() {
  for (asio::steady_timer* timer : directory_waiters_) timer->cancel();
  // Pooled connections to replicas that no longer serve go.
  for (auto it = idle_backends_.begin(); it != idle_backends_.end();) {
    const std::string& key = it->first;
    std::string service = key.substr(0, key.find('/'));
    std::shared_ptr<const server::ServiceRoute> route = ctx_.services().Find(service);
    bool serves = false;
    if (route) {
      for (const server::ServiceEndpoint& endpoint : route->endpoints) {
        serves = serves || PoolKey(service, endpoint) == key;
      }
    }
    it = serves ? std::next(it) : idle_backends_.erase(it);
  }
}

asio::awaitable<bool> Gateway::Impl::ForwardToService(std::shared_ptr<GatewayConnection> connection,
                                                      ServiceExchange& exchange) {
  const std::string& name = exchange.target.name;
  std::shared_ptr<const server::ServiceRoute> route = ctx_.services().Find(name);
  auto deadline =
      exchange.start + std::chrono::milliseconds(route ? route->cold_start_timeout_ms : 0);
  std::set<std::string> tried;
  bool cold = false;
  int tries = 0;
  Error refusal = Error::Coded("internal", "not answered");
  HttpRequest for_errors(exchange.header);
  for (;;) {
    route = ctx_.services().Find(name);
    if (!route) {
      refusal = Error::Coded("not_found",
                             "service " + exchange.target.project + "/" + name + " was deleted");
      break;
    }
    const server::ServiceEndpoint* endpoint = PickReplica(*route, tried);
    if (!endpoint) {
      bool none_ready = std::none_of(route->endpoints.begin(), route->endpoints.end(),
                                     [](const auto& e) { return !e.draining; });
      cold = cold || (none_ready && tries == 0);
      auto now = Clock::now();
      if (now >= deadline) {
        std::string why = !route->not_ready_reason.empty()
                              ? route->not_ready_reason
                              : "its ready replicas failed the request";
        refusal =
            Error::Coded("unavailable",
                         "service " + route->project + "/" + name + " has no ready replica after " +
                             std::to_string(route->cold_start_timeout_ms / 1000) + " s: " + why);
        break;
      }
      // Wait for the directory, or for an excluded replica's time out.
      auto until = std::min(deadline, now + std::chrono::milliseconds(200));
      tried.clear();
      co_await WaitForDirectory(until);
      continue;
    }
    if (cold) {
      cold = false;
      double waited = std::chrono::duration<double>(Clock::now() - exchange.start).count();
      ctx_.service_traffic().ColdStart(name, waited);
    }
    server::ServiceEndpoint chosen = *endpoint;
    std::string key = PoolKey(name, chosen);
    ++outstanding_[key];
    ctx_.service_traffic().BeginReplica(chosen.replica);
    Relayed relayed = co_await TryReplica(*connection, exchange, chosen);
    ctx_.service_traffic().EndReplica(chosen.replica);
    if (--outstanding_[key] <= 0) outstanding_.erase(key);
    if (relayed != Relayed::kNoAnswer) {
      co_return relayed == Relayed::kKeepAlive && connection->socket.is_open();
    }
    // Out of rotation at once; another replica gets the request when it
    // may be sent again.
    excluded_[key] = Clock::now() + kExcludedFor;
    tried.insert(key);
    bool again = exchange.complete && (!exchange.sent || Idempotent(exchange.header.method()));
    if (!again || ++tries >= kMaxTries) {
      refusal =
          Error::Coded("bad_gateway", "replica " + chosen.replica + " of service " +
                                          route->project + "/" + name + " failed before answering" +
                                          (again ? " (and so did others)" : ""));
      break;
    }
  }
  exchange.status = HttpStatusOf(refusal.code);
  co_await SendError(*connection, refusal, !exchange.complete, &for_errors);
  co_return exchange.complete && connection->socket.is_open();
}

asio::awaitable<Relayed> Gateway::Impl::TryReplica(GatewayConnection& connection,
                                                   ServiceExchange& exchange,
                                                   const server::ServiceEndpoint& endpoint) {
  std::shared_ptr<const server::ServiceRoute> route = ctx_.services().Find(exchange.target.name);
  std::string key = PoolKey(exchange.target.name, endpoint);
  std::optional<Backend> backend;
  std::vector<Backend>& idle = idle_backends_[key];
  auto now = Clock::now();
  while (!idle.empty() && !backend) {
    if (now - idle.back().idle_since < kPooledIdle && StillOpen(idle.back())) {
      backend.emplace(std::move(idle.back()));
    }
    idle.pop_back();
  }
  bool pooled = backend.has_value();
  for (int fresh = 0; fresh < 2; ++fresh) {
    if (!backend) {
      tunnel::StreamRequest stream;
      stream.kind = "connect";
      stream.workload = endpoint.replica;
      stream.task = 0;
      stream.attempt = endpoint.attempt;
      stream.port = route ? route->port : 0;
      Result<Backend> opened = co_await OpenBackend(endpoint.agent, stream);
      if (!opened) co_return Relayed::kNoAnswer;
      backend.emplace(std::move(*opened));
      pooled = false;
    }
    error_code ec;
    bool written = false;
    if (exchange.complete) {
      HttpRequest request(exchange.header);
      request.body() = exchange.body;
      request.chunked(false);
      request.prepare_payload();
      if (exchange.body.empty() && !Idempotent(request.method())) {
        request.content_length(0);
      }
      co_await http::async_write(backend->socket, request,
                                 asio::redirect_error(asio::use_awaitable, ec));
      written = !ec;
    } else {
      written = co_await StreamRequestBody(connection, *backend, exchange);
    }
    bool head = exchange.header.method() == http::verb::head;
    Relayed relayed = written ? co_await RelayResponse(connection, *backend, head, &exchange.status)
                              : Relayed::kNoAnswer;
    if (relayed == Relayed::kKeepAlive) {
      backend->idle_since = Clock::now();
      std::vector<Backend>& spares = idle_backends_[key];
      if (spares.size() < kPoolPerReplica) spares.push_back(std::move(*backend));
      co_return relayed;
    }
    if (relayed != Relayed::kNoAnswer) co_return relayed;
    exchange.sent = exchange.sent || (written && !exchange.complete);
    backend.reset();
    // A pooled connection the replica had closed: once more on a new one
    // (a request that may be sent again, or one that never reached it).
    bool again = pooled && exchange.complete && (!written || Idempotent(exchange.header.method()));
    if (!again) {
      exchange.sent = exchange.sent || written;
      co_return Relayed::kNoAnswer;
    }
  }
  co_return Relayed::kNoAnswer;
}

asio::awaitable<bool> Gateway::Impl::StreamRequestBody(GatewayConnection& connection,
                                                       Backend& backend,
                                                       ServiceExchange& exchange) {
  // The header as it was (Content-Length, or chunked), then the kept
  // start, then the rest as it arrives.
  http::request<http::buffer_body> out(exchange.header);
  http::request_serializer<http::buffer_body> serializer(out);
  error_code ec;
  co_await http::async_write_header(backend.socket, serializer,
                                    asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return false;
  exchange.sent = true;
  auto write_piece = [&](char* data, size_t size, bool more) {
    out.body().data = data;
    out.body().size = size;
    out.body().more = more;
  };
  write_piece(exchange.body.data(), exchange.body.size(), true);
  co_await http::async_write(backend.socket, serializer,
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec == http::error::need_buffer) ec = {};
  RelayBuffer relay(spare_buffers_);
  std::vector<char>& chunk = relay.buffer;
  http::request_parser<http::buffer_body>& parser = exchange.parser;
  while (!ec && !parser.is_done()) {
    if (connection.pending.empty() && !co_await ReadMore(connection, kIdleTimeout)) {
      co_return false;
    }
    auto& body = parser.get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    size_t used = parser.put(asio::buffer(connection.pending), ec);
    connection.pending.erase(0, used);
    if (ec == http::error::need_buffer || ec == http::error::need_more) ec = {};
    if (ec) co_return false;
    size_t got = chunk.size() - body.size;
    if (got > 0) {
      write_piece(chunk.data(), got, true);
      co_await http::async_write(backend.socket, serializer,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
    }
    if (used == 0 && !parser.is_done() && !co_await ReadMore(connection, kIdleTimeout)) {
      co_return false;
    }
  }
  if (ec) co_return false;
  write_piece(nullptr, 0, false);
  co_await http::async_write(backend.socket, serializer,
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec == http::error::need_buffer) ec = {};
  co_return !ec;
}

}  // namespace allot::api

#include "api/gateway.h"

#include <utility>  // before Boost 1.74's awaitable, which uses std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>

#include "api/gateway_impl.h"
#include "api/route_support.h"

namespace allot::api {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using nlohmann::json;

constexpr size_t kMaxHead = 64 * 1024;

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::string SwitchingProtocols() {
  return std::string("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ") +
         tunnel::kUpgradeProtocol + "\r\n\r\n";
}

std::string_view PathOf(std::string_view target) {
  return target.substr(0, target.find('?'));
}

std::vector<std::string> QueryValues(std::string_view target, std::string_view name) {
  std::vector<std::string> values;
  size_t mark = target.find('?');
  if (mark == std::string_view::npos) return values;
  std::string_view query = target.substr(mark + 1);
  while (!query.empty()) {
    size_t end = query.find('&');
    std::string_view pair = query.substr(0, end);
    size_t equals = pair.find('=');
    if (Unescape(pair.substr(0, equals)) == name) {
      values.push_back(equals == std::string_view::npos ? "" : Unescape(pair.substr(equals + 1)));
    }
    if (end == std::string_view::npos) break;
    query.remove_prefix(end + 1);
  }
  return values;
}

bool AsksUpgrade(const HttpRequest& request, std::string_view protocol) {
  auto upgrade = request.find(http::field::upgrade);
  if (upgrade == request.end()) return false;
  std::string value(upgrade->value());
  std::string wanted(protocol);
  for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char& c : wanted) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return value.find(wanted) != std::string::npos;
}

bool Gateway::Claims(std::string_view target) {
  std::string_view path = PathOf(target);
  if (StartsWith(path, "/workspaces/") || StartsWith(path, "/serve/")) return true;
  if (path == "/api/v1/agents/tunnel" || StartsWith(path, "/api/v1/agents/tunnel/")) return true;
  const std::string_view workloads = "/api/v1/workloads/";
  if (!StartsWith(path, workloads)) return false;
  std::string_view rest = path.substr(workloads.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  std::string_view action = rest.substr(slash);
  return action == "/port-forward" || action == "/exec";
}

Gateway::Gateway(ApiContext& ctx, FrontDoor& front_door)
    : impl_(std::make_unique<Impl>(ctx, front_door)) {}
Gateway::~Gateway() = default;
void Gateway::Adopt(int fd, std::string buffered) {
  impl_->Adopt(fd, std::move(buffered));
}
void Gateway::Stop() {
  impl_->Stop();
}

Gateway::Impl::Impl(ApiContext& ctx, FrontDoor& front_door)
    : ctx_(ctx), front_door_(front_door), work_(io_.get_executor()), broker_(io_) {
  tunnel::RaiseOpenFileLimit();
  listening_->impl = this;
  ctx_.services().OnChange([listening = listening_] {
    std::lock_guard lock(listening->mutex);
    if (Impl* impl = listening->impl) {
      asio::post(impl->io_, [impl] { impl->DirectoryChanged(); });
    }
  });
  thread_ = std::thread([this] { io_.run(); });
}

Gateway::Impl::~Impl() {
  Stop();
}

void Gateway::Impl::Stop() {
  {
    std::lock_guard lock(listening_->mutex);
    listening_->impl = nullptr;
  }
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    broker_.CloseAll();
    io_.stop();
  });
  thread_.join();
}

void Gateway::Impl::Adopt(int fd, std::string buffered) {
  std::string source = front_door_.PeerOf(fd).ip;
  asio::post(io_, [this, fd, buffered = std::move(buffered), source = std::move(source)]() mutable {
    Result<tunnel::Socket> socket = tunnel::AdoptSocket(io_, fd);
    if (!socket) return;
    auto connection = std::make_shared<GatewayConnection>(std::move(*socket));
    connection->pending = std::move(buffered);
    connection->source = std::move(source);
    asio::co_spawn(io_, Serve(connection), asio::detached);
  });
}

asio::awaitable<void> Gateway::Impl::Serve(std::shared_ptr<GatewayConnection> connection) {
  for (;;) {
    while (connection->pending.find("\r\n\r\n") == std::string::npos &&
           connection->pending.size() < kMaxHead) {
      if (!co_await ReadMore(*connection, kIdleTimeout)) co_return;
    }
    if (!Gateway::Claims(RequestTarget(connection->pending))) {
      // The API's request: back to httplib with what was read.
      connection->backend.reset();
      error_code ec;
      int fd = connection->socket.release(ec);
      if (!ec) front_door_.Resume(fd, std::move(connection->pending));
      co_return;
    }
    if (StartsWith(PathOf(RequestTarget(connection->pending)), "/serve/")) {
      // Its body streams: read as it is relayed, not here.
      if (!co_await ProxyService(connection)) co_return;
      continue;
    }
    std::optional<HttpRequest> request = co_await ReadRequest(*connection);
    if (!request) co_return;
    std::string_view path = PathOf(request->target());
    if (path == "/api/v1/agents/tunnel") {
      co_await AgentControl(connection, *request);
      co_return;
    }
    if (StartsWith(path, "/api/v1/agents/tunnel/")) {
      co_await AgentStreamBack(connection, *request);
      co_return;
    }
    if (StartsWith(path, "/api/v1/workloads/")) {
      co_await ClientStream(connection, *request);
      co_return;
    }
    if (!co_await ProxyWorkspace(connection, *request)) co_return;
  }
}

asio::awaitable<bool> Gateway::Impl::ReadMore(GatewayConnection& connection,
                                              std::chrono::seconds idle) {
  asio::steady_timer timer(io_);
  timer.expires_after(idle);
  tunnel::Socket* socket = &connection.socket;
  timer.async_wait([socket](error_code ec) {
    if (!ec) socket->cancel(ec);
  });
  char chunk[16 * 1024];
  error_code ec;
  size_t got = co_await connection.socket.async_read_some(
      asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
  timer.cancel();
  if (ec || got == 0) co_return false;
  connection.pending.append(chunk, got);
  co_return true;
}

asio::awaitable<std::optional<HttpRequest>> Gateway::Impl::ReadRequest(
    GatewayConnection& connection) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(kMaxHead);
  parser.body_limit(kMaxProxiedBody);
  parser.eager(true);
  for (;;) {
    while (!connection.pending.empty()) {
      error_code ec;
      size_t used = parser.put(asio::buffer(connection.pending), ec);
      connection.pending.erase(0, used);
      if (ec && ec != http::error::need_more) {
        bool large = ec == http::error::body_limit || ec == http::error::header_limit;
        // Named, not a temporary inside co_await: GCC 12 destroys some of
        // those twice.
        Error refusal = Error::Coded(large ? "too_large" : "invalid",
                                     large ? "the request is over the gateway's size limit"
                                           : "the request could not be read: " + ec.message());
        co_await SendError(connection, refusal, true);
        co_return std::nullopt;
      }
      if (parser.is_done()) co_return parser.release();
      if (used == 0) break;
    }
    if (!co_await ReadMore(connection, kIdleTimeout)) co_return std::nullopt;
  }
}

asio::awaitable<void> Gateway::Impl::Send(GatewayConnection& connection, std::string bytes) {
  error_code ec;
  co_await asio::async_write(connection.socket, asio::buffer(bytes),
                             asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> Gateway::Impl::SendError(GatewayConnection& connection, const Error& error,
                                               bool close, const HttpRequest* request) {
  int status = error.code == "conflict" && request != nullptr &&
                       StartsWith(PathOf(request->target()), "/workspaces/")
                   ? 503
                   : HttpStatusOf(error.code);
  std::string body = ErrorBody(error).dump();
  std::string head =
      "HTTP/1.1 " + std::to_string(status) + " " +
      std::string(http::obsolete_reason(static_cast<http::status>(status))) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nCache-Control: no-store\r\n";
  if (status == 401) head += "WWW-Authenticate: Bearer realm=\"allot\"\r\n";
  if (close) head += "Connection: close\r\n";
  std::string reply = head + "\r\n" + body;
  co_await Send(connection, std::move(reply));
  if (close) {
    error_code ec;
    connection.socket.shutdown(tunnel::Socket::shutdown_both, ec);
    connection.socket.close(ec);
  }
}

void Gateway::Impl::Audit(const GatewayConnection& connection, const HttpRequest& request,
                          const std::string& actor, bool allowed, int status,
                          const std::string& detail) {
  store::AuditEntry entry;
  entry.time_ms = ctx_.options().now_ms();
  entry.actor = actor;
  entry.source = connection.source;
  entry.method = std::string(request.method_string());
  entry.path = std::string(PathOf(request.target()));
  entry.allowed = allowed;
  entry.status = status;
  entry.detail = detail;
  (void)ctx_.store().AppendAudit(entry);
}

Result<TaskRoute> Gateway::Impl::RouteToTask(const wire::WorkloadResource& workload, int32_t task) {
  if (task < 0 || static_cast<size_t>(task) >= workload.assignments.size()) {
    return Error::Coded("invalid",
                        "task: workload '" + workload.spec.name + "' has tasks 0 to " +
                            std::to_string(workload.assignments.size() - 1),
                        "task");
  }
  const wire::TaskAssignment& assigned = workload.assignments[static_cast<size_t>(task)];
  if (workload.status != wire::WorkloadStatus::kRunning || assigned.node.empty() ||
      assigned.state != wire::TaskState::kRunning) {
    std::string now = workload.status != wire::WorkloadStatus::kRunning
                          ? std::string("workload '") + workload.spec.name + "' is " +
                                wire::StatusName(workload.status)
                          : "task " + std::to_string(task) + " of '" + workload.spec.name +
                                "' is not running yet";
    std::string hint = workload.workspace.IsSet() && !wire::IsActive(workload.status)
                           ? ": start it (allot workspace start " + workload.spec.name + ")"
                           : ": try again once it runs (allot describe " + workload.spec.name + ")";
    return Error::Coded("conflict", now + hint);
  }
  Result<store::Object> node_object = ctx_.store().Get("nodes", assigned.node);
  if (!node_object) return Error::Coded("unavailable", "node " + assigned.node + " is gone");
  Result<wire::NodeResource> node = wire::DecodeNode(json::parse(node_object->body));
  if (!node) return node.error();
  if (node->agent.empty()) {
    return Error::Coded("conflict", "node " + assigned.node +
                                        " has no agent (a simulated node): its tasks run no "
                                        "processes to reach");
  }
  return TaskRoute{node->agent, assigned.attempt};
}

asio::awaitable<void> Gateway::Impl::AgentControl(std::shared_ptr<GatewayConnection> connection,
                                                  const HttpRequest& request) {
  Result<User> caller = ctx_.Authenticate(std::string(request[http::field::authorization]));
  if (!caller || caller->agent.empty()) {
    Error error =
        caller ? Error::Coded("forbidden", "only a node agent opens a tunnel") : caller.error();
    Audit(*connection, request, caller ? caller->name : "anonymous", false,
          HttpStatusOf(error.code), error.message);
    co_await SendError(*connection, error, true);
    co_return;
  }
  if (!AsksUpgrade(request, tunnel::kUpgradeProtocol)) {
    Error refusal = Error::Coded("invalid",
                                 "this route upgrades the connection: send "
                                 "'Connection: Upgrade' and 'Upgrade: allot-tunnel'");
    co_await SendError(*connection, refusal, true);
    co_return;
  }
  std::string switching = SwitchingProtocols();
  co_await Send(*connection, std::move(switching));
  broker_.AttachAgent(caller->agent, std::move(connection->socket));
}

asio::awaitable<void> Gateway::Impl::AgentStreamBack(std::shared_ptr<GatewayConnection> connection,
                                                     const HttpRequest& request) {
  Result<User> caller = ctx_.Authenticate(std::string(request[http::field::authorization]));
  if (!caller || caller->agent.empty()) {
    Error error = caller ? Error::Coded("forbidden", "only a node agent opens tunnel streams")
                         : caller.error();
    Audit(*connection, request, caller ? caller->name : "anonymous", false,
          HttpStatusOf(error.code), error.message);
    co_await SendError(*connection, error, true);
    co_return;
  }
  std::string_view path = PathOf(request.target());
  const std::string_view prefix = "/api/v1/agents/tunnel/streams/";
  std::string id = StartsWith(path, prefix) ? std::string(path.substr(prefix.size())) : "";
  std::vector<std::string> refusal = QueryValues(request.target(), "error");
  std::optional<AgentStream> none;
  if (!refusal.empty()) {
    bool known = broker_.Deliver(caller->agent, id, none, refusal.front());
    Error answer = known ? Error::Coded("gone", "noted: the stream is refused")
                         : Error::Coded("not_found", "no stream waits under that id");
    co_await SendError(*connection, answer, true);
    co_return;
  }
  std::string switching = SwitchingProtocols();
  co_await Send(*connection, std::move(switching));
  std::optional<AgentStream> stream(
      AgentStream{std::move(connection->socket), std::move(connection->pending)});
  if (!broker_.Deliver(caller->agent, id, stream, "")) {
    error_code ec;
    if (stream) stream->socket.close(ec);
  }
}

}  // namespace allot::api

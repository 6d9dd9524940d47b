#include "api/http_api.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "api/api_context.h"
#include "api/auth.h"
#include "api/front_door.h"
#include "api/gateway.h"
#include "api/openapi_document.h"
#include "api/route_support.h"
#include "api/run_as.h"
#include "api/web_assets.h"
#include "wire/json_reader.h"
#include "wire/resources.h"

namespace allot::api {

using server::NodeLiveness;
using server::WorkloadUsage;
using wire::EncodeQueue;
using wire::ParseJsonObject;
using wire::QueueResource;

namespace {

using nlohmann::json;
using store::Write;
using Op = store::Write::Op;

}  // namespace

class HttpApi::Impl {
 public:
  Impl(store::Store& store, ApiOptions options)
      : store_(store),
        options_(WithDefaults(std::move(options))),
        own_liveness_(options_.now_ms()),
        liveness_(options_.liveness ? *options_.liveness : own_liveness_),
        metrics_(options_.metrics ? *options_.metrics : own_metrics_),
        workload_usage_(options_.workload_usage ? *options_.workload_usage : own_workload_usage_),
        own_traffic_(&metrics_),
        ctx_(store_, options_, liveness_, workload_usage_, metrics_,
             options_.services ? *options_.services : own_directory_,
             options_.service_traffic ? *options_.service_traffic : own_traffic_),
        server_(options_.worker_threads),
        gateway_(ctx_, server_) {
    // httplib refuses bodies past this itself; the JSON error handler below
    // gives those the API's error form.
    server_.set_payload_max_length(static_cast<size_t>(options_.max_body_bytes));
    // A kept-alive connection holds a worker thread, and watchers hold one
    // while they wait: the pool (FrontDoor's) is sized for many clients,
    // not for the cores. The gateway's streams hold none.
    server_.SetGateway(Gateway::Claims, [this](int fd, std::string buffered) {
      gateway_.Adopt(fd, std::move(buffered));
    });
    if (options_.tls) server_.SetTls(options_.tls);
    // Debian's httplib is a compiled library that listens with a backlog of
    // 5, which drops connections when many clients connect at once: note
    // the listening socket, and Bind() widens its backlog.
    server_.set_socket_options([this](socket_t socket) {
      httplib::default_socket_options(socket);
      listen_socket_ = socket;
    });
    // httplib closes a kept-alive connection after 5 requests by default,
    // which races with clients that send the next one at once.
    server_.set_keep_alive_max_count(100000);
    // Replies go out at once, not after the client's delayed ACK.
    server_.set_tcp_nodelay(true);
    metrics_.DeclareHistogram(
        "allot_api_request_duration_seconds",
        "Time to answer an API request, by method, route and status code "
        "(watches and followed logs last as long as they wait).",
        {"method", "route", "code"},
        {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
    server_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string code = res.status == 413   ? "too_large"
                         : res.status == 404 ? "not_found"
                                             : "invalid";
      std::string message = res.status == 413   ? "the request body is over the size limit"
                            : res.status == 404 ? "no such route: see /api/v1/openapi.json"
                                                : "the request could not be read";
      res.set_content(ErrorBody(Error::Coded(code, message)).dump(), "application/json");
    });
    Routes();
  }

  Result<int> Bind(const std::string& host, int port) {
    int bound =
        port == 0 ? server_.bind_to_any_port(host) : (server_.bind_to_port(host, port) ? port : -1);
    if (bound < 0) {
      return Error::Coded("internal",
                          "cannot listen on " + host + ":" + std::to_string(port) +
                              ": the port is taken or not allowed; pick another with --port",
                          "port");
    }
    // listen() again on a listening socket only changes its backlog (Linux).
    if (listen_socket_ >= 0) ::listen(listen_socket_, kListenBacklog);
    return bound;
  }
  void Serve() { server_.listen_after_bind(); }
  void Stop() {
    ctx_.stopping() = true;  // watchers answer within a slice, so that stop() can join them
    gateway_.Stop();
    server_.stop();
  }

 private:
  static ApiOptions WithDefaults(ApiOptions options) {
    if (!options.now_ms) {
      options.now_ms = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      };
    }
    return options;
  }

  // Registers a route: authentication, the handler, errors as JSON, audit.
  void Route(const char* method, const std::string& pattern, Handler handler, Record record) {
    auto wrapped = [this, handler, record, method = std::string(method),
                    route = RouteLabel(pattern)](const httplib::Request& req,
                                                 httplib::Response& res) {
      auto started = std::chrono::steady_clock::now();
      bool mutating = method != "GET" && record == Record::kAudited;
      Caller caller;
      caller.source = req.remote_addr;
      caller.method = req.method;
      caller.path = req.path;
      Result<User> user = Authenticate(req);
      Reply reply;
      if (!user) {
        // A refused token is audited; a store out of reach (503) is not a
        // refusal, and could not be audited either.
        reply = {HttpStatusOf(user.error().code), ErrorBody(user.error())};
        if (reply.status == 401) {
          Audit(req, "anonymous", caller.source, false, reply.status, user.error().message);
        }
      } else {
        caller.user = std::move(*user);
        Result<Reply> result = handler(req, caller);
        reply = result ? std::move(*result)
                       : Reply{HttpStatusOf(result.error().code), ErrorBody(result.error())};
        bool allowed = reply.status != 401 && reply.status != 403;
        if ((mutating || !allowed) && !caller.audited) {
          std::string detail = result ? "ok" : result.error().message;
          Audit(req, caller.user.name, caller.source, allowed, reply.status, detail);
        }
        if (result && mutating && reply.status < 300 && options_.on_change) options_.on_change();
      }
      res.status = reply.status;
      for (const auto& [header, value] : reply.headers) res.set_header(header, value);
      if (reply.stream) {
        res.set_chunked_content_provider(reply.content_type, reply.stream);
      } else if (!reply.content_type.empty()) {
        res.set_content(reply.raw, reply.content_type);
      } else {
        res.set_content(reply.body.dump(), "application/json");
      }
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
      metrics_.Observe("allot_api_request_duration_seconds",
                       {method, route, std::to_string(reply.status)}, took.count());
    };
    if (std::string(method) == "GET") server_.Get(pattern, wrapped);
    if (std::string(method) == "POST") server_.Post(pattern, wrapped);
    if (std::string(method) == "PUT") server_.Put(pattern, wrapped);
    if (std::string(method) == "PATCH") server_.Patch(pattern, wrapped);
    if (std::string(method) == "DELETE") server_.Delete(pattern, wrapped);
  }

  // A route's pattern as a metrics label: "/api/v1/workloads/([^/]+)/logs"
  // -> "/api/v1/workloads/{}/logs" (one series per route, not per name).
  static std::string RouteLabel(const std::string& pattern) {
    std::string label;
    for (size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] != '(') {
        label += pattern[i];
        continue;
      }
      size_t close = pattern.find(')', i);
      if (close == std::string::npos) break;
      label += "{}";
      i = close;
    }
    return label;
  }

  void Audit(const httplib::Request& req, const std::string& actor, const std::string& source,
             bool allowed, int status, const std::string& detail) {
    (void)store_.AppendAudit(
        {0, options_.now_ms(), actor, source, req.method, req.path, allowed, status, detail});
  }

  Result<User> Authenticate(const httplib::Request& req) {
    return ctx_.Authenticate(req.get_header_value("Authorization"));
  }

  static Result<json> Body(const httplib::Request& req) { return ParseJsonObject(req.body); }

  // The dashboard's files, without a token (the data they show needs one).
  void DashboardRoutes() {
    const std::vector<WebAsset>& assets = WebAssets();
    if (assets.empty()) {
      server_.Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.status = 404;
        res.set_content(ErrorBody(Error::Coded("not_found",
                                               "this allot was built without the dashboard: "
                                               "install Node.js and the web packages "
                                               "(scripts/dev.sh deps), then build again"))
                            .dump(),
                        "application/json");
      });
      return;
    }
    for (const WebAsset& asset : assets) {
      auto serve = [&asset](const httplib::Request&, httplib::Response& res) {
        // The page is small and changes with the server: always revalidate.
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_content(asset.body.data(), asset.body.size(), asset.content_type);
      };
      server_.Get(asset.path, serve);
      if (std::string_view(asset.path) == "/index.html") server_.Get("/", serve);
    }
  }

  void Routes() {
    server_.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      nlohmann::json health = {{"status", "ok"}};
      if (options_.leadership) {
        auto [leading, leader] = options_.leadership();
        health["leading"] = leading;
        health["leader"] = leader;
      }
      res.set_content(health.dump(), "application/json");
    });
    server_.Get("/api/v1/openapi.json", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kOpenApiDocument, "application/json");
    });
    DashboardRoutes();
    AddRoute add = [this](const char* method, const std::string& pattern, Handler handler,
                          Record record) { Route(method, pattern, std::move(handler), record); };
    AddQueueRoutes(ctx_, add);
    AddWorkloadRoutes(ctx_, add);
    AddNodeRoutes(ctx_, add);
    AddIdentityRoutes(ctx_, add);
    AddWatchRoutes(ctx_, add);
    AddSessionRoutes(ctx_, add);
    AddServiceRoutes(ctx_, add);
  }

  static constexpr int kListenBacklog = 1024;

  store::Store& store_;
  ApiOptions options_;
  NodeLiveness own_liveness_;
  NodeLiveness& liveness_;
  MetricsRegistry own_metrics_;
  MetricsRegistry& metrics_;
  WorkloadUsage own_workload_usage_;
  WorkloadUsage& workload_usage_;
  server::ServiceDirectory own_directory_;
  server::ServiceTraffic own_traffic_;
  ApiContext ctx_;
  FrontDoor server_;
  Gateway gateway_;
  socket_t listen_socket_ = -1;
};

ApiOptions ApiOptionsFor(server::ControlPlane& plane) {
  ApiOptions options;
  options.now_ms = plane.options().now_ms;
  options.on_change = [&plane] { plane.Wake(); };
  options.agent_timings = plane.options().timings;
  options.liveness = &plane.liveness();
  options.metrics = &plane.metrics();
  options.workload_usage = &plane.workload_usage();
  options.services = &plane.services();
  options.service_traffic = &plane.service_traffic();
  options.service_states = [&plane] { return plane.serving().States(); };
  options.leadership = [&plane] {
    return std::make_pair(plane.leadership().Leading(), plane.leadership().LeaderName());
  };
  return options;
}

HttpApi::HttpApi(store::Store& store, ApiOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}
HttpApi::~HttpApi() = default;
Result<int> HttpApi::Bind(const std::string& host, int port) {
  return impl_->Bind(host, port);
}
void HttpApi::Serve() {
  impl_->Serve();
}
void HttpApi::Stop() {
  impl_->Stop();
}

Result<std::string> BootstrapAdmin(store::Store& store, int64_t now_ms) {
  Result<store::Page> users = store.List({"users", "", 1, {}});
  if (!users) return users.error();
  if (!users->items.empty()) return std::string();
  User admin;
  admin.name = "admin";
  admin.roles = {RoleBinding{Role::kAdmin, "", ""}};
  Result<NewToken> token = IssueToken(admin.name, now_ms);
  if (!token) return token.error();
  // The admin's tasks run as the first uid of the server's range.
  Result<std::vector<store::Write>> writes = AssignIdentityWrites(store, admin, true);
  if (!writes) return writes.error();
  writes->push_back(
      {Op::kCreate, "tokens", token->record.id, EncodeToken(token->record).dump(), 0});
  Result<int64_t> revision = store.Commit(*writes);
  // Another server on the same store bootstrapped it first.
  if (!revision && revision.error().code == "already_exists") return std::string();
  if (!revision) return revision.error();
  return token->text;
}

Status BootstrapDefaultProject(store::Store& store, int64_t deserved_gpu_milli) {
  Result<store::Page> departments = store.List({"departments", "", 1, {}});
  if (!departments) return departments.error();
  if (!departments->items.empty()) return Status::Ok();
  QueueResource department;
  department.spec.name = "default";
  department.spec.deserved[core::Resource::kGpu] = deserved_gpu_milli;
  QueueResource project = department;
  project.spec.parent = "default";
  Result<int64_t> revision = store.Commit(
      {{Op::kCreate, "departments", "default", EncodeQueue(department, false).dump(), 0},
       {Op::kCreate, "projects", "default", EncodeQueue(project, true).dump(), 0}});
  if (!revision && revision.error().code == "already_exists") return Status::Ok();
  if (!revision) return revision.error();
  return Status::Ok();
}

}  // namespace allot::api

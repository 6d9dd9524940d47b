// The nodes' routes: nodes, the agents' protocol (join tokens, registration, heartbeats, task
// reports), the cluster's status and history, and the metrics (docs/api.md,
// docs/agent-protocol.md).
#include <mutex>

#include "api/api_context.h"
#include "api/cluster_metrics.h"

namespace allot::api {
namespace {

using nlohmann::json;
using Op = store::Write::Op;
using wire::DecodeNode;
using wire::EncodeNode;
using wire::NodeResource;

class NodeRoutes : public ResourceRoutes {
 public:
  using ResourceRoutes::ResourceRoutes;

  Result<Reply> PutNode(const httplib::Request& req, const Caller& caller) {
    if (!Allows(caller.user, Access::kAdminister, {})) return Forbidden("registering nodes");
    Result<json> body = ApiContext::Body(req);
    if (!body) return body.error();
    Result<NodeResource> node = DecodeNode(*body);
    if (!node) return node.error();
    if (!node->agent.empty() || !node->logs_url.empty()) {
      return Error::Coded("invalid",
                          "agent and logs_url are set when an agent registers (allot agent): "
                          "drop them",
                          node->agent.empty() ? "logs_url" : "agent");
    }
    json encoded = EncodeNode(*node);
    Result<int64_t> revision = ctx_.CommitAudited(
        caller, {{Op::kCreate, "nodes", node->spec.name, encoded.dump(), 0}}, 201);
    if (!revision) return revision.error();
    encoded["revision"] = *revision;
    return Reply{201, encoded};
  }
  Result<Reply> DeleteNode(const httplib::Request& req, const Caller& caller) {
    if (!Allows(caller.user, Access::kAdminister, {})) return Forbidden("removing nodes");
    std::string name = PathName(req);
    // Tasks bound to the node are evicted by the next scheduling cycle.
    return ctx_.DeleteOne(caller, "nodes", name);
  }
};

}  // namespace

void AddNodeRoutes(ApiContext& ctx, const AddRoute& add) {
  auto routes = std::make_shared<NodeRoutes>(ctx);
  const std::function<bool(const json&)> anyone;  // empty: every item is visible
  add(
      "GET", "/api/v1/nodes",
      [&ctx, anyone](const auto& req, const Caller&) {
        return ctx.List(req, "nodes", {"pool", "state"}, anyone);
      },
      Record::kAudited);
  add(
      "GET", "/api/v1/nodes/([^/]+)",
      [&ctx](const auto& req, const Caller&) { return ctx.GetOne("nodes", PathName(req)); },
      Record::kAudited);
  add(
      "POST", "/api/v1/nodes",
      [routes](const auto& req, const Caller& caller) { return routes->PutNode(req, caller); },
      Record::kAudited);
  add(
      "DELETE", "/api/v1/nodes/([^/]+)",
      [routes](const auto& req, const Caller& caller) { return routes->DeleteNode(req, caller); },
      Record::kAudited);
  add(
      "POST", "/api/v1/join-tokens",
      [&ctx](const auto& req, const Caller& caller) {
        return ctx.agents().CreateJoinToken(req, caller);
      },
      Record::kAudited);
  add(
      "POST", "/api/v1/agents/register",
      [&ctx](const auto& req, const Caller& caller) { return ctx.agents().Register(req, caller); },
      Record::kAudited);
  add(
      "PUT", "/api/v1/nodes/([^/]+)/heartbeat",
      [&ctx](const auto& req, const Caller& caller) { return ctx.agents().Heartbeat(req, caller); },
      Record::kQuiet);
  add(
      "PUT", "/api/v1/workloads/([^/]+)/tasks/([0-9]+)/status",
      [&ctx](const auto& req, const Caller& caller) {
        return ctx.agents().ReportTaskStatus(req, caller);
      },
      Record::kQuiet);
  add(
      "GET", "/api/v1/samples",
      [&ctx, anyone](const auto& req, const Caller&) {
        return ctx.List(req, "samples", {}, anyone);
      },
      Record::kAudited);
  add(
      "GET", "/api/v1/cluster",
      [&ctx](const auto&, const Caller&) -> Result<Reply> {
        Result<store::Object> stored = ctx.store().Get("status", "cluster");
        if (!stored) {
          return MissingOr(
              stored.error(),
              Error::Coded("not_found",
                           "no scheduling cycle has run yet: the status appears within seconds"));
        }
        json body = json::parse(stored->body);
        body["revision"] = stored->revision;
        return Reply{200, body};
      },
      Record::kAudited);
  add(
      "GET", "/metrics",
      [&ctx](const auto&, const Caller& caller) -> Result<Reply> {
        if (!Allows(caller.user, Access::kRead, {})) {
          return Forbidden(
              "reading metrics (they name every project: give the scraper a token "
              "of a cluster-wide viewer)");
        }
        int64_t now = ctx.options().now_ms();
        std::string text = ctx.metrics().Render() + ClusterMetricsText(ctx.store(), ctx.liveness(),
                                                                       ctx.workload_usage(), now);
        if (ctx.options().service_states) {
          text += ServiceMetricsText(ctx.options().service_states(), ctx.service_traffic(), now);
        }
        return Reply::Raw(std::move(text), "text/plain; version=0.0.4");
      },
      Record::kAudited);
}

}  // namespace allot::api

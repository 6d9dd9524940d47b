// Following the cluster: the watch on the change log, the events of workloads, and the audit log
// (docs/api.md).
#include <mutex>

#include <algorithm>
#include <chrono>
#include "api/api_context.h"

namespace allot::api {
namespace {

using nlohmann::json;
using Op = store::Write::Op;

class WatchRoutes : public ResourceRoutes {
 public:
  using ResourceRoutes::ResourceRoutes;

  Result<Reply> ListAudit(const httplib::Request& req, const Caller& caller) {
    if (!Allows(caller.user, Access::kAdminister, {})) return Forbidden("reading the audit log");
    store::AuditQuery query;
    try {
      if (req.has_param("after")) query.after_id = std::stoll(req.get_param_value("after"));
      if (req.has_param("limit")) query.limit = std::stoll(req.get_param_value("limit"));
    } catch (const std::exception&) {
      return Error::Coded("invalid", "after and limit must be whole numbers", "after");
    }
    query.actor = req.get_param_value("actor");
    std::string order = req.has_param("order") ? req.get_param_value("order") : "oldest";
    if (order != "oldest" && order != "newest") {
      return Error::Coded("invalid", "order: use oldest (to page on with after) or newest",
                          "order");
    }
    query.newest_first = order == "newest";
    std::string format = req.has_param("format") ? req.get_param_value("format") : "json";
    if (format != "json" && format != "jsonl") {
      return Error::Coded("invalid", "format: use json or jsonl", "format");
    }
    if (query.limit < 1 || query.limit > 10000) {
      return Error::Coded("invalid", "limit: use a whole number from 1 to 10000", "limit");
    }
    auto entries = store_.ListAudit(query);
    if (!entries) return entries.error();
    json items = json::array();
    for (const auto& e : *entries) {
      items.push_back({{"id", e.id},
                       {"time_ms", e.time_ms},
                       {"actor", e.actor},
                       {"source", e.source},
                       {"method", e.method},
                       {"path", e.path},
                       {"allowed", e.allowed},
                       {"status", e.status},
                       {"detail", e.detail}});
    }
    if (format == "jsonl") {
      // One entry per line; page on with after = the last line's id.
      std::string lines;
      for (const auto& item : items) lines.append(item.dump()).append("\n");
      return Reply::Raw(std::move(lines), "application/x-ndjson");
    }
    json next = entries->size() == static_cast<size_t>(query.limit) ? json(entries->back().id)
                                                                    : json(nullptr);
    return Reply{200, {{"items", items}, {"next", next}}};
  }
  // Long-polls the change log: the changes after `since` that the caller
  // may read, as soon as there is one, or none after `timeout_s`.
  Result<Reply> Watch(const httplib::Request& req, const Caller& caller) {
    int64_t since = -1;
    int64_t timeout_s = 30;
    try {
      if (req.has_param("since")) since = std::stoll(req.get_param_value("since"));
      if (req.has_param("timeout_s")) timeout_s = std::stoll(req.get_param_value("timeout_s"));
    } catch (const std::exception&) {
      return Error::Coded("invalid", "since and timeout_s must be whole numbers", "since");
    }
    if (since < 0) {
      return Error::Coded("invalid",
                          "since: give the revision of a list (or of the previous watch reply)",
                          "since");
    }
    if (timeout_s < 0 || timeout_s > 60) {
      return Error::Coded("invalid", "timeout_s: use 0 to 60 seconds", "timeout_s");
    }
    std::string kind = req.get_param_value("kind");
    static const std::vector<std::string> kWatchable = {
        "departments", "projects", "workloads", "nodes", "events", "status", "samples", "users"};
    if (!kind.empty() &&
        std::find(kWatchable.begin(), kWatchable.end(), kind) == kWatchable.end()) {
      return Error::Coded("invalid",
                          "kind: use departments, projects, workloads, nodes, events, status, "
                          "samples or users",
                          "kind");
    }
    if (kind == "users" && !Allows(caller.user, Access::kAdminister, {})) {
      return Forbidden("watching users");
    }
    bool admin = Allows(caller.user, Access::kAdminister, {});
    Result<std::function<bool(const json&)>> visible = ctx_.WorkloadsVisibleTo(caller);
    if (!visible) return visible.error();
    auto& readable = *visible;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    json items = json::array();
    for (;;) {
      Result<std::vector<store::Change>> changes = store_.ChangesSince(since, 1000);
      if (!changes) return changes.error();
      for (const auto& change : *changes) {
        since = change.revision;
        bool revoked =
            change.deleted && ((change.kind == "tokens" && change.name == caller.user.token) ||
                               (change.kind == "users" && change.name == caller.user.name));
        if (revoked) {
          return Error::Coded("unauthenticated",
                              "the token was revoked (or its user deleted) while watching: log in "
                              "again");
        }
        if (ApiContext::IsSecretKind(change.kind) || (change.kind == "users" && !admin)) continue;
        if (!kind.empty() && change.kind != kind) continue;
        json object = json::parse(change.body, nullptr, false);
        bool by_project = change.kind == "workloads" || change.kind == "events";
        if (by_project && readable && !readable(object)) continue;
        if (!caller.user.agent.empty() && change.kind != "workloads" && change.kind != "nodes") {
          continue;
        }
        object["revision"] = change.revision;
        items.push_back({{"type", change.deleted ? "deleted" : "changed"},
                         {"kind", change.kind},
                         {"revision", change.revision},
                         {"object", std::move(object)}});
      }
      if (!items.empty() || changes->size() == 1000) break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || ctx_.stopping()) break;
      // Then one more look; in slices, so that a stopping server ends the wait.
      store_.WaitForChange(since, std::min(left, std::chrono::milliseconds(1000)));
    }
    // `revision`: where the caller watches on from, past what it may not see.
    return Reply{200, {{"items", items}, {"revision", since}}};
  }
};

}  // namespace

void AddWatchRoutes(ApiContext& ctx, const AddRoute& add) {
  auto routes = std::make_shared<WatchRoutes>(ctx);
  add(
      "GET", "/api/v1/watch",
      [routes](const auto& req, const Caller& caller) { return routes->Watch(req, caller); },
      Record::kAudited);
  add(
      "GET", "/api/v1/events",
      [&ctx](const auto& req, const Caller& caller) {
        return ctx.List(req, "events", {"workload", "project"}, ctx.ReadableByProject(caller));
      },
      Record::kAudited);
  add(
      "GET", "/api/v1/audit",
      [routes](const auto& req, const Caller& caller) { return routes->ListAudit(req, caller); },
      Record::kAudited);
}

}  // namespace allot::api

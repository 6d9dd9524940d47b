#include "server/quota_tree.h"

#include <nlohmann/json.hpp>

#include "core/snapshot.h"
#include "wire/resources.h"

namespace allot::server {

Status CheckQuotaTree(store::Store& store, const core::QueueSpec& changed, bool is_project,
                      bool removed) {
  core::Snapshot tree;
  for (const char* kind : {"departments", "projects"}) {
    store::ListQuery query{kind, "", 1000000, {}};
    Result<store::Page> page = store.List(query);
    if (!page) return page.error();
    bool projects = std::string(kind) == "projects";
    for (const auto& object : page->items) {
      auto queue = wire::DecodeQueue(nlohmann::json::parse(object.body), projects);
      if (!queue) return queue.error();
      if (projects == is_project && queue->spec.name == changed.name) continue;
      tree.queues.push_back(wire::SchedulerQueue(queue->spec, projects));
    }
  }
  if (!removed) tree.queues.push_back(wire::SchedulerQueue(changed, is_project));
  Status valid = core::ValidateSnapshot(tree);
  if (!valid) return Error::Coded("invalid", valid.error().message, "deserved");
  return Status::Ok();
}

}  // namespace allot::server

#include "server/active_workloads.h"

namespace allot::server {
namespace {

// Changes read per round trip while catching up.
constexpr int64_t kChangesPerRead = 10'000;
// One page for the whole kind, so that the list is one read of one revision
// and the changes after it are exactly what it did not see.
constexpr int64_t kWholeKind = int64_t{1} << 40;

}  // namespace

Status ActiveWorkloads::Apply(const std::string& name, int64_t revision, const std::string& body) {
  Result<wire::WorkloadResource> workload = wire::DecodeStoredWorkload(body);
  if (!workload) {
    return Error::Coded(
        "internal", "stored workload '" + name + "' does not decode: " + workload.error().message,
        workload.error().field);
  }
  if (!wire::IsActive(workload->status)) {
    active_.erase(name);
    return Status::Ok();
  }
  active_[name] = Entry{revision, std::move(*workload)};
  return Status::Ok();
}

Status ActiveWorkloads::ListAll(store::Store& store) {
  active_.clear();
  revision_ = -1;
  Result<store::Page> page = store.List(store::ListQuery{"workloads", "", kWholeKind, {}});
  if (!page) return page.error();
  for (const store::Object& object : page->items) {
    if (Status applied = Apply(object.name, object.revision, object.body); !applied) {
      active_.clear();
      return applied;
    }
  }
  revision_ = page->revision;
  return Status::Ok();
}

Status ActiveWorkloads::Refresh(store::Store& store) {
  if (revision_ < 0) return ListAll(store);
  for (;;) {
    Result<std::vector<store::Change>> changes = store.ChangesSince(revision_, kChangesPerRead);
    if (!changes) {
      if (changes.error().code == "gone") return ListAll(store);
      return changes.error();
    }
    for (const store::Change& change : *changes) {
      if (change.kind == "workloads") {
        if (change.deleted) {
          active_.erase(change.name);
        } else if (Status applied = Apply(change.name, change.revision, change.body); !applied) {
          revision_ = -1;  // list again next time rather than run on a partial set
          return applied;
        }
      }
      revision_ = change.revision;
    }
    if (static_cast<int64_t>(changes->size()) < kChangesPerRead) return Status::Ok();
  }
}

}  // namespace allot::server

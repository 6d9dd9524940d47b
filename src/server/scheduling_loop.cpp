#include "server/scheduling_loop.h"

#include <iostream>
#include <map>

#include "api/resources.h"

namespace allot::server {
namespace {

using api::WorkloadResource;
using api::WorkloadStatus;
using nlohmann::json;

Result<std::vector<store::Object>> ListAll(store::Store& store, const std::string& kind) {
  std::vector<store::Object> all;
  store::ListQuery query{kind, "", 1000, {}};
  for (;;) {
    Result<store::Page> page = store.List(query);
    if (!page) return page.error();
    for (auto& object : page->items) all.push_back(std::move(object));
    if (!page->more) return all;
    query.after = all.back().name;
  }
}

// What the loop read: the snapshot and, per snapshot workload, its stored
// form and revision.
struct ReadState {
  core::Snapshot snapshot;
  std::vector<std::string> node_names;
  std::vector<WorkloadResource> workloads;
  std::vector<int64_t> revisions;
};

Result<ReadState> Read(store::Store& store, int64_t now_ms) {
  ReadState state;
  state.snapshot.now = now_ms;
  auto nodes = ListAll(store, "nodes");
  if (!nodes) return nodes.error();
  std::map<std::string, uint32_t> node_index;
  for (const auto& object : *nodes) {
    auto node = api::DecodeNode(json::parse(object.body));
    if (!node) return node.error();
    if (node->state != "ready") continue;
    node_index[node->spec.name] = static_cast<uint32_t>(state.snapshot.nodes.size());
    state.node_names.push_back(node->spec.name);
    state.snapshot.nodes.push_back(node->spec);
  }
  for (const char* kind : {"departments", "projects"}) {
    auto queues = ListAll(store, kind);
    if (!queues) return queues.error();
    bool projects = std::string(kind) == "projects";
    for (const auto& object : *queues) {
      auto queue = api::DecodeQueue(json::parse(object.body), projects);
      if (!queue) return queue.error();
      state.snapshot.queues.push_back(api::SchedulerQueue(queue->spec, projects));
    }
  }
  auto workloads = ListAll(store, "workloads");
  if (!workloads) return workloads.error();
  for (const auto& object : *workloads) {
    auto workload = api::DecodeStoredWorkload(object.body);
    if (!workload) return workload.error();
    if (!api::IsActive(workload->status)) continue;
    core::Workload w;
    w.spec = workload->spec;
    w.tasks.resize(static_cast<size_t>(w.spec.tasks));
    for (size_t t = 0; t < w.tasks.size(); ++t) {
      const auto& assignment = workload->assignments[t];
      auto node = node_index.find(assignment.node);
      if (assignment.node.empty() || node == node_index.end()) continue;
      w.tasks[t].placement = core::Placement{node->second, assignment.gpus};
    }
    state.snapshot.workloads.push_back(std::move(w));
    state.workloads.push_back(std::move(*workload));
    state.revisions.push_back(object.revision);
  }
  return state;
}

}  // namespace

SchedulingLoop::SchedulingLoop(store::Store& store, std::function<int64_t()> now_ms)
    : store_(store), now_ms_(std::move(now_ms)) {
  auto scheduler = sched::Scheduler::Create(sched::SchedulerConfig{});
  if (scheduler) scheduler_ = std::move(*scheduler);
}

SchedulingLoop::~SchedulingLoop() {
  Stop();
}

Result<CycleOutcome> SchedulingLoop::RunCycle() {
  if (!scheduler_) return Error::Coded("internal", "the scheduler could not be created");
  Result<ReadState> read = Read(store_, now_ms_());
  if (!read) return read.error();
  ReadState& state = *read;
  if (Status valid = core::ValidateSnapshot(state.snapshot); !valid) {
    return Error::Coded("internal", "the stored cluster is inconsistent: " + valid.error().message +
                                        " (" + valid.error().field + ")");
  }
  core::Plan plan = scheduler_->Cycle(state.snapshot);
  CycleOutcome outcome;
  std::vector<WorkloadResource> after = state.workloads;
  for (const auto& eviction : plan.evictions) {
    after[eviction.task.workload].assignments[eviction.task.task] = {};
    ++outcome.evictions;
  }
  for (const auto& bind : plan.binds) {
    after[bind.task.workload].assignments[bind.task.task] =
        api::TaskAssignment{state.node_names[bind.placement.node], bind.placement.gpus};
    ++outcome.binds;
  }
  std::vector<store::Write> writes;
  for (size_t w = 0; w < after.size(); ++w) {
    WorkloadResource& workload = after[w];
    int placed = 0;
    for (const auto& task : workload.assignments) placed += task.node.empty() ? 0 : 1;
    bool was_running = state.workloads[w].status == WorkloadStatus::kRunning;
    if (placed >= workload.spec.min_tasks) {
      workload.status = WorkloadStatus::kRunning;
    } else if (was_running || workload.status == WorkloadStatus::kEvicted) {
      workload.status = WorkloadStatus::kEvicted;
    } else {
      workload.status = WorkloadStatus::kPending;
    }
    workload.pending_reason = w < plan.pending_reasons.size() ? plan.pending_reasons[w] : "";
    std::string before = api::EncodeWorkload(state.workloads[w]).dump();
    std::string now = api::EncodeWorkload(workload).dump();
    if (before == now) continue;  // stable: an unchanged cycle writes nothing
    writes.push_back(
        {store::Write::Op::kUpdate, "workloads", workload.spec.name, now, state.revisions[w]});
  }
  outcome.workloads_written = static_cast<int>(writes.size());
  if (!writes.empty()) {
    Result<int64_t> committed = store_.Commit(writes);
    if (!committed) return committed.error();
  }
  return outcome;
}

void SchedulingLoop::Start(std::chrono::milliseconds interval) {
  thread_ = std::thread([this, interval] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, interval, [this] { return woken_ || stopping_; });
      if (stopping_) break;
      woken_ = false;
      lock.unlock();
      Result<CycleOutcome> outcome = RunCycle();
      if (!outcome && outcome.error().code != "conflict") {
        std::cerr << "allot: scheduling cycle: " << outcome.error().message << "\n";
      }
      lock.lock();
      if (!outcome && outcome.error().code == "conflict") woken_ = true;  // read again at once
    }
  });
}

void SchedulingLoop::Wake() {
  std::lock_guard lock(mutex_);
  woken_ = true;
  wake_.notify_one();
}

void SchedulingLoop::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace allot::server

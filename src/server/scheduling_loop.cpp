#include "server/scheduling_loop.h"

#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "common/quantity.h"
#include "server/cluster_status.h"
#include "server/events.h"
#include "server/task_lifecycle.h"
#include "wire/resources.h"

namespace allot::server {

using wire::WorkloadResource;
using wire::WorkloadStatus;

namespace {

using nlohmann::json;
using wire::WorkloadResource;
using wire::WorkloadStatus;

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
  std::vector<bool> queue_is_project;          // per snapshot queue
  std::map<std::string, uint32_t> node_index;  // name -> snapshot node
  // Work that ends without the scheduler (not in the snapshot), with the
  // revision read: interactive and inference work that was on a lost node
  // (`lost`), interactive work idle past its project's rule (`stopped`),
  // work past its maximum run time (`failed`).
  struct Ending {
    WorkloadResource workload;
    int64_t revision = 0;
    WorkloadStatus status = WorkloadStatus::kLost;
    std::string reason;
    const char* event = "Lost";
  };
  std::vector<Ending> ending;
  // Snapshot workloads that their project's idle rule made preemptible in
  // this read, and why: written back even when the plan leaves them be.
  std::map<size_t, std::string> made_preemptible;
  // Agent nodes declared lost by this read, and their events: committed
  // with the cycle's plan.
  std::vector<store::Write> lost_node_writes;
  int nodes_lost = 0;
};

// Whether an agent's node has been silent past `lost_after_ms`. Nodes an
// admin registered have no agent to hear from.
bool Silent(const wire::NodeResource& node, const server::NodeLiveness* liveness, int64_t now_ms,
            int64_t lost_after_ms) {
  return liveness && !node.agent.empty() && node.state == wire::NodeState::kReady &&
         now_ms - liveness->LastHeard(node.spec.name) > lost_after_ms;
}

// Why a running workload must end now because it ran past its declared
// maximum run time (counted from its earliest task's start in this run, as
// its agents reported it), or "".
std::string MaxRuntimeVerdict(const WorkloadResource& workload, int64_t now_ms) {
  if (!workload.spec.max_runtime) return "";
  int64_t started = 0;
  for (const auto& task : workload.assignments) {
    if (task.node.empty() || task.started_ms <= 0) continue;
    if (started == 0 || task.started_ms < started) started = task.started_ms;
  }
  if (started == 0 || now_ms - started <= *workload.spec.max_runtime) return "";
  return "ran past its maximum run time of " + FormatDurationMs(*workload.spec.max_runtime) +
         " (running for " + FormatDurationMs((now_ms - started) / 1000 * 1000) + ")";
}

// What a project's idle rule does to a running interactive workload now:
// nothing (empty), or the reason to stop it or make it preemptible.
std::string IdleVerdict(const WorkloadResource& workload, const wire::IdleRule& rule,
                        const server::WorkloadUsage* usage, int64_t now_ms) {
  if (!usage || rule.after_ms <= 0 || workload.status != WorkloadStatus::kRunning ||
      workload.spec.kind != core::WorkloadKind::kInteractive) {
    return "";
  }
  int64_t idle_since = usage->IdleSince(workload.spec.name);
  if (idle_since <= 0 || now_ms - idle_since < rule.after_ms) return "";
  return "its GPUs were idle for " + FormatDurationMs((now_ms - idle_since) / 1000 * 1000) +
         " (project '" + workload.spec.queue + "': interactive workloads idle " +
         FormatDurationMs(rule.after_ms) + " are " +
         (rule.action == wire::IdleAction::kStop ? "stopped)" : "made preemptible)");
}

Result<ReadState> Read(store::Store& store, ActiveWorkloads& active,
                       std::map<std::string, DecodedNode>& decoded_nodes, int64_t now_ms,
                       const server::NodeLiveness* liveness, const server::AgentTimings& timings,
                       const server::WorkloadUsage* usage) {
  ReadState state;
  state.snapshot.now = now_ms;
  auto nodes = ListAll(store, "nodes");
  if (!nodes) return nodes.error();
  std::map<std::string, uint32_t>& node_index = state.node_index;
  std::set<std::string> lost_nodes;
  std::map<std::string, DecodedNode> decoded_now;  // this cycle's nodes only
  for (const auto& object : *nodes) {
    DecodedNode& decoded = decoded_now[object.name];
    auto known = decoded_nodes.find(object.name);
    if (known != decoded_nodes.end() && known->second.revision == object.revision) {
      decoded = known->second;
    } else {
      auto fresh = wire::DecodeNode(json::parse(object.body));
      if (!fresh) return fresh.error();
      decoded = DecodedNode{object.revision, std::move(*fresh)};
    }
    // A copy: a silent node is marked lost in what is written back.
    wire::NodeResource node = decoded.node;
    if (Silent(node, liveness, now_ms, timings.lost_after_ms)) {
      node.state = wire::NodeState::kLost;
      state.lost_node_writes.push_back({store::Write::Op::kUpdate, "nodes", node.spec.name,
                                        wire::EncodeNode(node).dump(), object.revision});
      int64_t silent_s = (now_ms - liveness->LastHeard(node.spec.name)) / 1000;
      json event = server::MakeEvent(now_ms, "", "", "NodeLost",
                                     "node " + node.spec.name + " has not been heard from for " +
                                         std::to_string(silent_s) + " s");
      state.lost_node_writes.push_back(
          {store::Write::Op::kCreate, "events", event["name"], event.dump(), 0});
      ++state.nodes_lost;
    }
    if (node.state != wire::NodeState::kReady) {
      lost_nodes.insert(node.spec.name);
      continue;
    }
    node_index[node.spec.name] = static_cast<uint32_t>(state.snapshot.nodes.size());
    state.node_names.push_back(node.spec.name);
    state.snapshot.nodes.push_back(node.spec);
  }
  std::map<std::string, wire::IdleRule> idle_rules;  // per project
  for (const char* kind : {"departments", "projects"}) {
    auto queues = ListAll(store, kind);
    if (!queues) return queues.error();
    bool projects = std::string(kind) == "projects";
    for (const auto& object : *queues) {
      auto queue = wire::DecodeQueue(json::parse(object.body), projects);
      if (!queue) return queue.error();
      if (projects) idle_rules[queue->spec.name] = queue->idle_interactive;
      state.snapshot.queues.push_back(wire::SchedulerQueue(queue->spec, projects));
      state.queue_is_project.push_back(projects);
    }
  }
  decoded_nodes.swap(decoded_now);
  if (Status refreshed = active.Refresh(store); !refreshed) return refreshed.error();
  for (const auto& by_name : active.entries()) {
    const ActiveWorkloads::Entry& entry = by_name.second;
    // A copy: the cycle edits it into what it writes back.
    WorkloadResource workload = entry.workload;
    const int64_t revision = entry.revision;
    std::string lost_node;
    for (const auto& assignment : workload.assignments) {
      if (lost_nodes.count(assignment.node)) lost_node = assignment.node;
    }
    if (!lost_node.empty() && !RestartsOnFailure(workload)) {
      state.ending.push_back({std::move(workload), revision, WorkloadStatus::kLost,
                              "node " + lost_node + " stopped answering", "Lost"});
      continue;
    }
    if (std::string over = MaxRuntimeVerdict(workload, now_ms); !over.empty()) {
      state.ending.push_back({std::move(workload), revision, WorkloadStatus::kFailed,
                              std::move(over), "MaxRuntimeExceeded"});
      continue;
    }
    const wire::IdleRule& rule = idle_rules[workload.spec.queue];
    if (std::string idle = IdleVerdict(workload, rule, usage, now_ms); !idle.empty()) {
      if (rule.action == wire::IdleAction::kStop) {
        state.ending.push_back({std::move(workload), revision, WorkloadStatus::kStopped,
                                "stopped: " + idle, "IdleStopped"});
        continue;
      }
      if (!workload.spec.preemptible) {
        workload.spec.preemptible = true;
        state.made_preemptible[state.workloads.size()] = "now preemptible: " + idle;
      }
    }
    core::Workload w;
    w.spec = workload.spec;
    w.tasks.resize(static_cast<size_t>(w.spec.tasks));
    for (size_t t = 0; t < w.tasks.size(); ++t) {
      const auto& assignment = workload.assignments[t];
      auto node = node_index.find(assignment.node);
      if (assignment.node.empty() || node == node_index.end()) continue;
      w.tasks[t].placement = core::Placement{node->second, assignment.gpus};
      // When its agent reported it started; 0 (long ago) until then. Victims
      // are taken youngest first and the minimum run time protects young
      // work, so both read it.
      w.tasks[t].running_since = assignment.started_ms;
    }
    state.snapshot.workloads.push_back(std::move(w));
    state.workloads.push_back(std::move(workload));
    state.revisions.push_back(revision);
  }
  return state;
}

}  // namespace

SchedulingLoop::SchedulingLoop(store::Store& store, std::function<int64_t()> now_ms,
                               server::NodeLiveness* liveness, server::AgentTimings timings,
                               MetricsRegistry* metrics)
    : store_(store),
      now_ms_(std::move(now_ms)),
      liveness_(liveness),
      timings_(timings),
      metrics_(metrics) {
  auto scheduler = sched::Scheduler::Create(sched::SchedulerConfig{});
  if (scheduler) scheduler_ = std::move(*scheduler);
  if (metrics_) {
    metrics_->DeclareHistogram(
        "allot_scheduler_cycle_duration_seconds",
        "Time of one scheduling cycle: read the store, plan, write the plan back.", {"result"},
        {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    metrics_->DeclareCounter("allot_scheduler_binds_total", "Tasks bound to a node.", {});
    metrics_->DeclareCounter("allot_scheduler_evictions_total",
                             "Tasks evicted, by kind: reclaim, preempt, consolidate, gang_restart "
                             "(the scheduler's actions) or node_lost (its node is lost or removed; "
                             "it runs again elsewhere).",
                             {"kind"});
  }
}

Status SchedulingLoop::SetSchedulerConfig(const sched::SchedulerConfig& config) {
  auto scheduler = sched::Scheduler::Create(config);
  if (!scheduler) return scheduler.error();
  scheduler_ = std::move(*scheduler);
  return Status::Ok();
}

SchedulingLoop::~SchedulingLoop() {
  Stop();
}

Result<CycleOutcome> SchedulingLoop::RunCycle() {
  auto started = std::chrono::steady_clock::now();
  Result<CycleOutcome> outcome = Cycle();
  if (metrics_) {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    std::string result = outcome ? "ok" : outcome.error().code == "conflict" ? "conflict" : "error";
    metrics_->Observe("allot_scheduler_cycle_duration_seconds", {result}, took.count());
    if (outcome) {
      metrics_->Add("allot_scheduler_binds_total", {}, outcome->binds);
      for (int k = 0; k < core::kEvictionKinds; ++k) {
        metrics_->Add("allot_scheduler_evictions_total",
                      {core::EvictionKindName(static_cast<core::EvictionKind>(k))},
                      outcome->evictions_by_kind[k]);
      }
      metrics_->Add("allot_scheduler_evictions_total", {"node_lost"}, outcome->evictions_node_lost);
    }
  }
  return outcome;
}

Result<int64_t> SchedulingLoop::CommitCycle(const std::vector<store::Write>& writes) {
  if (!lease_) return store_.Commit(writes);
  Result<int64_t> committed = store_.CommitFenced(writes, *lease_);
  if (!committed && committed.error().code == "fenced" && leadership_) leadership_->Deposed();
  return committed;
}

Result<CycleOutcome> SchedulingLoop::Cycle() {
  if (!scheduler_) return Error::Coded("internal", "the scheduler could not be created");
  lease_.reset();
  if (leadership_) {
    lease_ = leadership_->Current();
    if (!lease_) return CycleOutcome{};  // another server leads
  }
  if (liveness_ && store_.Shared()) {
    // Heartbeats that other servers heard.
    Result<std::map<std::string, int64_t>> heard = store_.Heartbeats();
    if (!heard) return heard.error();
    liveness_->Merge(*heard);
  }
  Result<ReadState> read =
      Read(store_, active_, decoded_nodes_, now_ms_(), liveness_, timings_, workload_usage_);
  if (!read) return read.error();
  ReadState& state = *read;
  if (Status valid = core::ValidateSnapshot(state.snapshot); !valid) {
    return Error::Coded("internal", "the stored cluster is inconsistent: " + valid.error().message +
                                        " (" + valid.error().field + ")");
  }
  core::Plan plan = scheduler_->Cycle(state.snapshot);
  CycleOutcome outcome;
  outcome.nodes_lost = state.nodes_lost;
  int64_t now_ms = state.snapshot.now;
  std::vector<store::Write> writes = state.lost_node_writes;
  std::vector<json> events;
  auto add_event = [&](const WorkloadResource& workload, const char* type,
                       const std::string& message) {
    events.push_back(
        server::MakeEvent(now_ms, workload.spec.name, workload.spec.queue, type, message));
  };
  std::vector<WorkloadResource> after = state.workloads;
  // Tasks on nodes that are gone (lost or removed) leave them: they run
  // again where the scheduler places them.
  for (WorkloadResource& workload : after) {
    for (size_t t = 0; t < workload.assignments.size(); ++t) {
      wire::TaskAssignment& task = workload.assignments[t];
      if (task.node.empty() || state.node_index.count(task.node)) continue;
      add_event(workload, "Evicted",
                "task " + std::to_string(t) + ": node " + task.node + " is lost or removed");
      wire::ReleaseTask(task);
      ++outcome.evictions_node_lost;
    }
  }
  for (ReadState::Ending& end : state.ending) {
    WorkloadResource& workload = end.workload;
    EndWorkload(workload, end.status, end.reason);
    add_event(workload, end.event, workload.reason);
    writes.push_back({store::Write::Op::kUpdate, "workloads", workload.spec.name,
                      wire::EncodeWorkload(workload).dump(), end.revision});
  }
  for (const auto& eviction : plan.evictions) {
    wire::ReleaseTask(after[eviction.task.workload].assignments[eviction.task.task]);
    ++outcome.evictions;
    ++outcome.evictions_by_kind[static_cast<size_t>(eviction.kind)];
  }
  for (const auto& bind : plan.binds) {
    wire::BindTask(after[bind.task.workload].assignments[bind.task.task],
                   state.node_names[bind.placement.node], bind.placement.gpus);
    ++outcome.binds;
  }
  for (const auto& eviction : plan.evictions) {
    add_event(after[eviction.task.workload], "Evicted",
              "task " + std::to_string(eviction.task.task) + ": " + eviction.reason);
  }
  for (const auto& bind : plan.binds) {
    const auto& assignment = after[bind.task.workload].assignments[bind.task.task];
    std::string gpus;
    for (int32_t gpu : assignment.gpus) {
      // Appended, not `"," + std::to_string(gpu)`: GCC 12 at -O3 takes that
      // insert for an overlapping memcpy (-Werror=restrict, GCC bug 105329).
      if (!gpus.empty()) gpus += ',';
      gpus += std::to_string(gpu);
    }
    add_event(after[bind.task.workload], "Bound",
              "task " + std::to_string(bind.task.task) + " bound to node " + assignment.node +
                  (gpus.empty() ? std::string() : ", GPUs " + gpus));
  }
  for (size_t w = 0; w < after.size(); ++w) {
    WorkloadResource& workload = after[w];
    workload.status = StatusAfterPlan(workload, state.workloads[w].status);
    workload.pending_reason = w < plan.pending_reasons.size() ? plan.pending_reasons[w] : "";
    // An event when the workload starts waiting; the reason's details
    // (counts that move with every change in the cluster) stay in the
    // workload's pending_reason, not in a stream of events.
    if (!workload.pending_reason.empty() && state.workloads[w].pending_reason.empty()) {
      add_event(workload, "Pending", workload.pending_reason);
    }
    auto preemptible = state.made_preemptible.find(w);
    if (preemptible != state.made_preemptible.end()) {
      add_event(workload, "IdlePreemptible", preemptible->second);
    }
    // Stable: an unchanged cycle writes nothing (compared as read, not
    // encoded: encoding every workload twice a cycle cost a quarter of it).
    if (workload == state.workloads[w] && preemptible == state.made_preemptible.end()) continue;
    writes.push_back({store::Write::Op::kUpdate, "workloads", workload.spec.name,
                      wire::EncodeWorkload(workload).dump(), state.revisions[w]});
  }
  outcome.workloads_written = static_cast<int>(writes.size() - state.lost_node_writes.size());
  outcome.events_written = static_cast<int>(events.size());
  for (const json& event : events) {
    writes.push_back({store::Write::Op::kCreate, "events", event["name"], event.dump(), 0});
  }
  json status_json =
      ClusterStatus({state.snapshot, state.queue_is_project, state.node_index}, plan, after);
  std::string status = status_json.dump();
  Result<store::Object> stored_status = store_.Get("status", "cluster");
  if (!stored_status || stored_status->body != status) {
    writes.push_back({stored_status ? store::Write::Op::kUpdate : store::Write::Op::kCreate,
                      "status", "cluster", status, stored_status ? stored_status->revision : 0});
  }
  bool sampled = AddSample(now_ms, status_json, writes);
  if (!writes.empty()) {
    Result<int64_t> committed = CommitCycle(writes);
    if (!committed) {
      if (sampled) {  // read the kept samples again before the next one
        samples_loaded_ = false;
        sample_names_.clear();
      }
      return committed.error();
    }
  }
  if (workload_usage_) {
    // Readings of work that no longer runs go: its idle clock starts again
    // if it runs again.
    std::set<std::string> running;
    for (const WorkloadResource& workload : after) {
      if (workload.status == WorkloadStatus::kRunning) running.insert(workload.spec.name);
    }
    for (const std::string& name : workload_usage_->Workloads()) {
      if (!running.count(name)) workload_usage_->Forget(name);
    }
  }
  if (sampled) {
    last_sample_ms_ = now_ms;
    sample_names_.push_back(SampleName(now_ms));
    while (sample_names_.size() > samples_kept_) sample_names_.pop_front();
  }
  return outcome;
}

std::string SchedulingLoop::SampleName(int64_t time_ms) {
  std::string digits = std::to_string(time_ms);
  return std::string(digits.size() < 16 ? 16 - digits.size() : 0, '0') + digits;
}

bool SchedulingLoop::AddSample(int64_t now_ms, const json& status,
                               std::vector<store::Write>& writes) {
  if (sample_interval_ms_ <= 0) return false;
  if (samples_loaded_ && now_ms - last_sample_ms_ < sample_interval_ms_) return false;
  if (!samples_loaded_) {
    // The samples an earlier run of the server kept, oldest first.
    std::string after;
    for (;;) {
      Result<store::Page> page = store_.List({"samples", after, 1000, {}});
      if (!page) return false;
      for (const auto& object : page->items) {
        sample_names_.push_back(object.name);
        last_sample_ms_ = json::parse(object.body).value("time_ms", int64_t{0});
      }
      if (!page->more || page->items.empty()) break;
      after = page->items.back().name;
    }
    samples_loaded_ = true;
    if (!sample_names_.empty() && now_ms - last_sample_ms_ < sample_interval_ms_) return false;
  }
  const json& workloads = status["workloads"];
  json sample = {{"name", SampleName(now_ms)},
                 {"time_ms", now_ms},
                 {"gpus", status["gpus"]},
                 {"allocated", status["gpus_allocated"]},
                 {"running", workloads.value("running", 0)},
                 {"pending", workloads.value("pending", 0)}};
  if (liveness_) {
    auto usage = liveness_->Usage();
    if (!usage.empty()) {
      double busy = 0;
      for (const auto& [node, gpus] : usage) {
        for (const wire::GpuUsageSample& gpu : gpus) busy += gpu.utilization_percent / 100.0;
      }
      sample["used"] = busy;
    }
  }
  writes.push_back({store::Write::Op::kCreate, "samples", sample["name"], sample.dump(), 0});
  // The oldest go in the same commit, so that the history stays bounded.
  for (size_t i = 0; i + samples_kept_ <= sample_names_.size(); ++i) {
    writes.push_back({store::Write::Op::kDelete, "samples", sample_names_[i], "", 0});
  }
  return true;
}

void SchedulingLoop::SetHistory(std::chrono::milliseconds interval, size_t keep) {
  sample_interval_ms_ = interval.count();
  samples_kept_ = std::max<size_t>(keep, 1);
}

void SchedulingLoop::Start(std::chrono::milliseconds interval) {
  if (store_.Shared()) {
    watcher_ = std::thread([this] {
      int64_t seen = store_.WaitForChange(INT64_MAX, std::chrono::milliseconds(0));
      for (;;) {
        {
          std::lock_guard lock(mutex_);
          if (stopping_) return;
        }
        int64_t now = store_.WaitForChange(seen, std::chrono::milliseconds(200));
        if (now > seen) {
          seen = now;
          if (!leadership_ || leadership_->Leading()) Wake();
        }
      }
    });
  }
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
  if (watcher_.joinable()) watcher_.join();
}

}  // namespace allot::server

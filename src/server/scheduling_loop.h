// The control plane's scheduling loop (architecture.md §1, issue 4): read the
// store into a snapshot (the active workloads are kept between cycles and
// brought up to date from the store's changes: active_workloads.h), run the
// scheduler core, write the plan back
// (assignments, statuses, pending reasons) in one commit. Agents pick up
// their assignments from the store through the API (docs/agent-protocol.md).
//
// Beside the workloads, a cycle writes events (kind "events": a task bound
// or evicted, a new pending reason) and the cluster's status (kind "status",
// name "cluster": per queue deserved, fair share and allocated GPUs, which
// `allot top` shows), each only when something changed.
//
// Nodes registered by an agent that has not been heard from for
// `lost_after` (NodeLiveness) are declared lost: the loop stops placing work
// there, training and distributed tasks on them are released to run again
// elsewhere, and interactive and inference workloads on them become `lost`.
//
// A cycle runs when woken (a change through the API) and at least every
// `interval`. A cycle whose commit conflicts with a concurrent change (a
// workload deleted meanwhile) writes nothing and runs again.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/result.h"
#include "core/snapshot.h"
#include "sched/scheduler.h"
#include "server/active_workloads.h"
#include "server/leadership.h"
#include "server/node_liveness.h"
#include "server/workload_usage.h"
#include "store/store.h"

namespace allot::server {

// A node as decoded in an earlier cycle, with the stored revision it was
// decoded from.
struct DecodedNode {
  int64_t revision = 0;
  wire::NodeResource node;
};

struct CycleOutcome {
  int binds = 0;
  int evictions = 0;  // tasks the plan evicted
  // Of those, per action (index: core::EvictionKind).
  std::array<int, core::kEvictionKinds> evictions_by_kind{};
  // Tasks released because their node is lost or removed, to run again
  // elsewhere (not in the plan; work that ends as lost is not counted).
  int evictions_node_lost = 0;
  int workloads_written = 0;
  int events_written = 0;
  int nodes_lost = 0;
};

class SchedulingLoop {
 public:
  // `liveness`: agents' heartbeats (null: no node is ever declared lost).
  // `metrics`: where cycle durations, binds and evictions are counted (null: nowhere).
  SchedulingLoop(store::Store& store, std::function<int64_t()> now_ms,
                 server::NodeLiveness* liveness = nullptr, server::AgentTimings timings = {},
                 MetricsRegistry* metrics = nullptr);
  ~SchedulingLoop();

  // One cycle, on the caller's thread.
  Result<CycleOutcome> RunCycle();

  // Runs cycles on a thread of its own until Stop().
  void Start(std::chrono::milliseconds interval);
  void Wake();
  void Stop();

  // Writes a point of the cluster's history (kind "samples": GPUs,
  // allocated, used, running and pending workloads) at most every
  // `interval`, keeping the last `keep`; zero interval (the default): none.
  // Call before Start().
  void SetHistory(std::chrono::milliseconds interval, size_t keep = 1440);
  // Replaces the scheduler's settings (the defaults of sched::SchedulerConfig
  // otherwise); an error naming the setting, with nothing changed, when one
  // is invalid. Call before Start().
  Status SetSchedulerConfig(const sched::SchedulerConfig& config);
  // The tasks' GPU use from heartbeats, for the projects' idle rules, and
  // forgotten here for workloads that stopped running. Call before Start().
  void SetWorkloadUsage(server::WorkloadUsage* usage) { workload_usage_ = usage; }
  // Cycles run only while `leadership` says this server leads, and their
  // writes carry its lease as a fence (null: always, unfenced). On a shared
  // store the loop also wakes for changes made through other servers. Call
  // before Start().
  void SetLeadership(Leadership* leadership) { leadership_ = leadership; }

 private:
  Result<CycleOutcome> Cycle();
  // Commits a cycle's writes, fenced by `lease_` when there is one.
  Result<int64_t> CommitCycle(const std::vector<store::Write>& writes);
  // Appends this cycle's sample and the deletion of the oldest to `writes`
  // when one is due; whether it did.
  bool AddSample(int64_t now_ms, const nlohmann::json& status, std::vector<store::Write>& writes);
  // Names sort by time: the time in ms, zero-padded.
  static std::string SampleName(int64_t time_ms);

  store::Store& store_;
  std::function<int64_t()> now_ms_;
  server::NodeLiveness* liveness_;
  server::AgentTimings timings_;
  MetricsRegistry* metrics_;
  server::WorkloadUsage* workload_usage_ = nullptr;
  Leadership* leadership_ = nullptr;
  std::optional<store::Lease> lease_;  // this cycle's fence
  int64_t sample_interval_ms_ = 0;
  int64_t last_sample_ms_ = 0;
  bool samples_loaded_ = false;
  size_t samples_kept_ = 1440;
  std::deque<std::string> sample_names_;  // oldest first
  std::unique_ptr<sched::Scheduler> scheduler_;
  ActiveWorkloads active_;  // the workloads read, kept between cycles
  // Nodes are listed every cycle, but a node's JSON is decoded again only
  // when its revision moved: decoding every node every cycle cost more than
  // the rest of a steady cycle.
  std::map<std::string, DecodedNode> decoded_nodes_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;
  std::thread watcher_;  // wakes the loop for other servers' changes
};

}  // namespace allot::server

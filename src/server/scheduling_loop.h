// The control plane's scheduling loop (design.md §1, issue 4): read the
// store into a snapshot, run the scheduler core, write the plan back
// (assignments, statuses, pending reasons) in one commit. Agents pick up
// their assignments from the store through the API (docs/agent-protocol.md).
//
// Beside the workloads, a cycle writes events (kind "events": a task bound
// or evicted, a new pending reason) and the cluster's status (kind "status",
// name "cluster": per queue deserved, fair share and allocated GPUs, which
// `allot top` shows), each only when something changed.
//
// A cycle runs when woken (a change through the API) and at least every
// `interval`. A cycle whose commit conflicts with a concurrent change (a
// workload deleted meanwhile) writes nothing and runs again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "common/result.h"
#include "core/snapshot.h"
#include "sched/scheduler.h"
#include "store/store.h"

namespace allot::server {

struct CycleOutcome {
  int binds = 0;
  int evictions = 0;
  int workloads_written = 0;
  int events_written = 0;
};

class SchedulingLoop {
 public:
  SchedulingLoop(store::Store& store, std::function<int64_t()> now_ms);
  ~SchedulingLoop();

  // One cycle, on the caller's thread.
  Result<CycleOutcome> RunCycle();

  // Runs cycles on a thread of its own until Stop().
  void Start(std::chrono::milliseconds interval);
  void Wake();
  void Stop();

 private:
  store::Store& store_;
  std::function<int64_t()> now_ms_;
  std::unique_ptr<sched::Scheduler> scheduler_;
  int64_t event_sequence_ = 0;  // makes event names unique within a ms
  std::mutex mutex_;
  std::condition_variable wake_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace allot::server

// What running workloads do with their GPUs, from the per-task readings of
// the agents' heartbeats (docs/agent-protocol.md §2): the last hour of
// readings per workload, for the dashboard's GPU-hogging view and
// /metrics, and since when a workload's GPUs have been idle, for the
// projects' idle rules (the scheduling loop). Kept in memory, as heartbeats
// are: after a server restart the idle clock starts again, which can only
// delay a rule, never fire it early.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace allot::server {

struct UsagePoint {
  int64_t time_ms = 0;
  int32_t task = 0;
  int32_t utilization = 0;  // percent of the task's GPUs (of one GPU for a fraction)
  int64_t memory_mib = 0;
};

struct WorkloadUsageSummary {
  std::string project;
  int64_t time_ms = 0;        // of the last reading
  int32_t utilization = 0;    // mean over its tasks' last readings
  int64_t memory_mib = 0;     // sum over its tasks' last readings
  int64_t idle_since_ms = 0;  // 0: busy
};

class WorkloadUsage {
 public:
  // A reading below this many percent is idle.
  static constexpr int32_t kIdleBelowPercent = 1;
  // Readings older than this are dropped.
  static constexpr int64_t kKeptMs = 3600 * 1000;

  // Records a task's reading; `project` is the workload's.
  void Record(const std::string& workload, const std::string& project, int32_t task,
              int64_t time_ms, int32_t utilization, int64_t memory_mib);
  // Since when every task of `workload` that reports has been idle; 0 when
  // one is busy or none reports (simulated GPUs: never idle).
  int64_t IdleSince(const std::string& workload) const;
  // The workload's readings, oldest first.
  std::vector<UsagePoint> Points(const std::string& workload) const;
  // Per workload with a reading since `since_ms`, its last state.
  std::map<std::string, WorkloadUsageSummary> Summaries(int64_t since_ms) const;
  // Drops a workload that no longer runs (its idle clock starts again if it
  // runs again).
  void Forget(const std::string& workload);
  // The workloads it holds readings of.
  std::vector<std::string> Workloads() const;

 private:
  struct TaskState {
    int64_t time_ms = 0;
    int32_t utilization = 0;
    int64_t memory_mib = 0;
    int64_t idle_since_ms = 0;
  };
  struct Entry {
    std::string project;
    std::map<int32_t, TaskState> tasks;
    std::deque<UsagePoint> points;
  };
  static int64_t IdleSinceLocked(const Entry& entry);

  mutable std::mutex mutex_;
  std::map<std::string, Entry> workloads_;
};

}  // namespace allot::server

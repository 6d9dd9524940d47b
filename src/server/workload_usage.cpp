#include "server/workload_usage.h"

#include <algorithm>

namespace allot::server {

void WorkloadUsage::Record(const std::string& workload, const std::string& project, int32_t task,
                           int64_t time_ms, int32_t utilization, int64_t memory_mib) {
  std::lock_guard lock(mutex_);
  Entry& entry = workloads_[workload];
  entry.project = project;
  TaskState& state = entry.tasks[task];
  bool idle = utilization < kIdleBelowPercent;
  if (!idle) {
    state.idle_since_ms = 0;
  } else if (state.idle_since_ms == 0) {
    state.idle_since_ms = time_ms;  // idle from its first idle reading on
  }
  state.time_ms = time_ms;
  state.utilization = utilization;
  state.memory_mib = memory_mib;
  entry.points.push_back({time_ms, task, utilization, memory_mib});
  while (!entry.points.empty() && entry.points.front().time_ms < time_ms - kKeptMs) {
    entry.points.pop_front();
  }
}

int64_t WorkloadUsage::IdleSinceLocked(const Entry& entry) {
  int64_t since = 0;
  for (const auto& [task, state] : entry.tasks) {
    if (state.idle_since_ms == 0) return 0;
    since = std::max(since, state.idle_since_ms);
  }
  return since;
}

int64_t WorkloadUsage::IdleSince(const std::string& workload) const {
  std::lock_guard lock(mutex_);
  auto found = workloads_.find(workload);
  return found == workloads_.end() ? 0 : IdleSinceLocked(found->second);
}

std::vector<UsagePoint> WorkloadUsage::Points(const std::string& workload) const {
  std::lock_guard lock(mutex_);
  auto found = workloads_.find(workload);
  if (found == workloads_.end()) return {};
  return {found->second.points.begin(), found->second.points.end()};
}

std::map<std::string, WorkloadUsageSummary> WorkloadUsage::Summaries(int64_t since_ms) const {
  std::lock_guard lock(mutex_);
  std::map<std::string, WorkloadUsageSummary> out;
  for (const auto& [name, entry] : workloads_) {
    WorkloadUsageSummary summary;
    summary.project = entry.project;
    int64_t utilization = 0;
    for (const auto& [task, state] : entry.tasks) {
      summary.time_ms = std::max(summary.time_ms, state.time_ms);
      utilization += state.utilization;
      summary.memory_mib += state.memory_mib;
    }
    if (entry.tasks.empty() || summary.time_ms < since_ms) continue;
    summary.utilization =
        static_cast<int32_t>(utilization / static_cast<int64_t>(entry.tasks.size()));
    summary.idle_since_ms = IdleSinceLocked(entry);
    out[name] = summary;
  }
  return out;
}

void WorkloadUsage::Forget(const std::string& workload) {
  std::lock_guard lock(mutex_);
  workloads_.erase(workload);
}

std::vector<std::string> WorkloadUsage::Workloads() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& [name, entry] : workloads_) names.push_back(name);
  return names;
}

}  // namespace allot::server

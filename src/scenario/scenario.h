// A scenario file (scenario-format.md) in memory: the cluster as a snapshot,
// the scheduler settings, and what must hold after the rounds.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/snapshot.h"
#include "sched/config.h"

namespace allot::scenario {

struct WorkloadExpectation {
  std::string workload;
  int line = 0;
  std::optional<std::string> status;              // running | pending | partial
  std::optional<std::string> node;                // node of the first task
  std::optional<std::vector<int32_t>> gpus;       // GPU indices of the first task
  std::optional<std::vector<std::string>> nodes;  // node of every task, any order
  std::optional<std::string> reason_contains;     // case-insensitive
};

struct FairShareExpectation {
  std::string queue;
  int line = 0;
  std::map<core::Resource, int64_t> amounts;
  std::map<std::string, int64_t> gpu_by_model;  // milli-GPU
};

struct Expectations {
  int32_t rounds = 2;
  int32_t stable_rounds = 5;
  std::vector<WorkloadExpectation> workloads;
  std::optional<int64_t> binds;
  std::optional<int64_t> evictions;
  std::vector<FairShareExpectation> fair_share;
};

struct Scenario {
  std::string name;
  std::string file;
  core::Snapshot snapshot;
  sched::SchedulerConfig config;
  core::Duration cycle_interval = 10 * core::kSecond;
  Expectations expect;
};

}  // namespace allot::scenario

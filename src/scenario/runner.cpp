#include "scenario/runner.h"

#include <algorithm>
#include <cctype>

#include "core/apply_plan.h"
#include "scenario/loader.h"
#include "sched/scheduler.h"

namespace allot::scenario {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string StatusOf(const core::Workload& w) {
  int32_t placed = w.PlacedTasks();
  if (placed == 0) return "pending";
  if (placed == w.spec.tasks) return "running";
  return "partial";
}

std::string Join(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out + "]";
}

std::string JoinInts(const std::vector<int32_t>& items) {
  std::vector<std::string> text;
  for (int32_t i : items) text.push_back(std::to_string(i));
  return Join(text);
}

void CheckWorkload(const WorkloadExpectation& e, const core::Snapshot& world,
                   const core::Plan& plan, std::vector<std::string>& failures) {
  uint32_t index = 0;
  while (world.workloads[index].spec.name != e.workload) ++index;
  const core::Workload& w = world.workloads[index];
  std::string prefix = e.workload + " (line " + std::to_string(e.line) + "): ";
  std::string status = StatusOf(w);
  if (e.status && *e.status != status) {
    std::string why = plan.pending_reasons.empty() ? "" : plan.pending_reasons[index];
    failures.push_back(prefix + "status is " + status + ", expected " + *e.status +
                       (why.empty() ? "" : " (reason: " + why + ")"));
  }
  const auto& first = w.tasks.front().placement;
  if (e.node) {
    std::string actual = first ? world.nodes[first->node].name : "(none)";
    if (actual != *e.node) {
      failures.push_back(prefix + "first task is on node " + actual + ", expected " + *e.node);
    }
  }
  if (e.gpus) {
    std::vector<int32_t> actual;
    if (first) {
      for (int32_t g : first->gpus) actual.push_back(world.nodes[first->node].gpus[g].index);
    }
    if (actual != *e.gpus) {
      failures.push_back(prefix + "first task has GPUs " + JoinInts(actual) + ", expected " +
                         JoinInts(*e.gpus));
    }
  }
  if (e.nodes) {
    std::vector<std::string> actual;
    for (const auto& t : w.tasks) {
      if (t.placement) actual.push_back(world.nodes[t.placement->node].name);
    }
    std::vector<std::string> expected = *e.nodes;
    std::sort(actual.begin(), actual.end());
    std::sort(expected.begin(), expected.end());
    if (actual != expected) {
      failures.push_back(prefix + "tasks are on nodes " + Join(actual) + ", expected " +
                         Join(expected));
    }
  }
  if (e.reason_contains) {
    std::string reason = plan.pending_reasons.empty() ? "" : plan.pending_reasons[index];
    if (Lower(reason).find(Lower(*e.reason_contains)) == std::string::npos) {
      failures.push_back(prefix + "pending reason \"" + reason + "\" does not contain \"" +
                         *e.reason_contains + "\"");
    }
  }
}

void CheckFairShare(const FairShareExpectation& e, const core::Snapshot& world,
                    const core::Plan& plan, std::vector<std::string>& failures) {
  uint32_t q = 0;
  while (world.queues[q].name != e.queue) ++q;
  std::string prefix = "fair share of " + e.queue + " (line " + std::to_string(e.line) + "): ";
  for (const auto& [r, expected] : e.amounts) {
    int64_t actual = plan.fair_share[q][r];
    if (actual != expected) {
      failures.push_back(prefix + core::ResourceName(r) + " is " + core::FormatAmount(r, actual) +
                         ", expected " + core::FormatAmount(r, expected));
    }
  }
  for (const auto& [model, expected] : e.gpu_by_model) {
    int64_t actual = 0;
    for (const auto& [m, amount] : plan.fair_share_by_model[q]) {
      if (m == model) actual = amount;
    }
    if (actual != expected) {
      failures.push_back(prefix + model + " GPUs is " +
                         core::FormatAmount(core::Resource::kGpu, actual) + ", expected " +
                         core::FormatAmount(core::Resource::kGpu, expected));
    }
  }
}

std::string Describe(const core::Plan& plan, const core::Snapshot& world) {
  std::string out;
  auto add = [&](const std::string& what, const core::TaskRef& t) {
    out += (out.empty() ? "" : ", ") + what + " " + world.workloads[t.workload].spec.name + "/" +
           std::to_string(t.task);
  };
  for (const auto& e : plan.evictions) add("evicted", e.task);
  for (const auto& b : plan.binds) add("bound", b.task);
  return out;
}

}  // namespace

ScenarioOutcome RunScenario(const Scenario& scenario) {
  ScenarioOutcome outcome;
  outcome.name = scenario.name;
  auto scheduler = sched::Scheduler::Create(scenario.config);
  if (!scheduler) {
    outcome.failures.push_back("config: " + scheduler.error().message);
    return outcome;
  }
  core::Snapshot world = scenario.snapshot;
  core::Plan last;
  int64_t binds = 0;
  int64_t evictions = 0;
  for (int32_t round = 0; round < scenario.expect.rounds; ++round) {
    last = (*scheduler)->Cycle(world);
    binds += static_cast<int64_t>(last.binds.size());
    evictions += static_cast<int64_t>(last.evictions.size());
    core::ApplyPlan(last, world);
    world.now += scenario.cycle_interval;
  }
  const Expectations& e = scenario.expect;
  for (const auto& we : e.workloads) CheckWorkload(we, world, last, outcome.failures);
  for (const auto& fe : e.fair_share) CheckFairShare(fe, world, last, outcome.failures);
  if (e.binds && *e.binds != binds) {
    outcome.failures.push_back(std::to_string(binds) + " binds over the rounds, expected " +
                               std::to_string(*e.binds));
  }
  if (e.evictions && *e.evictions != evictions) {
    outcome.failures.push_back(std::to_string(evictions) + " evictions over the rounds, expected " +
                               std::to_string(*e.evictions));
  }
  for (int32_t round = 0; round < e.stable_rounds; ++round) {
    core::Plan plan = (*scheduler)->Cycle(world);
    if (!plan.binds.empty() || !plan.evictions.empty()) {
      outcome.failures.push_back("not stable: stable round " + std::to_string(round + 1) +
                                 " changed the cluster: " + Describe(plan, world));
      break;
    }
    world.now += scenario.cycle_interval;
  }
  outcome.passed = outcome.failures.empty();
  return outcome;
}

int RunScenarioFiles(const std::vector<std::string>& files, std::ostream& out) {
  int passed = 0;
  int failed = 0;
  for (const auto& file : files) {
    auto scenario = LoadScenarioFile(file);
    if (!scenario) {
      out << "FAIL " << file << ": " << scenario.error().message << "\n";
      ++failed;
      continue;
    }
    ScenarioOutcome outcome = RunScenario(*scenario);
    if (outcome.passed) {
      out << "PASS " << outcome.name << "\n";
      ++passed;
    } else {
      out << "FAIL " << outcome.name << ": ";
      for (size_t i = 0; i < outcome.failures.size(); ++i) {
        out << (i ? "; " : "") << outcome.failures[i];
      }
      out << "\n";
      ++failed;
    }
  }
  out << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace allot::scenario

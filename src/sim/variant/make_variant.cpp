#include "sim/variant/make_variant.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

namespace allot::sim {
namespace {

using Rng = std::mt19937_64;

enum TaskClass { kFraction = 0, kWhole = 1, kMulti = 2, kClasses = 3 };
constexpr std::array<const char*, kClasses> kClassFlag = {"--gpushare", "", "--multigpu"};
constexpr std::array<const char*, kClasses> kClassName = {"fractional", "one-whole-GPU",
                                                          "multi-GPU"};

TaskClass ClassOf(const OpenbTask& task) {
  if (task.IsFraction()) return kFraction;
  return task.gpus == 1 ? kWhole : kMulti;
}

// `count` of `members`: a shuffled pass without repeats, then draws with
// replacement.
std::vector<OpenbTask> Resample(std::vector<OpenbTask> members, int64_t count, Rng& rng) {
  std::shuffle(members.begin(), members.end(), rng);
  std::vector<OpenbTask> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count && i < static_cast<int64_t>(members.size()); ++i) {
    out.push_back(members[static_cast<size_t>(i)]);
  }
  std::uniform_int_distribution<size_t> pick(0, members.empty() ? 0 : members.size() - 1);
  while (static_cast<int64_t>(out.size()) < count) out.push_back(members[pick(rng)]);
  return out;
}

Status CheckPercent(const std::optional<double>& value, const char* flag) {
  if (!value || (*value >= 0 && *value <= 100)) return Status::Ok();
  char text[32];
  std::snprintf(text, sizeof text, "%g", *value);
  return Error(std::string(flag) + ": " + text + " is not a percent: use 0 to 100", flag + 2);
}

// Each class's share of the GPU request, the set ones as given and the
// others sharing the rest as in the base list.
Result<std::array<double, kClasses>> TargetShares(const std::array<int64_t, kClasses>& request,
                                                  const std::array<int64_t, kClasses>& count,
                                                  const VariantKnobs& knobs) {
  std::array<std::optional<double>, kClasses> given = {knobs.gpushare, std::nullopt,
                                                       knobs.multigpu};
  double fixed = 0, free_request = 0;
  for (int c = 0; c < kClasses; ++c) {
    if (given[c]) {
      fixed += *given[c] / 100;
    } else {
      free_request += static_cast<double>(request[c]);
    }
  }
  if (fixed > 1 + 1e-9) {
    return Error("--gpushare and --multigpu add up to more than 100: lower one", "gpushare");
  }
  std::array<double, kClasses> share{};
  for (int c = 0; c < kClasses; ++c) {
    share[c] =
        given[c]
            ? *given[c] / 100
            : (free_request > 0 ? (1 - fixed) * static_cast<double>(request[c]) / free_request : 0);
    if (share[c] > 0 && count[c] == 0) {
      std::string flag = given[c] ? kClassFlag[c] : "gpushare";
      return Error(std::string(given[c] ? kClassFlag[c] : "--gpushare/--multigpu") +
                       ": the base list has no " + kClassName[c] +
                       " tasks to make that share from: use a base list with some",
                   given[c] ? std::string(kClassFlag[c] + 2) : flag);
    }
  }
  if (fixed < 1 - 1e-9 && free_request == 0) {
    return Error(
        "--gpushare and --multigpu leave a share for the other GPU tasks, which the base "
        "list does not have: make them add up to 100",
        "gpushare");
  }
  return share;
}

// Task counts per class for `shares` of the request, `total` in all.
std::array<int64_t, kClasses> CountsFor(const std::array<double, kClasses>& shares,
                                        const std::array<int64_t, kClasses>& request,
                                        const std::array<int64_t, kClasses>& count, int64_t total) {
  std::array<double, kClasses> weight{};
  double sum = 0;
  for (int c = 0; c < kClasses; ++c) {
    if (shares[c] <= 0) continue;
    double mean = static_cast<double>(request[c]) / static_cast<double>(count[c]);
    weight[c] = shares[c] / mean;
    sum += weight[c];
  }
  std::array<int64_t, kClasses> n{};
  std::array<double, kClasses> remainder{};
  int64_t placed = 0;
  for (int c = 0; c < kClasses; ++c) {
    double exact = sum > 0 ? static_cast<double>(total) * weight[c] / sum : 0;
    n[c] = static_cast<int64_t>(std::floor(exact));
    if (shares[c] > 0 && n[c] == 0) n[c] = 1;
    remainder[c] = exact - std::floor(exact);
    placed += n[c];
  }
  while (placed < total) {
    int best = 0;
    for (int c = 1; c < kClasses; ++c) {
      if (remainder[c] > remainder[best]) best = c;
    }
    ++n[best];
    remainder[best] = -1;
    ++placed;
  }
  return n;
}

// Gives `share` percent of the GPU tasks one model each, the rest none.
void AssignModels(std::vector<OpenbTask>& gpu_tasks, const OpenbCluster& cluster, double share,
                  Rng& rng) {
  std::vector<size_t> order(gpu_tasks.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  size_t restricted =
      static_cast<size_t>(std::llround(share / 100 * static_cast<double>(order.size())));
  for (size_t k = 0; k < order.size(); ++k) {
    OpenbTask& task = gpu_tasks[order[k]];
    task.gpu_spec.clear();
    task.allowed = 0;
    if (k >= restricted) continue;
    std::vector<double> weight(static_cast<size_t>(cluster.models.size()), 0);
    for (const OpenbNode& node : cluster.nodes) {
      if (node.model < 0 || node.gpus < task.gpus || node.cpu_milli < task.cpu_milli ||
          node.memory_mib < task.memory_mib) {
        continue;
      }
      weight[static_cast<size_t>(node.model)] += node.gpus;
    }
    if (std::all_of(weight.begin(), weight.end(), [](double w) { return w == 0; })) continue;
    std::discrete_distribution<int> pick(weight.begin(), weight.end());
    int model = pick(rng);
    task.gpu_spec = cluster.models.Name(model);
    task.allowed = 1u << model;
  }
}

}  // namespace

Result<std::vector<OpenbTask>> MakeVariant(const std::vector<OpenbTask>& base,
                                           const OpenbCluster& cluster, const VariantKnobs& knobs) {
  if (!(knobs.cpu_scale > 0 && knobs.cpu_scale <= 10)) {
    return Error(
        "--cpu-scale: use a factor above 0 and at most 10 (0.25 to 3 makes the "
        "published range)",
        "cpu-scale");
  }
  if (!(knobs.cpu_only_scale >= 0 && knobs.cpu_only_scale <= 10)) {
    return Error("--cpu-only-scale: use a factor from 0 to 10", "cpu-only-scale");
  }
  for (auto [value, flag] :
       {std::pair{knobs.gpushare, "--gpushare"}, std::pair{knobs.multigpu, "--multigpu"},
        std::pair{knobs.gpuspec, "--gpuspec"}}) {
    if (Status st = CheckPercent(value, flag); !st) return st.error();
  }
  Rng rng(knobs.seed);
  std::vector<OpenbTask> cpu_only;
  std::array<std::vector<OpenbTask>, kClasses> members;
  std::array<int64_t, kClasses> request{}, count{};
  for (const OpenbTask& task : base) {
    if (task.gpus == 0) {
      cpu_only.push_back(task);
      continue;
    }
    TaskClass c = ClassOf(task);
    members[c].push_back(task);
    request[c] += task.TotalGpuMilli();
    ++count[c];
  }
  int64_t gpu_total = count[kFraction] + count[kWhole] + count[kMulti];
  if (gpu_total == 0) return Error("--tasks: the base list has no GPU tasks", "tasks");
  Result<std::array<double, kClasses>> shares = TargetShares(request, count, knobs);
  if (!shares) return shares.error();
  std::array<int64_t, kClasses> n = CountsFor(*shares, request, count, gpu_total);

  std::vector<OpenbTask> gpu_tasks;
  for (int c = 0; c < kClasses; ++c) {
    for (OpenbTask& task : Resample(members[c], n[c], rng)) gpu_tasks.push_back(std::move(task));
  }
  if (knobs.gpuspec) AssignModels(gpu_tasks, cluster, *knobs.gpuspec, rng);
  auto cpu_count = static_cast<int64_t>(
      std::llround(knobs.cpu_only_scale * static_cast<double>(cpu_only.size())));
  std::vector<OpenbTask> out = Resample(cpu_only, cpu_count, rng);
  out.insert(out.end(), gpu_tasks.begin(), gpu_tasks.end());

  int64_t max_cpu = 0;
  for (const OpenbNode& node : cluster.nodes) max_cpu = std::max(max_cpu, node.cpu_milli);
  std::shuffle(out.begin(), out.end(), rng);
  for (size_t i = 0; i < out.size(); ++i) {
    OpenbTask& task = out[i];
    auto scaled =
        static_cast<int64_t>(std::llround(static_cast<double>(task.cpu_milli) * knobs.cpu_scale));
    task.cpu_milli = std::min(scaled, max_cpu);
    char name[32];
    std::snprintf(name, sizeof name, "-pod-%05zu", i);
    task.name = knobs.name_prefix + name;
    task.creation_s = task.deletion_s = -1;
  }
  return out;
}

Status WriteOpenbTasks(const std::string& path, const std::vector<OpenbTask>& tasks) {
  std::ofstream file(path);
  if (!file) return Error("--out: cannot write '" + path + "'", "out");
  file << "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n";
  for (const OpenbTask& t : tasks) {
    file << t.name << "," << t.cpu_milli << "," << t.memory_mib << "," << t.gpus << ","
         << t.gpu_milli << "," << t.gpu_spec << "\n";
  }
  file.close();
  if (!file) return Error("--out: writing '" + path + "' failed", "out");
  return Status::Ok();
}

VariantMeasure MeasureVariant(const std::vector<OpenbTask>& tasks) {
  VariantMeasure m;
  std::array<int64_t, kClasses> request{};
  int64_t restricted = 0, cpu = 0;
  for (const OpenbTask& task : tasks) {
    if (task.gpus == 0) {
      ++m.cpu_only_tasks;
      continue;
    }
    ++m.gpu_tasks;
    request[ClassOf(task)] += task.TotalGpuMilli();
    restricted += task.allowed != 0 ? 1 : 0;
    cpu += task.cpu_milli;
  }
  double total = static_cast<double>(request[kFraction] + request[kWhole] + request[kMulti]);
  if (total > 0) {
    m.gpushare = 100 * static_cast<double>(request[kFraction]) / total;
    m.multigpu = 100 * static_cast<double>(request[kMulti]) / total;
  }
  if (m.gpu_tasks > 0) {
    m.gpuspec = 100 * static_cast<double>(restricted) / static_cast<double>(m.gpu_tasks);
    m.mean_cpu_per_gpu_task = static_cast<double>(cpu) / static_cast<double>(m.gpu_tasks);
  }
  return m;
}

}  // namespace allot::sim

#include "sim/replay/make_trace.h"

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>
#include <sstream>

#include "sim/csv_reader.h"
#include "sim/openb.h"
#include "sim/replay/trace.h"
#include "sim/svg_chart.h"

namespace allot::sim {
namespace {

using Rng = std::mt19937_64;

// The first day's quota of every team with one, from the Helios file.
Result<std::vector<ProjectQuota>> HeliosQuotas(const std::string& path) {
  auto reader = CsvReader::Open(path, {"date", "total"});
  if (!reader) return reader.error();
  if (!reader->Next()) return Error(path + ": no rows: expected one line per day");
  std::vector<ProjectQuota> quotas;
  for (const auto& column : reader->columns()) {
    if (column == "date" || column == "total") continue;
    auto gpus = reader->Integer(column, 0, int64_t{1} << 30);
    if (!gpus) return gpus.error();
    if (*gpus > 0) quotas.push_back({column, *gpus});
  }
  if (quotas.empty()) return Error(path + ":2: no team has GPUs on the first day");
  return quotas;
}

std::string NodeLine(const OpenbCluster& cluster, const OpenbNode& node) {
  return node.name + "," + std::to_string(node.cpu_milli) + "," + std::to_string(node.memory_mib) +
         "," + std::to_string(node.gpus) + "," +
         (node.model >= 0 ? cluster.models.Name(node.model) : "");
}

}  // namespace

Status MakeTrace(const MakeTraceOptions& options, std::ostream& out) {
  if (!(options.load > 0)) return Error("--load: must be above 0, for example 1.2", "load");
  if (!(options.days > 0)) return Error("--days: must be above 0, for example 2", "days");
  if (!(options.max_duration_h >= 1.0 / 3600)) {
    return Error("--max-duration: must be at least one second (in hours), for example 24",
                 "max_duration");
  }
  auto cluster = LoadOpenbNodes(options.nodes_path);
  if (!cluster) return cluster.error();
  auto tasks = LoadOpenbTasks(options.tasks_path, *cluster);
  if (!tasks) return tasks.error();
  if (tasks->front().creation_s < 0) {
    return Error(options.tasks_path +
                     ": the task list has no creation_time and deletion_time columns, so no "
                     "durations: use a list that has them (openb_pod_list_default.csv)",
                 "tasks");
  }
  auto helios = HeliosQuotas(options.helios_path);
  if (!helios) return helios.error();
  Rng rng(options.seed);

  // The cluster: GPU nodes in a seeded order until the GPU target is met.
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < cluster->nodes.size(); ++i) {
    if (cluster->nodes[i].gpus > 0) order.push_back(i);
  }
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<uint32_t> chosen;
  int64_t gpus = 0;
  uint32_t models = 0;
  for (uint32_t i : order) {
    if (options.gpus > 0 && gpus >= options.gpus) break;
    chosen.push_back(i);
    gpus += cluster->nodes[i].gpus;
    models |= 1u << cluster->nodes[i].model;
  }
  std::sort(chosen.begin(), chosen.end());

  // Teams: Helios quotas scaled to the cluster (largest remainders).
  int64_t helios_total = 0;
  for (const auto& q : *helios) helios_total += q.gpus;
  std::vector<ProjectQuota> quotas = *helios;
  std::vector<std::pair<double, size_t>> remainders;
  int64_t assigned = 0;
  for (size_t i = 0; i < quotas.size(); ++i) {
    double exact = double((*helios)[i].gpus) * double(gpus) / double(helios_total);
    quotas[i].gpus = static_cast<int64_t>(exact);
    assigned += quotas[i].gpus;
    remainders.emplace_back(exact - double(quotas[i].gpus), i);
  }
  std::sort(remainders.rbegin(), remainders.rend());
  for (size_t k = 0; assigned < gpus && k < remainders.size(); ++k, ++assigned) {
    ++quotas[remainders[k].second].gpus;
  }
  std::vector<double> team_weights;
  for (const auto& q : *helios) team_weights.push_back(double(q.gpus));
  std::discrete_distribution<size_t> pick_team(team_weights.begin(), team_weights.end());

  const int64_t max_duration_s = static_cast<int64_t>(options.max_duration_h * 3600);
  auto duration_of = [&](const OpenbTask& t) {
    return std::clamp<int64_t>(t.deletion_s - t.creation_s, 1, max_duration_s);
  };
  // Task shapes that can run on the chosen cluster.
  std::vector<const OpenbTask*> usable;
  double gpu_seconds = 0;
  for (const auto& t : *tasks) {
    if (t.allowed != 0 && (t.allowed & models) == 0) continue;
    usable.push_back(&t);
    gpu_seconds += double(t.TotalGpuMilli()) / 1000.0 * double(duration_of(t));
  }
  if (usable.empty()) return Error("no task of the list can run on the chosen nodes", "tasks");
  const double mean_gpu_seconds = gpu_seconds / double(usable.size());
  // Poisson arrivals: rate such that offered GPU-seconds per second = load x GPUs.
  const double rate = options.load * double(gpus) / mean_gpu_seconds;
  std::exponential_distribution<double> gap(rate);
  std::uniform_int_distribution<size_t> pick_task(0, usable.size() - 1);
  std::vector<TraceRow> rows;
  const double horizon = options.days * 86400.0;
  for (double t = gap(rng); t < horizon; t += gap(rng)) {
    const OpenbTask& task = *usable[pick_task(rng)];
    TraceRow row;
    row.arrival_s = static_cast<int64_t>(t);
    row.project = (*helios)[pick_team(rng)].project;
    row.duration_s = duration_of(task);
    row.cpu_milli = task.cpu_milli;
    row.memory_mib = task.memory_mib;
    row.gpu_milli = task.TotalGpuMilli();
    row.gpu_model = task.gpu_spec;
    if (task.gpus >= 2) {
      row.kind = core::WorkloadKind::kDistributed;
      row.tasks = row.min_tasks = task.gpus;
      row.gpu_milli = kMilliPerGpu;
      row.cpu_milli = (task.cpu_milli + task.gpus - 1) / task.gpus;
      row.memory_mib = (task.memory_mib + task.gpus - 1) / task.gpus;
    } else if (task.qos == "LS") {
      row.kind =
          task.IsFraction() ? core::WorkloadKind::kInteractive : core::WorkloadKind::kInference;
    } else if (task.qos == "Guaranteed") {
      row.kind = core::WorkloadKind::kInference;
    } else {
      row.kind = core::WorkloadKind::kTraining;
    }
    rows.push_back(std::move(row));
  }

  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) return Error("--out: cannot create '" + options.out_dir + "': " + ec.message(), "out");
  std::string nodes_csv = "sn,cpu_milli,memory_mib,gpu,model\n";
  for (uint32_t i : chosen) nodes_csv += NodeLine(*cluster, cluster->nodes[i]) + "\n";
  const std::string dir = options.out_dir + "/";
  if (!WriteTextFile(dir + "nodes.csv", nodes_csv) ||
      !WriteTextFile(dir + "quotas.csv", FormatQuotas(quotas)) ||
      !WriteTextFile(dir + "trace.csv", FormatTrace(rows))) {
    return Error("--out: cannot write in '" + options.out_dir + "'", "out");
  }
  out << "cluster: " << chosen.size() << " nodes, " << gpus << " GPUs; " << quotas.size()
      << " teams; " << rows.size() << " workloads over " << options.days << " days at offered load "
      << options.load << "\nwrote " << dir << "nodes.csv, " << dir << "quotas.csv, " << dir
      << "trace.csv\n";
  return Status::Ok();
}

}  // namespace allot::sim

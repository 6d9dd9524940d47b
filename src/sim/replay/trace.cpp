#include "sim/replay/trace.h"

#include <cmath>
#include <set>
#include <sstream>

#include "sim/csv_reader.h"

namespace allot::sim {
namespace {}  // namespace

Result<std::vector<TraceRow>> LoadTrace(const std::string& path, const OpenbCluster& cluster) {
  auto reader = CsvReader::Open(path, {"arrival_s", "project", "kind", "tasks", "min_tasks", "gpu",
                                       "cpu_milli", "memory_mib", "duration_s"});
  if (!reader) return reader.error();
  std::vector<TraceRow> rows;
  while (reader->Next()) {
    TraceRow row;
    auto arrival = reader->Integer("arrival_s", 0, int64_t{1} << 40);
    if (!arrival) return arrival.error();
    row.arrival_s = *arrival;
    if (!rows.empty() && row.arrival_s < rows.back().arrival_s) {
      return Error(reader->Where("arrival_s") +
                   "rows must be in arrival order: " + std::to_string(row.arrival_s) +
                   " comes after " + std::to_string(rows.back().arrival_s));
    }
    auto project = reader->Text("project");
    if (!project) return project.error();
    if (project->empty()) return Error(reader->Where("project") + "expected a project name");
    row.project = *project;
    auto kind_text = reader->Text("kind");
    if (!kind_text) return kind_text.error();
    auto kind = core::ParseWorkloadKind(*kind_text);
    if (!kind) {
      return Error(reader->Where("kind") +
                   "expected training, distributed, interactive or inference, got '" + *kind_text +
                   "'");
    }
    row.kind = *kind;
    auto tasks = reader->Integer("tasks", 1, 100000);
    if (!tasks) return tasks.error();
    row.tasks = static_cast<int32_t>(*tasks);
    auto min_tasks = reader->Integer("min_tasks", 1, row.tasks);
    if (!min_tasks) return min_tasks.error();
    row.min_tasks = static_cast<int32_t>(*min_tasks);
    auto gpu = reader->Number("gpu", 0, kMaxGpusPerNode);
    if (!gpu) return gpu.error();
    row.gpu_milli = std::llround(*gpu * kMilliPerGpu);
    if (row.gpu_milli > kMilliPerGpu && row.gpu_milli % kMilliPerGpu != 0) {
      return Error(
          reader->Where("gpu") +
          "more than one GPU must be a whole number of GPUs (a fraction is below 1), got " +
          *reader->Text("gpu"));
    }
    auto cpu = reader->Integer("cpu_milli", 0, int64_t{1} << 40);
    if (!cpu) return cpu.error();
    row.cpu_milli = *cpu;
    auto memory = reader->Integer("memory_mib", 0, int64_t{1} << 40);
    if (!memory) return memory.error();
    row.memory_mib = *memory;
    auto duration = reader->Integer("duration_s", 1, int64_t{1} << 40);
    if (!duration) return duration.error();
    row.duration_s = *duration;
    auto model = reader->Text("gpu_model");
    if (!model) return model.error();
    row.gpu_model = *model;
    for (const auto& name : SplitCsvLine(row.gpu_model, '|')) {
      if (name.empty() || cluster.models.Find(name) >= 0) continue;
      return Error(reader->Where("gpu_model") + "no node has the GPU model '" + name +
                   "': the nodes have " + cluster.models.Joined());
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty()) return Error(path + ": no workloads: the file has only a header");
  return rows;
}

Result<std::vector<ProjectQuota>> LoadQuotas(const std::string& path) {
  auto reader = CsvReader::Open(path, {"project", "gpus"});
  if (!reader) return reader.error();
  std::vector<ProjectQuota> quotas;
  std::set<std::string> seen;
  while (reader->Next()) {
    ProjectQuota quota;
    auto project = reader->Text("project");
    if (!project) return project.error();
    if (project->empty()) return Error(reader->Where("project") + "expected a project name");
    if (!seen.insert(*project).second) {
      return Error(reader->Where("project") + "the project '" + *project +
                   "' is listed twice: give each project one line");
    }
    auto gpus = reader->Integer("gpus", 0, int64_t{1} << 30);
    if (!gpus) return gpus.error();
    quota.project = *project;
    quota.gpus = *gpus;
    quotas.push_back(std::move(quota));
  }
  if (quotas.empty()) return Error(path + ": no projects: the file has only a header");
  return quotas;
}

std::string FormatTrace(const std::vector<TraceRow>& rows) {
  std::ostringstream out;
  out << "arrival_s,project,kind,tasks,min_tasks,gpu,cpu_milli,memory_mib,duration_s,gpu_model\n";
  for (const auto& r : rows) {
    out << r.arrival_s << "," << r.project << "," << core::WorkloadKindName(r.kind) << ","
        << r.tasks << "," << r.min_tasks << ",";
    if (r.gpu_milli % kMilliPerGpu == 0) {
      out << r.gpu_milli / kMilliPerGpu;
    } else {
      out << "0." << (r.gpu_milli < 100 ? (r.gpu_milli < 10 ? "00" : "0") : "") << r.gpu_milli;
    }
    out << "," << r.cpu_milli << "," << r.memory_mib << "," << r.duration_s << "," << r.gpu_model
        << "\n";
  }
  return out.str();
}

std::string FormatQuotas(const std::vector<ProjectQuota>& quotas) {
  std::ostringstream out;
  out << "project,gpus\n";
  for (const auto& q : quotas) out << q.project << "," << q.gpus << "\n";
  return out.str();
}

}  // namespace allot::sim

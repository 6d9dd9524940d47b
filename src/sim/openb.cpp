#include "sim/openb.h"

#include <algorithm>

#include "sim/csv_reader.h"

namespace allot::sim {

Result<int> ModelNames::Add(const std::string& name) {
  int id = Find(name);
  if (id >= 0) return id;
  if (names_.size() >= 32) return Error("more than 32 GPU models: allot sim handles at most 32");
  names_.push_back(name);
  return static_cast<int>(names_.size()) - 1;
}

int ModelNames::Find(const std::string& name) const {
  auto it = std::find(names_.begin(), names_.end(), name);
  return it == names_.end() ? -1 : static_cast<int>(it - names_.begin());
}

std::string ModelNames::Joined() const {
  std::string joined;
  for (const auto& name : names_) joined.append(joined.empty() ? "" : ", ").append(name);
  return joined;
}

int64_t OpenbCluster::TotalGpuMilli() const {
  int64_t total = 0;
  for (const auto& node : nodes) total += node.gpus * kMilliPerGpu;
  return total;
}

Result<OpenbCluster> LoadOpenbNodes(const std::string& path) {
  auto reader = CsvReader::Open(path, {"sn", "cpu_milli", "memory_mib", "gpu", "model"});
  if (!reader) return reader.error();
  OpenbCluster cluster;
  while (reader->Next()) {
    OpenbNode node;
    auto name = reader->Text("sn");
    auto cpu = reader->Integer("cpu_milli", 1, int64_t{1} << 40);
    auto memory = reader->Integer("memory_mib", 0, int64_t{1} << 40);
    auto gpus = reader->Integer("gpu", 0, kMaxGpusPerNode);
    auto model = reader->Text("model");
    if (!name) return name.error();
    if (!cpu) return cpu.error();
    if (!memory) return memory.error();
    if (!gpus) return gpus.error();
    if (!model) return model.error();
    if (name->empty()) return Error(reader->Where("sn") + "expected a node name, got nothing");
    node.name = *name;
    node.cpu_milli = *cpu;
    node.memory_mib = *memory;
    node.gpus = static_cast<int>(*gpus);
    if (node.gpus > 0) {
      if (model->empty()) {
        return Error(reader->Where("model") + "a node with GPUs needs its GPU model name");
      }
      auto id = cluster.models.Add(*model);
      if (!id) return Error(reader->Where("model") + id.error().message);
      node.model = *id;
    }
    cluster.nodes.push_back(std::move(node));
  }
  if (cluster.nodes.empty()) return Error(path + ": no nodes: the file has only a header");
  return cluster;
}

namespace {

Result<uint32_t> AllowedModels(const CsvReader& reader, const std::string& spec,
                               const OpenbCluster& cluster) {
  if (spec.empty()) return uint32_t{0};
  uint32_t mask = 0;
  for (const auto& model : SplitCsvLine(spec, '|')) {
    if (model.empty()) continue;
    int id = cluster.models.Find(model);
    if (id < 0) {
      return Error(reader.Where("gpu_spec") + "no node has the GPU model '" + model +
                   "': the nodes have " + cluster.models.Joined());
    }
    mask |= uint32_t{1} << id;
  }
  return mask;
}

}  // namespace

Result<std::vector<OpenbTask>> LoadOpenbTasks(const std::string& path,
                                              const OpenbCluster& cluster) {
  auto reader = CsvReader::Open(path, {"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"});
  if (!reader) return reader.error();
  std::vector<OpenbTask> tasks;
  while (reader->Next()) {
    OpenbTask task;
    auto name = reader->Text("name");
    auto cpu = reader->Integer("cpu_milli", 0, int64_t{1} << 40);
    auto memory = reader->Integer("memory_mib", 0, int64_t{1} << 40);
    auto gpus = reader->Integer("num_gpu", 0, kMaxGpusPerNode);
    auto milli = reader->Integer("gpu_milli", 0, kMilliPerGpu);
    auto spec = reader->Text("gpu_spec");
    auto qos = reader->Text("qos");
    if (!name) return name.error();
    if (!cpu) return cpu.error();
    if (!memory) return memory.error();
    if (!gpus) return gpus.error();
    if (!milli) return milli.error();
    if (!spec) return spec.error();
    if (!qos) return qos.error();
    task.name = *name;
    task.cpu_milli = *cpu;
    task.memory_mib = *memory;
    task.gpus = static_cast<int>(*gpus);
    task.gpu_milli = *milli;
    task.gpu_spec = *spec;
    task.qos = *qos;
    if (task.gpus == 0 && task.gpu_milli != 0) {
      return Error(reader->Where("gpu_milli") +
                   "a task with num_gpu 0 must have gpu_milli 0, got " +
                   std::to_string(task.gpu_milli));
    }
    if (task.gpus > 0 && task.gpu_milli == 0) {
      return Error(reader->Where("gpu_milli") +
                   "a task with GPUs needs gpu_milli from 1 to 1000 (the share of each GPU)");
    }
    if (task.gpus > 1 && task.gpu_milli != kMilliPerGpu) {
      return Error(reader->Where("gpu_milli") +
                   "a task with more than one GPU takes whole GPUs: gpu_milli must be 1000, got " +
                   std::to_string(task.gpu_milli));
    }
    auto allowed = AllowedModels(*reader, task.gpu_spec, cluster);
    if (!allowed) return allowed.error();
    task.allowed = *allowed;
    if (reader->Has("creation_time") && reader->Has("deletion_time")) {
      auto created = reader->Integer("creation_time", 0, int64_t{1} << 50);
      if (!created) return created.error();
      task.creation_s = *created;
      auto deleted = reader->Text("deletion_time");
      if (!deleted) return deleted.error();
      if (!deleted->empty()) {
        auto value = reader->Integer("deletion_time", 0, int64_t{1} << 50);
        if (!value) return value.error();
        task.deletion_s = *value;
      }
    }
    tasks.push_back(std::move(task));
  }
  if (tasks.empty()) return Error(path + ": no tasks: the file has only a header");
  return tasks;
}

std::string WorkloadName(const std::string& path) {
  std::string base =
      path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  if (base.size() > 4 && base.substr(base.size() - 4) == ".csv") base.resize(base.size() - 4);
  return base;
}

}  // namespace allot::sim

#include "scenario/loader.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "common/quantity.h"

namespace allot::scenario {
namespace {

using core::Resource;

// Thrown inside this file only; LoadScenarioText turns it into an Error.
struct LoadError {
  int line;
  std::string field;
  std::string message;
};

int LineOf(const YAML::Node& node) {
  return node.Mark().line + 1;
}

[[noreturn]] void Fail(const YAML::Node& node, const std::string& field,
                       const std::string& message) {
  throw LoadError{LineOf(node), field, message};
}

std::string JoinKeys(const std::set<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

void RequireMap(const YAML::Node& node, const std::string& field) {
  if (!node.IsMap()) Fail(node, field, "expected a mapping of keys to values");
}

void CheckKeys(const YAML::Node& node, const std::string& field,
               const std::set<std::string>& allowed) {
  RequireMap(node, field);
  for (const auto& entry : node) {
    std::string key = entry.first.as<std::string>();
    if (allowed.count(key) == 0) {
      Fail(entry.first, field + "." + key,
           "unknown key '" + key + "': expected one of " + JoinKeys(allowed));
    }
  }
}

std::string Scalar(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) Fail(node, field, "expected a single value");
  return node.Scalar();
}

template <typename Parse>
int64_t Quantity(const YAML::Node& node, const std::string& field, Parse parse) {
  auto value = parse(Scalar(node, field));
  if (!value) Fail(node, field, value.error().message);
  if (*value < 0) Fail(node, field, "must not be negative");
  return *value;
}

int64_t Integer(const YAML::Node& node, const std::string& field, int64_t min) {
  std::string text = Scalar(node, field);
  auto milli = ParseMilli(text);
  if (!milli || *milli % 1000 != 0) Fail(node, field, "'" + text + "' is not a whole number");
  int64_t value = *milli / 1000;
  if (value < min) Fail(node, field, "must be at least " + std::to_string(min));
  return value;
}

bool Bool(const YAML::Node& node, const std::string& field) {
  std::string text = Scalar(node, field);
  if (text == "true") return true;
  if (text == "false") return false;
  Fail(node, field, "'" + text + "' is not true or false");
}

std::map<std::string, std::string> StringMap(const YAML::Node& node, const std::string& field) {
  RequireMap(node, field);
  std::map<std::string, std::string> out;
  for (const auto& entry : node) {
    std::string key = entry.first.as<std::string>();
    out[key] = Scalar(entry.second, field + "." + key);
  }
  return out;
}

std::vector<std::string> StringList(const YAML::Node& node, const std::string& field) {
  if (!node.IsSequence()) Fail(node, field, "expected a list like [A100, H100]");
  std::vector<std::string> out;
  for (const auto& item : node) out.push_back(Scalar(item, field));
  return out;
}

// A resource map: {gpu: 2, gpu_memory: 80Gi, cpu: 8, memory: 64Gi} and, in
// quotas, gpu_models: {H100: 4}; in deserved quotas, gpu defaults to the
// models' sum (`total_from_models`).
void ReadResources(const YAML::Node& node, const std::string& field, core::Resources& out,
                   std::map<std::string, int64_t>* by_model, bool total_from_models = true) {
  std::set<std::string> keys = {"gpu", "gpu_memory", "cpu", "memory"};
  if (by_model != nullptr) keys.insert("gpu_models");
  CheckKeys(node, field, keys);
  if (node["gpu"]) out[Resource::kGpu] = Quantity(node["gpu"], field + ".gpu", ParseMilli);
  if (node["gpu_memory"]) {
    out[Resource::kGpuMemory] = Quantity(node["gpu_memory"], field + ".gpu_memory", ParseMebibytes);
  }
  if (node["cpu"]) out[Resource::kCpu] = Quantity(node["cpu"], field + ".cpu", ParseMillicores);
  if (node["memory"]) {
    out[Resource::kMemory] = Quantity(node["memory"], field + ".memory", ParseMebibytes);
  }
  if (by_model != nullptr && node["gpu_models"]) {
    RequireMap(node["gpu_models"], field + ".gpu_models");
    int64_t sum = 0;
    for (const auto& entry : node["gpu_models"]) {
      std::string model = entry.first.as<std::string>();
      int64_t milli = Quantity(entry.second, field + ".gpu_models." + model, ParseMilli);
      (*by_model)[model] = milli;
      sum += milli;
    }
    if (!node["gpu"] && total_from_models) out[Resource::kGpu] = sum;
  }
}

class Loader {
 public:
  explicit Loader(std::string file) : file_(std::move(file)) {}

  Scenario Load(const YAML::Node& root) {
    CheckKeys(root, "scenario",
              {"name", "nodes", "queues", "workloads", "expect", "config", "description"});
    Scenario s;
    s.file = file_;
    if (!root["name"]) Fail(root, "name", "missing: every scenario needs a name");
    s.name = Scalar(root["name"], "name");
    s.snapshot.now = kScenarioStart;
    if (root["config"]) ReadConfig(root["config"], s);
    if (!root["nodes"] || !root["nodes"].IsSequence() || root["nodes"].size() == 0) {
      Fail(root["nodes"] ? root["nodes"] : root, "nodes", "give a list of at least one node");
    }
    for (const auto& n : root["nodes"]) ReadNode(n, s.snapshot);
    if (!root["queues"] || !root["queues"].IsSequence()) {
      Fail(root["queues"] ? root["queues"] : root, "queues", "give a list of queues");
    }
    for (const auto& q : root["queues"]) ReadQueue(q, s.snapshot);
    if (root["workloads"]) {
      if (!root["workloads"].IsSequence()) Fail(root["workloads"], "workloads", "expected a list");
      for (const auto& w : root["workloads"]) ReadWorkload(w, s.snapshot);
    }
    if (root["expect"]) ReadExpect(root["expect"], s);
    return s;
  }

  // The line a core validation error's field refers to.
  int LineFor(const std::string& field) const {
    std::string key = field;
    while (!key.empty()) {
      auto it = lines_.find(key);
      if (it != lines_.end()) return it->second;
      auto slash = key.rfind('/');
      if (slash == std::string::npos) break;
      key = key.substr(0, slash);
    }
    return 1;
  }

 private:
  void Remember(const std::string& base, const YAML::Node& node) {
    lines_[base] = LineOf(node);
    for (const auto& entry : node) {
      lines_[base + "/" + entry.first.as<std::string>()] = LineOf(entry.first);
    }
  }

  void ReadConfig(const YAML::Node& node, Scenario& s) {
    CheckKeys(node, "config",
              {"actions", "stale_gang_grace", "reservation_after", "max_reservations",
               "min_runtime", "consolidation_max_moves", "cycle_interval"});
    auto& c = s.config;
    if (node["actions"]) {
      c.actions = StringList(node["actions"], "config.actions");
      for (const auto& a : c.actions) {
        bool known = false;
        for (const auto& k : sched::KnownActions()) known = known || k == a;
        std::string all;
        for (const auto& k : sched::KnownActions()) all += (all.empty() ? "" : ", ") + k;
        if (!known)
          Fail(node["actions"], "config.actions", "unknown action '" + a + "': use " + all);
      }
    }
    if (node["stale_gang_grace"]) {
      c.stale_gang_grace =
          Quantity(node["stale_gang_grace"], "config.stale_gang_grace", ParseDurationMs);
    }
    if (node["reservation_after"]) {
      c.reservation_after =
          Quantity(node["reservation_after"], "config.reservation_after", ParseDurationMs);
    }
    if (node["max_reservations"]) {
      c.max_reservations =
          static_cast<int32_t>(Integer(node["max_reservations"], "config.max_reservations", 0));
    }
    if (node["min_runtime"]) {
      c.min_runtime = Quantity(node["min_runtime"], "config.min_runtime", ParseDurationMs);
    }
    if (node["consolidation_max_moves"]) {
      c.consolidation_max_moves = static_cast<int32_t>(
          Integer(node["consolidation_max_moves"], "config.consolidation_max_moves", 0));
    }
    if (node["cycle_interval"]) {
      s.cycle_interval = Quantity(node["cycle_interval"], "config.cycle_interval", ParseDurationMs);
    }
  }

  void ReadNode(const YAML::Node& node, core::Snapshot& snap) {
    CheckKeys(node, "nodes[]",
              {"name", "gpus", "gpu_model", "gpu_memory", "cpu", "memory", "pool", "labels"});
    core::NodeSpec spec;
    if (!node["name"]) Fail(node, "nodes[].name", "missing: every node needs a name");
    spec.name = Scalar(node["name"], "nodes[].name");
    std::string f = "node '" + spec.name + "'";
    Remember("nodes/" + spec.name, node);
    int64_t gpus = node["gpus"] ? Integer(node["gpus"], f + ".gpus", 0) : 0;
    std::string model = node["gpu_model"] ? Scalar(node["gpu_model"], f + ".gpu_model") : "gpu";
    int64_t gpu_memory = node["gpu_memory"]
                             ? Quantity(node["gpu_memory"], f + ".gpu_memory", ParseMebibytes)
                             : 80 * 1024;
    if (gpus > 0 && gpu_memory == 0) Fail(node["gpu_memory"], f + ".gpu_memory", "must be > 0");
    spec.cpu_milli = node["cpu"] ? Quantity(node["cpu"], f + ".cpu", ParseMillicores) : 64000;
    spec.memory_mib =
        node["memory"] ? Quantity(node["memory"], f + ".memory", ParseMebibytes) : 512 * 1024;
    if (node["pool"]) spec.pool = Scalar(node["pool"], f + ".pool");
    if (node["labels"]) spec.labels = StringMap(node["labels"], f + ".labels");
    for (int64_t g = 0; g < gpus; ++g) {
      spec.gpus.push_back({static_cast<int32_t>(g), "GPU-" + spec.name + "-" + std::to_string(g),
                           model, gpu_memory});
    }
    node_index_[spec.name] = static_cast<uint32_t>(snap.nodes.size());
    snap.nodes.push_back(std::move(spec));
  }

  void ReadQueue(const YAML::Node& node, core::Snapshot& snap) {
    CheckKeys(node, "queues[]", {"name", "parent", "deserved", "limit", "weight", "priority"});
    core::QueueSpec q;
    if (!node["name"]) Fail(node, "queues[].name", "missing: every queue needs a name");
    q.name = Scalar(node["name"], "queues[].name");
    std::string f = "queue '" + q.name + "'";
    Remember("queues/" + q.name, node);
    if (node["parent"]) q.parent = Scalar(node["parent"], f + ".parent");
    if (node["deserved"]) {
      ReadResources(node["deserved"], f + ".deserved", q.deserved, &q.deserved_gpu_by_model);
    }
    if (node["limit"]) {
      core::Resources given = core::Resources::Uniform(-1);
      ReadResources(node["limit"], f + ".limit", given, &q.limit_gpu_by_model, false);
      for (Resource r : core::kAllResources) {
        if (given[r] >= 0) q.limit[r] = given[r];
      }
    }
    if (node["weight"]) {
      q.weight = core::Resources::Uniform(Integer(node["weight"], f + ".weight", 0));
    }
    if (node["priority"]) {
      q.priority = static_cast<int32_t>(Integer(node["priority"], f + ".priority", 0));
    }
    snap.queues.push_back(std::move(q));
  }

  void ReadWorkload(const YAML::Node& node, core::Snapshot& snap) {
    CheckKeys(
        node, "workloads[]",
        {"name",  "queue",      "kind",        "priority",      "preemptible", "tasks",    "min",
         "gpu",   "gpu_memory", "cpu",         "memory",        "gpu_models",  "topology", "age",
         "state", "placement",  "running_for", "node_selector", "max_runtime", "pools"});
    core::Workload w;
    auto& spec = w.spec;
    if (!node["name"]) Fail(node, "workloads[].name", "missing: every workload needs a name");
    spec.name = Scalar(node["name"], "workloads[].name");
    std::string f = "workload '" + spec.name + "'";
    Remember("workloads/" + spec.name, node);
    if (!node["queue"]) Fail(node, f + ".queue", "missing: give the leaf queue it belongs to");
    spec.queue = Scalar(node["queue"], f + ".queue");
    if (node["kind"]) {
      auto kind = core::ParseWorkloadKind(Scalar(node["kind"], f + ".kind"));
      if (!kind) {
        Fail(node["kind"], f + ".kind",
             "unknown kind: use training, interactive, inference or distributed");
      }
      spec.kind = *kind;
    }
    core::KindDefaults defaults = core::DefaultsFor(spec.kind);
    spec.priority = node["priority"]
                        ? static_cast<int32_t>(Integer(node["priority"], f + ".priority", 0))
                        : defaults.priority;
    spec.preemptible =
        node["preemptible"] ? Bool(node["preemptible"], f + ".preemptible") : defaults.preemptible;
    spec.tasks = node["tasks"] ? static_cast<int32_t>(Integer(node["tasks"], f + ".tasks", 1)) : 1;
    spec.min_tasks =
        node["min"] ? static_cast<int32_t>(Integer(node["min"], f + ".min", 1)) : spec.tasks;
    if (spec.min_tasks > spec.tasks) {
      Fail(node["min"], f + ".min",
           "min " + std::to_string(spec.min_tasks) + " is more than tasks " +
               std::to_string(spec.tasks) + ": use 1 to tasks");
    }
    auto& req = spec.request;
    if (node["gpu"]) {
      req.gpu_milli = Quantity(node["gpu"], f + ".gpu", ParseMilli);
      if (req.gpu_milli > core::kMilliPerGpu && req.gpu_milli % core::kMilliPerGpu != 0) {
        Fail(node["gpu"], f + ".gpu",
             "a fraction lives on one GPU: ask for whole GPUs (1, 2, 8) or a fraction below 1");
      }
    }
    if (node["gpu_memory"]) {
      if (node["gpu"]) {
        Fail(node["gpu_memory"], f + ".gpu_memory",
             "give either gpu or gpu_memory per task, not both");
      }
      req.gpu_memory_mib = Quantity(node["gpu_memory"], f + ".gpu_memory", ParseMebibytes);
    }
    if (node["cpu"]) req.cpu_milli = Quantity(node["cpu"], f + ".cpu", ParseMillicores);
    if (node["memory"]) req.memory_mib = Quantity(node["memory"], f + ".memory", ParseMebibytes);
    if (node["gpu_models"]) spec.gpu_models = StringList(node["gpu_models"], f + ".gpu_models");
    if (node["node_selector"]) {
      spec.node_selector = StringMap(node["node_selector"], f + ".node_selector");
    }
    if (node["pools"]) spec.pools = StringList(node["pools"], f + ".pools");
    if (node["topology"]) {
      CheckKeys(node["topology"], f + ".topology", {"required", "preferred"});
      if (node["topology"]["required"]) {
        spec.topology.required = Scalar(node["topology"]["required"], f + ".topology.required");
      }
      if (node["topology"]["preferred"]) {
        spec.topology.preferred = Scalar(node["topology"]["preferred"], f + ".topology.preferred");
      }
    }
    if (node["max_runtime"]) {
      spec.max_runtime = Quantity(node["max_runtime"], f + ".max_runtime", ParseDurationMs);
    }
    core::Duration age = node["age"] ? Quantity(node["age"], f + ".age", ParseDurationMs) : 0;
    spec.submitted_at = snap.now - age;
    core::Duration running_for =
        node["running_for"] ? Quantity(node["running_for"], f + ".running_for", ParseDurationMs)
                            : age;
    w.tasks.resize(static_cast<size_t>(spec.tasks));
    std::string state = node["state"] ? Scalar(node["state"], f + ".state") : "pending";
    if (state != "pending" && state != "running") {
      Fail(node["state"], f + ".state", "unknown state '" + state + "': use pending or running");
    }
    if (state == "pending" && node["placement"]) {
      Fail(node["placement"], f + ".placement",
           "a pending workload has no placement: set state: running or remove placement");
    }
    if (state == "running") {
      if (!node["placement"] || !node["placement"].IsSequence() || node["placement"].size() == 0) {
        Fail(node, f + ".placement",
             "a running workload needs placement: one {node, gpus} entry per task");
      }
      const YAML::Node& list = node["placement"];
      if (list.size() > static_cast<size_t>(spec.tasks)) {
        Fail(list, f + ".placement",
             std::to_string(list.size()) + " placements for " + std::to_string(spec.tasks) +
                 " tasks: give one entry per task");
      }
      for (size_t t = 0; t < list.size(); ++t) {
        const YAML::Node& p = list[t];
        CheckKeys(p, f + ".placement[]", {"node", "gpus"});
        if (!p["node"]) Fail(p, f + ".placement[].node", "missing: name the node");
        std::string node_name = Scalar(p["node"], f + ".placement[].node");
        auto it = node_index_.find(node_name);
        if (it == node_index_.end()) {
          Fail(p["node"], f + ".placement[].node",
               "node '" + node_name + "' does not exist: use one of the nodes above");
        }
        core::Placement placement{it->second, {}};
        if (p["gpus"]) {
          if (!p["gpus"].IsSequence()) Fail(p["gpus"], f + ".placement[].gpus", "expected a list");
          for (const auto& g : p["gpus"]) {
            placement.gpus.push_back(static_cast<int32_t>(Integer(g, f + ".placement[].gpus", 0)));
          }
        }
        w.tasks[t].placement = std::move(placement);
        w.tasks[t].running_since = snap.now - running_for;
      }
      if (w.PlacedTasks() < spec.min_tasks) w.below_min_since = snap.now;
    }
    snap.workloads.push_back(std::move(w));
  }

  void ReadExpect(const YAML::Node& node, Scenario& s) {
    CheckKeys(node, "expect",
              {"rounds", "stable_rounds", "workloads", "binds", "evictions", "fair_share"});
    auto& e = s.expect;
    if (node["rounds"])
      e.rounds = static_cast<int32_t>(Integer(node["rounds"], "expect.rounds", 1));
    if (node["stable_rounds"]) {
      e.stable_rounds =
          static_cast<int32_t>(Integer(node["stable_rounds"], "expect.stable_rounds", 0));
    }
    if (node["binds"]) e.binds = Integer(node["binds"], "expect.binds", 0);
    if (node["evictions"]) e.evictions = Integer(node["evictions"], "expect.evictions", 0);
    std::set<std::string> workload_names;
    for (const auto& w : s.snapshot.workloads) workload_names.insert(w.spec.name);
    std::set<std::string> queue_names;
    for (const auto& q : s.snapshot.queues) queue_names.insert(q.name);
    if (node["workloads"]) {
      RequireMap(node["workloads"], "expect.workloads");
      for (const auto& entry : node["workloads"]) {
        WorkloadExpectation we;
        we.workload = entry.first.as<std::string>();
        we.line = LineOf(entry.first);
        std::string f = "expect.workloads." + we.workload;
        if (workload_names.count(we.workload) == 0) {
          Fail(entry.first, f, "no workload is called '" + we.workload + "'");
        }
        const YAML::Node& v = entry.second;
        CheckKeys(v, f, {"status", "node", "gpus", "nodes", "reason_contains"});
        if (v["status"]) {
          we.status = Scalar(v["status"], f + ".status");
          if (*we.status != "running" && *we.status != "pending" && *we.status != "partial") {
            Fail(v["status"], f + ".status", "use running, pending or partial");
          }
        }
        if (v["node"]) we.node = Scalar(v["node"], f + ".node");
        if (v["gpus"]) {
          if (!v["gpus"].IsSequence()) Fail(v["gpus"], f + ".gpus", "expected a list");
          we.gpus.emplace();
          for (const auto& g : v["gpus"]) {
            we.gpus->push_back(static_cast<int32_t>(Integer(g, f + ".gpus", 0)));
          }
        }
        if (v["nodes"]) we.nodes = StringList(v["nodes"], f + ".nodes");
        if (v["reason_contains"]) {
          we.reason_contains = Scalar(v["reason_contains"], f + ".reason_contains");
        }
        e.workloads.push_back(std::move(we));
      }
    }
    if (node["fair_share"]) {
      RequireMap(node["fair_share"], "expect.fair_share");
      for (const auto& entry : node["fair_share"]) {
        FairShareExpectation fe;
        fe.queue = entry.first.as<std::string>();
        fe.line = LineOf(entry.first);
        std::string f = "expect.fair_share." + fe.queue;
        if (queue_names.count(fe.queue) == 0) {
          Fail(entry.first, f, "no queue is called '" + fe.queue + "'");
        }
        core::Resources given = core::Resources::Uniform(-1);
        ReadResources(entry.second, f, given, &fe.gpu_by_model);
        for (Resource r : core::kAllResources) {
          if (given[r] >= 0) fe.amounts[r] = given[r];
        }
        if (entry.second["gpu_models"] && !entry.second["gpu"]) {
          fe.amounts.erase(Resource::kGpu);
        }
        e.fair_share.push_back(std::move(fe));
      }
    }
  }

  std::string file_;
  std::unordered_map<std::string, uint32_t> node_index_;
  std::unordered_map<std::string, int> lines_;
};

Error At(const std::string& file, int line, const std::string& field, const std::string& msg) {
  return Error{file + ":" + std::to_string(line) + ": " + field + ": " + msg, field};
}

}  // namespace

Result<Scenario> LoadScenarioText(const std::string& text, const std::string& file) {
  Loader loader(file);
  Scenario scenario;
  try {
    YAML::Node root = YAML::Load(text);
    scenario = loader.Load(root);
  } catch (const LoadError& e) {
    return At(file, e.line, e.field, e.message);
  } catch (const YAML::Exception& e) {
    return At(file, e.mark.line + 1, "yaml", e.msg);
  }
  if (auto status = core::ValidateSnapshot(scenario.snapshot); !status) {
    return At(file, loader.LineFor(status.error().field), status.error().field,
              status.error().message);
  }
  return scenario;
}

Result<Scenario> LoadScenarioFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{path + ": cannot be read: check the path", "file"};
  std::stringstream buffer;
  buffer << in.rdbuf();
  return LoadScenarioText(buffer.str(), path);
}

}  // namespace allot::scenario

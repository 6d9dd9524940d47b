// The quota tree's queues on the wire (departments and projects): their
// resources per kind and GPU model, the idle rule and a project's host
// grants (docs/api.md). Declared in resources.h.
#include "common/quantity.h"
#include "wire/json_reader.h"
#include "wire/resources.h"

namespace allot::wire {
namespace {

using core::Resource;
using core::Resources;
using nlohmann::json;

// Reads deserved GPUs per model, {"H100": 4, "A100": "8"}, into `out`.
Status ReadGpuModels(const json& object, const std::string& field,
                     std::map<std::string, int64_t>& out) {
  if (!object.is_object()) {
    return Error::Coded("invalid",
                        field + ": expected an object of model: GPUs, like {\"H100\": 4}", field);
  }
  out.clear();
  for (const auto& [model, amount] : object.items()) {
    std::string text = amount.is_string() ? amount.get<std::string>() : amount.dump();
    Result<int64_t> milli =
        amount.is_string() || amount.is_number() ? ParseMilli(text) : Result<int64_t>(-1);
    if (model.empty() || !milli || *milli < 0) {
      return Error::Coded("invalid",
                          field + "." + model + ": '" + text +
                              "' is not a number of GPUs: use 0 or more, like 4 or 0.5",
                          field + "." + model);
    }
    out[model] = *milli;
  }
  return Status::Ok();
}

// Reads {gpu, gpu_memory, cpu, memory} into `out`; absent entries keep
// their value. With `by_model`, also gpu_models (deserved GPUs per model),
// whose sum `gpu` defaults to.
Status ReadResources(const json& object, const std::string& prefix, Resources& out,
                     std::map<std::string, int64_t>* by_model = nullptr,
                     bool total_from_models = true) {
  JsonReader reader(object, prefix);
  if (by_model != nullptr) {
    if (const json* models = reader.Find("gpu_models")) {
      if (Status s = ReadGpuModels(*models, prefix + "gpu_models", *by_model); !s) return s;
      int64_t sum = 0;
      for (const auto& [model, milli] : *by_model) sum += milli;
      if (!reader.Find("gpu") && total_from_models) out[Resource::kGpu] = sum;
    }
  }
  if (Status s = reader.Quantity("gpu", out[Resource::kGpu], ParseMilli); !s) return s;
  if (Status s = reader.Quantity("gpu_memory", out[Resource::kGpuMemory], ParseMebibytes); !s) {
    return s;
  }
  if (Status s = reader.Quantity("cpu", out[Resource::kCpu], ParseMillicores); !s) return s;
  if (Status s = reader.Quantity("memory", out[Resource::kMemory], ParseMebibytes); !s) return s;
  const char* keys[] = {"gpu", "gpu_memory", "cpu", "memory"};
  for (Resource r : core::kAllResources) {
    if (out[r] < 0) {
      std::string field = prefix + keys[static_cast<int>(r)];
      return Error::Coded("invalid", field + " must not be negative", field);
    }
  }
  return reader.Finish();
}

json EncodeResources(const Resources& amounts, bool skip_unlimited) {
  json out = json::object();
  auto put = [&](const char* key, Resource r, std::string (*format)(int64_t)) {
    if (skip_unlimited && amounts[r] >= core::kUnlimited) return;
    out[key] = format(amounts[r]);
  };
  put("gpu", Resource::kGpu, FormatMilli);
  put("gpu_memory", Resource::kGpuMemory, FormatMebibytes);
  put("cpu", Resource::kCpu, FormatMillicores);
  put("memory", Resource::kMemory, FormatMebibytes);
  return out;
}

}  // namespace

core::QueueSpec SchedulerQueue(core::QueueSpec spec, bool is_project) {
  if (!is_project) spec.name = "department/" + spec.name;
  if (!spec.parent.empty()) spec.parent = "department/" + spec.parent;
  return spec;
}

// {"after": "30m", "action": "stop" | "preempt"}
static Result<IdleRule> ReadIdleRule(const json& body) {
  JsonReader reader(body, "idle_interactive.");
  IdleRule rule;
  std::string after;
  if (Status s = reader.String("after", after, true); !s) return s.error();
  std::string action = "stop";
  if (Status s = reader.String("action", action); !s) return s.error();
  if (Status s = reader.Finish(); !s) return s.error();
  Result<int64_t> ms = ParseDurationMs(after);
  if (!ms || *ms < 60000 || *ms > 30LL * 86400000) {
    return Error::Coded("invalid",
                        "idle_interactive.after: '" + after +
                            "' is not a duration from 1m to 30d: use a form like 30m or 2h",
                        "idle_interactive.after");
  }
  rule.after_ms = *ms;
  rule.action = action == "preempt" ? IdleAction::kPreempt : IdleAction::kStop;
  if (action != "stop" && action != "preempt") {
    return Error::Coded("invalid",
                        "idle_interactive.action: use stop (end the workload) or preempt (make "
                        "it preemptible)",
                        "idle_interactive.action");
  }
  return rule;
}

Result<QueueResource> DecodeQueue(const json& body, bool is_project) {
  JsonReader reader(body);
  QueueResource queue;
  core::QueueSpec& spec = queue.spec;
  if (Status s = reader.String("name", spec.name, true); !s) return s.error();
  if (Status s = CheckName(spec.name); !s) return s.error();
  if (is_project) {
    if (Status s = reader.String("department", spec.parent, true); !s) return s.error();
    if (Status s = CheckName(spec.parent, "department"); !s) return s.error();
  } else {
    // A department inside another: the quota tree has any depth.
    if (Status s = reader.String("parent", spec.parent); !s) return s.error();
    if (!spec.parent.empty()) {
      if (Status s = CheckName(spec.parent, "parent"); !s) return s.error();
      if (spec.parent == spec.name) {
        return Error::Coded("invalid", "parent: a department cannot be its own parent", "parent");
      }
    }
  }
  auto deserved = reader.Object("deserved");
  if (!deserved) return deserved.error();
  if (*deserved) {
    if (Status s =
            ReadResources(**deserved, "deserved.", spec.deserved, &spec.deserved_gpu_by_model);
        !s) {
      return s.error();
    }
  }
  auto limit = reader.Object("limit");
  if (!limit) return limit.error();
  if (*limit) {
    if (Status s = ReadResources(**limit, "limit.", spec.limit, &spec.limit_gpu_by_model, false);
        !s) {
      return s.error();
    }
  }
  int64_t weight = 1;
  if (Status s = reader.Int("over_quota_weight", weight, 0, 1000000); !s) return s.error();
  spec.weight = Resources::Uniform(weight);
  if (Status s = reader.Int32("priority", spec.priority, 0, 1000); !s) return s.error();
  auto idle = reader.Object("idle_interactive");
  if (!idle) return idle.error();
  if (*idle) {
    if (!is_project) {
      return Error::Coded("invalid",
                          "idle_interactive: set the idle rule on projects, not departments",
                          "idle_interactive");
    }
    Result<IdleRule> rule = ReadIdleRule(**idle);
    if (!rule) return rule.error();
    queue.idle_interactive = *rule;
  }
  if (is_project) {
    if (Status s = ReadProjectPolicy(reader, queue.policy); !s) return s.error();
  }
  if (Status s = reader.Finish(); !s) return s.error();
  for (Resource r : core::kAllResources) {
    if (spec.deserved[r] > spec.limit[r]) {
      return Error::Coded("invalid", "deserved is above limit: raise the limit or lower deserved",
                          "deserved");
    }
  }
  return queue;
}

json EncodeQueue(const QueueResource& queue, bool is_project) {
  const core::QueueSpec& spec = queue.spec;
  json out = {{"name", spec.name}};
  if (is_project) out["department"] = spec.parent;
  if (!is_project && !spec.parent.empty()) out["parent"] = spec.parent;
  out["deserved"] = EncodeResources(spec.deserved, false);
  auto models_of = [](const std::map<std::string, int64_t>& by_model) {
    json models = json::object();
    for (const auto& [model, milli] : by_model) models[model] = FormatMilli(milli);
    return models;
  };
  if (!spec.deserved_gpu_by_model.empty()) {
    out["deserved"]["gpu_models"] = models_of(spec.deserved_gpu_by_model);
  }
  json limit = EncodeResources(spec.limit, true);
  if (!spec.limit_gpu_by_model.empty()) limit["gpu_models"] = models_of(spec.limit_gpu_by_model);
  if (!limit.empty()) out["limit"] = limit;
  out["over_quota_weight"] = spec.weight[Resource::kGpu];
  out["priority"] = spec.priority;
  if (queue.idle_interactive.after_ms > 0) {
    out["idle_interactive"] = {{"after", FormatDurationMs(queue.idle_interactive.after_ms)},
                               {"action", IdleActionName(queue.idle_interactive.action)}};
  }
  if (is_project) EncodeProjectPolicy(queue.policy, out);
  return out;
}

}  // namespace allot::wire

#include "wire/service.h"

#include <set>

#include "common/quantity.h"
#include "wire/json_reader.h"
#include "wire/resources.h"

namespace allot::wire {
namespace {

using nlohmann::json;

const std::set<std::string>& ServiceFields() {
  static const std::set<std::string> fields = {"name",
                                               "project",
                                               "port",
                                               "ready_path",
                                               "min_replicas",
                                               "max_replicas",
                                               "target_concurrency",
                                               "target_rps",
                                               "stable_window",
                                               "panic_window",
                                               "scale_down_delay",
                                               "scale_to_zero_after",
                                               "public",
                                               "cold_start_timeout"};
  return fields;
}

// The template fields a service may not set: its replicas are one task
// each, of kind inference, and the service owns their port.
Status CheckTemplateFields(const json& body) {
  for (const char* field : {"kind", "workers", "min_workers", "workspace", "preemptible"}) {
    if (body.contains(field)) {
      return Error::Coded("invalid",
                          std::string(field) +
                              ": a service's replicas are inference tasks of one worker each, "
                              "not preemptible: drop " +
                              field,
                          field);
    }
  }
  return Status::Ok();
}

Status ReadDuration(JsonReader& reader, const char* key, int64_t& out, int64_t min_ms,
                    int64_t max_ms) {
  if (Status s = reader.Quantity(key, out, ParseDurationMs); !s) return s;
  if (out < min_ms || out > max_ms) {
    return Error::Coded("invalid",
                        std::string(key) + ": give a duration from " + FormatDurationMs(min_ms) +
                            " to " + FormatDurationMs(max_ms) + " (\"30s\", \"5m\")",
                        key);
  }
  return Status::Ok();
}

// The service's own fields of `body` into `service`; `creating` requires
// name, project and port.
Status ReadServiceFields(const json& body, ServiceResource& service, bool creating) {
  json own = json::object();
  for (const auto& [key, value] : body.items()) {
    if (IsServiceField(key)) own[key] = value;
  }
  JsonReader reader(own);
  std::string name = service.name;
  std::string project = service.project;
  if (Status s = reader.String("name", name, creating); !s) return s;
  if (Status s = reader.String("project", project, creating); !s) return s;
  if (creating) {
    if (Status s = CheckName(name); !s) return s;
    if (name.size() > 56) {
      return Error::Coded("invalid",
                          "name: at most 56 characters for a service (its replicas' names add "
                          "7)",
                          "name");
    }
    if (Status s = CheckName(project, "project"); !s) return s;
  } else if (name != service.name || project != service.project) {
    return Error::Coded("invalid",
                        name != service.name ? "name: a service keeps its name"
                                             : "project: a service keeps its project",
                        name != service.name ? "name" : "project");
  }
  service.name = name;
  service.project = project;
  if (Status s = reader.Int32("port", service.port, 1, 65535); !s) return s;
  if (creating && service.port == 0) {
    return Error::Coded("invalid", "port: give the port the server listens on (1 to 65535)",
                        "port");
  }
  if (Status s = reader.String("ready_path", service.ready_path); !s) return s;
  if (!service.ready_path.empty() && service.ready_path.front() != '/') {
    return Error::Coded("invalid", "ready_path: give a path that starts with '/' (\"/health\")",
                        "ready_path");
  }
  for (char c : service.ready_path) {
    if (c <= ' ' || c == 0x7f) {
      return Error::Coded("invalid", "ready_path: no spaces or control characters", "ready_path");
    }
  }
  AutoscaleSpec& scale = service.autoscale;
  if (Status s = reader.Int32("min_replicas", scale.min_replicas, -1000000, 1000); !s) return s;
  if (Status s = reader.Int32("max_replicas", scale.max_replicas, -1000000, 1000); !s) return s;
  if (scale.min_replicas < 0) {
    return Error::Coded("invalid", "min_replicas: give 0 or more (0 scales to zero)",
                        "min_replicas");
  }
  if (scale.max_replicas < 1) {
    return Error::Coded("invalid", "max_replicas: give 1 or more", "max_replicas");
  }
  if (scale.min_replicas > scale.max_replicas) {
    return Error::Coded("invalid",
                        "min_replicas: " + std::to_string(scale.min_replicas) +
                            " is above max_replicas " + std::to_string(scale.max_replicas) +
                            ": lower min_replicas or raise max_replicas",
                        "min_replicas");
  }
  if (own.contains("target_concurrency") && own.contains("target_rps")) {
    return Error::Coded("invalid", "give target_concurrency or target_rps, not both", "target_rps");
  }
  if (own.contains("target_concurrency")) {
    scale.metric = ScaleMetric::kConcurrency;
    if (Status s = reader.Int32("target_concurrency", scale.target, 1, 100000); !s) return s;
  }
  if (own.contains("target_rps")) {
    scale.metric = ScaleMetric::kRequestsPerSecond;
    if (Status s = reader.Int32("target_rps", scale.target, 1, 1000000); !s) return s;
  }
  constexpr int64_t kDay = 86400000;
  if (Status s = ReadDuration(reader, "stable_window", scale.stable_window_ms, 2000, 3600000); !s) {
    return s;
  }
  if (Status s = ReadDuration(reader, "panic_window", scale.panic_window_ms, 1000, 3600000); !s) {
    return s;
  }
  if (scale.panic_window_ms > scale.stable_window_ms) {
    return Error::Coded("invalid", "panic_window: give at most the stable window", "panic_window");
  }
  if (Status s = ReadDuration(reader, "scale_down_delay", scale.scale_down_delay_ms, 0, kDay); !s) {
    return s;
  }
  if (Status s = ReadDuration(reader, "scale_to_zero_after", scale.scale_to_zero_after_ms, 1000,
                              30 * kDay);
      !s) {
    return s;
  }
  if (Status s =
          ReadDuration(reader, "cold_start_timeout", service.cold_start_timeout_ms, 1000, 3600000);
      !s) {
    return s;
  }
  if (Status s = reader.Bool("public", service.is_public); !s) return s;
  return reader.Finish();
}

}  // namespace

bool IsServiceField(const std::string& key) {
  return ServiceFields().count(key) > 0;
}

Result<ServiceResource> DecodeServiceSubmission(const json& body) {
  ServiceResource service;
  if (Status s = ReadServiceFields(body, service, true); !s) return s.error();
  if (Status s = CheckTemplateFields(body); !s) return s.error();
  for (const auto& [key, value] : body.items()) {
    if (!IsServiceField(key)) service.replica_template[key] = value;
  }
  return service;
}

Status ApplyServiceUpdate(ServiceResource& service, const json& body, bool& template_changed) {
  ServiceResource updated = service;
  if (Status s = ReadServiceFields(body, updated, false); !s) return s;
  if (Status s = CheckTemplateFields(body); !s) return s;
  bool merged = false;
  for (const auto& [key, value] : body.items()) {
    if (IsServiceField(key)) continue;
    merged = true;
    if (value.is_null()) {
      updated.replica_template.erase(key);
    } else {
      updated.replica_template[key] = value;
    }
  }
  template_changed =
      merged || updated.port != service.port || updated.ready_path != service.ready_path;
  service = std::move(updated);
  return Status::Ok();
}

Result<ServiceResource> DecodeStoredService(const std::string& body) {
  json parsed = json::parse(body, nullptr, false);
  if (!parsed.is_object()) return Error::Coded("internal", "stored service is not JSON");
  ServiceResource service;
  json own = parsed;
  for (const char* server_field :
       {"owner", "generation", "created_ms", "replica_template", "replica_workload"}) {
    own.erase(server_field);
  }
  if (Status s = ReadServiceFields(own, service, true); !s) return s.error();
  service.owner = parsed.value("owner", "");
  service.generation = parsed.value("generation", int64_t{1});
  service.created_ms = parsed.value("created_ms", int64_t{0});
  service.replica_template = parsed.value("replica_template", json::object());
  service.replica_workload = parsed.value("replica_workload", json::object());
  return service;
}

json EncodeService(const ServiceResource& service) {
  const AutoscaleSpec& scale = service.autoscale;
  json out = {{"name", service.name},
              {"project", service.project},
              {"port", service.port},
              {"ready_path", service.ready_path},
              {"min_replicas", scale.min_replicas},
              {"max_replicas", scale.max_replicas},
              {"stable_window", FormatDurationMs(scale.stable_window_ms)},
              {"panic_window", FormatDurationMs(scale.panic_window_ms)},
              {"scale_down_delay", FormatDurationMs(scale.scale_down_delay_ms)},
              {"scale_to_zero_after", FormatDurationMs(scale.scale_to_zero_after_ms)},
              {"cold_start_timeout", FormatDurationMs(service.cold_start_timeout_ms)},
              {"public", service.is_public},
              {"replica_template", service.replica_template},
              {"replica_workload", service.replica_workload},
              {"owner", service.owner},
              {"generation", service.generation},
              {"created_ms", service.created_ms}};
  out[scale.metric == ScaleMetric::kConcurrency ? "target_concurrency" : "target_rps"] =
      scale.target;
  return out;
}

std::string ServicePath(const std::string& project, const std::string& name) {
  return "/serve/" + project + "/" + name + "/";
}

}  // namespace allot::wire

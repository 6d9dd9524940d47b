// An inference service (docs/serving.md): replicas of one command, served
// by the gateway at /serve/<project>/<name>/, autoscaled on the load the
// gateway measures. The service is what a user writes; the serving
// controller (server/serving_controller.h) makes its replicas as workloads
// (wire/replica.h) from the service's replica template.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "common/result.h"

namespace allot::wire {

enum class ScaleMetric { kConcurrency, kRequestsPerSecond };

// When the autoscaler adds and removes replicas (as Knative's KPA).
struct AutoscaleSpec {
  int32_t min_replicas = 1;
  int32_t max_replicas = 10;
  ScaleMetric metric = ScaleMetric::kConcurrency;
  int32_t target = 4;  // in-flight requests, or requests per second, per replica
  int64_t stable_window_ms = 60000;
  // Load above twice the target over this window scales out at once.
  int64_t panic_window_ms = 6000;
  // A lower replica count is taken only once it has held this long.
  int64_t scale_down_delay_ms = 0;
  // With min_replicas 0: no requests for this long scales to zero.
  int64_t scale_to_zero_after_ms = 300000;
  friend bool operator==(const AutoscaleSpec&, const AutoscaleSpec&) = default;
};

struct ServiceResource {
  std::string name;
  std::string project;
  int32_t port = 0;        // where a replica listens (a host replica: PORT)
  std::string ready_path;  // "": ready once the port accepts connections
  AutoscaleSpec autoscale;
  // Anyone may call it, without a token (set by a project admin).
  bool is_public = false;
  // A request that finds no ready replica waits this long for one.
  int64_t cold_start_timeout_ms = 60000;
  // The replicas' workload fields (gpu, gpu_memory, cpu, memory, image,
  // command, env, ...) as the user gave them; an update merges into it.
  nlohmann::json replica_template = nlohmann::json::object();
  // Set by the server: the template as a stored workload, checked, with the
  // identity its tasks run as; the controller makes replicas from it.
  nlohmann::json replica_workload = nlohmann::json::object();
  std::string owner;
  int64_t generation = 1;  // raised when what the replicas run changes
  int64_t created_ms = 0;
  friend bool operator==(const ServiceResource&, const ServiceResource&) = default;
};

// Fields of a service that are the service's own; every other field of a
// request goes to the replica template and is checked as a workload's.
bool IsServiceField(const std::string& key);

// A creation: the service's own fields checked, the rest left in
// replica_template as given (the caller checks it as a workload).
Result<ServiceResource> DecodeServiceSubmission(const nlohmann::json& body);
// An update of `service` by `body`'s fields (name and project may repeat,
// not change); replica template fields are merged into the template (null
// removes one). Whether what the replicas run changed is in
// `template_changed` (the caller then checks the template again).
Status ApplyServiceUpdate(ServiceResource& service, const nlohmann::json& body,
                          bool& template_changed);
Result<ServiceResource> DecodeStoredService(const std::string& body);
nlohmann::json EncodeService(const ServiceResource& service);

// The gateway path of a service, with its trailing slash.
std::string ServicePath(const std::string& project, const std::string& name);

}  // namespace allot::wire

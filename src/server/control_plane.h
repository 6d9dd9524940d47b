// The control plane's pieces, wired (architecture.md §1, §6): the store, the
// agents' liveness, the metrics registry, the tasks' GPU use and the
// scheduling loop over them. `allot server` and `allot up` make one and put
// the HTTP API (src/api, api::ApiOptionsFor) in front of it; tests and
// benchmarks may make their own.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "common/result.h"
#include "sched/config.h"
#include "server/leadership.h"
#include "server/node_liveness.h"
#include "server/scheduling_loop.h"
#include "server/service_directory.h"
#include "server/service_traffic.h"
#include "server/serving_controller.h"
#include "server/workload_usage.h"
#include "store/store.h"

namespace allot::server {

struct ControlPlaneOptions {
  std::string store_url;  // store/open_store.h: sqlite:PATH or postgresql://...
  // How long the scheduling loop's lease lasts without a renewal: on a
  // shared store, about how long a lost leader takes to be replaced.
  std::chrono::milliseconds lease_ttl = std::chrono::seconds(5);
  std::function<int64_t()> now_ms;  // wall clock in ms since the epoch
  AgentTimings timings;
  sched::SchedulerConfig scheduler;
  std::chrono::milliseconds history_interval = std::chrono::seconds(60);
};

class ControlPlane {
 public:
  // Opens the store and checks the scheduler's settings; nothing runs yet.
  static Result<std::unique_ptr<ControlPlane>> Open(ControlPlaneOptions options);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  store::Store& store() { return *store_; }
  NodeLiveness& liveness() { return liveness_; }
  MetricsRegistry& metrics() { return metrics_; }
  WorkloadUsage& workload_usage() { return workload_usage_; }
  SchedulingLoop& loop() { return *loop_; }
  // Inference services: where their traffic goes, its load, and the
  // controller that keeps their replicas (docs/serving.md).
  ServiceDirectory& services() { return directory_; }
  ServiceTraffic& service_traffic() { return traffic_; }
  ServingController& serving() { return *serving_; }
  // Whether this server runs the loop now, among those on the store.
  Leadership& leadership() { return *leadership_; }
  const ControlPlaneOptions& options() const { return options_; }

  // Takes part in the election and runs the scheduling loop and the serving
  // controller on their threads: a cycle when woken (Wake(), after every
  // change through the API) and at least every second, while it leads.
  void Start();
  void Wake() { loop_->Wake(); }
  // Stops the loop and gives the lease up; the store stays open until the
  // control plane goes.
  void Stop();

 private:
  ControlPlane(ControlPlaneOptions options, std::unique_ptr<store::Store> store);

  ControlPlaneOptions options_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Leadership> leadership_;
  NodeLiveness liveness_;
  MetricsRegistry metrics_;
  WorkloadUsage workload_usage_;
  std::unique_ptr<SchedulingLoop> loop_;
  ServiceDirectory directory_;
  ServiceTraffic traffic_{&metrics_};
  std::unique_ptr<ServingController> serving_;
};

}  // namespace allot::server

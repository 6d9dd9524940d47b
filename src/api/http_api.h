// The HTTP/JSON API under /api/v1 (docs/api.md, docs/api/openapi.json).
// Every request but /healthz and the OpenAPI document carries a bearer
// token; every mutating request and every refused authentication is
// audited. Errors are {"error": {"code", "message", "field"}} with a 4xx or
// 5xx status, and a refused request changes nothing.
//
// The API only reads and writes the store; the scheduling loop
// (src/server) reads what it wrote. `on_change` tells the loop to look.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "common/result.h"
#include "server/control_plane.h"
#include "server/node_liveness.h"
#include "server/workload_usage.h"
#include "store/store.h"
#include "tunnel/tls.h"

namespace allot::api {

struct ApiOptions {
  int64_t max_body_bytes = 1 << 20;
  std::function<int64_t()> now_ms;  // wall clock in ms since the epoch
  std::function<void()> on_change;  // called after every committed change
  int worker_threads = 128;         // connections served at once
  server::AgentTimings agent_timings;
  // Heartbeats, shared with the scheduling loop (which declares nodes
  // lost); null: the API keeps its own.
  server::NodeLiveness* liveness = nullptr;
  // Where request latencies are recorded and /metrics reads counters and
  // histograms from (the scheduling loop's too); null: the API keeps its own.
  MetricsRegistry* metrics = nullptr;
  // The tasks' GPU use from heartbeats, shared with the scheduling loop
  // (projects' idle rules); null: the API keeps its own.
  server::WorkloadUsage* workload_usage = nullptr;
  // Inference services: where the gateway sends their requests and where
  // it counts them (the serving controller's); null: the API keeps its own.
  server::ServiceDirectory* services = nullptr;
  server::ServiceTraffic* service_traffic = nullptr;
  // The serving controller's view of each service (describe); empty: none.
  std::function<std::map<std::string, server::ServiceState>()> service_states;
  // Whether this server leads the scheduling loop, and which server does
  // (/healthz: {"leading", "leader"}); empty: not said.
  std::function<std::pair<bool, std::string>()> leadership;
  // The server's certificate: connections from other hosts must use TLS
  // (api/front_door.h); null: plain HTTP only.
  tunnel::TlsContextPtr tls;
};

// The options that put the API in front of `plane`: its clock, its agents'
// timings, liveness, metrics and GPU use, and a change that wakes its loop.
ApiOptions ApiOptionsFor(server::ControlPlane& plane);

class HttpApi {
 public:
  HttpApi(store::Store& store, ApiOptions options);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Binds host:port (port 0: any free port) and returns the port.
  Result<int> Bind(const std::string& host, int port);
  // Serves on the bound socket until Stop(); blocks.
  void Serve();
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Creates the first admin user and a token for it when the store has no
// users yet; returns the token text then, or an empty string.
Result<std::string> BootstrapAdmin(store::Store& store, int64_t now_ms);

// Creates the `default` department and project (no quota limits, the given
// deserved GPUs) when the store has no departments yet, so that a newcomer
// can submit at once.
Status BootstrapDefaultProject(store::Store& store, int64_t deserved_gpu_milli = 0);

}  // namespace allot::api

// Where each inference service's traffic may go now (docs/serving.md §2):
// the serving controller publishes, per service, its settings and its
// replicas that are ready (a draining one stays listed, marked, so that its
// in-flight requests finish but no new one starts); the gateway reads it on
// every request and waits on it while a service has no ready replica.
// Thread-safe: one writer (the controller), any readers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace allot::server {

// A ready replica: the task to reach through its node's agent.
struct ServiceEndpoint {
  std::string replica;  // the replica's workload name
  std::string agent;    // the agent of its node
  int32_t attempt = 0;
  bool draining = false;  // finishing its requests; no new ones
  friend bool operator==(const ServiceEndpoint&, const ServiceEndpoint&) = default;
};

struct ServiceRoute {
  std::string name;
  std::string project;
  int32_t port = 0;
  bool is_public = false;
  int64_t cold_start_timeout_ms = 60000;
  std::vector<ServiceEndpoint> endpoints;
  // Why no replica is ready, for a request that waited in vain.
  std::string not_ready_reason;
  friend bool operator==(const ServiceRoute&, const ServiceRoute&) = default;
};

class ServiceDirectory {
 public:
  // Sets every service's route at once (services not in `routes` are
  // gone). Listeners hear of it when anything changed.
  void Publish(std::map<std::string, ServiceRoute> routes);

  // The route of service `name`, or null.
  std::shared_ptr<const ServiceRoute> Find(const std::string& name) const;

  // Called (on the publisher's thread) after each change; keep it short.
  void OnChange(std::function<void()> listener);

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const ServiceRoute>> routes_;
  std::vector<std::function<void()>> listeners_;
};

}  // namespace allot::server

// The load on each inference service as the gateway sees it (docs/serving.md
// §3, §5): requests in flight (held ones included), arrivals, answers by
// status and their latency, per replica in flight (for draining) and cold
// starts. The gateway reports; the autoscaler samples it once a tick; the
// API's describe and /metrics read it. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "server/autoscaler.h"

namespace allot::server {

// Latency bucket bounds in seconds, shared with /metrics.
inline const std::vector<double>& LatencyBounds() {
  static const std::vector<double> bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10,   30};
  return bounds;
}

// What describe shows of a service's traffic.
struct TrafficSummary {
  int64_t in_flight = 0;
  double rps = 0;  // over the last minute
  double p50_seconds = 0;
  double p99_seconds = 0;  // of the last minute's answers
  int64_t requests = 0;    // since the server started
  int64_t errors = 0;      // 5xx answers among them
  int64_t cold_starts = 0;
  double last_cold_start_seconds = 0;
  int64_t last_request_ms = 0;
};

class ServiceTraffic {
 public:
  // `metrics`: where the counters and histograms of /metrics go (may be null).
  explicit ServiceTraffic(MetricsRegistry* metrics);

  // Called when a request arrives at a service with nothing in flight
  // (the controller wakes: a service at zero needs a replica now).
  void OnArrivalAtIdle(std::function<void(const std::string& service)> wake);

  // A request arrived / was answered with `status` after `seconds`.
  void Begin(const std::string& service, int64_t now_ms);
  void End(const std::string& service, int64_t now_ms, int status, double seconds);
  // A request is on replica `replica` / left it.
  void BeginReplica(const std::string& replica);
  void EndReplica(const std::string& replica);
  // A request waited `seconds` for the first ready replica.
  void ColdStart(const std::string& service, double seconds);

  // The tick's sample since the last one (the controller's), and the
  // service's in-flight requests and last arrival.
  LoadSample Sample(const std::string& service, int64_t now_ms, int64_t& in_flight,
                    int64_t& last_request_ms);
  int64_t ReplicaInFlight(const std::string& replica) const;
  TrafficSummary Summary(const std::string& service, int64_t now_ms) const;
  // Forgets a deleted service.
  void Forget(const std::string& service);

 private:
  static constexpr size_t kBuckets = 15;  // LatencyBounds() and +Inf
  struct Minute {
    int64_t second = 0;  // which second of time this slot holds
    int64_t arrivals = 0;
    std::array<int64_t, kBuckets> latency{};
  };
  struct Service {
    int64_t in_flight = 0;
    int64_t last_change_ms = 0;
    double area = 0;  // in-flight x ms since the last sample
    int64_t sample_start_ms = 0;
    int64_t arrivals = 0;  // since the last sample
    int64_t last_request_ms = 0;
    int64_t requests = 0;
    int64_t errors = 0;
    int64_t cold_starts = 0;
    double last_cold_start = 0;
    std::array<Minute, 60> seconds{};  // a ring, one slot per second
  };
  Service& At(const std::string& service, int64_t now_ms);
  void Advance(Service& s, int64_t now_ms);
  static Minute& Slot(Service& s, int64_t now_ms);

  MetricsRegistry* metrics_;
  mutable std::mutex mutex_;
  std::map<std::string, Service> services_;
  std::map<std::string, int64_t> replicas_;
  std::function<void(const std::string&)> wake_;
};

}  // namespace allot::server

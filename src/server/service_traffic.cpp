#include "server/service_traffic.h"

#include <algorithm>

namespace allot::server {
namespace {

const char* kRequests = "allot_service_requests_total";
const char* kLatency = "allot_service_request_duration_seconds";
const char* kColdStarts = "allot_service_cold_starts_total";
const char* kColdStartSeconds = "allot_service_cold_start_duration_seconds";

// The latency at quantile `q` of `buckets`, interpolated within its bucket
// (as Prometheus' histogram_quantile).
double Quantile(const std::array<int64_t, 15>& buckets, double q) {
  int64_t total = 0;
  for (int64_t count : buckets) total += count;
  if (total == 0) return 0;
  double rank = q * static_cast<double>(total);
  int64_t seen = 0;
  const std::vector<double>& bounds = LatencyBounds();
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] > 0 && static_cast<double>(seen + buckets[i]) >= rank) {
      if (i >= bounds.size()) return bounds.back();
      double lower = i == 0 ? 0 : bounds[i - 1];
      double within = (rank - static_cast<double>(seen)) / static_cast<double>(buckets[i]);
      return lower + (bounds[i] - lower) * within;
    }
    seen += buckets[i];
  }
  return bounds.back();
}

}  // namespace

ServiceTraffic::ServiceTraffic(MetricsRegistry* metrics) : metrics_(metrics) {
  if (!metrics_) return;
  metrics_->DeclareCounter(kRequests,
                           "Requests answered through the gateway, per service and status code.",
                           {"service", "code"});
  metrics_->DeclareHistogram(kLatency,
                             "Time from a request's arrival at the gateway to its answer's end.",
                             {"service"}, LatencyBounds());
  metrics_->DeclareCounter(kColdStarts, "Requests that waited for a service's first ready replica.",
                           {"service"});
  metrics_->DeclareHistogram(kColdStartSeconds,
                             "How long a request waited for a service's first ready replica.",
                             {"service"}, {0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120});
}

void ServiceTraffic::OnArrivalAtIdle(std::function<void(const std::string&)> wake) {
  std::lock_guard lock(mutex_);
  wake_ = std::move(wake);
}

ServiceTraffic::Service& ServiceTraffic::At(const std::string& service, int64_t now_ms) {
  auto [it, added] = services_.try_emplace(service);
  if (added) {
    it->second.last_change_ms = now_ms;
    it->second.sample_start_ms = now_ms;
  }
  return it->second;
}

void ServiceTraffic::Advance(Service& s, int64_t now_ms) {
  if (now_ms > s.last_change_ms) {
    s.area += static_cast<double>(s.in_flight) * static_cast<double>(now_ms - s.last_change_ms);
    s.last_change_ms = now_ms;
  }
}

ServiceTraffic::Minute& ServiceTraffic::Slot(Service& s, int64_t now_ms) {
  int64_t second = now_ms / 1000;
  Minute& slot = s.seconds[static_cast<size_t>(second % 60)];
  if (slot.second != second) slot = Minute{second, 0, {}};
  return slot;
}

void ServiceTraffic::Begin(const std::string& service, int64_t now_ms) {
  std::function<void(const std::string&)> wake;
  {
    std::lock_guard lock(mutex_);
    Service& s = At(service, now_ms);
    Advance(s, now_ms);
    if (s.in_flight == 0) wake = wake_;
    ++s.in_flight;
    ++s.arrivals;
    ++Slot(s, now_ms).arrivals;
    s.last_request_ms = now_ms;
  }
  if (wake) wake(service);
}

void ServiceTraffic::End(const std::string& service, int64_t now_ms, int status, double seconds) {
  {
    std::lock_guard lock(mutex_);
    Service& s = At(service, now_ms);
    Advance(s, now_ms);
    s.in_flight = std::max<int64_t>(0, s.in_flight - 1);
    ++s.requests;
    if (status >= 500) ++s.errors;
    const std::vector<double>& bounds = LatencyBounds();
    size_t bucket = static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) -
                                        bounds.begin());
    ++Slot(s, now_ms).latency[bucket];
  }
  if (metrics_) {
    metrics_->Add(kRequests, {service, std::to_string(status)});
    metrics_->Observe(kLatency, {service}, seconds);
  }
}

void ServiceTraffic::BeginReplica(const std::string& replica) {
  std::lock_guard lock(mutex_);
  ++replicas_[replica];
}

void ServiceTraffic::EndReplica(const std::string& replica) {
  std::lock_guard lock(mutex_);
  auto found = replicas_.find(replica);
  if (found == replicas_.end()) return;
  if (--found->second <= 0) replicas_.erase(found);
}

void ServiceTraffic::ColdStart(const std::string& service, double seconds) {
  {
    std::lock_guard lock(mutex_);
    auto found = services_.find(service);
    if (found != services_.end()) {
      ++found->second.cold_starts;
      found->second.last_cold_start = seconds;
    }
  }
  if (metrics_) {
    metrics_->Add(kColdStarts, {service});
    metrics_->Observe(kColdStartSeconds, {service}, seconds);
  }
}

LoadSample ServiceTraffic::Sample(const std::string& service, int64_t now_ms, int64_t& in_flight,
                                  int64_t& last_request_ms) {
  std::lock_guard lock(mutex_);
  Service& s = At(service, now_ms);
  Advance(s, now_ms);
  LoadSample sample;
  sample.time_ms = now_ms;
  int64_t span = now_ms - s.sample_start_ms;
  if (span > 0) {
    sample.concurrency = s.area / static_cast<double>(span);
    sample.rps = static_cast<double>(s.arrivals) * 1000.0 / static_cast<double>(span);
  } else {
    sample.concurrency = static_cast<double>(s.in_flight);
  }
  s.area = 0;
  s.arrivals = 0;
  s.sample_start_ms = now_ms;
  in_flight = s.in_flight;
  last_request_ms = s.last_request_ms;
  return sample;
}

int64_t ServiceTraffic::ReplicaInFlight(const std::string& replica) const {
  std::lock_guard lock(mutex_);
  auto found = replicas_.find(replica);
  return found == replicas_.end() ? 0 : found->second;
}

TrafficSummary ServiceTraffic::Summary(const std::string& service, int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  TrafficSummary summary;
  auto found = services_.find(service);
  if (found == services_.end()) return summary;
  const Service& s = found->second;
  summary.in_flight = s.in_flight;
  summary.requests = s.requests;
  summary.errors = s.errors;
  summary.cold_starts = s.cold_starts;
  summary.last_cold_start_seconds = s.last_cold_start;
  summary.last_request_ms = s.last_request_ms;
  std::array<int64_t, kBuckets> latency{};
  int64_t arrivals = 0;
  int64_t now_second = now_ms / 1000;
  for (const Minute& slot : s.seconds) {
    if (slot.second <= now_second - 60 || slot.second > now_second) continue;
    arrivals += slot.arrivals;
    for (size_t i = 0; i < kBuckets; ++i) latency[i] += slot.latency[i];
  }
  summary.rps = static_cast<double>(arrivals) / 60.0;
  summary.p50_seconds = Quantile(latency, 0.5);
  summary.p99_seconds = Quantile(latency, 0.99);
  return summary;
}

void ServiceTraffic::Forget(const std::string& service) {
  std::lock_guard lock(mutex_);
  services_.erase(service);
}

}  // namespace allot::server

#include "server/autoscaler.h"

#include <algorithm>
#include <cmath>

namespace allot::server {

namespace {
constexpr double kPanicThreshold = 2.0;  // panic at twice the ready replicas' worth of load
}

void Autoscaler::Record(const LoadSample& sample) {
  samples_.push_back(sample);
  while (!samples_.empty() && samples_.front().time_ms <= sample.time_ms - spec_.stable_window_ms) {
    samples_.pop_front();
  }
}

double Autoscaler::Average(int64_t now_ms, int64_t window_ms) const {
  double sum = 0;
  int count = 0;
  for (auto it = samples_.rbegin(); it != samples_.rend(); ++it) {
    if (it->time_ms <= now_ms - window_ms) break;
    sum += spec_.metric == wire::ScaleMetric::kConcurrency ? it->concurrency : it->rps;
    ++count;
  }
  return count == 0 ? 0 : sum / count;
}

int32_t Autoscaler::Replicas(double load) const {
  // A hair below an exact multiple stays at it: 8.0000001 / 4 is 2, not 3.
  double wanted = std::ceil(load / spec_.target - 1e-6);
  return static_cast<int32_t>(std::clamp(wanted, 0.0, 1e6));
}

ScaleDecision Autoscaler::Decide(int64_t now_ms, int32_t ready, int64_t in_flight,
                                 int64_t last_request_ms) {
  ScaleDecision decision;
  decision.stable_load = Average(now_ms, spec_.stable_window_ms);
  decision.panic_load = Average(now_ms, spec_.panic_window_ms);
  int32_t stable = Replicas(decision.stable_load);
  int32_t panic = Replicas(decision.panic_load);
  if (panic >= 2 && panic >= kPanicThreshold * std::max(ready, 1)) {
    if (panic_until_ms_ == 0) panic_floor_ = 0;
    panic_until_ms_ = now_ms + spec_.stable_window_ms;
  } else if (panic_until_ms_ != 0 && now_ms >= panic_until_ms_) {
    panic_until_ms_ = 0;
  }
  int32_t wanted = stable;
  if (panic_until_ms_ != 0) {
    // Panicking: out on the short window, never in.
    panic_floor_ = std::max({panic_floor_, panic, stable, last_});
    wanted = panic_floor_;
    decision.panicking = true;
  }
  recent_.emplace_back(now_ms, wanted);
  while (recent_.size() > 1 && recent_.front().first <= now_ms - spec_.scale_down_delay_ms) {
    recent_.pop_front();
  }
  for (const auto& [time, count] : recent_) wanted = std::max(wanted, count);
  const wire::AutoscaleSpec& s = spec_;
  bool requested_lately =
      last_request_ms > 0 && now_ms - last_request_ms < s.scale_to_zero_after_ms;
  int32_t floor = s.min_replicas;
  // Work in flight, or a recent request, keeps one replica; a service
  // scales to zero only after its quiet time.
  if (in_flight > 0 || (requested_lately && last_ != 0)) floor = std::max(floor, 1);
  // Quiet for the scale-to-zero time: whatever the windows still hold is
  // old load, and the service goes to its minimum (zero) at once.
  if (in_flight == 0 && !requested_lately && s.min_replicas == 0) wanted = 0;
  decision.desired = std::clamp(wanted, floor, s.max_replicas);
  last_ = decision.desired;
  return decision;
}

}  // namespace allot::server

// How many replicas a service wants (docs/serving.md §3), after Knative's
// KPA: the load the gateway measures (in-flight requests, or requests per
// second) is averaged over a stable window (60 s) and a panic window (6 s).
// The stable average sets the count; when the panic average asks for twice
// the ready replicas or more, the service panics: it scales out on the
// panic average at once and does not scale in until the stable window has
// passed without another panic. A lower count is taken only once it has
// held for the scale-down delay; with a minimum of zero, the service goes
// to zero after its scale-to-zero time without a request.
//
// Pure: time and load come in, a count goes out (no clock, no I/O), so that
// tests and scenarios can drive it.
#pragma once

#include <cstdint>
#include <deque>
#include <utility>

#include "wire/service.h"

namespace allot::server {

// One tick's measurement of a service's load.
struct LoadSample {
  int64_t time_ms = 0;
  double concurrency = 0;  // average in-flight requests over the tick
  double rps = 0;          // requests that arrived, per second, over the tick
};

struct ScaleDecision {
  int32_t desired = 0;
  bool panicking = false;
  double stable_load = 0;  // the window averages, in the target's unit
  double panic_load = 0;
};

class Autoscaler {
 public:
  explicit Autoscaler(wire::AutoscaleSpec spec) : spec_(spec) {}

  // Changes the settings (a service update); the samples stay.
  void Configure(const wire::AutoscaleSpec& spec) { spec_ = spec; }

  // Adds a tick's sample (in time order); samples older than the stable
  // window are forgotten.
  void Record(const LoadSample& sample);

  // The count at `now_ms` for a service with `ready` replicas now,
  // `in_flight` requests (held ones included) and its last request at
  // `last_request_ms` (0: none yet).
  ScaleDecision Decide(int64_t now_ms, int32_t ready, int64_t in_flight, int64_t last_request_ms);

 private:
  double Average(int64_t now_ms, int64_t window_ms) const;
  int32_t Replicas(double load) const;

  wire::AutoscaleSpec spec_;
  std::deque<LoadSample> samples_;
  int64_t panic_until_ms_ = 0;  // 0: not panicking
  int32_t panic_floor_ = 0;     // the most replicas asked for while panicking
  // Recent raw counts, for the scale-down delay: (time, count).
  std::deque<std::pair<int64_t, int32_t>> recent_;
  int32_t last_ = -1;
};

}  // namespace allot::server

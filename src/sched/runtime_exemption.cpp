#include "sched/runtime_exemption.h"

#include <algorithm>

#include "common/quantity.h"

namespace allot::sched {

bool RuntimeExemption::Allows(const ClusterState& state, const VictimUnit& unit) const {
  if (min_runtime_ <= 0) return true;
  core::Time since = core::kNever;
  unit.ForEachTask(state, [&](uint32_t t) {
    since = std::min(since, state.running_since({unit.workload, t}));
  });
  if (since == core::kNever) return true;  // nothing placed: nothing to protect
  core::Time release = since + min_runtime_;
  if (release <= state.now()) return true;
  earliest_release_ = std::min(earliest_release_, release);
  return false;
}

std::string RuntimeExemption::WaitReason(const ClusterState& state, const std::string& what) const {
  if (!TurnedAway()) return {};
  // Minutes and whole seconds, rounded up so that a wait never reads 0s.
  core::Duration left = earliest_release_ - state.now();
  int64_t seconds = (left + core::kSecond - 1) / core::kSecond;
  std::string in = seconds >= 60 ? std::to_string(seconds / 60) + "m" : "";
  if (seconds % 60 != 0 || seconds < 60) in += std::to_string(seconds % 60) + "s";
  return what + " has run less than the minimum run time of " + FormatDurationMs(min_runtime_) +
         " (the first may be taken in " + in + "); ";
}

}  // namespace allot::sched

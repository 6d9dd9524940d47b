// Time in the scheduler core is an input, never read from a clock: every plan
// is reproducible from its snapshot.
#pragma once

#include <cstdint>
#include <limits>

namespace allot::core {

// Milliseconds since an epoch the caller chooses.
using Time = int64_t;
// A span of time in milliseconds.
using Duration = int64_t;

inline constexpr Duration kSecond = 1000;
inline constexpr Duration kMinute = 60 * kSecond;
inline constexpr Duration kHour = 60 * kMinute;
// A time that never comes: used for "unknown end" in reservation estimates.
inline constexpr Time kNever = std::numeric_limits<Time>::max();

}  // namespace allot::core

// Telling a live process from a later one that got the same pid.
#pragma once

#include <cstdint>

namespace allot {

// The start time of process `pid` (field 22 of /proc/PID/stat, clock ticks
// since boot); 0 when it is gone or has ended (a zombie waiting to be
// reaped). Two readings that agree mean the same process: pids are reused,
// start times within one boot are not.
int64_t ProcessStartTime(int pid);

}  // namespace allot

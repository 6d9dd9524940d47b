// What a node has: CPUs, memory, GPUs, the boot id (docs/agent-protocol.md
// §1). GPUs come from NVML, loaded at run time (no build-time dependency on
// a driver), or are simulated ("8xH100-80GB").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/node.h"

namespace allot::agent {

struct GpuUsage {
  int32_t index = 0;
  std::string uuid;
  int64_t memory_used_mib = 0;
  int32_t utilization = 0;  // percent
};

// The GPUs NVML reports; an error "unavailable" when there is no NVML (no
// driver) and "internal" when it fails.
Result<std::vector<core::GpuSpec>> DiscoverGpus();
// Per-GPU usage from NVML; empty without it.
std::vector<GpuUsage> ReadGpuUsage();

int64_t CpuMilli();    // online CPUs x 1000
int64_t MemoryMib();   // MemTotal
std::string BootId();  // /proc/sys/kernel/random/boot_id
// This machine's host name as a node name: lowercase, '-' for anything a
// name may not hold, at most 63 characters.
std::string DefaultNodeName();
// The local address this machine reaches `server_url` from (what other
// nodes use to reach it); "127.0.0.1" for a server on loopback.
Result<std::string> LocalAddressToward(const std::string& server_url);

}  // namespace allot::agent

// A machine of the cluster and its GPUs (architecture.md §3).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace allot::core {

struct GpuSpec {
  int32_t index = 0;       // the device index on its node
  std::string uuid;        // stable identity, used by CUDA_VISIBLE_DEVICES
  std::string model;       // "H100", "A100", ...
  int64_t memory_mib = 0;  // device memory
};

struct NodeSpec {
  std::string name;
  std::string pool = "default";
  // Topology levels and other facts: {"zone": "a", "rack": "a1"}.
  std::map<std::string, std::string> labels;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  std::vector<GpuSpec> gpus;
};

}  // namespace allot::core

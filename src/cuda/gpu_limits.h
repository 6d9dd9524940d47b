// What a process under the GPU interposer may use, from its environment:
//   ALLOT_GPU_MEMORY_LIMIT   bytes per GPU, with an optional Ki/Mi/Gi/Ti
//                            suffix, or "unlimited" (said explicitly)
//   ALLOT_GPU_MEMORY_REQUEST optional: the guaranteed part of a dynamic
//                            fraction (at most the limit; default the limit)
//   ALLOT_GPU_COMPUTE_SHARE  percent of the GPU's time, 1 to 100
//   ALLOT_GPU_SHARE_MODE     "strict" (exactly the share) or "fair" (the
//                            share guaranteed, idle time shared)
//   ALLOT_GPU_TENANT         optional: the processes that share one limit
//                            (the agent names the task; default the session)
// A missing or malformed value is an error naming the variable and the fix:
// the interposer then refuses to start the process (fail closed).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/result.h"

namespace allot::cuda {

inline constexpr uint64_t kUnlimited = UINT64_MAX;

enum class ShareMode { kStrict, kFair };

struct GpuLimits {
  uint64_t memory_limit = kUnlimited;    // bytes per GPU
  uint64_t memory_request = kUnlimited;  // bytes guaranteed; == limit unless dynamic
  int compute_share = 100;               // percent
  ShareMode mode = ShareMode::kFair;
  std::string tenant;

  bool Throttled() const { return compute_share < 100; }
  bool Dynamic() const { return memory_request < memory_limit; }
};

// "10Gi" -> 10737418240, "512Mi", "1048576"; suffixes Ki Mi Gi Ti.
Result<uint64_t> ParseByteSize(const std::string& text);

// Reads the variables above through `lookup` (getenv in the library).
// `default_tenant` is used when ALLOT_GPU_TENANT is unset.
Result<GpuLimits> ParseGpuLimits(const std::function<const char*(const char*)>& lookup,
                                 const std::string& default_tenant);

const char* ShareModeName(ShareMode mode);

}  // namespace allot::cuda

namespace allot::cuda {

// A compute share is enforced on one GPU: refused unless CUDA_VISIBLE_DEVICES
// (`visible`, null when unset) names exactly one.
Status CheckComputeGpu(const GpuLimits& limits, const char* visible);

// Where liballot-cuda.so is: $ALLOT_CUDA_LIBRARY, else next to the running
// allot (build tree: ../cuda/; installed: ../lib/allot/). The error names
// every place looked at.
Result<std::string> FindInterposerLibrary();

}  // namespace allot::cuda

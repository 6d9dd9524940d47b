#include "cuda/gpu_limits.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>

namespace allot::cuda {

Result<uint64_t> ParseByteSize(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 19) {
    return Error("\"" + text + "\" is not a size: use bytes or a Ki/Mi/Gi/Ti suffix, e.g. 10Gi");
  }
  uint64_t value = std::stoull(text.substr(0, digits));
  std::string suffix = text.substr(digits);
  int shift = 0;
  if (suffix == "Ki") {
    shift = 10;
  } else if (suffix == "Mi") {
    shift = 20;
  } else if (suffix == "Gi") {
    shift = 30;
  } else if (suffix == "Ti") {
    shift = 40;
  } else if (!suffix.empty()) {
    return Error("\"" + text + "\" has an unknown suffix \"" + suffix + "\": use Ki, Mi, Gi or Ti");
  }
  if (value == 0) return Error("\"" + text + "\" is zero: a limit must allow some memory");
  if (shift > 0 && value > (UINT64_MAX >> shift)) return Error("\"" + text + "\" is too large");
  return value << shift;
}

const char* ShareModeName(ShareMode mode) {
  return mode == ShareMode::kStrict ? "strict" : "fair";
}

Result<GpuLimits> ParseGpuLimits(const std::function<const char*(const char*)>& lookup,
                                 const std::string& default_tenant) {
  auto text = [&](const char* name) -> std::string {
    const char* value = lookup(name);
    return value == nullptr ? std::string() : std::string(value);
  };
  GpuLimits limits;

  std::string memory = text("ALLOT_GPU_MEMORY_LIMIT");
  if (memory.empty()) {
    return Error(
        "ALLOT_GPU_MEMORY_LIMIT is not set: give bytes per GPU (e.g. 10Gi) or \"unlimited\"",
        "ALLOT_GPU_MEMORY_LIMIT");
  }
  if (memory != "unlimited") {
    Result<uint64_t> bytes = ParseByteSize(memory);
    if (!bytes)
      return Error("ALLOT_GPU_MEMORY_LIMIT: " + bytes.error().message, "ALLOT_GPU_MEMORY_LIMIT");
    limits.memory_limit = *bytes;
  }
  limits.memory_request = limits.memory_limit;
  if (std::string request = text("ALLOT_GPU_MEMORY_REQUEST"); !request.empty()) {
    Result<uint64_t> bytes = ParseByteSize(request);
    if (!bytes) {
      return Error("ALLOT_GPU_MEMORY_REQUEST: " + bytes.error().message,
                   "ALLOT_GPU_MEMORY_REQUEST");
    }
    if (limits.memory_limit == kUnlimited || *bytes > limits.memory_limit) {
      return Error("ALLOT_GPU_MEMORY_REQUEST " + request +
                       " must be at most ALLOT_GPU_MEMORY_LIMIT (" + memory +
                       "): the request is the guaranteed part of the limit",
                   "ALLOT_GPU_MEMORY_REQUEST");
    }
    limits.memory_request = *bytes;
  }

  std::string share = text("ALLOT_GPU_COMPUTE_SHARE");
  if (share.empty()) {
    return Error("ALLOT_GPU_COMPUTE_SHARE is not set: give a percent of the GPU's time, 1 to 100",
                 "ALLOT_GPU_COMPUTE_SHARE");
  }
  if (share.size() > 3 || share.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(share) < 1 || std::stoi(share) > 100) {
    return Error("ALLOT_GPU_COMPUTE_SHARE=" + share + " is not a percent from 1 to 100",
                 "ALLOT_GPU_COMPUTE_SHARE");
  }
  limits.compute_share = std::stoi(share);

  std::string mode = text("ALLOT_GPU_SHARE_MODE");
  if (mode == "strict") {
    limits.mode = ShareMode::kStrict;
  } else if (mode == "fair") {
    limits.mode = ShareMode::kFair;
  } else {
    return Error("ALLOT_GPU_SHARE_MODE" +
                     (mode.empty() ? std::string(" is not set") : "=" + mode + " is unknown") +
                     ": use \"strict\" (exactly the share) or \"fair\" (the share guaranteed, idle "
                     "time shared)",
                 "ALLOT_GPU_SHARE_MODE");
  }

  limits.tenant = text("ALLOT_GPU_TENANT");
  if (limits.tenant.empty()) limits.tenant = default_tenant;
  if (limits.tenant.size() > 95) {
    return Error("ALLOT_GPU_TENANT is longer than 95 characters", "ALLOT_GPU_TENANT");
  }
  return limits;
}

}  // namespace allot::cuda

namespace allot::cuda {

Status CheckComputeGpu(const GpuLimits& limits, const char* visible) {
  if (!limits.Throttled()) return Status::Ok();
  std::string devices = visible == nullptr ? "" : visible;
  if (devices.empty() || devices.find(',') != std::string::npos) {
    return Error(
        "ALLOT_GPU_COMPUTE_SHARE applies to one GPU: set CUDA_VISIBLE_DEVICES to exactly one GPU "
        "(now " +
            (visible == nullptr ? std::string("unset") : "\"" + devices + "\"") + ")",
        "CUDA_VISIBLE_DEVICES");
  }
  return Status::Ok();
}

Result<std::string> FindInterposerLibrary() {
  if (const char* configured = std::getenv("ALLOT_CUDA_LIBRARY");
      configured != nullptr && *configured != '\0') {
    if (access(configured, R_OK) == 0) return std::string(configured);
    return Error(std::string("ALLOT_CUDA_LIBRARY=") + configured + " cannot be read",
                 "ALLOT_CUDA_LIBRARY");
  }
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  std::string looked;
  if (!error) {
    std::filesystem::path directory = self.parent_path();
    for (const auto& candidate :
         {directory / "liballot-cuda.so", directory / ".." / "cuda" / "liballot-cuda.so",
          directory / ".." / "lib" / "allot" / "liballot-cuda.so"}) {
      std::filesystem::path normal = candidate.lexically_normal();
      if (access(normal.c_str(), R_OK) == 0) return normal.string();
      looked += (looked.empty() ? "" : ", ") + normal.string();
    }
  }
  return Error("the GPU interposer liballot-cuda.so was not found (looked in " + looked +
               "): build it (it needs the CUDA headers) or set ALLOT_CUDA_LIBRARY");
}

}  // namespace allot::cuda

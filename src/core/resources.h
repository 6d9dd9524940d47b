// Resource amounts in exact integer units (architecture.md §3): GPUs in milli-GPU
// (1000 = one whole GPU), GPU memory and host memory in MiB, CPU in
// millicores. There is no floating point anywhere in the core.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string>

namespace allot::core {

enum class Resource : int { kGpu = 0, kGpuMemory = 1, kCpu = 2, kMemory = 3 };
inline constexpr int kResourceCount = 4;
inline constexpr std::array<Resource, kResourceCount> kAllResources = {
    Resource::kGpu, Resource::kGpuMemory, Resource::kCpu, Resource::kMemory};

inline constexpr int64_t kMilliPerGpu = 1000;
// The amount that stands for "no limit".
inline constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max() / 4;

// One amount per resource kind.
struct Resources {
  std::array<int64_t, kResourceCount> amounts{};

  static Resources Of(int64_t gpu_milli, int64_t gpu_memory_mib, int64_t cpu_milli,
                      int64_t memory_mib) {
    return Resources{{gpu_milli, gpu_memory_mib, cpu_milli, memory_mib}};
  }
  // Every resource unlimited.
  static Resources Unlimited() { return Of(kUnlimited, kUnlimited, kUnlimited, kUnlimited); }
  // The same amount for every resource.
  static Resources Uniform(int64_t amount) { return Of(amount, amount, amount, amount); }

  int64_t& operator[](Resource r) { return amounts[static_cast<int>(r)]; }
  int64_t operator[](Resource r) const { return amounts[static_cast<int>(r)]; }
  int64_t gpu() const { return (*this)[Resource::kGpu]; }
  int64_t cpu() const { return (*this)[Resource::kCpu]; }

  Resources& operator+=(const Resources& other);
  Resources& operator-=(const Resources& other);
  friend Resources operator+(Resources a, const Resources& b) { return a += b; }
  friend Resources operator-(Resources a, const Resources& b) { return a -= b; }
  friend bool operator==(const Resources&, const Resources&) = default;

  // Scales every amount by n (for n tasks of one shape).
  Resources Times(int64_t n) const;
  // The resource-wise minimum.
  static Resources Min(const Resources& a, const Resources& b);
};

// "gpu", "gpu_memory", "cpu", "memory".
const char* ResourceName(Resource r);
// An amount as a person reads it: "2.5" GPUs, "40Gi", "1.5" cores, "unlimited".
std::string FormatAmount(Resource r, int64_t amount);

}  // namespace allot::core

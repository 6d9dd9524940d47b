#include "core/resources.h"

#include <algorithm>

namespace allot::core {

Resources& Resources::operator+=(const Resources& other) {
  for (int i = 0; i < kResourceCount; ++i) amounts[i] += other.amounts[i];
  return *this;
}

Resources& Resources::operator-=(const Resources& other) {
  for (int i = 0; i < kResourceCount; ++i) amounts[i] -= other.amounts[i];
  return *this;
}

Resources Resources::Times(int64_t n) const {
  Resources out = *this;
  for (auto& a : out.amounts) a *= n;
  return out;
}

Resources Resources::Min(const Resources& a, const Resources& b) {
  Resources out;
  for (int i = 0; i < kResourceCount; ++i) out.amounts[i] = std::min(a.amounts[i], b.amounts[i]);
  return out;
}

const char* ResourceName(Resource r) {
  switch (r) {
    case Resource::kGpu:
      return "gpu";
    case Resource::kGpuMemory:
      return "gpu_memory";
    case Resource::kCpu:
      return "cpu";
    case Resource::kMemory:
      return "memory";
  }
  return "?";
}

namespace {

// 2500 milli -> "2.5"; 1000 -> "1"; 125 -> "0.125".
std::string FormatMilli(int64_t milli) {
  std::string out = std::to_string(milli / 1000);
  int64_t rest = milli % 1000;
  if (rest == 0) return out;
  std::string frac = std::to_string(rest);
  frac.insert(0, 3 - frac.size(), '0');
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return out + "." + frac;
}

std::string FormatMebibytes(int64_t mib) {
  if (mib % (1024 * 1024) == 0 && mib != 0) return std::to_string(mib / (1024 * 1024)) + "Ti";
  if (mib % 1024 == 0 && mib != 0) return std::to_string(mib / 1024) + "Gi";
  return std::to_string(mib) + "Mi";
}

}  // namespace

std::string FormatAmount(Resource r, int64_t amount) {
  if (amount >= kUnlimited) return "unlimited";
  std::string sign = amount < 0 ? "-" : "";
  int64_t magnitude = amount < 0 ? -amount : amount;
  switch (r) {
    case Resource::kGpu:
    case Resource::kCpu:
      return sign + FormatMilli(magnitude);
    case Resource::kGpuMemory:
    case Resource::kMemory:
      return sign + FormatMebibytes(magnitude);
  }
  return std::to_string(amount);
}

}  // namespace allot::core

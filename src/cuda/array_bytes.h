// The device memory a CUDA array takes, from its descriptor: what the
// interposer counts and what the fake driver allocates, by one rule
// (elements x channels x element size, no padding).
#pragma once

#include <cuda.h>

#include <algorithm>
#include <cstdint>

namespace allot::cuda {

inline uint64_t ArrayBytes(size_t width, size_t height, size_t depth, CUarray_format format,
                           unsigned channels) {
  uint64_t element = 4;
  switch (format) {
    case CU_AD_FORMAT_UNSIGNED_INT8:
    case CU_AD_FORMAT_SIGNED_INT8:
      element = 1;
      break;
    case CU_AD_FORMAT_UNSIGNED_INT16:
    case CU_AD_FORMAT_SIGNED_INT16:
    case CU_AD_FORMAT_HALF:
      element = 2;
      break;
    default:
      element = 4;
  }
  return static_cast<uint64_t>(width) * std::max<size_t>(height, 1) * std::max<size_t>(depth, 1) *
         element * std::max(channels, 1U);
}

// A mipmapped array: every level, each half the one before (at least 1).
inline uint64_t MipmappedArrayBytes(const CUDA_ARRAY3D_DESCRIPTOR& descriptor, unsigned levels) {
  uint64_t bytes = 0;
  size_t width = descriptor.Width, height = descriptor.Height, depth = descriptor.Depth;
  for (unsigned level = 0; level < levels; ++level) {
    bytes += ArrayBytes(width, height, depth, descriptor.Format, descriptor.NumChannels);
    width = std::max<size_t>(width / 2, 1);
    height = height == 0 ? 0 : std::max<size_t>(height / 2, 1);
    depth = depth == 0 ? 0 : std::max<size_t>(depth / 2, 1);
  }
  return bytes;
}

}  // namespace allot::cuda

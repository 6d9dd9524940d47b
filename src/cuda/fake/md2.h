// MD2 (RFC 1319) and HMAC-MD2 (RFC 2104 with MD2's 16-byte block). The CUDA
// runtime checks the driver it runs on with an HMAC-MD2 over the driver's
// answers (fake_export_tables.cpp); the fake driver answers with this.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace allot::fake_gpu {

using Md2Digest = std::array<uint8_t, 16>;

// An MD2 digest computed piece by piece.
class Md2 {
 public:
  void Update(const void* data, size_t size);
  // The digest of everything updated so far; the object is spent after it.
  Md2Digest Finish();

 private:
  void Add(uint8_t byte);
  void Compress();

  std::array<uint8_t, 48> state_{};  // [0, 16): the digest so far
  std::array<uint8_t, 16> checksum_{};
  uint8_t last_checksum_ = 0;
  size_t in_block_ = 0;  // bytes of the current block in state_[16, 32)
};

// HMAC-MD2 of `size` bytes at `data` under a key of one block.
Md2Digest HmacMd2(const Md2Digest& key, const void* data, size_t size);

}  // namespace allot::fake_gpu

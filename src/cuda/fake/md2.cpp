#include "cuda/fake/md2.h"

namespace allot::fake_gpu {
namespace {

// RFC 1319's substitution table: a permutation of 0..255 from the digits of pi.
constexpr uint8_t kPiSubstitution[256] = {
    41,  46,  67,  201, 162, 216, 124, 1,   61,  54,  84,  161, 236, 240, 6,   19,  98,  167, 5,
    243, 192, 199, 115, 140, 152, 147, 43,  217, 188, 76,  130, 202, 30,  155, 87,  60,  253, 212,
    224, 22,  103, 66,  111, 24,  138, 23,  229, 18,  190, 78,  196, 214, 218, 158, 222, 73,  160,
    251, 245, 142, 187, 47,  238, 122, 169, 104, 121, 145, 21,  178, 7,   63,  148, 194, 16,  137,
    11,  34,  95,  33,  128, 127, 93,  154, 90,  144, 50,  39,  53,  62,  204, 231, 191, 247, 151,
    3,   255, 25,  48,  179, 72,  165, 181, 209, 215, 94,  146, 42,  172, 86,  170, 198, 79,  184,
    56,  210, 150, 164, 125, 182, 118, 252, 107, 226, 156, 116, 4,   241, 69,  157, 112, 89,  100,
    113, 135, 32,  134, 91,  207, 101, 230, 45,  168, 2,   27,  96,  37,  173, 174, 176, 185, 246,
    28,  70,  97,  105, 52,  64,  126, 15,  85,  71,  163, 35,  221, 81,  175, 58,  195, 92,  249,
    206, 186, 197, 234, 38,  44,  83,  13,  110, 133, 40,  132, 9,   211, 223, 205, 244, 65,  129,
    77,  82,  106, 220, 55,  200, 108, 193, 171, 250, 36,  225, 123, 8,   12,  189, 177, 74,  120,
    136, 149, 139, 227, 99,  232, 109, 233, 203, 213, 254, 59,  0,   29,  57,  242, 239, 183, 14,
    102, 88,  208, 228, 166, 119, 114, 248, 235, 117, 75,  10,  49,  68,  80,  180, 143, 237, 31,
    26,  219, 153, 141, 51,  159, 17,  131, 20,
};

constexpr size_t kBlock = 16;

}  // namespace

void Md2::Add(uint8_t byte) {
  state_[kBlock + in_block_] = byte;
  state_[2 * kBlock + in_block_] = byte ^ state_[in_block_];
  checksum_[in_block_] ^= kPiSubstitution[byte ^ last_checksum_];
  last_checksum_ = checksum_[in_block_];
  if (++in_block_ == kBlock) {
    Compress();
    in_block_ = 0;
  }
}

void Md2::Compress() {
  uint8_t t = 0;
  for (int round = 0; round < 18; ++round) {
    for (uint8_t& x : state_) {
      x ^= kPiSubstitution[t];
      t = x;
    }
    t = static_cast<uint8_t>(t + round);
  }
}

void Md2::Update(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) Add(bytes[i]);
}

Md2Digest Md2::Finish() {
  const auto pad = static_cast<uint8_t>(kBlock - in_block_);
  for (uint8_t i = 0; i < pad; ++i) Add(pad);
  // The checksum is appended as it stood after the padding; adding its bytes
  // changes each one only after it has been read.
  const std::array<uint8_t, kBlock> checksum = checksum_;
  Update(checksum.data(), checksum.size());
  Md2Digest digest;
  for (size_t i = 0; i < kBlock; ++i) digest[i] = state_[i];
  return digest;
}

Md2Digest HmacMd2(const Md2Digest& key, const void* data, size_t size) {
  Md2Digest inner_key, outer_key;
  for (size_t i = 0; i < kBlock; ++i) {
    inner_key[i] = key[i] ^ 0x36;
    outer_key[i] = key[i] ^ 0x5c;
  }
  Md2 inner;
  inner.Update(inner_key.data(), inner_key.size());
  inner.Update(data, size);
  Md2Digest inner_digest = inner.Finish();
  Md2 outer;
  outer.Update(outer_key.data(), outer_key.size());
  outer.Update(inner_digest.data(), inner_digest.size());
  return outer.Finish();
}

}  // namespace allot::fake_gpu

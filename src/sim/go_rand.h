// Go's math/rand generator (the version-1 package), drawn number for number.
//
// The published packing experiment (../shared/data/openb/README.md) was run
// by a Go simulator that seeds math/rand's global source with the experiment
// seed and then shuffles the task list, samples the workload and permutes the
// nodes from that one stream. Drawing the same stream here makes seed 42 the
// same workload and node order as the paper's seed 42, so the published
// medians can be reproduced run for run rather than only in distribution.
//
// The generator is Go's additive lagged Fibonacci generator: 607 words, tap
// 273, seeded by Park-Miller steps XORed with a fixed table ("rngCooked").
// That table is the generator's state after 7.8e12 steps from seed 1; we
// compute it once, in milliseconds, by polynomial jump-ahead instead of
// carrying 607 constants (go_rand.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace allot::sim {

class GoRand {
 public:
  static constexpr int kLength = 607;  // words of state (Go: rngLen)
  static constexpr int kTap = 273;     // the second lag (Go: rngTap)

  // rand.NewSource(seed): the same state Go builds for this seed.
  explicit GoRand(int64_t seed);

  // Source.Uint64: the next 64-bit word.
  uint64_t Uint64();
  // Rand.Int63 (and Rand.Int on 64-bit machines): 63 random bits.
  int64_t Int63() { return static_cast<int64_t>(Uint64() & ~(uint64_t{1} << 63)); }
  // Rand.Int31: the top 31 of 63 bits.
  int32_t Int31() { return static_cast<int32_t>(Int63() >> 32); }
  // Rand.Uint32: the top 32 of 63 bits.
  uint32_t Uint32() { return static_cast<uint32_t>(Int63() >> 31); }
  // Rand.Intn for 0 < n < 2^31: uniform in [0, n), by Go's Int31n (modulo
  // with rejection), so it consumes exactly the words Go's does.
  int32_t Intn(int32_t n);
  // Rand.Perm: a permutation of 0..n-1, built the way Go builds it.
  std::vector<int32_t> Perm(int32_t n);
  // Rand.Shuffle on a slice: Fisher-Yates from the back, each index drawn by
  // Go's unexported int31n (multiply and shift, Lemire's method).
  template <typename T>
  void Shuffle(std::vector<T>& items) {
    for (int64_t i = static_cast<int64_t>(items.size()) - 1; i > 0; --i) {
      int32_t j = Int31nByMultiply(static_cast<int32_t>(i + 1));
      std::swap(items[static_cast<size_t>(i)], items[static_cast<size_t>(j)]);
    }
  }

 private:
  int32_t Int31nByMultiply(int32_t n);

  std::array<uint64_t, kLength> words_{};
  int tap_ = 0;
  int feed_ = kLength - kTap;
};

namespace detail {
// The state of the generator Go uses to make its seeding table: seeded with
// `seed` by the table generator's own seeding, then stepped `steps` times;
// words in Go's array order. GoAlfgState(1, 7.8e12) is Go's rngCooked.
// Exposed so that a test can check the jump against plain stepping.
std::array<uint64_t, GoRand::kLength> GoAlfgState(int32_t seed, uint64_t steps);
// The same, by stepping one at a time (for tests; slow for large `steps`).
std::array<uint64_t, GoRand::kLength> GoAlfgStateByStepping(int32_t seed, uint64_t steps);
}  // namespace detail

}  // namespace allot::sim

#include "sim/go_rand.h"

namespace allot::sim {

namespace {

constexpr int kLength = GoRand::kLength;
constexpr int kTap = GoRand::kTap;
constexpr int32_t kInt32Max = 2147483647;  // the Park-Miller modulus, 2^31 - 1
using Words = std::array<uint64_t, kLength>;

// One Park-Miller step, x * 48271 mod (2^31 - 1), by Schrage's method as Go
// writes it (every intermediate fits 32 bits).
int32_t SeedStep(int32_t x) {
  constexpr int32_t kA = 48271, kQ = 44488, kR = 3399;
  int32_t hi = x / kQ;
  int32_t lo = x % kQ;
  x = kA * lo - kR * hi;
  if (x < 0) x += kInt32Max;
  return x;
}

// Go's seed normalisation: into (0, 2^31 - 1), zero replaced by a constant.
int32_t NormaliseSeed(int64_t seed) {
  seed %= kInt32Max;
  if (seed < 0) seed += kInt32Max;
  if (seed == 0) seed = 89482311;
  return static_cast<int32_t>(seed);
}

// The initial words: 20 discarded Park-Miller steps, then three steps per
// word combined with the given shifts. Go's Source.Seed uses shifts 40 and
// 20; the program that made Go's seeding table used 20 and 10.
Words SeedWords(int64_t seed, int high_shift, int middle_shift) {
  Words words{};
  int32_t x = NormaliseSeed(seed);
  for (int i = -20; i < kLength; ++i) {
    x = SeedStep(x);
    if (i < 0) continue;
    uint64_t u = uint64_t(uint32_t(x)) << high_shift;
    x = SeedStep(x);
    u ^= uint64_t(uint32_t(x)) << middle_shift;
    x = SeedStep(x);
    u ^= uint64_t(uint32_t(x));
    words[static_cast<size_t>(i)] = u;
  }
  return words;
}

// Polynomials modulo P(x) = x^607 - x^334 - 1 with coefficients mod 2^64:
// the generator's output y_k = y_{k-607} + y_{k-273} is the sequence whose
// shift operator satisfies P, so x^n mod P gives y_n from the first 607.
using Poly = std::array<uint64_t, kLength>;
constexpr int kFeedStart = kLength - kTap;  // 334

Poly MultiplyMod(const Poly& a, const Poly& b) {
  std::array<uint64_t, 2 * kLength - 1> product{};
  for (int i = 0; i < kLength; ++i) {
    if (a[i] == 0) continue;
    for (int j = 0; j < kLength; ++j) product[i + j] += a[i] * b[j];
  }
  for (int d = 2 * kLength - 2; d >= kLength; --d) {
    product[d - kLength + kFeedStart] += product[d];  // x^607 = x^334 + 1
    product[d - kLength] += product[d];
  }
  Poly result;
  for (int i = 0; i < kLength; ++i) result[i] = product[i];
  return result;
}

Poly TimesX(const Poly& a) {
  Poly result{};
  for (int i = kLength - 1; i > 0; --i) result[i] = a[i - 1];
  result[kFeedStart] += a[kLength - 1];
  result[0] += a[kLength - 1];
  return result;
}

Poly XToThe(uint64_t n) {
  Poly result{};
  result[0] = 1;
  for (int bit = 63; bit >= 0; --bit) {
    result = MultiplyMod(result, result);
    if ((n >> bit) & 1) result = TimesX(result);
  }
  return result;
}

// The table Go XORs into every seed: its generator's state after 7.8e12
// steps from the table generator's seed 1.
const Words& CookedWords() {
  static const Words cooked = detail::GoAlfgState(1, 7'800'000'000'000ull);
  return cooked;
}

}  // namespace

namespace detail {

Words GoAlfgState(int32_t seed, uint64_t steps) {
  const Words start = SeedWords(seed, 20, 10);
  // Step k (from 1) writes y_k at index (334 - k) mod 607 and reads the
  // index it overwrites (y_{k-607}) and index -k mod 607 (y_{k-273}); so
  // before any step, index (334 - j) mod 607 holds y_j for j = -606..0.
  auto index_of = [](int64_t k) {
    int64_t i = (kFeedStart - k) % kLength;
    return static_cast<size_t>(i < 0 ? i + kLength : i);
  };
  Poly initial;  // initial[i] = y_{i - 606}
  for (int i = 0; i < kLength; ++i) initial[i] = start[index_of(i - (kLength - 1))];
  // After `steps` steps every index holds the newest y written there: the
  // 607 values y_{steps-606} .. y_{steps}, y_k = sum_i (x^{k+606} mod P)_i
  // initial[i].
  Words words{};
  Poly power = XToThe(steps);  // k = steps - 606
  for (int64_t k = int64_t(steps) - (kLength - 1); k <= int64_t(steps); ++k) {
    uint64_t y = 0;
    for (int i = 0; i < kLength; ++i) y += power[i] * initial[i];
    words[index_of(k)] = y;
    power = TimesX(power);
  }
  return words;
}

Words GoAlfgStateByStepping(int32_t seed, uint64_t steps) {
  Words words = SeedWords(seed, 20, 10);
  int tap = 0, feed = kFeedStart;
  for (uint64_t s = 0; s < steps; ++s) {
    if (--tap < 0) tap += kLength;
    if (--feed < 0) feed += kLength;
    words[feed] += words[tap];
  }
  return words;
}

}  // namespace detail

GoRand::GoRand(int64_t seed) {
  words_ = SeedWords(seed, 40, 20);
  const Words& cooked = CookedWords();
  for (int i = 0; i < kLength; ++i) words_[i] ^= cooked[i];
}

uint64_t GoRand::Uint64() {
  if (--tap_ < 0) tap_ += kLength;
  if (--feed_ < 0) feed_ += kLength;
  words_[feed_] += words_[tap_];
  return words_[feed_];
}

int32_t GoRand::Intn(int32_t n) {
  if ((n & (n - 1)) == 0) return Int31() & (n - 1);
  const int32_t max = int32_t(kInt32Max - int32_t((uint32_t{1} << 31) % uint32_t(n)));
  int32_t v = Int31();
  while (v > max) v = Int31();
  return v % n;
}

std::vector<int32_t> GoRand::Perm(int32_t n) {
  std::vector<int32_t> m(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    int32_t j = Intn(i + 1);
    m[size_t(i)] = m[size_t(j)];
    m[size_t(j)] = i;
  }
  return m;
}

int32_t GoRand::Int31nByMultiply(int32_t n) {
  uint64_t product = uint64_t(Uint32()) * uint64_t(n);
  uint32_t low = uint32_t(product);
  if (low < uint32_t(n)) {
    const uint32_t threshold = uint32_t(-n) % uint32_t(n);
    while (low < threshold) {
      product = uint64_t(Uint32()) * uint64_t(n);
      low = uint32_t(product);
    }
  }
  return int32_t(product >> 32);
}

}  // namespace allot::sim

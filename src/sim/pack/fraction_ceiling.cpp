#include "sim/pack/fraction_ceiling.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace allot::sim {

namespace {

// A dense square system, one row per equation.
using Matrix = std::vector<std::vector<double>>;

// Solves m z = rhs by Gaussian elimination with partial pivoting. The basis
// matrices here stay well conditioned: their columns are fill patterns of
// small integers.
std::vector<double> Solve(Matrix m, std::vector<double> rhs) {
  const size_t n = rhs.size();
  for (size_t c = 0; c < n; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < n; ++r) {
      if (std::abs(m[r][c]) > std::abs(m[pivot][c])) pivot = r;
    }
    std::swap(m[c], m[pivot]);
    std::swap(rhs[c], rhs[pivot]);
    for (size_t r = 0; r < n; ++r) {
      if (r == c || m[r][c] == 0) continue;
      const double f = m[r][c] / m[c][c];
      for (size_t k = c; k < n; ++k) m[r][k] -= f * m[c][k];
      rhs[r] -= f * rhs[c];
    }
  }
  for (size_t r = 0; r < n; ++r) rhs[r] /= m[r][r];
  return rhs;
}

// The basis as rows (for B z = rhs) from its columns, or transposed.
Matrix Rows(const Matrix& columns, bool transposed) {
  const size_t n = columns.size();
  Matrix rows(n, std::vector<double>(n));
  for (size_t c = 0; c < n; ++c) {
    for (size_t r = 0; r < n; ++r) (transposed ? rows[c][r] : rows[r][c]) = columns[c][r];
  }
  return rows;
}

// The most value one GPU can hold, taking any number of tasks of each size
// (an unbounded knapsack over 1000 milli in steps of the sizes' gcd), and
// the counts that reach it in `pattern`. Sizes of value 0 or less are left out.
double BestFill(const std::vector<int64_t>& milli, const std::vector<double>& value,
                std::vector<double>* pattern) {
  int64_t step = kMilliPerGpu;
  for (int64_t m : milli) step = std::gcd(step, m);
  const size_t room = static_cast<size_t>(kMilliPerGpu / step);
  std::vector<double> best(room + 1, 0);
  std::vector<int> last(room + 1, -1);  // the size added last at this room, -1: none
  for (size_t c = 1; c <= room; ++c) {
    best[c] = best[c - 1];
    for (size_t i = 0; i < milli.size(); ++i) {
      const size_t units = static_cast<size_t>(milli[i] / step);
      if (value[i] <= 0 || units > c) continue;
      if (best[c - units] + value[i] > best[c]) {
        best[c] = best[c - units] + value[i];
        last[c] = static_cast<int>(i);
      }
    }
  }
  pattern->assign(milli.size(), 0);
  for (size_t c = room; c > 0;) {
    if (last[c] < 0) {
      --c;
      continue;
    }
    (*pattern)[static_cast<size_t>(last[c])] += 1;
    c -= static_cast<size_t>(milli[static_cast<size_t>(last[c])] / step);
  }
  return best[room];
}

}  // namespace

FractionPacking BoundFractionPacking(const std::vector<int64_t>& gpu_milli) {
  std::map<int64_t, double> counts;
  for (int64_t m : gpu_milli) counts[m] += 1;
  FractionPacking result;
  if (counts.empty()) return result;
  std::vector<int64_t> milli;
  std::vector<double> count;
  for (const auto& [m, c] : counts) {
    milli.push_back(m);
    count.push_back(c);
  }
  const size_t n = milli.size();
  // Prices worth at most 1 per GPU give a bound: the volume prices (size /
  // GPU) to start with, then each iteration's duals scaled to be feasible.
  std::vector<double> best_price(n);
  for (size_t i = 0; i < n; ++i) {
    best_price[i] = double(milli[i]) / double(kMilliPerGpu);
    result.min_gpus += count[i] * best_price[i];
  }
  // Cover every size exactly with fill patterns x (GPUs filled that way);
  // minimise the GPUs. Start from one pattern per size: as many of it as fit.
  Matrix basis(n, std::vector<double>(n, 0));
  for (size_t i = 0; i < n; ++i) basis[i][i] = double(kMilliPerGpu / milli[i]);
  std::vector<double> pattern;
  for (int iteration = 0; iteration < 10000; ++iteration) {
    const Matrix rows = Rows(basis, false);
    std::vector<double> x = Solve(rows, count);
    std::vector<double> price = Solve(Rows(basis, true), std::vector<double>(n, 1.0));
    for (double& p : price) p = std::max(p, 0.0);
    // One GPU holds at most `fill` of these prices: divided by it, they are
    // feasible.
    const double fill = BestFill(milli, price, &pattern);
    if (fill <= 0) break;
    double worth = 0;
    for (size_t i = 0; i < n; ++i) worth += count[i] * price[i] / fill;
    if (worth > result.min_gpus) {
      result.min_gpus = worth;
      for (size_t i = 0; i < n; ++i) best_price[i] = price[i] / fill;
    }
    if (fill <= 1.0 + 1e-9) break;  // no pattern improves: the LP optimum
    // The pattern enters; the ratio test picks the basis column it replaces.
    std::vector<double> direction = Solve(rows, pattern);
    size_t leaving = n;
    for (size_t i = 0; i < n; ++i) {
      if (direction[i] <= 1e-12) continue;
      if (leaving == n || x[i] / direction[i] < x[leaving] / direction[leaving]) leaving = i;
    }
    if (leaving == n) break;  // cannot happen for a bounded problem; keep the bound found
    basis[leaving] = pattern;
  }
  for (size_t i = 0; i < n; ++i) {
    result.sizes[milli[i]] = {static_cast<int64_t>(count[i]), best_price[i]};
  }
  return result;
}

int64_t FractionPacking::RoundedUp() const {
  return static_cast<int64_t>(std::ceil(min_gpus - 1e-6));
}

int64_t MinGpusForFractions(const std::vector<int64_t>& gpu_milli) {
  return BoundFractionPacking(gpu_milli).RoundedUp();
}

FractionCeiling FractionCeilingAt100(const std::vector<OpenbTask>& workload,
                                     int64_t capacity_milli) {
  FractionCeiling result;
  std::vector<int64_t> fractions;
  for (const OpenbTask& task : workload) {
    if (result.arrived_milli + task.TotalGpuMilli() > capacity_milli) break;
    result.arrived_milli += task.TotalGpuMilli();
    if (task.IsFraction() && task.gpu_milli > 0) {
      fractions.push_back(task.gpu_milli);
      result.fraction_milli += task.gpu_milli;
    }
  }
  if (capacity_milli <= 0) return result;
  const double capacity = double(capacity_milli);
  FractionPacking packing = BoundFractionPacking(fractions);
  result.min_fraction_gpus = packing.RoundedUp();
  const int64_t room_left = result.min_fraction_gpus * kMilliPerGpu - result.fraction_milli;
  result.all_placed_pct =
      100.0 * double(std::min(result.arrived_milli, capacity_milli - room_left)) / capacity;

  // Failing tasks of one size lowers what can be allocated by their size and
  // raises the room the rest must leave by (price - size) each: the request
  // bound falls, the room bound rises. Fail the best trades first, in part
  // if need be, until the two meet.
  struct Trade {
    double size, gain, count;  // milli-GPU each, milli-GPU each, tasks
  };
  std::vector<Trade> trades;
  double room = 0;  // milli-GPU the placed fractions must leave
  for (const auto& [m, size] : packing.sizes) {
    const double gain = size.price * double(kMilliPerGpu) - double(m);
    room += double(size.tasks) * gain;
    if (gain > 0) trades.push_back({double(m), gain, double(size.tasks)});
  }
  std::sort(trades.begin(), trades.end(),
            [](const Trade& a, const Trade& b) { return a.gain / a.size > b.gain / b.size; });
  double by_request = double(result.arrived_milli);
  double by_room = capacity - std::max(room, 0.0);
  for (const Trade& trade : trades) {
    if (by_request <= by_room) break;
    const double meet = (by_request - by_room) / (trade.size + trade.gain);
    const double failed = std::min(meet, trade.count);
    by_request -= failed * trade.size;
    by_room += failed * trade.gain;
  }
  result.any_policy_pct = 100.0 * std::min(by_request, by_room) / capacity;
  return result;
}

}  // namespace allot::sim

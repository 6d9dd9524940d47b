#include "cuda/compute_policy.h"

#include <algorithm>

namespace allot::cuda {
namespace {

int64_t CreditCap(const ProcessRecord& record) {
  return static_cast<int64_t>(kSliceNs) * kCreditCapSlices * record.share / 100;
}

void Refill(ProcessRecord& record, uint64_t now_ns) {
  if (record.credit_at_ns == 0 || now_ns < record.credit_at_ns) {
    record.credit_at_ns = now_ns;
    return;
  }
  auto earned = static_cast<int64_t>((now_ns - record.credit_at_ns) *
                                     static_cast<uint64_t>(record.share) / 100);
  record.credit_ns = std::min(record.credit_ns + earned, CreditCap(record));
  record.credit_at_ns = now_ns;
}

bool Eligible(ProcessRecord& record, uint64_t now_ns) {
  if (record.pid == 0 || record.demand == 0) return false;
  if (record.mode != static_cast<int32_t>(ShareMode::kStrict)) return true;
  Refill(record, now_ns);
  return record.credit_ns > 0;
}

}  // namespace

void MarkDemand(BoardLayout& board, int slot) {
  ProcessRecord& self = board.processes[slot];
  if (self.demand != 0) return;
  uint64_t lowest = UINT64_MAX;
  for (const ProcessRecord& other : board.processes) {
    if (other.pid != 0 && other.demand != 0) lowest = std::min(lowest, other.vtime_ns);
  }
  if (lowest != UINT64_MAX) self.vtime_ns = std::max(self.vtime_ns, lowest);
  self.demand = 1;
}

bool GrantNext(BoardLayout& board, uint64_t now_ns) {
  if (board.holder >= 0) return false;
  int best = -1;
  for (int p = 0; p < kMaxProcesses; ++p) {
    ProcessRecord& record = board.processes[p];
    if (!Eligible(record, now_ns)) continue;
    if (best < 0 || record.vtime_ns < board.processes[best].vtime_ns) best = p;
  }
  if (best < 0) return false;
  board.holder = best;
  board.holder_since_ns = now_ns;
  board.generation.fetch_add(1);
  return true;
}

uint64_t SliceBudget(const BoardLayout& board, int slot) {
  const ProcessRecord& record = board.processes[slot];
  if (record.mode != static_cast<int32_t>(ShareMode::kStrict)) return kSliceNs;
  return std::clamp<uint64_t>(static_cast<uint64_t>(std::max<int64_t>(record.credit_ns, 0)),
                              kMinSliceNs, kSliceNs);
}

void EndSlice(BoardLayout& board, int slot, uint64_t used_ns, bool still_wants, uint64_t now_ns) {
  ProcessRecord& record = board.processes[slot];
  record.gpu_ns.fetch_add(used_ns);
  record.vtime_ns += used_ns * 100 / static_cast<uint64_t>(std::max(record.share, 1));
  if (record.mode == static_cast<int32_t>(ShareMode::kStrict)) {
    Refill(record, now_ns);
    record.credit_ns -= static_cast<int64_t>(used_ns);
  }
  record.demand = still_wants ? 1 : 0;
  if (board.holder == slot) {
    board.holder = -1;
    board.generation.fetch_add(1);
  }
  GrantNext(board, now_ns);
}

}  // namespace allot::cuda

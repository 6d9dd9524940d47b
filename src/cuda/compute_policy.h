// Who runs next on a shared GPU: the time-slice policy of the interposer.
//
// Throttled processes (compute share below 100 %) take turns: one process
// holds the GPU for a slice (at most kSliceNs), its work drains, and the GPU
// time it held is charged to it. The next holder is chosen among processes
// that want the GPU:
//   - strict: only while its credit is positive; credit grows at its share
//     of wall time (capped at two slices' worth), so over time it gets
//     exactly its share, even when the GPU is otherwise idle;
//   - fair: always eligible; among eligible processes the one with the
//     lowest virtual time (GPU time divided by share) goes first, so
//     contending processes split the GPU in proportion to their shares and a
//     process alone gets all of it.
// A process coming back after idling starts at the lowest virtual time of
// those waiting, so that idling earns no burst.
// Every function here is called with the board's mutex held.
#pragma once

#include <cstdint>

#include "cuda/gpu_board.h"

namespace allot::cuda {

inline constexpr uint64_t kSliceNs = 20'000'000;    // 20 ms
inline constexpr uint64_t kMinSliceNs = 1'000'000;  // 1 ms
inline constexpr int64_t kCreditCapSlices = 2;

// Marks the process in `slot` as wanting the GPU.
void MarkDemand(BoardLayout& board, int slot);

// Gives the GPU to the next eligible process when nobody holds it; returns
// true when the holder changed (waiters must then be woken).
bool GrantNext(BoardLayout& board, uint64_t now_ns);

// How long the holder in `slot` may keep the GPU from its grant.
uint64_t SliceBudget(const BoardLayout& board, int slot);

// Ends the slice of `slot`, charging it `used_ns` of GPU time; `still_wants`
// says whether it has more work. Then grants the next slice.
void EndSlice(BoardLayout& board, int slot, uint64_t used_ns, bool still_wants, uint64_t now_ns);

}  // namespace allot::cuda

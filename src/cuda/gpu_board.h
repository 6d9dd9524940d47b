// The shared-memory ledger of one physical GPU: every process under the
// interposer that uses the GPU has a record in it, grouped by tenant (the
// processes of one task share one memory limit). It holds
//   - memory: bytes reserved per process, summed per tenant against the
//     tenant's limit under one process-shared robust mutex, so concurrent
//     reservations from many threads and processes never pass the limit; a
//     process that dies (even while holding the mutex) is reaped and its bytes
//     return to the tenant;
//   - compute: which process holds the GPU's current time slice, and each
//     process's share, mode, demand, credit and virtual time (see
//     compute_gate.h for the policy);
//   - usage: bytes and GPU time per process, which the agent reads for
//     metrics (ReadUsage);
//   - reclaims: the last kMaxReclaims times memory lent to a dynamic
//     fraction was taken back, so that the stopped task's shim can say why
//     it ended (FindReclaim).
// The file is /dev/shm/allot-gpu-<GPU UUID>, one per GPU, shared by its
// tenants whatever user they run as (tasks run as their owners,
// docs/isolation.md), so it is created readable and writable by all.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/process_start_time.h"
#include "common/result.h"
#include "cuda/gpu_limits.h"

namespace allot::cuda {

inline constexpr int kMaxTenants = 64;
inline constexpr int kMaxProcesses = 256;
inline constexpr int kMaxReclaims = 32;

struct TenantRecord {
  char key[96];  // empty: free
  uint64_t limit;
  uint64_t request;
};

struct ProcessRecord {
  int32_t pid;  // 0: free
  int32_t tenant;
  uint64_t start_time;  // /proc/<pid>/stat start time: tells a reused pid apart
  std::atomic<uint64_t> bytes;
  std::atomic<uint64_t> gpu_ns;  // GPU time held (throttled processes)
  // The compute scheduler's state (compute_gate.h), under the mutex.
  int32_t share;
  int32_t mode;  // ShareMode
  uint32_t demand;
  uint32_t unused;
  uint64_t vtime_ns;
  int64_t credit_ns;
  uint64_t credit_at_ns;
};

// Memory lent above a tenant's request, taken back for another tenant.
struct ReclaimRecord {
  char tenant[96];      // the borrower; empty: a free record
  char for_tenant[96];  // the tenant within its request that needed it
  uint64_t bytes;       // what the borrower held
  uint64_t request;     // the borrower's request
  int64_t time_ms;      // wall clock
};

struct BoardLayout {
  std::atomic<uint32_t> ready;  // magic once initialised
  uint32_t version;
  pthread_mutex_t mutex;
  std::atomic<uint32_t> generation;  // futex word: bumped when the slice holder changes
  int32_t holder;                    // process slot holding the GPU, or -1
  uint64_t holder_since_ns;
  TenantRecord tenants[kMaxTenants];
  ProcessRecord processes[kMaxProcesses];
  uint32_t next_reclaim;  // ring position
  ReclaimRecord reclaims[kMaxReclaims];
};

// One process's usage of one GPU, as published.
struct ProcessUsage {
  int pid = 0;
  std::string tenant;
  uint64_t bytes = 0;
  uint64_t gpu_ns = 0;
};

// The board file of the GPU with this UUID text in `directory`.
std::string BoardPath(const std::string& uuid, const std::string& directory);

class GpuBoard;

// Holds the board's mutex; reaps dead processes when the previous owner died
// holding it.
class BoardLock {
 public:
  explicit BoardLock(GpuBoard& board);
  ~BoardLock();
  BoardLock(const BoardLock&) = delete;
  BoardLock& operator=(const BoardLock&) = delete;

 private:
  GpuBoard& board_;
};

class GpuBoard {
 public:
  // Opens (creating if needed) the board of the GPU with this UUID text
  // ("GPU-..."). `directory` is /dev/shm unless tests say otherwise.
  static Result<std::unique_ptr<GpuBoard>> Open(const std::string& uuid,
                                                const std::string& directory = "/dev/shm");
  ~GpuBoard();

  // Registers process `pid` (with its start time) under `limits.tenant`;
  // returns its process slot. The tenant's limit and request are the first
  // joiner's; a later joiner with different ones is refused.
  Result<int> Join(const GpuLimits& limits, int pid, uint64_t start_time);

  // Reserves `bytes` for the process in `slot` against its tenant's limit.
  // False (and nothing reserved) when the tenant would pass its limit.
  bool Reserve(int slot, uint64_t bytes);
  // Returns bytes reserved earlier by the process in `slot`.
  void Release(int slot, uint64_t bytes);
  // Bytes reserved by the tenant of `slot`, all its processes together.
  uint64_t TenantBytes(int slot);
  // Processes of other tenants using more than their request (dynamic
  // fractions borrowing memory): the ones to stop when the tenant of `slot`
  // needs memory within its own request.
  std::vector<int> Borrowers(int slot);
  // The same, recording for each borrowing tenant that its memory is being
  // taken back for the tenant of `slot`.
  std::vector<int> TakeBackFromBorrowers(int slot);
  // The latest reclaim recorded for tenant `key`, if any.
  std::optional<ReclaimRecord> FindReclaim(const std::string& key);
  // Clears the records of processes that no longer exist; returns how many.
  int Reap();
  // Every live process's usage.
  std::vector<ProcessUsage> ReadUsage();

  // With the mutex held (BoardLock): clears dead processes' records; and
  // removes a live process that is leaving (its slice handed back).
  int ReapLocked();
  void LeaveLocked(int slot);

  BoardLayout& layout() { return *layout_; }
  const std::string& path() const { return path_; }

 private:
  friend class BoardLock;
  GpuBoard(BoardLayout* layout, std::string path) : layout_(layout), path_(std::move(path)) {}
  uint64_t TenantBytesLocked(int tenant) const;
  std::vector<int> BorrowersLocked(int slot, bool record_reclaims);
  void ClearLocked(int slot);

  BoardLayout* layout_;
  std::string path_;
};

// The UUID text NVML prints for CUDA's 16 bytes: "GPU-xxxxxxxx-xxxx-...".
std::string UuidText(const unsigned char bytes[16]);

}  // namespace allot::cuda

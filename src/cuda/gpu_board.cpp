#include "cuda/gpu_board.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace allot::cuda {
namespace {

constexpr uint32_t kMagic = 0xa110c0de;
constexpr uint32_t kVersion = 2;  // 2: reclaim records

bool Alive(const ProcessRecord& record) {
  if (record.pid <= 0) return false;
  if (kill(record.pid, 0) != 0 && errno == ESRCH) return false;
  return static_cast<uint64_t>(ProcessStartTime(record.pid)) == record.start_time;
}

void InitMutex(pthread_mutex_t* mutex) {
  pthread_mutexattr_t attributes;
  pthread_mutexattr_init(&attributes);
  pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(mutex, &attributes);
  pthread_mutexattr_destroy(&attributes);
}

}  // namespace

std::string UuidText(const unsigned char b[16]) {
  char text[48];
  std::snprintf(text, sizeof text,
                "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                b[14], b[15]);
  return text;
}

std::string BoardPath(const std::string& uuid, const std::string& directory) {
  return directory + "/allot-gpu-" + uuid;
}

Result<std::unique_ptr<GpuBoard>> GpuBoard::Open(const std::string& uuid,
                                                 const std::string& directory) {
  std::string path = BoardPath(uuid, directory);
  bool created = true;
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd >= 0) (void)fchmod(fd, 0666);  // the creator's umask must not shut other tenants out
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (fd < 0) return Error("cannot open the GPU ledger " + path + ": " + std::strerror(errno));
  if (created && ftruncate(fd, sizeof(BoardLayout)) != 0) {
    close(fd);
    return Error("cannot size the GPU ledger " + path + ": " + std::strerror(errno));
  }
  // A board being created by another process: wait for its size, then its magic.
  struct stat info {};
  for (int i = 0;
       i < 1000 && fstat(fd, &info) == 0 && info.st_size < static_cast<off_t>(sizeof(BoardLayout));
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (fstat(fd, &info) != 0 || info.st_size < static_cast<off_t>(sizeof(BoardLayout))) {
    close(fd);
    return Error("the GPU ledger " + path +
                 " is incomplete (its creator died): remove it when no GPU process runs");
  }
  void* mapped = mmap(nullptr, sizeof(BoardLayout), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (mapped == MAP_FAILED)
    return Error("cannot map the GPU ledger " + path + ": " + std::strerror(errno));
  auto* layout = static_cast<BoardLayout*>(mapped);
  if (created) {
    layout->version = kVersion;
    InitMutex(&layout->mutex);
    layout->holder = -1;
    layout->ready.store(kMagic, std::memory_order_release);
  } else {
    for (int i = 0; i < 1000 && layout->ready.load(std::memory_order_acquire) != kMagic; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (layout->ready.load(std::memory_order_acquire) != kMagic || layout->version != kVersion) {
      munmap(mapped, sizeof(BoardLayout));
      return Error("the GPU ledger " + path +
                   " is not initialised or of another version: remove it when no GPU process runs");
    }
  }
  return std::unique_ptr<GpuBoard>(new GpuBoard(layout, path));
}

GpuBoard::~GpuBoard() {
  munmap(layout_, sizeof(BoardLayout));
}

BoardLock::BoardLock(GpuBoard& board) : board_(board) {
  int result = pthread_mutex_lock(&board_.layout_->mutex);
  if (result == EOWNERDEAD) {
    // The previous owner died mid-update: records are single stores, so they
    // are whole; only its own record is stale, and reaping clears it.
    pthread_mutex_consistent(&board_.layout_->mutex);
    board_.ReapLocked();
  }
}

BoardLock::~BoardLock() {
  pthread_mutex_unlock(&board_.layout_->mutex);
}

Result<int> GpuBoard::Join(const GpuLimits& limits, int pid, uint64_t start_time) {
  BoardLock lock(*this);
  ReapLocked();
  int tenant = -1;
  int free_tenant = -1;
  for (int t = 0; t < kMaxTenants; ++t) {
    TenantRecord& record = layout_->tenants[t];
    if (record.key[0] == '\0') {
      if (free_tenant < 0) free_tenant = t;
    } else if (limits.tenant == record.key) {
      tenant = t;
    }
  }
  if (tenant >= 0) {
    TenantRecord& record = layout_->tenants[tenant];
    if (record.limit != limits.memory_limit || record.request != limits.memory_request) {
      return Error(
          "tenant " + limits.tenant +
          " already runs on this GPU with another memory limit; its processes must share one");
    }
  } else {
    if (free_tenant < 0)
      return Error("the GPU ledger " + path_ + " has no room for another tenant");
    tenant = free_tenant;
    TenantRecord& record = layout_->tenants[tenant];
    std::snprintf(record.key, sizeof record.key, "%s", limits.tenant.c_str());
    record.limit = limits.memory_limit;
    record.request = limits.memory_request;
  }
  uint64_t min_vtime = UINT64_MAX;
  int slot = -1;
  for (int p = 0; p < kMaxProcesses; ++p) {
    ProcessRecord& record = layout_->processes[p];
    if (record.pid == 0) {
      if (slot < 0) slot = p;
    } else if (record.demand != 0) {
      min_vtime = std::min(min_vtime, record.vtime_ns);
    }
  }
  if (slot < 0) return Error("the GPU ledger " + path_ + " has no room for another process");
  ProcessRecord& record = layout_->processes[slot];
  record.tenant = tenant;
  record.start_time = start_time;
  record.bytes.store(0);
  record.gpu_ns.store(0);
  record.share = limits.compute_share;
  record.mode = static_cast<int32_t>(limits.mode);
  record.demand = 0;
  record.vtime_ns = min_vtime == UINT64_MAX ? 0 : min_vtime;
  record.credit_ns = 0;
  record.credit_at_ns = 0;
  record.pid = pid;  // last: the record is live from here
  return slot;
}

uint64_t GpuBoard::TenantBytesLocked(int tenant) const {
  uint64_t total = 0;
  for (const ProcessRecord& record : layout_->processes) {
    if (record.pid != 0 && record.tenant == tenant) total += record.bytes.load();
  }
  return total;
}

bool GpuBoard::Reserve(int slot, uint64_t bytes) {
  BoardLock lock(*this);
  ProcessRecord& record = layout_->processes[slot];
  const TenantRecord& tenant = layout_->tenants[record.tenant];
  auto fits = [&] {
    uint64_t used = TenantBytesLocked(record.tenant);
    return tenant.limit == kUnlimited || (used <= tenant.limit && bytes <= tenant.limit - used);
  };
  if (!fits()) {
    // Bytes of processes that died are still counted until reaped.
    if (ReapLocked() == 0 || !fits()) return false;
  }
  record.bytes.fetch_add(bytes);
  return true;
}

void GpuBoard::Release(int slot, uint64_t bytes) {
  ProcessRecord& record = layout_->processes[slot];
  uint64_t current = record.bytes.load();
  while (!record.bytes.compare_exchange_weak(current, current >= bytes ? current - bytes : 0)) {
  }
}

uint64_t GpuBoard::TenantBytes(int slot) {
  BoardLock lock(*this);
  return TenantBytesLocked(layout_->processes[slot].tenant);
}

std::vector<int> GpuBoard::Borrowers(int slot) {
  BoardLock lock(*this);
  ReapLocked();
  return BorrowersLocked(slot, false);
}

std::vector<int> GpuBoard::TakeBackFromBorrowers(int slot) {
  BoardLock lock(*this);
  ReapLocked();
  return BorrowersLocked(slot, true);
}

std::vector<int> GpuBoard::BorrowersLocked(int slot, bool record_reclaims) {
  std::vector<int> pids;
  int own = layout_->processes[slot].tenant;
  for (int t = 0; t < kMaxTenants; ++t) {
    const TenantRecord& tenant = layout_->tenants[t];
    if (t == own || tenant.key[0] == '\0' || tenant.request >= tenant.limit) continue;
    uint64_t held = TenantBytesLocked(t);
    if (held <= tenant.request) continue;
    if (record_reclaims) {
      ReclaimRecord& record = layout_->reclaims[layout_->next_reclaim++ % kMaxReclaims];
      std::snprintf(record.tenant, sizeof record.tenant, "%s", tenant.key);
      std::snprintf(record.for_tenant, sizeof record.for_tenant, "%s", layout_->tenants[own].key);
      record.bytes = held;
      record.request = tenant.request;
      record.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    }
    for (const ProcessRecord& process : layout_->processes) {
      if (process.pid != 0 && process.tenant == t && process.bytes.load() > 0)
        pids.push_back(process.pid);
    }
  }
  return pids;
}

std::optional<ReclaimRecord> GpuBoard::FindReclaim(const std::string& key) {
  BoardLock lock(*this);
  std::optional<ReclaimRecord> latest;
  for (const ReclaimRecord& record : layout_->reclaims) {
    if (record.tenant[0] == '\0' || key != record.tenant) continue;
    if (!latest || record.time_ms >= latest->time_ms) latest = record;
  }
  return latest;
}

int GpuBoard::Reap() {
  BoardLock lock(*this);
  return ReapLocked();
}

void GpuBoard::ClearLocked(int slot) {
  ProcessRecord& record = layout_->processes[slot];
  record.pid = 0;
  record.bytes.store(0);
  record.demand = 0;
  if (layout_->holder == slot) {
    layout_->holder = -1;
    layout_->generation.fetch_add(1);
    syscall(SYS_futex, &layout_->generation, FUTEX_WAKE, INT32_MAX, nullptr, nullptr, 0);
  }
}

void GpuBoard::LeaveLocked(int slot) {
  if (layout_->processes[slot].pid == getpid()) ClearLocked(slot);
  ReapLocked();
}

int GpuBoard::ReapLocked() {
  int reaped = 0;
  for (int p = 0; p < kMaxProcesses; ++p) {
    ProcessRecord& record = layout_->processes[p];
    if (record.pid == 0 || Alive(record)) continue;
    ClearLocked(p);
    ++reaped;
  }
  // Tenants without processes are forgotten, so that their key may come
  // back with other limits.
  for (int t = 0; t < kMaxTenants; ++t) {
    bool used = false;
    for (const ProcessRecord& record : layout_->processes)
      used = used || (record.pid != 0 && record.tenant == t);
    if (!used) layout_->tenants[t].key[0] = '\0';
  }
  return reaped;
}

std::vector<ProcessUsage> GpuBoard::ReadUsage() {
  BoardLock lock(*this);
  ReapLocked();
  std::vector<ProcessUsage> usage;
  for (const ProcessRecord& record : layout_->processes) {
    if (record.pid == 0) continue;
    usage.push_back(ProcessUsage{record.pid, layout_->tenants[record.tenant].key,
                                 record.bytes.load(), record.gpu_ns.load()});
  }
  return usage;
}

}  // namespace allot::cuda

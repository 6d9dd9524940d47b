#include "cuda/fake/fake_gpu.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace allot::fake_gpu {
namespace {

uint64_t ParseBytes(const char* text, uint64_t fallback) {
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  unsigned long long value = std::strtoull(text, &end, 10);
  std::string suffix = end;
  if (suffix == "Ki") return value << 10;
  if (suffix == "Mi") return value << 20;
  if (suffix == "Gi") return value << 30;
  if (suffix.empty()) return value;
  std::fprintf(stderr, "fake GPU: ALLOT_FAKE_GPU_MEMORY=%s is not bytes or Ki/Mi/Gi\n", text);
  std::abort();
}

Config ReadConfig() {
  Config config;
  if (const char* count = std::getenv("ALLOT_FAKE_GPUS"); count != nullptr && *count != '\0') {
    config.device_count = std::atoi(count);
    if (config.device_count < 0 || config.device_count > kMaxDevices) {
      std::fprintf(stderr, "fake GPU: ALLOT_FAKE_GPUS=%s must be 0 to %d\n", count, kMaxDevices);
      std::abort();
    }
  }
  config.memory_bytes = ParseBytes(std::getenv("ALLOT_FAKE_GPU_MEMORY"), config.memory_bytes);
  config.trace_misses = std::getenv("ALLOT_FAKE_GPU_TRACE") != nullptr;
  return config;
}

State* MapState() {
  std::string path;
  if (const char* configured = std::getenv("ALLOT_FAKE_GPU_STATE"); configured && *configured) {
    path = configured;
  } else {
    path = "/dev/shm/allot-fake-gpu-" + std::to_string(getuid());
  }
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate(fd, sizeof(State)) != 0) {
    std::fprintf(stderr, "fake GPU: cannot open %s: %s\n", path.c_str(), std::strerror(errno));
    std::abort();
  }
  void* mapped = mmap(nullptr, sizeof(State), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (mapped == MAP_FAILED) {
    std::fprintf(stderr, "fake GPU: cannot map %s: %s\n", path.c_str(), std::strerror(errno));
    std::abort();
  }
  // A new file is all zeros, which is the initial state.
  return static_cast<State*>(mapped);
}

}  // namespace

const Config& GetConfig() {
  static const Config config = ReadConfig();
  return config;
}

State& GetState() {
  static State* state = MapState();
  return *state;
}

uint64_t NowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000ULL + static_cast<uint64_t>(now.tv_nsec);
}

void DeviceUuid(int ordinal, unsigned char out[16]) {
  static const unsigned char kBase[16] = {0xfa, 0x4e, 0x00, 0x00, 0x6a, 0x11, 0x40, 0x7c,
                                          0x8d, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  std::memcpy(out, kBase, 16);
  out[15] = static_cast<unsigned char>(ordinal);
}

void DeviceUuidText(int ordinal, char* out, unsigned length) {
  unsigned char b[16];
  DeviceUuid(ordinal, b);
  std::snprintf(out, length,
                "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                b[14], b[15]);
}

namespace {

// This process's memory record, claimed on first use.
ProcessMemory& Own() {
  static ProcessMemory* own = [] {
    State& state = GetState();
    int32_t pid = getpid();
    for (ProcessMemory& record : state.processes) {
      int32_t expected = 0;
      if (record.pid.load() == pid || record.pid.compare_exchange_strong(expected, pid)) {
        for (auto& bytes : record.bytes) bytes.store(0);
        return &record;
      }
    }
    std::fprintf(stderr, "fake GPU: more than %d processes\n", kMaxProcesses);
    std::abort();
  }();
  return *own;
}

// Frees the memory of processes that have died; true when some was freed.
bool ReapDead() {
  bool freed = false;
  for (ProcessMemory& record : GetState().processes) {
    int32_t pid = record.pid.load();
    if (pid == 0 || kill(pid, 0) == 0 || errno != ESRCH) continue;
    if (!record.pid.compare_exchange_strong(pid, -1)) continue;  // another reaper has it
    for (int d = 0; d < kMaxDevices; ++d) {
      uint64_t bytes = record.bytes[d].exchange(0);
      if (bytes > 0) {
        GetState().devices[d].used_bytes.fetch_sub(bytes);
        freed = true;
      }
    }
    record.pid.store(0);
  }
  return freed;
}

bool TryReserve(int ordinal, uint64_t bytes) {
  std::atomic<uint64_t>& used = GetState().devices[ordinal].used_bytes;
  uint64_t current = used.load();
  do {
    if (current + bytes > GetConfig().memory_bytes) return false;
  } while (!used.compare_exchange_weak(current, current + bytes));
  return true;
}

}  // namespace

bool ReserveDeviceMemory(int ordinal, uint64_t bytes) {
  ProcessMemory& own = Own();
  if (!TryReserve(ordinal, bytes) && (!ReapDead() || !TryReserve(ordinal, bytes))) return false;
  own.bytes[ordinal].fetch_add(bytes);
  return true;
}

void ReleaseDeviceMemory(int ordinal, uint64_t bytes) {
  Own().bytes[ordinal].fetch_sub(bytes);
  GetState().devices[ordinal].used_bytes.fetch_sub(bytes);
}

}  // namespace allot::fake_gpu

// The fake GPUs behind the fake CUDA driver (libcuda.so.1) and the fake NVML
// (libnvidia-ml.so.1) that tests and benchmarks run the interposer on. They
// are not part of allot's product: they exist so that CI, which has no GPU,
// runs the interposer's whole logic.
//
// A machine's fake GPUs live in one shared-memory file, so that several
// processes see one device: memory in use and the device's timeline are
// shared. The file is $ALLOT_FAKE_GPU_STATE, or /dev/shm/allot-fake-gpu-<uid>.
//
// The model:
//   - $ALLOT_FAKE_GPUS devices (default 2), each with $ALLOT_FAKE_GPU_MEMORY
//     bytes (default 80 GiB; Ki/Mi/Gi suffixes allowed). Memory is host
//     memory reserved without backing (MAP_NORESERVE), so 80 GiB costs
//     nothing until touched.
//   - A kernel occupies its device for one microsecond per block
//     (gridDimX x gridDimY x gridDimZ), one kernel at a time per device across
//     every process: the virtual clock is CLOCK_MONOTONIC, and a kernel's
//     start is the latest of its launch, its stream's previous work and the
//     device's previous kernel. Events complete when their stream's work has.
#pragma once

#include <atomic>
#include <cstdint>

namespace allot::fake_gpu {

inline constexpr int kMaxDevices = 16;

struct Device {
  std::atomic<uint64_t> used_bytes;
  std::atomic<uint64_t> busy_until_ns;
};

// Memory per process, so that a process's memory returns when it dies, as
// the real driver frees a dead process's memory.
inline constexpr int kMaxProcesses = 256;
struct ProcessMemory {
  std::atomic<int32_t> pid;
  std::atomic<uint64_t> bytes[kMaxDevices];
};

struct State {
  std::atomic<uint32_t> ready;
  uint32_t reserved;
  Device devices[kMaxDevices];
  ProcessMemory processes[kMaxProcesses];
};

// The machine's configuration, read from the environment once per process.
struct Config {
  int device_count = 2;
  uint64_t memory_bytes = 80ULL << 30;
  // ALLOT_FAKE_GPU_TRACE set: say on stderr which entry points and private
  // tables a program asked for and the fake does not have.
  bool trace_misses = false;
};

const Config& GetConfig();

// The shared state, mapped on first use; never null (a failure to map it
// aborts with a message, as a broken fake must not pass tests).
State& GetState();

// CLOCK_MONOTONIC in nanoseconds: the fake GPU's clock.
uint64_t NowNs();

// The 16-byte UUID of fake device `ordinal` (physical, before
// CUDA_VISIBLE_DEVICES) and its NVML text form "GPU-xxxxxxxx-xxxx-...".
void DeviceUuid(int ordinal, unsigned char out[16]);
void DeviceUuidText(int ordinal, char* out, unsigned length);

// Reserves `bytes` on a device for this process; false when the device does
// not have them free (after returning the memory of dead processes).
bool ReserveDeviceMemory(int ordinal, uint64_t bytes);
void ReleaseDeviceMemory(int ordinal, uint64_t bytes);

}  // namespace allot::fake_gpu

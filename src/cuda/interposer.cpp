// liballot-cuda.so: the GPU interposer, preloaded (LD_PRELOAD) into every
// process of a fractional task by the agent or by `allot gpu-run`.
//
// Entry points. The application reaches the driver three ways, and each one
// ends at a wrapper here:
//   - by linking libcuda: the wrappers below have the driver's exported names
//     and come first in the search order;
//   - by dlsym on a libcuda handle (as the CUDA runtime does): dlsym is
//     wrapped, and a pointer it returns that is a wrapped driver function is
//     swapped for the wrapper;
//   - by cuGetProcAddress (the runtime since CUDA 11.3, PyTorch): the real
//     driver is asked first, and the exact variant it returns (version,
//     per-thread-stream) is swapped for the wrapper of that variant. A pointer
//     for a wrapped function that is none of the variants wrapped here (an
//     old 32-bit variant, or a driver that returns an unknown pointer) is
//     refused rather than handed out unlimited: nothing is guessed by name.
// Memory: every allocation path reserves its bytes in the GPU's ledger
// (gpu_board.h) before the driver is called and returns them if the call
// fails. Compute: launches of a throttled process wait for its time slice
// (compute_policy.h); a monitor thread ends slices and drains the work.
#include <cuda.h>
#include <dlfcn.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cuda/array_bytes.h"
#include "cuda/compute_policy.h"
#include "cuda/gpu_board.h"
#include "cuda/gpu_limits.h"
#include "cuda/nvml_types.h"

#define ALLOT_EXPORT extern "C" __attribute__((visibility("default")))

// Variants cuda.h declares only under other macros.
extern "C" {
CUresult cuMemAllocAsync_ptsz(CUdeviceptr*, size_t, CUstream);
CUresult cuMemFreeAsync_ptsz(CUdeviceptr, CUstream);
CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr*, size_t, CUmemoryPool, CUstream);
CUresult cuLaunchKernel_ptsz(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, CUstream, void**, void**);
CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig*, CUfunction, void**, void**);
CUresult cuLaunchCooperativeKernel_ptsz(CUfunction, unsigned, unsigned, unsigned, unsigned,
                                        unsigned, unsigned, unsigned, CUstream, void**);
CUresult cuGraphLaunch_ptsz(CUgraphExec, CUstream);
CUresult AllotGetProcAddressV1(const char*, void**, int, cuuint64_t) __asm__("cuGetProcAddress");
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t, nvmlMemory_t*);
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t, nvmlMemory_v2_t*);
}

namespace {

using allot::cuda::GpuBoard;
using allot::cuda::GpuLimits;

// Every wrapped function: its exported name, the name cuGetProcAddress is
// asked for, and the wrapper. X(function, base name).
#define ALLOT_WRAPPED_DRIVER(X)                                  \
  X(cuMemAlloc_v2, "cuMemAlloc")                                 \
  X(cuMemAllocPitch_v2, "cuMemAllocPitch")                       \
  X(cuMemAllocManaged, "cuMemAllocManaged")                      \
  X(cuMemFree_v2, "cuMemFree")                                   \
  X(cuMemAllocAsync, "cuMemAllocAsync")                          \
  X(cuMemAllocAsync_ptsz, "cuMemAllocAsync")                     \
  X(cuMemFreeAsync, "cuMemFreeAsync")                            \
  X(cuMemFreeAsync_ptsz, "cuMemFreeAsync")                       \
  X(cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync")          \
  X(cuMemAllocFromPoolAsync_ptsz, "cuMemAllocFromPoolAsync")     \
  X(cuMemCreate, "cuMemCreate")                                  \
  X(cuMemRelease, "cuMemRelease")                                \
  X(cuArrayCreate_v2, "cuArrayCreate")                           \
  X(cuArray3DCreate_v2, "cuArray3DCreate")                       \
  X(cuArrayDestroy, "cuArrayDestroy")                            \
  X(cuMipmappedArrayCreate, "cuMipmappedArrayCreate")            \
  X(cuMipmappedArrayDestroy, "cuMipmappedArrayDestroy")          \
  X(cuGraphAddMemAllocNode, "cuGraphAddMemAllocNode")            \
  X(cuGraphDestroy, "cuGraphDestroy")                            \
  X(cuMemGetInfo_v2, "cuMemGetInfo")                             \
  X(cuDeviceTotalMem_v2, "cuDeviceTotalMem")                     \
  X(cuLaunchKernel, "cuLaunchKernel")                            \
  X(cuLaunchKernel_ptsz, "cuLaunchKernel")                       \
  X(cuLaunchKernelEx, "cuLaunchKernelEx")                        \
  X(cuLaunchKernelEx_ptsz, "cuLaunchKernelEx")                   \
  X(cuLaunchCooperativeKernel, "cuLaunchCooperativeKernel")      \
  X(cuLaunchCooperativeKernel_ptsz, "cuLaunchCooperativeKernel") \
  X(cuGraphLaunch, "cuGraphLaunch")                              \
  X(cuGraphLaunch_ptsz, "cuGraphLaunch")                         \
  X(cuGetProcAddress_v2, "cuGetProcAddress")                     \
  X(AllotGetProcAddressV1, "cuGetProcAddress")

#define ALLOT_WRAPPED_NVML(X)                           \
  X(nvmlDeviceGetMemoryInfo, "nvmlDeviceGetMemoryInfo") \
  X(nvmlDeviceGetMemoryInfo_v2, "nvmlDeviceGetMemoryInfo_v2")

// The exported names of the wrapped functions, for dlsym on the real library.
const char* ExportName(const char* function) {
  return std::strcmp(function, "AllotGetProcAddressV1") == 0 ? "cuGetProcAddress" : function;
}

// The real driver's functions the wrappers call, and the few more the
// interposer needs itself.
struct Real {
#define ALLOT_REAL_POINTER(function, base) decltype(&::function) function = nullptr;
  ALLOT_WRAPPED_DRIVER(ALLOT_REAL_POINTER)
  ALLOT_WRAPPED_NVML(ALLOT_REAL_POINTER)
#undef ALLOT_REAL_POINTER
  decltype(&::cuInit) cuInit = nullptr;
  decltype(&::cuCtxGetDevice) cuCtxGetDevice = nullptr;
  decltype(&::cuCtxGetCurrent) cuCtxGetCurrent = nullptr;
  decltype(&::cuCtxPushCurrent_v2) cuCtxPushCurrent_v2 = nullptr;
  decltype(&::cuCtxPopCurrent_v2) cuCtxPopCurrent_v2 = nullptr;
  decltype(&::cuCtxSynchronize) cuCtxSynchronize = nullptr;
  decltype(&::cuDeviceGet) cuDeviceGet = nullptr;
  decltype(&::cuDeviceGetCount) cuDeviceGetCount = nullptr;
  decltype(&::cuDeviceGetUuid_v2) cuDeviceGetUuid_v2 = nullptr;
  decltype(&::cuDevicePrimaryCtxRetain) cuDevicePrimaryCtxRetain = nullptr;
  decltype(&::cuEventCreate) cuEventCreate = nullptr;
  decltype(&::cuEventRecord) cuEventRecord = nullptr;
  decltype(&::cuEventSynchronize) cuEventSynchronize = nullptr;
  decltype(&::cuEventElapsedTime_v2) cuEventElapsedTime = nullptr;
  decltype(&::cuStreamCreate) cuStreamCreate = nullptr;
  // Stream capture (CUDA 10+; null on an older driver).
  decltype(&::cuStreamIsCapturing) cuStreamIsCapturing = nullptr;
  decltype(&::cuStreamIsCapturing) cuStreamIsCapturing_ptsz = nullptr;
  decltype(&::cuThreadExchangeStreamCaptureMode) cuThreadExchangeStreamCaptureMode = nullptr;
  nvmlReturn_t (*nvmlDeviceGetUUID)(nvmlDevice_t, char*, unsigned) = nullptr;
};

struct EntryPoint {
  const char* base;
  void* wrapper;
  void* real;
};

using DlsymFunction = void* (*)(void*, const char*);

struct Interposer {
  GpuLimits limits;
  Real real;
  void* driver = nullptr;
  std::once_flag driver_once;
  std::mutex nvml_mu;
  bool nvml_resolved = false;
  std::vector<EntryPoint> entries;  // guarded by entries_mu after start
  std::mutex entries_mu;
};

Interposer& I() {
  static Interposer* interposer = new Interposer();  // never destroyed: used until exit
  return *interposer;
}

void Complain(const std::string& message) {
  std::fprintf(stderr, "allot-cuda: %s\n", message.c_str());
}

DlsymFunction RealDlsym() {
  static DlsymFunction function = [] {
    for (const char* version : {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17"}) {
      if (void* found = dlvsym(RTLD_NEXT, "dlsym", version))
        return reinterpret_cast<DlsymFunction>(found);
    }
    Complain("cannot find the C library's dlsym");
    std::abort();
  }();
  return function;
}

template <typename F>
void Resolve(void* library, const char* name, F& out) {
  out = reinterpret_cast<F>(RealDlsym()(library, name));
}

void LoadDriver() {
  Interposer& in = I();
  in.driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (in.driver == nullptr) {
    Complain(std::string("cannot load the CUDA driver libcuda.so.1: ") + dlerror());
    return;
  }
  Real& r = in.real;
  std::lock_guard lock(in.entries_mu);
#define ALLOT_RESOLVE(function, base)                                         \
  Resolve(in.driver, ExportName(#function), r.function);                      \
  in.entries.push_back(EntryPoint{base, reinterpret_cast<void*>(&::function), \
                                  reinterpret_cast<void*>(r.function)});
  ALLOT_WRAPPED_DRIVER(ALLOT_RESOLVE)
#undef ALLOT_RESOLVE
  Resolve(in.driver, "cuInit", r.cuInit);
  Resolve(in.driver, "cuCtxGetDevice", r.cuCtxGetDevice);
  Resolve(in.driver, "cuCtxGetCurrent", r.cuCtxGetCurrent);
  Resolve(in.driver, "cuCtxPushCurrent_v2", r.cuCtxPushCurrent_v2);
  Resolve(in.driver, "cuCtxPopCurrent_v2", r.cuCtxPopCurrent_v2);
  Resolve(in.driver, "cuCtxSynchronize", r.cuCtxSynchronize);
  Resolve(in.driver, "cuDeviceGet", r.cuDeviceGet);
  Resolve(in.driver, "cuDeviceGetCount", r.cuDeviceGetCount);
  Resolve(in.driver, "cuDeviceGetUuid_v2", r.cuDeviceGetUuid_v2);
  if (r.cuDeviceGetUuid_v2 == nullptr) Resolve(in.driver, "cuDeviceGetUuid", r.cuDeviceGetUuid_v2);
  Resolve(in.driver, "cuDevicePrimaryCtxRetain", r.cuDevicePrimaryCtxRetain);
  Resolve(in.driver, "cuEventCreate", r.cuEventCreate);
  Resolve(in.driver, "cuEventRecord", r.cuEventRecord);
  Resolve(in.driver, "cuEventSynchronize", r.cuEventSynchronize);
  Resolve(in.driver, "cuEventElapsedTime_v2", r.cuEventElapsedTime);
  if (r.cuEventElapsedTime == nullptr)
    Resolve(in.driver, "cuEventElapsedTime", r.cuEventElapsedTime);
  Resolve(in.driver, "cuStreamCreate", r.cuStreamCreate);
  Resolve(in.driver, "cuStreamIsCapturing", r.cuStreamIsCapturing);
  Resolve(in.driver, "cuStreamIsCapturing_ptsz", r.cuStreamIsCapturing_ptsz);
  Resolve(in.driver, "cuThreadExchangeStreamCaptureMode", r.cuThreadExchangeStreamCaptureMode);
}

std::atomic<bool> g_driver_loaded{false};

// The real driver's functions. Launch wrappers call this on every launch:
// once loaded, it is one acquire load.
Real& Driver() {
  if (!g_driver_loaded.load(std::memory_order_acquire)) {
    std::call_once(I().driver_once, LoadDriver);
    g_driver_loaded.store(true, std::memory_order_release);
  }
  return I().real;
}

// NVML's wrapped functions, once the application has loaded NVML.
bool ResolveNvml(bool load) {
  Interposer& in = I();
  std::lock_guard lock(in.nvml_mu);
  if (in.nvml_resolved) return true;
  void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL | (load ? 0 : RTLD_NOLOAD));
  if (nvml == nullptr) return false;
  Real& r = in.real;
  std::lock_guard entries_lock(in.entries_mu);
#define ALLOT_RESOLVE(function, base)                                         \
  Resolve(nvml, #function, r.function);                                       \
  in.entries.push_back(EntryPoint{base, reinterpret_cast<void*>(&::function), \
                                  reinterpret_cast<void*>(r.function)});
  ALLOT_WRAPPED_NVML(ALLOT_RESOLVE)
#undef ALLOT_RESOLVE
  Resolve(nvml, "nvmlDeviceGetUUID", r.nvmlDeviceGetUUID);
  in.nvml_resolved = true;
  return true;
}

enum class Substitution { kKept, kWrapped, kRefused };

// What to hand out for `found`, which the real library returned for `base`.
Substitution Substitute(void*& found, const char* base) {
  if (found == nullptr) return Substitution::kKept;
  std::lock_guard lock(I().entries_mu);
  bool wrapped_base = false;
  for (const EntryPoint& entry : I().entries) {
    if (entry.real == found || entry.wrapper == found) {
      found = entry.wrapper;
      return Substitution::kWrapped;
    }
    wrapped_base = wrapped_base || (base != nullptr && std::strcmp(entry.base, base) == 0);
  }
  return wrapped_base ? Substitution::kRefused : Substitution::kKept;
}

// ---- Per-GPU ledgers -------------------------------------------------------------

struct Binding {
  std::unique_ptr<GpuBoard> board;
  int slot = -1;
  std::string uuid;
};

constexpr int kMaxBindings = 64;
std::array<std::atomic<Binding*>, kMaxBindings> g_bindings{};
std::mutex g_bindings_mu;

// The ledger of CUDA device `device` (an ordinal of the visible devices),
// joined on first use; null when it cannot be opened (then allocations fail).
Binding* BindingFor(CUdevice device) {
  if (device < 0 || device >= kMaxBindings) return nullptr;
  if (Binding* bound = g_bindings[static_cast<size_t>(device)].load(std::memory_order_acquire))
    return bound;
  std::lock_guard lock(g_bindings_mu);
  if (Binding* bound = g_bindings[static_cast<size_t>(device)].load()) return bound;
  Real& r = Driver();
  CUuuid uuid{};
  if (r.cuDeviceGetUuid_v2 == nullptr || r.cuDeviceGetUuid_v2(&uuid, device) != CUDA_SUCCESS) {
    Complain("cannot read the UUID of CUDA device " + std::to_string(device));
    return nullptr;
  }
  auto binding = std::make_unique<Binding>();
  binding->uuid = allot::cuda::UuidText(reinterpret_cast<const unsigned char*>(uuid.bytes));
  const char* directory = std::getenv("ALLOT_GPU_LEDGER_DIR");
  auto board = GpuBoard::Open(binding->uuid,
                              directory != nullptr && *directory != '\0' ? directory : "/dev/shm");
  if (!board) {
    Complain(board.error().message);
    return nullptr;
  }
  binding->board = std::move(*board);
  auto slot = binding->board->Join(I().limits, getpid(),
                                   static_cast<uint64_t>(allot::ProcessStartTime(getpid())));
  if (!slot) {
    Complain(slot.error().message);
    return nullptr;
  }
  binding->slot = *slot;
  g_bindings[static_cast<size_t>(device)].store(binding.get(), std::memory_order_release);
  return binding.release();
}

Binding* CurrentBinding() {
  CUdevice device = 0;
  Real& r = Driver();
  if (r.cuCtxGetDevice == nullptr || r.cuCtxGetDevice(&device) != CUDA_SUCCESS) return nullptr;
  return BindingFor(device);
}

// What each live allocation reserved, to return it when freed.
enum class Kind { kPointer, kArray, kHandle, kGraph, kCount };

struct Reserved {
  Binding* binding;
  uint64_t bytes;
};

std::mutex g_reserved_mu;
std::array<std::unordered_map<uintptr_t, std::vector<Reserved>>, static_cast<size_t>(Kind::kCount)>
    g_reserved;

void Remember(Kind kind, uintptr_t key, Binding* binding, uint64_t bytes) {
  std::lock_guard lock(g_reserved_mu);
  g_reserved[static_cast<size_t>(kind)][key].push_back(Reserved{binding, bytes});
}

// Returns what `key` reserved, all of it.
void Forget(Kind kind, uintptr_t key) {
  std::vector<Reserved> reserved;
  {
    std::lock_guard lock(g_reserved_mu);
    auto& map = g_reserved[static_cast<size_t>(kind)];
    auto it = map.find(key);
    if (it == map.end()) return;
    reserved = std::move(it->second);
    map.erase(it);
  }
  for (const Reserved& r : reserved) r.binding->board->Release(r.binding->slot, r.bytes);
}

std::once_flag g_over_limit_told;

// Reserves `bytes` on `binding`'s GPU, calls the driver, and keeps the
// reservation only if the driver allocated. A tenant within its request
// whose allocation the GPU cannot hold takes the lent memory back: the
// borrowers (processes of dynamic fractions above their request) are
// recorded in the ledger (their shims report why they ended), asked to stop
// with SIGTERM, killed after kReclaimGrace if they have not, and the
// allocation is tried again for up to 5 s.
template <typename Call, typename Key>
CUresult Allocate(Binding* binding, uint64_t bytes, Kind kind, Call call, Key key) {
  if (binding == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;  // fail closed: no ledger, no memory
  if (!binding->board->Reserve(binding->slot, bytes)) {
    std::call_once(g_over_limit_told, [&] {
      Complain("an allocation of " + std::to_string(bytes) + " bytes on " + binding->uuid +
               " would pass the limit of " + std::to_string(I().limits.memory_limit) +
               " bytes (ALLOT_GPU_MEMORY_LIMIT): CUDA_ERROR_OUT_OF_MEMORY");
    });
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  CUresult result = call();
  if (result == CUDA_ERROR_OUT_OF_MEMORY &&
      binding->board->TenantBytes(binding->slot) <= I().limits.memory_request) {
    std::vector<int> borrowers = binding->board->TakeBackFromBorrowers(binding->slot);
    for (int pid : borrowers) {
      Complain("taking back memory lent above its request: stopping process " +
               std::to_string(pid) + " (SIGTERM)");
      kill(pid, SIGTERM);
    }
    constexpr int kReclaimGraceTries = 40;  // of 50 ms: 2 s to stop cleanly
    for (int attempt = 0; !borrowers.empty() && attempt < 100 && result == CUDA_ERROR_OUT_OF_MEMORY;
         ++attempt) {
      if (attempt == kReclaimGraceTries) {
        for (int pid : borrowers) {
          if (kill(pid, 0) != 0) continue;
          Complain("process " + std::to_string(pid) + " did not stop within 2 s: SIGKILL");
          kill(pid, SIGKILL);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      result = call();
    }
  }
  if (result != CUDA_SUCCESS) {
    binding->board->Release(binding->slot, bytes);
    return result;
  }
  Remember(kind, key(), binding, bytes);
  return CUDA_SUCCESS;
}

// A device-pointer allocation through `call` (the real driver's function).
template <typename Call>
CUresult AllocatePointer(CUdeviceptr* pointer, size_t bytes, Call call) {
  if (pointer == nullptr || bytes == 0) return call();  // the driver's own error
  return Allocate(CurrentBinding(), bytes, Kind::kPointer, call,
                  [&] { return static_cast<uintptr_t>(*pointer); });
}

// Returns what `key` reserved once the driver has freed it.
CUresult Freed(CUresult result, Kind kind, uintptr_t key) {
  if (result == CUDA_SUCCESS) Forget(kind, key);
  return result;
}

// ---- Compute gate ---------------------------------------------------------------------

struct Gate {
  bool throttled = false;
  std::atomic<bool> open{false};
  std::atomic<int> launching{0};
  std::atomic<bool> launched{false};
  std::atomic<int> waiters{0};
  std::mutex mu;  // below: the slice in progress, the monitor
  bool monitor_started = false;
  uint64_t granted_at = 0;
  uint64_t budget = 0;
  CUcontext grant_context = nullptr;
  // The slice's GPU time is measured between these events, recorded on a
  // stream of the interposer's own that waits for no other: one on the
  // legacy stream would join a capture of a blocking stream and break it.
  CUstream timing_stream = nullptr;
  CUevent grant_event = nullptr;
  CUevent end_event = nullptr;
  std::vector<CUcontext> contexts;
};

Gate g_gate;

uint64_t NowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000ULL + static_cast<uint64_t>(now.tv_nsec);
}

void FutexWake(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE, INT32_MAX, nullptr, nullptr,
          0);
}

void FutexWait(std::atomic<uint32_t>& word, uint32_t seen, long nanoseconds) {
  timespec timeout{0, nanoseconds};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT, seen, &timeout, nullptr, 0);
}

// The GPU compute shares apply to: the single visible device.
Binding* ComputeBinding() {
  return BindingFor(0);
}

// Waits for the drained work of the slice and measures the GPU time the
// slice held: from the event recorded at the grant to one recorded after the
// process's work has completed.
uint64_t DrainSlice() {
  Real& r = Driver();
  std::vector<CUcontext> contexts;
  {
    std::lock_guard lock(g_gate.mu);
    contexts = g_gate.contexts;
  }
  for (CUcontext context : contexts) {
    if (r.cuCtxPushCurrent_v2(context) != CUDA_SUCCESS) continue;
    (void)r.cuCtxSynchronize();
    CUcontext popped = nullptr;
    (void)r.cuCtxPopCurrent_v2(&popped);
  }
  std::lock_guard lock(g_gate.mu);
  uint64_t host_ns = NowNs() - g_gate.granted_at;
  if (g_gate.grant_event == nullptr || r.cuCtxPushCurrent_v2(g_gate.grant_context) != CUDA_SUCCESS)
    return host_ns;
  uint64_t used = host_ns;
  float milliseconds = 0;
  if ((g_gate.end_event != nullptr ||
       r.cuEventCreate(&g_gate.end_event, CU_EVENT_DEFAULT) == CUDA_SUCCESS) &&
      r.cuEventRecord(g_gate.end_event, g_gate.timing_stream) == CUDA_SUCCESS &&
      r.cuEventSynchronize(g_gate.end_event) == CUDA_SUCCESS &&
      r.cuEventElapsedTime(&milliseconds, g_gate.grant_event, g_gate.end_event) == CUDA_SUCCESS &&
      milliseconds >= 0) {
    used = static_cast<uint64_t>(static_cast<double>(milliseconds) * 1e6);
  }
  CUcontext popped = nullptr;
  (void)r.cuCtxPopCurrent_v2(&popped);
  return used;
}

// Serialises the ends and starts of this process's slices, so that a
// launching thread never reopens a slice the monitor is ending.
std::mutex g_transition_mu;

// Ends the slice: no new launches, drain, charge, hand the GPU on. A process
// that was still launching keeps its demand (and its place by virtual time).
void EndSlice(Binding* binding, bool idle) {
  std::lock_guard transition(g_transition_mu);
  g_gate.open.store(false);
  while (g_gate.launching.load() != 0) std::this_thread::yield();
  uint64_t used = DrainSlice();
  {
    allot::cuda::BoardLock lock(*binding->board);
    allot::cuda::EndSlice(binding->board->layout(), binding->slot, used, !idle, NowNs());
  }
  FutexWake(binding->board->layout().generation);
}

[[noreturn]] void Monitor(Binding* binding) {
  // The drain (cuCtxSynchronize) is a call a stream capture in global mode
  // forbids to every thread, invalidating the capture (PyTorch captures its
  // CUDA graphs so): this thread's calls are relaxed, which captures allow.
  if (Real& r = Driver(); r.cuThreadExchangeStreamCaptureMode != nullptr) {
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
    (void)r.cuThreadExchangeStreamCaptureMode(&mode);
  }
  int idle_ticks = 0;
  int closed_ticks = 0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!g_gate.open.load()) {
      idle_ticks = 0;
      // Granted while nobody waits any more: give the slice back.
      if (++closed_ticks >= 5) {
        closed_ticks = 0;
        std::lock_guard transition(g_transition_mu);
        allot::cuda::BoardLock lock(*binding->board);
        auto& layout = binding->board->layout();
        if (layout.holder == binding->slot && g_gate.waiters.load() == 0 && !g_gate.open.load()) {
          allot::cuda::EndSlice(layout, binding->slot, 0, false, NowNs());
          FutexWake(layout.generation);
        }
      }
      continue;
    }
    closed_ticks = 0;
    idle_ticks = g_gate.launched.exchange(false) ? 0 : idle_ticks + 1;
    uint64_t granted_at = 0, budget = 0;
    {
      std::lock_guard lock(g_gate.mu);
      granted_at = g_gate.granted_at;
      budget = g_gate.budget;
    }
    bool idle = idle_ticks >= 5 && g_gate.waiters.load() == 0;
    if (NowNs() - granted_at >= budget || idle) EndSlice(binding, idle);
  }
}

// Opens the gate if this process holds the GPU's slice (checked again under
// the transition lock); the grant event marks the slice's start.
bool OpenSlice(Binding* binding) {
  std::lock_guard transition(g_transition_mu);
  {
    allot::cuda::BoardLock lock(*binding->board);
    if (binding->board->layout().holder != binding->slot) return false;
  }
  Real& r = Driver();
  std::lock_guard lock(g_gate.mu);
  if (g_gate.open.load()) return true;
  CUcontext context = nullptr;
  if (r.cuCtxGetCurrent(&context) == CUDA_SUCCESS && context != nullptr) {
    if (std::find(g_gate.contexts.begin(), g_gate.contexts.end(), context) ==
        g_gate.contexts.end()) {
      g_gate.contexts.push_back(context);
    }
    if (g_gate.grant_context != context) {
      g_gate.grant_event = nullptr;
      g_gate.end_event = nullptr;
      g_gate.timing_stream = nullptr;
      if (r.cuStreamCreate(&g_gate.timing_stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS ||
          r.cuEventCreate(&g_gate.grant_event, CU_EVENT_DEFAULT) != CUDA_SUCCESS) {
        g_gate.grant_event = nullptr;
      }
      g_gate.grant_context = context;
    }
    if (g_gate.grant_event != nullptr &&
        r.cuEventRecord(g_gate.grant_event, g_gate.timing_stream) != CUDA_SUCCESS) {
      g_gate.grant_event = nullptr;
    }
  }
  g_gate.granted_at = NowNs();
  g_gate.budget = allot::cuda::SliceBudget(binding->board->layout(), binding->slot);
  if (!g_gate.monitor_started) {
    g_gate.monitor_started = true;
    std::thread(Monitor, binding).detach();
  }
  g_gate.open.store(true);
  return true;
}

// Blocks until this process holds the GPU's slice. A holder that has died
// is reaped, so that its slice is not lost.
void WaitForSlice() {
  Binding* binding = ComputeBinding();
  if (binding == nullptr) {
    // No ledger: running unthrottled would break the promise; wait and retry.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return;
  }
  auto& layout = binding->board->layout();
  g_gate.waiters.fetch_add(1);
  for (;;) {
    uint32_t seen = 0;
    bool mine = false;
    bool held = false;
    {
      allot::cuda::BoardLock lock(*binding->board);
      if (layout.holder >= 0 && layout.holder != binding->slot &&
          kill(layout.processes[layout.holder].pid, 0) != 0 && errno == ESRCH) {
        binding->board->ReapLocked();
      }
      allot::cuda::MarkDemand(layout, binding->slot);
      if (allot::cuda::GrantNext(layout, NowNs())) FutexWake(layout.generation);
      mine = layout.holder == binding->slot;
      held = layout.holder >= 0;
      seen = layout.generation.load();
    }
    if (mine && OpenSlice(binding)) break;
    // Nobody holds the GPU while strict processes wait for credit: look
    // again soon.
    FutexWait(layout.generation, seen, held ? 2'000'000 : 250'000);
  }
  g_gate.waiters.fetch_sub(1);
}

// At exit: hand back the slice and leave the ledgers at once, rather than
// when another process notices.
__attribute__((destructor)) void Leave() {
  for (auto& bound : g_bindings) {
    Binding* binding = bound.load();
    if (binding == nullptr) continue;
    allot::cuda::BoardLock lock(*binding->board);
    binding->board->LeaveLocked(binding->slot);
  }
}

// Whether a launch goes into a stream capture (cuStreamBeginCapture) rather
// than to the GPU. Asked only when the gate is closed, so the open path
// costs nothing more.
bool Captured(CUstream stream, bool per_thread) {
  Real& r = Driver();
  auto is_capturing = per_thread ? r.cuStreamIsCapturing_ptsz : r.cuStreamIsCapturing;
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  return is_capturing != nullptr && is_capturing(stream, &status) == CUDA_SUCCESS &&
         status != CU_STREAM_CAPTURE_STATUS_NONE;
}

// Around every launch of a throttled process. The launching count and the
// gate are sequentially consistent, so that a slice that closes the gate
// either sees a launch in progress (and waits for it) or stops it. A launch
// into a stream capture uses no GPU time and does not wait for a slice
// (false: it is not counted).
inline bool EnterLaunch(CUstream stream, bool per_thread) {
  if (!g_gate.throttled) return false;
  g_gate.launching.fetch_add(1);
  while (!g_gate.open.load()) {
    g_gate.launching.fetch_sub(1);
    if (Captured(stream, per_thread)) return false;
    WaitForSlice();
    g_gate.launching.fetch_add(1);
  }
  return true;
}

inline void ExitLaunch() {
  g_gate.launched.store(true, std::memory_order_relaxed);
  g_gate.launching.fetch_sub(1, std::memory_order_release);
}

// `stream` is the launch's stream, `per_thread` whether the call is a
// per-thread-default-stream variant (_ptsz), which reads stream 0 as the
// thread's default stream.
template <typename Call>
CUresult Launch(CUstream stream, bool per_thread, Call call) {
  bool counted = EnterLaunch(stream, per_thread);
  CUresult result = call();
  if (counted) ExitLaunch();
  return result;
}

// ---- Start-up ----------------------------------------------------------------------------

void ForgetAfterFork() {
  // The child is a new process: it joins the ledgers afresh, with no slice.
  for (auto& binding : g_bindings) binding.store(nullptr);
  g_gate.open.store(false);
  g_gate.launching.store(0);
  g_gate.waiters.store(0);
  g_gate.monitor_started = false;
  g_gate.contexts.clear();
  g_gate.grant_event = nullptr;
  g_gate.end_event = nullptr;
  g_gate.timing_stream = nullptr;
  g_gate.grant_context = nullptr;
  std::lock_guard lock(g_reserved_mu);
  for (auto& map : g_reserved) map.clear();
}

__attribute__((constructor)) void Start() {
  std::string tenant = "session-" + std::to_string(getsid(0));
  auto limits =
      allot::cuda::ParseGpuLimits([](const char* name) { return std::getenv(name); }, tenant);
  if (!limits) {
    Complain(limits.error().message +
             " (refusing to run without the limits: see docs/gpu-sharing.md)");
    _exit(125);
  }
  if (auto gpu = allot::cuda::CheckComputeGpu(*limits, std::getenv("CUDA_VISIBLE_DEVICES")); !gpu) {
    Complain(gpu.error().message);
    _exit(125);
  }
  I().limits = *limits;
  g_gate.throttled = limits->Throttled();
  pthread_atfork(nullptr, nullptr, ForgetAfterFork);
}

uintptr_t Key(const void* handle) {
  return reinterpret_cast<uintptr_t>(handle);
}

}  // namespace

// ---- Memory ------------------------------------------------------------------------------

ALLOT_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* pointer, size_t bytes) {
  auto real = Driver().cuMemAlloc_v2;
  return AllocatePointer(pointer, bytes, [&] { return real(pointer, bytes); });
}

ALLOT_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* pointer, size_t* pitch, size_t width,
                                         size_t height, unsigned int element_bytes) {
  Real& r = Driver();
  if (pointer == nullptr || pitch == nullptr || width == 0 || height == 0) {
    return r.cuMemAllocPitch_v2(pointer, pitch, width, height, element_bytes);
  }
  // The pitch is the driver's choice: reserve the widest it may pick (512-byte
  // alignment), then settle to what it chose.
  uint64_t upper = static_cast<uint64_t>((width + 511) / 512 * 512) * height;
  Binding* binding = CurrentBinding();
  CUresult result = Allocate(
      binding, upper, Kind::kPointer,
      [&] { return r.cuMemAllocPitch_v2(pointer, pitch, width, height, element_bytes); },
      [&] { return static_cast<uintptr_t>(*pointer); });
  if (result == CUDA_SUCCESS) {
    uint64_t actual = static_cast<uint64_t>(*pitch) * height;
    if (actual < upper) {
      std::lock_guard lock(g_reserved_mu);
      g_reserved[static_cast<size_t>(Kind::kPointer)][*pointer].back().bytes = actual;
      binding->board->Release(binding->slot, upper - actual);
    }
  }
  return result;
}

ALLOT_EXPORT CUresult cuMemAllocManaged(CUdeviceptr* pointer, size_t bytes, unsigned int flags) {
  auto real = Driver().cuMemAllocManaged;
  return AllocatePointer(pointer, bytes, [&] { return real(pointer, bytes, flags); });
}

ALLOT_EXPORT CUresult cuMemFree_v2(CUdeviceptr pointer) {
  return Freed(Driver().cuMemFree_v2(pointer), Kind::kPointer, pointer);
}

ALLOT_EXPORT CUresult cuMemAllocAsync(CUdeviceptr* pointer, size_t bytes, CUstream stream) {
  auto real = Driver().cuMemAllocAsync;
  return AllocatePointer(pointer, bytes, [&] { return real(pointer, bytes, stream); });
}

ALLOT_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* pointer, size_t bytes, CUstream stream) {
  auto real = Driver().cuMemAllocAsync_ptsz;
  return AllocatePointer(pointer, bytes, [&] { return real(pointer, bytes, stream); });
}

ALLOT_EXPORT CUresult cuMemFreeAsync(CUdeviceptr pointer, CUstream stream) {
  return Freed(Driver().cuMemFreeAsync(pointer, stream), Kind::kPointer, pointer);
}

ALLOT_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr pointer, CUstream stream) {
  return Freed(Driver().cuMemFreeAsync_ptsz(pointer, stream), Kind::kPointer, pointer);
}

ALLOT_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr* pointer, size_t bytes, CUmemoryPool pool,
                                              CUstream stream) {
  auto real = Driver().cuMemAllocFromPoolAsync;
  return AllocatePointer(pointer, bytes, [&] { return real(pointer, bytes, pool, stream); });
}

ALLOT_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* pointer, size_t bytes,
                                                   CUmemoryPool pool, CUstream stream) {
  auto real = Driver().cuMemAllocFromPoolAsync_ptsz;
  return AllocatePointer(pointer, bytes, [&] { return real(pointer, bytes, pool, stream); });
}

ALLOT_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t bytes,
                                  const CUmemAllocationProp* prop, unsigned long long flags) {
  Real& r = Driver();
  if (handle == nullptr || prop == nullptr || bytes == 0 ||
      prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
    return r.cuMemCreate(handle, bytes, prop, flags);
  }
  return Allocate(
      BindingFor(prop->location.id), bytes, Kind::kHandle,
      [&] { return r.cuMemCreate(handle, bytes, prop, flags); },
      [&] { return static_cast<uintptr_t>(*handle); });
}

ALLOT_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  return Freed(Driver().cuMemRelease(handle), Kind::kHandle, handle);
}

ALLOT_EXPORT CUresult cuArrayCreate_v2(CUarray* handle, const CUDA_ARRAY_DESCRIPTOR* descriptor) {
  Real& r = Driver();
  if (handle == nullptr || descriptor == nullptr) return r.cuArrayCreate_v2(handle, descriptor);
  uint64_t bytes = allot::cuda::ArrayBytes(descriptor->Width, descriptor->Height, 1,
                                           descriptor->Format, descriptor->NumChannels);
  return Allocate(
      CurrentBinding(), bytes, Kind::kArray, [&] { return r.cuArrayCreate_v2(handle, descriptor); },
      [&] { return Key(*handle); });
}

ALLOT_EXPORT CUresult cuArray3DCreate_v2(CUarray* handle,
                                         const CUDA_ARRAY3D_DESCRIPTOR* descriptor) {
  Real& r = Driver();
  if (handle == nullptr || descriptor == nullptr) return r.cuArray3DCreate_v2(handle, descriptor);
  uint64_t bytes = allot::cuda::ArrayBytes(descriptor->Width, descriptor->Height, descriptor->Depth,
                                           descriptor->Format, descriptor->NumChannels);
  return Allocate(
      CurrentBinding(), bytes, Kind::kArray,
      [&] { return r.cuArray3DCreate_v2(handle, descriptor); }, [&] { return Key(*handle); });
}

ALLOT_EXPORT CUresult cuArrayDestroy(CUarray handle) {
  return Freed(Driver().cuArrayDestroy(handle), Kind::kArray, Key(handle));
}

ALLOT_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray* handle,
                                             const CUDA_ARRAY3D_DESCRIPTOR* descriptor,
                                             unsigned int levels) {
  Real& r = Driver();
  if (handle == nullptr || descriptor == nullptr || levels == 0) {
    return r.cuMipmappedArrayCreate(handle, descriptor, levels);
  }
  uint64_t bytes = allot::cuda::MipmappedArrayBytes(*descriptor, levels);
  return Allocate(
      CurrentBinding(), bytes, Kind::kArray,
      [&] { return r.cuMipmappedArrayCreate(handle, descriptor, levels); },
      [&] { return Key(*handle); });
}

ALLOT_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray handle) {
  return Freed(Driver().cuMipmappedArrayDestroy(handle), Kind::kArray, Key(handle));
}

ALLOT_EXPORT CUresult cuGraphAddMemAllocNode(CUgraphNode* node, CUgraph graph,
                                             const CUgraphNode* dependencies, size_t count,
                                             CUDA_MEM_ALLOC_NODE_PARAMS* parameters) {
  Real& r = Driver();
  if (parameters == nullptr || graph == nullptr || parameters->bytesize == 0) {
    return r.cuGraphAddMemAllocNode(node, graph, dependencies, count, parameters);
  }
  // Graph memory is counted from the node's creation to the graph's end.
  return Allocate(
      BindingFor(parameters->poolProps.location.id), parameters->bytesize, Kind::kGraph,
      [&] { return r.cuGraphAddMemAllocNode(node, graph, dependencies, count, parameters); },
      [&] { return Key(graph); });
}

ALLOT_EXPORT CUresult cuGraphDestroy(CUgraph graph) {
  return Freed(Driver().cuGraphDestroy(graph), Kind::kGraph, Key(graph));
}

// ---- Reporting ---------------------------------------------------------------------------

namespace {

// The limit as total and the tenant's reservations as used, for a GPU with
// a memory limit; false where the real figures stand.
bool LimitedMemory(Binding* binding, uint64_t* free_bytes, uint64_t* total_bytes) {
  uint64_t limit = I().limits.memory_limit;
  if (binding == nullptr || limit == allot::cuda::kUnlimited) return false;
  uint64_t used = std::min(binding->board->TenantBytes(binding->slot), limit);
  *total_bytes = limit;
  *free_bytes = limit - used;
  return true;
}

}  // namespace

ALLOT_EXPORT CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes) {
  CUresult result = Driver().cuMemGetInfo_v2(free_bytes, total_bytes);
  uint64_t free_limited = 0, total_limited = 0;
  if (result == CUDA_SUCCESS && LimitedMemory(CurrentBinding(), &free_limited, &total_limited)) {
    *free_bytes = free_limited;
    *total_bytes = total_limited;
  }
  return result;
}

ALLOT_EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice device) {
  CUresult result = Driver().cuDeviceTotalMem_v2(bytes, device);
  if (result == CUDA_SUCCESS && I().limits.memory_limit != allot::cuda::kUnlimited) {
    *bytes = std::min<uint64_t>(*bytes, I().limits.memory_limit);
  }
  return result;
}

namespace {

// The ledger of the CUDA device NVML calls `device`, matched by UUID; null
// for GPUs this process cannot see through CUDA.
Binding* NvmlBinding(nvmlDevice_t device) {
  Real& r = Driver();
  char uuid[96] = {};
  if (r.nvmlDeviceGetUUID == nullptr ||
      r.nvmlDeviceGetUUID(device, uuid, sizeof uuid) != NVML_SUCCESS)
    return nullptr;
  if (r.cuInit == nullptr || r.cuInit(0) != CUDA_SUCCESS) return nullptr;
  int count = 0;
  if (r.cuDeviceGetCount(&count) != CUDA_SUCCESS) return nullptr;
  for (int ordinal = 0; ordinal < count && ordinal < kMaxBindings; ++ordinal) {
    CUuuid bytes{};
    if (r.cuDeviceGetUuid_v2(&bytes, ordinal) != CUDA_SUCCESS) continue;
    if (allot::cuda::UuidText(reinterpret_cast<const unsigned char*>(bytes.bytes)) == uuid) {
      return BindingFor(ordinal);
    }
  }
  return nullptr;
}

}  // namespace

ALLOT_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  if (!ResolveNvml(true) || I().real.nvmlDeviceGetMemoryInfo == nullptr)
    return NVML_ERROR_UNINITIALIZED;
  nvmlReturn_t result = I().real.nvmlDeviceGetMemoryInfo(device, memory);
  uint64_t free_bytes = 0, total_bytes = 0;
  if (result == NVML_SUCCESS && LimitedMemory(NvmlBinding(device), &free_bytes, &total_bytes)) {
    memory->total = total_bytes;
    memory->free = free_bytes;
    memory->used = total_bytes - free_bytes;
  }
  return result;
}

ALLOT_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory) {
  if (!ResolveNvml(true) || I().real.nvmlDeviceGetMemoryInfo_v2 == nullptr)
    return NVML_ERROR_UNINITIALIZED;
  nvmlReturn_t result = I().real.nvmlDeviceGetMemoryInfo_v2(device, memory);
  uint64_t free_bytes = 0, total_bytes = 0;
  if (result == NVML_SUCCESS && LimitedMemory(NvmlBinding(device), &free_bytes, &total_bytes)) {
    memory->total = total_bytes;
    memory->reserved = 0;
    memory->free = free_bytes;
    memory->used = total_bytes - free_bytes;
  }
  return result;
}

// ---- Launches ----------------------------------------------------------------------------

ALLOT_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy,
                                     unsigned int gz, unsigned int bx, unsigned int by,
                                     unsigned int bz, unsigned int shared, CUstream stream,
                                     void** parameters, void** extra) {
  auto real = Driver().cuLaunchKernel;
  return Launch(stream, false,
                [&] { return real(f, gx, gy, gz, bx, by, bz, shared, stream, parameters, extra); });
}

ALLOT_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
                                          unsigned int gz, unsigned int bx, unsigned int by,
                                          unsigned int bz, unsigned int shared, CUstream stream,
                                          void** parameters, void** extra) {
  auto real = Driver().cuLaunchKernel_ptsz;
  return Launch(stream, true,
                [&] { return real(f, gx, gy, gz, bx, by, bz, shared, stream, parameters, extra); });
}

ALLOT_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f,
                                       void** parameters, void** extra) {
  auto real = Driver().cuLaunchKernelEx;
  return Launch(config == nullptr ? nullptr : config->hStream, false,
                [&] { return real(config, f, parameters, extra); });
}

ALLOT_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f,
                                            void** parameters, void** extra) {
  auto real = Driver().cuLaunchKernelEx_ptsz;
  return Launch(config == nullptr ? nullptr : config->hStream, true,
                [&] { return real(config, f, parameters, extra); });
}

ALLOT_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy,
                                                unsigned int gz, unsigned int bx, unsigned int by,
                                                unsigned int bz, unsigned int shared,
                                                CUstream stream, void** parameters) {
  auto real = Driver().cuLaunchCooperativeKernel;
  return Launch(stream, false,
                [&] { return real(f, gx, gy, gz, bx, by, bz, shared, stream, parameters); });
}

ALLOT_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
                                                     unsigned int gz, unsigned int bx,
                                                     unsigned int by, unsigned int bz,
                                                     unsigned int shared, CUstream stream,
                                                     void** parameters) {
  auto real = Driver().cuLaunchCooperativeKernel_ptsz;
  return Launch(stream, true,
                [&] { return real(f, gx, gy, gz, bx, by, bz, shared, stream, parameters); });
}

ALLOT_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  auto real = Driver().cuGraphLaunch;
  return Launch(stream, false, [&] { return real(exec, stream); });
}

ALLOT_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream stream) {
  auto real = Driver().cuGraphLaunch_ptsz;
  return Launch(stream, true, [&] { return real(exec, stream); });
}

// ---- Entry points ----------------------------------------------------------------------------

namespace {
std::once_flag g_refusal_told;

void TellRefusal(const char* symbol) {
  std::call_once(g_refusal_told, [&] {
    Complain(std::string("refusing an entry point for ") + symbol +
             " that the interposer does not wrap (an old variant or an unknown pointer): "
             "it would bypass the GPU limits");
  });
}
}  // namespace

ALLOT_EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** function, int version,
                                          cuuint64_t flags,
                                          CUdriverProcAddressQueryResult* status) {
  Real& r = Driver();
  if (r.cuGetProcAddress_v2 == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUresult result = r.cuGetProcAddress_v2(symbol, function, version, flags, status);
  if (result != CUDA_SUCCESS || function == nullptr) return result;
  if (Substitute(*function, symbol) == Substitution::kRefused) {
    TellRefusal(symbol);
    *function = nullptr;
    if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return CUDA_ERROR_NOT_FOUND;
  }
  return result;
}

CUresult AllotGetProcAddressV1(const char* symbol, void** function, int version, cuuint64_t flags) {
  Real& r = Driver();
  if (r.AllotGetProcAddressV1 == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUresult result = r.AllotGetProcAddressV1(symbol, function, version, flags);
  if (result != CUDA_SUCCESS || function == nullptr) return result;
  if (Substitute(*function, symbol) == Substitution::kRefused) {
    TellRefusal(symbol);
    *function = nullptr;
    return CUDA_ERROR_NOT_FOUND;
  }
  return result;
}

ALLOT_EXPORT void* dlsym(void* handle, const char* name) {
  void* found = RealDlsym()(handle, name);
  // Driver functions are cu + a capital (cuMemAlloc_v2): not curl_*.
  if (found == nullptr || name[0] != 'c' || name[1] != 'u' || name[2] < 'A' || name[2] > 'Z') {
    if (found != nullptr && std::strncmp(name, "nvml", 4) == 0 && ResolveNvml(false)) {
      (void)Substitute(found, nullptr);
    }
    return found;
  }
  (void)Driver();
  // Exact exported names: a wrapped function's pointer is swapped; the old
  // 32-bit variants of wrapped functions, which are not wrapped, are refused.
  static const char* const kRefused[] = {"cuMemAlloc",     "cuMemAllocPitch",  "cuMemFree",
                                         "cuMemGetInfo",   "cuDeviceTotalMem", "cuArrayCreate",
                                         "cuArray3DCreate"};
  for (const char* refused : kRefused) {
    if (std::strcmp(name, refused) == 0) {
      TellRefusal(name);
      return nullptr;
    }
  }
  (void)Substitute(found, nullptr);
  return found;
}

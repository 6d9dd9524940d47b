// A fake CUDA driver (built as libcuda.so.1 in a directory of its own) on the
// fake GPUs of fake_gpu.h: enough of the driver API for a driver-API program
// to initialise, create contexts, allocate by every path the interposer
// counts, launch, synchronise and query memory; cuGetProcAddress with
// cuda.h's version and per-thread-stream semantics; and, with the private
// tables of fake_export_tables.cpp and the library API below, what the CUDA
// runtime (cudart 12 and 13) needs to start, register a program's kernels
// and launch them.
#include <cuda.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda/array_bytes.h"
#include "cuda/fake/fake_gpu.h"

#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))

namespace fg = allot::fake_gpu;

namespace {

struct Stream;

struct Context {
  int device = 0;  // physical ordinal
  bool primary = false;
  Stream* default_stream = nullptr;
  std::vector<Stream*> streams;
};

struct Stream {
  Context* context = nullptr;
  std::atomic<uint64_t> ready_ns{0};
};

struct Event {
  std::atomic<uint64_t> at_ns{0};
  std::atomic<bool> recorded{false};
};

struct Library;

struct Function {
  std::string name;
  Library* library = nullptr;  // the library of a kernel, null for a module's function
};

// __device__ variables by name. The fake does not read code images, so it
// cannot know their sizes: each is kGlobalBytes of zeroed memory.
constexpr size_t kGlobalBytes = 1 << 20;
class Globals {
 public:
  Globals() = default;
  Globals(const Globals&) = delete;
  Globals& operator=(const Globals&) = delete;
  ~Globals() {
    for (const auto& [name, global] : globals_) {
      munmap(reinterpret_cast<void*>(global), kGlobalBytes);
    }
  }

  CUresult Get(const char* name, CUdeviceptr* pointer, size_t* bytes) {
    if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard lock(mu_);
    auto [it, added] = globals_.try_emplace(name, 0);
    if (added) {
      void* memory = mmap(nullptr, kGlobalBytes, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (memory == MAP_FAILED) {
        globals_.erase(it);
        return CUDA_ERROR_OUT_OF_MEMORY;
      }
      it->second = reinterpret_cast<CUdeviceptr>(memory);
    }
    if (pointer != nullptr) *pointer = it->second;
    if (bytes != nullptr) *bytes = kGlobalBytes;
    return CUDA_SUCCESS;
  }

 private:
  std::mutex mu_;
  std::map<std::string, CUdeviceptr> globals_;
};

struct Module {
  std::vector<Function*> functions;
  Globals globals;
};

// A context-independent library (CUDA 12): its kernels are functions in
// every context, so a CUkernel is a Function too, and the launch calls take
// either handle, as the driver's do.
struct Library {
  std::vector<Function*> kernels;
  Module* module = nullptr;  // made when first asked for
  Globals globals;
};

struct Allocation {
  uint64_t bytes = 0;
  int device = 0;
  size_t mapped = 0;  // host bytes mapped (0 for arrays and handles)
};

struct PhysicalHandle {
  uint64_t bytes = 0;
  int device = 0;
};

struct Array {
  uint64_t bytes = 0;
  int device = 0;
};

struct GraphNode {
  uint64_t duration_ns = 0;
  CUdeviceptr allocation = 0;
};

struct Graph {
  std::vector<GraphNode*> nodes;
};

struct GraphExec {
  Graph* graph = nullptr;
};

struct Driver {
  std::mutex mu;
  bool initialized = false;
  std::vector<int> visible;  // visible ordinal -> physical ordinal
  Context* primary[fg::kMaxDevices] = {};
  int primary_refs[fg::kMaxDevices] = {};
  std::unordered_map<CUdeviceptr, Allocation> allocations;
  std::map<uintptr_t, size_t> host_allocations;  // page-locked host memory: start -> bytes
};

Driver& D() {
  static Driver* driver = new Driver();
  return *driver;
}

thread_local std::vector<Context*> tl_contexts;

std::vector<int> VisibleDevices() {
  const int count = fg::GetConfig().device_count;
  std::vector<int> all;
  const char* listed = std::getenv("CUDA_VISIBLE_DEVICES");
  if (listed == nullptr) {
    for (int i = 0; i < count; ++i) all.push_back(i);
    return all;
  }
  // As the real driver: entries up to the first invalid one.
  std::string text = listed;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string entry =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int found = -1;
    if (entry.rfind("GPU-", 0) == 0) {
      for (int i = 0; i < count; ++i) {
        char uuid[64];
        fg::DeviceUuidText(i, uuid, sizeof uuid);
        if (std::strncmp(uuid, entry.c_str(), entry.size()) == 0) found = i;
      }
    } else if (!entry.empty() && entry.find_first_not_of("0123456789") == std::string::npos) {
      int index = std::atoi(entry.c_str());
      if (index < count) found = index;
    }
    if (found < 0 || std::find(all.begin(), all.end(), found) != all.end()) break;
    all.push_back(found);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return all;
}

bool Initialized() {
  std::lock_guard lock(D().mu);
  return D().initialized;
}

Context* Current() {
  return tl_contexts.empty() ? nullptr : tl_contexts.back();
}

Stream* Resolve(CUstream stream) {
  Context* context = Current();
  if (stream == nullptr || stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD) {
    return context == nullptr ? nullptr : context->default_stream;
  }
  return reinterpret_cast<Stream*>(stream);
}

Context* NewContext(int device, bool primary) {
  auto* context = new Context();
  context->device = device;
  context->primary = primary;
  context->default_stream = new Stream();
  context->default_stream->context = context;
  return context;
}

void SleepUntil(uint64_t at_ns) {
  for (uint64_t now = fg::NowNs(); now < at_ns; now = fg::NowNs()) {
    uint64_t left = at_ns - now;
    timespec pause{static_cast<time_t>(left / 1000000000ULL),
                   static_cast<long>(left % 1000000000ULL)};
    nanosleep(&pause, nullptr);
  }
}

// Puts `duration_ns` of work on a stream: it starts after the stream's
// previous work and the device's previous kernel, whichever ends last.
void Occupy(Stream* stream, uint64_t duration_ns) {
  std::atomic<uint64_t>& busy = fg::GetState().devices[stream->context->device].busy_until_ns;
  uint64_t now = fg::NowNs();
  uint64_t ready = stream->ready_ns.load();
  uint64_t previous = busy.load();
  uint64_t end = 0;
  do {
    end = std::max({now, ready, previous}) + duration_ns;
  } while (!busy.compare_exchange_weak(previous, end));
  stream->ready_ns.store(end);
}

uint64_t KernelNs(unsigned x, unsigned y, unsigned z) {
  return static_cast<uint64_t>(x) * y * z * 1000ULL;
}

CUresult MapDeviceMemory(CUdeviceptr* out, uint64_t bytes, int device) {
  if (out == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (!fg::ReserveDeviceMemory(device, bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) {
    fg::ReleaseDeviceMemory(device, bytes);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  *out = reinterpret_cast<CUdeviceptr>(memory);
  std::lock_guard lock(D().mu);
  D().allocations[*out] = Allocation{bytes, device, bytes};
  return CUDA_SUCCESS;
}

CUresult UnmapDeviceMemory(CUdeviceptr pointer) {
  Allocation allocation;
  {
    std::lock_guard lock(D().mu);
    auto it = D().allocations.find(pointer);
    if (it == D().allocations.end()) return CUDA_ERROR_INVALID_VALUE;
    allocation = it->second;
    D().allocations.erase(it);
  }
  munmap(reinterpret_cast<void*>(pointer), allocation.mapped);
  fg::ReleaseDeviceMemory(allocation.device, allocation.bytes);
  return CUDA_SUCCESS;
}

#define REQUIRE_CONTEXT()                                        \
  do {                                                           \
    if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;       \
    if (Current() == nullptr) return CUDA_ERROR_INVALID_CONTEXT; \
  } while (0)

CUresult LaunchOn(CUstream stream, uint64_t duration_ns) {
  REQUIRE_CONTEXT();
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (duration_ns == 0) return CUDA_ERROR_INVALID_VALUE;
  Occupy(resolved, duration_ns);
  return CUDA_SUCCESS;
}

CUresult RecordOn(CUevent event, CUstream stream) {
  REQUIRE_CONTEXT();
  Stream* resolved = Resolve(stream);
  if (event == nullptr || resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  auto* fake = reinterpret_cast<Event*>(event);
  fake->at_ns.store(std::max(fg::NowNs(), resolved->ready_ns.load()));
  fake->recorded.store(true);
  return CUDA_SUCCESS;
}

CUresult SynchronizeStream(CUstream stream) {
  REQUIRE_CONTEXT();
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  SleepUntil(resolved->ready_ns.load());
  return CUDA_SUCCESS;
}

}  // namespace

// ---- Initialisation, devices -------------------------------------------------

FAKE_EXPORT CUresult cuInit(unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(D().mu);
  if (!D().initialized) {
    D().visible = VisibleDevices();
    D().initialized = true;
  }
  return D().visible.empty() ? CUDA_ERROR_NO_DEVICE : CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = CUDA_VERSION;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDeviceGetCount(int* count) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *count = static_cast<int>(D().visible.size());
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (ordinal < 0 || ordinal >= static_cast<int>(D().visible.size()))
    return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

namespace {
bool ValidDevice(CUdevice device) {
  return Initialized() && device >= 0 && device < static_cast<int>(D().visible.size());
}
int Physical(CUdevice device) {
  return D().visible[static_cast<size_t>(device)];
}
}  // namespace

FAKE_EXPORT CUresult cuDeviceGetName(char* name, int length, CUdevice device) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  if (name == nullptr || length <= 0) return CUDA_ERROR_INVALID_VALUE;
  std::snprintf(name, static_cast<size_t>(length), "NVIDIA H100 80GB HBM3 (fake)");
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDeviceGetUuid(CUuuid* uuid, CUdevice device) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
  fg::DeviceUuid(Physical(device), reinterpret_cast<unsigned char*>(uuid->bytes));
  return CUDA_SUCCESS;
}

// cuDeviceGetUuid's first version (9.2), same behaviour here.
FAKE_EXPORT CUresult FakeDeviceGetUuidV1(CUuuid* uuid, CUdevice device) __asm__("cuDeviceGetUuid");
CUresult FakeDeviceGetUuidV1(CUuuid* uuid, CUdevice device) {
  return cuDeviceGetUuid(uuid, device);
}

FAKE_EXPORT CUresult cuDeviceTotalMem(size_t* bytes, CUdevice device) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *bytes = fg::GetConfig().memory_bytes;
  return CUDA_SUCCESS;
}

// The fake GPUs share no memory with each other: no peer access.
FAKE_EXPORT CUresult cuDeviceCanAccessPeer(int* can_access, CUdevice device, CUdevice peer) {
  if (!ValidDevice(device) || !ValidDevice(peer)) return CUDA_ERROR_INVALID_DEVICE;
  if (can_access == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *can_access = 0;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDeviceGetPCIBusId(char* bus, int length, CUdevice device) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  if (bus == nullptr || length <= 0) return CUDA_ERROR_INVALID_VALUE;
  std::snprintf(bus, static_cast<size_t>(length), "00000000:%02X:00.0", 0x10 + Physical(device));
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDeviceGetAttribute(int* value, CUdevice_attribute attribute,
                                          CUdevice device) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (attribute) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
      *value = 9;
      break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
      *value = 0;
      break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
      *value = 132;
      break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
      *value = 32;
      break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
      *value = 1024;
      break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X:
      *value = 2147483647;
      break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z:
      *value = 65535;
      break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y:
      *value = 1024;
      break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z:
      *value = 64;
      break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
      *value = 49152;
      break;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY:
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS:
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH:
      *value = 1;
      break;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID:
      *value = 0x10 + Physical(device);
      break;
    // The rest as an H100 SXM reports them: the CUDA runtime checks launches
    // against them before it calls the driver (a kernel asking for more
    // shared memory than a block may opt into is refused).
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
      *value = 232448;
      break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR:
      *value = 233472;
      break;
    case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK:
      *value = 1024;
      break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK:
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR:
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY:
      *value = 65536;
      break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR:
      *value = 2048;
      break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR:
      *value = 32;
      break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE:
      *value = 50 << 20;
      break;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE:
      *value = 1980000;
      break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE:
      *value = 2619000;
      break;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH:
      *value = 5120;
      break;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH:
      *value = 2147483647;
      break;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT:
      *value = 512;
      break;
    case CU_DEVICE_ATTRIBUTE_GPU_PCI_DEVICE_ID:
      // Device 0x2330 (H100 SXM5 80GB) of vendor 0x10de (NVIDIA): libraries
      // such as cuBLAS pick their kernels by it and refuse a GPU they do not know.
      *value = static_cast<int>(0x233010deU);
      break;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT:
      *value = 2;
      break;
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP:
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY:
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH:
      *value = 1;
      break;
    default:
      *value = 0;
  }
  return CUDA_SUCCESS;
}

// ---- Contexts ---------------------------------------------------------------

FAKE_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* context, CUdevice device) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(D().mu);
  int physical = D().visible[static_cast<size_t>(device)];
  if (D().primary[physical] == nullptr) D().primary[physical] = NewContext(physical, true);
  ++D().primary_refs[physical];
  *context = reinterpret_cast<CUcontext>(D().primary[physical]);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice device) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard lock(D().mu);
  int physical = D().visible[static_cast<size_t>(device)];
  if (D().primary_refs[physical] == 0) return CUDA_ERROR_INVALID_CONTEXT;
  --D().primary_refs[physical];  // the context stays, as its memory does
  return CUDA_SUCCESS;
}
// The name without _v2, as older programs and libraries look it up: the
// same call.
FAKE_EXPORT CUresult FakePrimaryCtxReleaseV1(CUdevice device) __asm__("cuDevicePrimaryCtxRelease");
CUresult FakePrimaryCtxReleaseV1(CUdevice device) {
  return cuDevicePrimaryCtxRelease(device);
}

FAKE_EXPORT CUresult cuDevicePrimaryCtxReset(CUdevice device) {
  return ValidDevice(device) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

FAKE_EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice device, unsigned int* flags, int* active) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(D().mu);
  *flags = 0;
  *active = D().primary_refs[D().visible[static_cast<size_t>(device)]] > 0 ? 1 : 0;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDevicePrimaryCtxSetFlags(CUdevice device, unsigned int) {
  return ValidDevice(device) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

FAKE_EXPORT CUresult FakeCtxCreateV2(CUcontext* context, unsigned int flags,
                                     CUdevice device) __asm__("cuCtxCreate_v2");
CUresult FakeCtxCreateV2(CUcontext* context, unsigned int, CUdevice device) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* created = NewContext(Physical(device), false);
  tl_contexts.push_back(created);
  *context = reinterpret_cast<CUcontext>(created);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuCtxCreate(CUcontext* context, CUctxCreateParams*, unsigned int flags,
                                 CUdevice device) {
  return FakeCtxCreateV2(context, flags, device);
}

FAKE_EXPORT CUresult cuCtxDestroy(CUcontext context) {
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* fake = reinterpret_cast<Context*>(context);
  std::erase(tl_contexts, fake);
  return CUDA_SUCCESS;  // the context's memory stays valid: handles are never reused
}

FAKE_EXPORT CUresult cuCtxSetCurrent(CUcontext context) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!tl_contexts.empty()) tl_contexts.pop_back();
  if (context != nullptr) tl_contexts.push_back(reinterpret_cast<Context*>(context));
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuCtxGetCurrent(CUcontext* context) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *context = reinterpret_cast<CUcontext>(Current());
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuCtxPushCurrent(CUcontext context) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (context == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  tl_contexts.push_back(reinterpret_cast<Context*>(context));
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuCtxPopCurrent(CUcontext* context) {
  REQUIRE_CONTEXT();
  if (context != nullptr) *context = reinterpret_cast<CUcontext>(Current());
  tl_contexts.pop_back();
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuCtxGetDevice(CUdevice* device) {
  REQUIRE_CONTEXT();
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const std::vector<int>& visible = D().visible;
  auto position = std::find(visible.begin(), visible.end(), Current()->device);
  *device = static_cast<CUdevice>(position - visible.begin());
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuCtxGetApiVersion(CUcontext, unsigned int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = 3020;
  return CUDA_SUCCESS;
}

// As an H100: priorities 0 (least) to -5 (greatest).
FAKE_EXPORT CUresult cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  REQUIRE_CONTEXT();
  if (least != nullptr) *least = 0;
  if (greatest != nullptr) *greatest = -5;
  return CUDA_SUCCESS;
}

// The limits an H100 context starts with; setting one is accepted and not
// kept (nothing in the fake depends on them).
FAKE_EXPORT CUresult cuCtxGetLimit(size_t* value, CUlimit limit) {
  REQUIRE_CONTEXT();
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (limit) {
    case CU_LIMIT_STACK_SIZE:
      *value = 1024;
      return CUDA_SUCCESS;
    case CU_LIMIT_PRINTF_FIFO_SIZE:
      *value = 1 << 20;
      return CUDA_SUCCESS;
    case CU_LIMIT_MALLOC_HEAP_SIZE:
      *value = 8 << 20;
      return CUDA_SUCCESS;
    case CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT:
      *value = 2048;
      return CUDA_SUCCESS;
    case CU_LIMIT_MAX_L2_FETCH_GRANULARITY:
      *value = 64;
      return CUDA_SUCCESS;
    default:
      *value = 0;
      return CUDA_SUCCESS;
  }
}

FAKE_EXPORT CUresult cuCtxSetLimit(CUlimit, size_t) {
  REQUIRE_CONTEXT();
  return CUDA_SUCCESS;
}

// The fake GPUs share no memory (cuDeviceCanAccessPeer says 0).
FAKE_EXPORT CUresult cuCtxEnablePeerAccess(CUcontext, unsigned int) {
  REQUIRE_CONTEXT();
  return CUDA_ERROR_PEER_ACCESS_UNSUPPORTED;
}

FAKE_EXPORT CUresult cuCtxDisablePeerAccess(CUcontext) {
  REQUIRE_CONTEXT();
  return CUDA_ERROR_PEER_ACCESS_NOT_ENABLED;
}

FAKE_EXPORT CUresult cuCtxSynchronize() {
  REQUIRE_CONTEXT();
  Context* context = Current();
  uint64_t until = context->default_stream->ready_ns.load();
  {
    std::lock_guard lock(D().mu);
    for (Stream* stream : context->streams) until = std::max(until, stream->ready_ns.load());
  }
  SleepUntil(until);
  return CUDA_SUCCESS;
}

// ---- Memory ---------------------------------------------------------------------

FAKE_EXPORT CUresult cuMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  REQUIRE_CONTEXT();
  if (free_bytes == nullptr || total_bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t total = fg::GetConfig().memory_bytes;
  uint64_t used = fg::GetState().devices[Current()->device].used_bytes.load();
  *total_bytes = total;
  *free_bytes = used > total ? 0 : total - used;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemAlloc(CUdeviceptr* pointer, size_t bytes) {
  REQUIRE_CONTEXT();
  return MapDeviceMemory(pointer, bytes, Current()->device);
}

FAKE_EXPORT CUresult cuMemAllocPitch(CUdeviceptr* pointer, size_t* pitch, size_t width,
                                     size_t height, unsigned int element_bytes) {
  REQUIRE_CONTEXT();
  if (pitch == nullptr || (element_bytes != 4 && element_bytes != 8 && element_bytes != 16)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *pitch = (width + 511) / 512 * 512;
  return MapDeviceMemory(pointer, *pitch * height, Current()->device);
}

FAKE_EXPORT CUresult cuMemAllocManaged(CUdeviceptr* pointer, size_t bytes, unsigned int) {
  REQUIRE_CONTEXT();
  return MapDeviceMemory(pointer, bytes, Current()->device);
}

FAKE_EXPORT CUresult cuMemFree(CUdeviceptr pointer) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (pointer == 0) return CUDA_SUCCESS;
  return UnmapDeviceMemory(pointer);
}

FAKE_EXPORT CUresult cuMemAllocAsync(CUdeviceptr* pointer, size_t bytes, CUstream) {
  REQUIRE_CONTEXT();
  return MapDeviceMemory(pointer, bytes, Current()->device);
}
FAKE_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* pointer, size_t bytes, CUstream stream) {
  return cuMemAllocAsync(pointer, bytes, stream);
}

FAKE_EXPORT CUresult cuMemFreeAsync(CUdeviceptr pointer, CUstream) {
  return cuMemFree(pointer);
}
FAKE_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr pointer, CUstream stream) {
  return cuMemFreeAsync(pointer, stream);
}

FAKE_EXPORT CUresult cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* properties) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (pool == nullptr || properties == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pool = reinterpret_cast<CUmemoryPool>(new CUmemPoolProps(*properties));
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool) {
  delete reinterpret_cast<CUmemPoolProps*>(pool);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr* pointer, size_t bytes, CUmemoryPool pool,
                                             CUstream) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  int device = reinterpret_cast<CUmemPoolProps*>(pool)->location.id;
  if (device < 0 || device >= static_cast<int>(D().visible.size())) return CUDA_ERROR_INVALID_VALUE;
  return MapDeviceMemory(pointer, bytes, Physical(device));
}
FAKE_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* pointer, size_t bytes,
                                                  CUmemoryPool pool, CUstream stream) {
  return cuMemAllocFromPoolAsync(pointer, bytes, pool, stream);
}

FAKE_EXPORT CUresult cuMemGetAllocationGranularity(size_t* granularity, const CUmemAllocationProp*,
                                                   CUmemAllocationGranularity_flags) {
  if (granularity == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *granularity = 2U << 20;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t bytes,
                                 const CUmemAllocationProp* properties, unsigned long long) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (handle == nullptr || properties == nullptr || bytes == 0 || bytes % (2U << 20) != 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  int device = properties->location.id;
  if (device < 0 || device >= static_cast<int>(D().visible.size()))
    return CUDA_ERROR_INVALID_DEVICE;
  if (!fg::ReserveDeviceMemory(Physical(device), bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  *handle =
      reinterpret_cast<CUmemGenericAllocationHandle>(new PhysicalHandle{bytes, Physical(device)});
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  if (handle == 0) return CUDA_ERROR_INVALID_VALUE;
  auto* physical = reinterpret_cast<PhysicalHandle*>(handle);
  fg::ReleaseDeviceMemory(physical->device, physical->bytes);
  delete physical;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemAddressReserve(CUdeviceptr* pointer, size_t bytes, size_t, CUdeviceptr,
                                         unsigned long long) {
  if (pointer == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  void* range = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (range == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  *pointer = reinterpret_cast<CUdeviceptr>(range);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemAddressFree(CUdeviceptr pointer, size_t bytes) {
  return munmap(reinterpret_cast<void*>(pointer), bytes) == 0 ? CUDA_SUCCESS
                                                              : CUDA_ERROR_INVALID_VALUE;
}

FAKE_EXPORT CUresult cuMemMap(CUdeviceptr pointer, size_t bytes, size_t,
                              CUmemGenericAllocationHandle handle, unsigned long long) {
  if (handle == 0 || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  void* mapped = mmap(reinterpret_cast<void*>(pointer), bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  return mapped == MAP_FAILED ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemUnmap(CUdeviceptr pointer, size_t bytes) {
  void* unmapped = mmap(reinterpret_cast<void*>(pointer), bytes, PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  return unmapped == MAP_FAILED ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemSetAccess(CUdeviceptr, size_t, const CUmemAccessDesc* descriptors,
                                    size_t count) {
  return descriptors == nullptr || count == 0 ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

namespace {
CUresult CreateArray(CUarray* handle, uint64_t bytes) {
  REQUIRE_CONTEXT();
  if (handle == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (!fg::ReserveDeviceMemory(Current()->device, bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  *handle = reinterpret_cast<CUarray>(new Array{bytes, Current()->device});
  return CUDA_SUCCESS;
}
}  // namespace

FAKE_EXPORT CUresult cuArrayCreate(CUarray* handle, const CUDA_ARRAY_DESCRIPTOR* descriptor) {
  if (descriptor == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return CreateArray(handle, allot::cuda::ArrayBytes(descriptor->Width, descriptor->Height, 1,
                                                     descriptor->Format, descriptor->NumChannels));
}

FAKE_EXPORT CUresult cuArray3DCreate(CUarray* handle, const CUDA_ARRAY3D_DESCRIPTOR* descriptor) {
  if (descriptor == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return CreateArray(
      handle, allot::cuda::ArrayBytes(descriptor->Width, descriptor->Height, descriptor->Depth,
                                      descriptor->Format, descriptor->NumChannels));
}

FAKE_EXPORT CUresult cuArrayDestroy(CUarray handle) {
  if (handle == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  auto* array = reinterpret_cast<Array*>(handle);
  fg::ReleaseDeviceMemory(array->device, array->bytes);
  delete array;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray* handle,
                                            const CUDA_ARRAY3D_DESCRIPTOR* descriptor,
                                            unsigned int levels) {
  if (descriptor == nullptr || levels == 0) return CUDA_ERROR_INVALID_VALUE;
  uint64_t bytes = allot::cuda::MipmappedArrayBytes(*descriptor, levels);
  return CreateArray(reinterpret_cast<CUarray*>(handle), bytes);
}

FAKE_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray handle) {
  return cuArrayDestroy(reinterpret_cast<CUarray>(handle));
}

FAKE_EXPORT CUresult cuMemcpyHtoD(CUdeviceptr destination, const void* source, size_t bytes) {
  REQUIRE_CONTEXT();
  SleepUntil(Current()->default_stream->ready_ns.load());
  std::memcpy(reinterpret_cast<void*>(destination), source, bytes);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemcpyDtoH(void* destination, CUdeviceptr source, size_t bytes) {
  REQUIRE_CONTEXT();
  SleepUntil(Current()->default_stream->ready_ns.load());
  std::memcpy(destination, reinterpret_cast<const void*>(source), bytes);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemsetD8(CUdeviceptr destination, unsigned char value, size_t count) {
  REQUIRE_CONTEXT();
  std::memset(reinterpret_cast<void*>(destination), value, count);
  return CUDA_SUCCESS;
}

// Asynchronous copies and sets run when called, after the stream's earlier
// work (the fake's kernels compute nothing, so only that order matters).
namespace {
CUresult CopyOn(CUstream stream, void* destination, const void* source, size_t bytes) {
  REQUIRE_CONTEXT();
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  SleepUntil(resolved->ready_ns.load());
  std::memmove(destination, source, bytes);
  return CUDA_SUCCESS;
}

template <typename Element>
CUresult SetOn(CUstream stream, CUdeviceptr destination, Element value, size_t count) {
  REQUIRE_CONTEXT();
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  SleepUntil(resolved->ready_ns.load());
  std::fill_n(reinterpret_cast<Element*>(destination), count, value);
  return CUDA_SUCCESS;
}

void* Address(CUdeviceptr pointer) {
  return reinterpret_cast<void*>(pointer);
}
}  // namespace

FAKE_EXPORT CUresult cuMemcpy(CUdeviceptr destination, CUdeviceptr source, size_t bytes) {
  return CopyOn(nullptr, Address(destination), Address(source), bytes);
}
FAKE_EXPORT CUresult cuMemcpy_ptds(CUdeviceptr destination, CUdeviceptr source, size_t bytes) {
  return cuMemcpy(destination, source, bytes);
}
FAKE_EXPORT CUresult cuMemcpyAsync(CUdeviceptr destination, CUdeviceptr source, size_t bytes,
                                   CUstream stream) {
  return CopyOn(stream, Address(destination), Address(source), bytes);
}
FAKE_EXPORT CUresult cuMemcpyAsync_ptsz(CUdeviceptr destination, CUdeviceptr source, size_t bytes,
                                        CUstream stream) {
  return cuMemcpyAsync(destination, source, bytes, stream);
}
FAKE_EXPORT CUresult cuMemcpyHtoDAsync(CUdeviceptr destination, const void* source, size_t bytes,
                                       CUstream stream) {
  return CopyOn(stream, Address(destination), source, bytes);
}
FAKE_EXPORT CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr destination, const void* source,
                                               size_t bytes, CUstream stream) {
  return cuMemcpyHtoDAsync(destination, source, bytes, stream);
}
FAKE_EXPORT CUresult cuMemcpyDtoHAsync(void* destination, CUdeviceptr source, size_t bytes,
                                       CUstream stream) {
  return CopyOn(stream, destination, Address(source), bytes);
}
FAKE_EXPORT CUresult cuMemcpyDtoHAsync_v2_ptsz(void* destination, CUdeviceptr source, size_t bytes,
                                               CUstream stream) {
  return cuMemcpyDtoHAsync(destination, source, bytes, stream);
}
FAKE_EXPORT CUresult cuMemcpyDtoDAsync(CUdeviceptr destination, CUdeviceptr source, size_t bytes,
                                       CUstream stream) {
  return CopyOn(stream, Address(destination), Address(source), bytes);
}
FAKE_EXPORT CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr destination, CUdeviceptr source,
                                               size_t bytes, CUstream stream) {
  return cuMemcpyDtoDAsync(destination, source, bytes, stream);
}

// Row by row; every kind of memory is host-addressable here (arrays are not
// supported as either end).
FAKE_EXPORT CUresult cuMemcpy2DAsync(const CUDA_MEMCPY2D* copy, CUstream stream) {
  if (copy == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto end_of = [](CUmemorytype type, const void* host, CUdeviceptr device) -> const char* {
    return type == CU_MEMORYTYPE_HOST ? static_cast<const char*>(host)
                                      : reinterpret_cast<const char*>(device);
  };
  if (copy->srcMemoryType == CU_MEMORYTYPE_ARRAY || copy->dstMemoryType == CU_MEMORYTYPE_ARRAY) {
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  const char* source = end_of(copy->srcMemoryType, copy->srcHost, copy->srcDevice) +
                       copy->srcY * copy->srcPitch + copy->srcXInBytes;
  char* destination =
      const_cast<char*>(end_of(copy->dstMemoryType, copy->dstHost, copy->dstDevice)) +
      copy->dstY * copy->dstPitch + copy->dstXInBytes;
  for (size_t row = 0; row < copy->Height; ++row) {
    CUresult result = CopyOn(stream, destination + row * copy->dstPitch,
                             source + row * copy->srcPitch, copy->WidthInBytes);
    if (result != CUDA_SUCCESS) return result;
  }
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D* copy, CUstream stream) {
  return cuMemcpy2DAsync(copy, stream);
}

// Managed memory is always where it is used here: prefetching has nothing to do.
FAKE_EXPORT CUresult cuMemPrefetchAsync(CUdeviceptr, size_t, CUmemLocation, unsigned int,
                                        CUstream stream) {
  REQUIRE_CONTEXT();
  return Resolve(stream) == nullptr ? CUDA_ERROR_INVALID_HANDLE : CUDA_SUCCESS;
}
// CUDA 12's form names the destination by device ordinal.
FAKE_EXPORT CUresult FakeMemPrefetchAsyncV1(CUdeviceptr, size_t, CUdevice,
                                            CUstream stream) __asm__("cuMemPrefetchAsync");
CUresult FakeMemPrefetchAsyncV1(CUdeviceptr, size_t, CUdevice, CUstream stream) {
  REQUIRE_CONTEXT();
  return Resolve(stream) == nullptr ? CUDA_ERROR_INVALID_HANDLE : CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemPrefetchAsync_v2_ptsz(CUdeviceptr pointer, size_t bytes,
                                                CUmemLocation location, unsigned int flags,
                                                CUstream stream) {
  return cuMemPrefetchAsync(pointer, bytes, location, flags, stream);
}

FAKE_EXPORT CUresult cuMemsetD8Async(CUdeviceptr destination, unsigned char value, size_t count,
                                     CUstream stream) {
  return SetOn(stream, destination, value, count);
}
FAKE_EXPORT CUresult cuMemsetD8Async_ptsz(CUdeviceptr destination, unsigned char value,
                                          size_t count, CUstream stream) {
  return cuMemsetD8Async(destination, value, count, stream);
}
FAKE_EXPORT CUresult cuMemsetD32Async(CUdeviceptr destination, unsigned int value, size_t count,
                                      CUstream stream) {
  return SetOn(stream, destination, value, count);
}
FAKE_EXPORT CUresult cuMemsetD32Async_ptsz(CUdeviceptr destination, unsigned int value,
                                           size_t count, CUstream stream) {
  return cuMemsetD32Async(destination, value, count, stream);
}

// Page-locked host memory: ordinary host memory here, remembered so that
// pointer queries can tell it from device memory.
FAKE_EXPORT CUresult cuMemHostAlloc(void** pointer, size_t bytes, unsigned int) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (pointer == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  std::lock_guard lock(D().mu);
  D().host_allocations[reinterpret_cast<uintptr_t>(memory)] = bytes;
  *pointer = memory;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemAllocHost(void** pointer, size_t bytes) {
  return cuMemHostAlloc(pointer, bytes, 0);
}

FAKE_EXPORT CUresult cuMemFreeHost(void* pointer) {
  size_t bytes = 0;
  {
    std::lock_guard lock(D().mu);
    auto found = D().host_allocations.find(reinterpret_cast<uintptr_t>(pointer));
    if (found == D().host_allocations.end()) return CUDA_ERROR_INVALID_VALUE;
    bytes = found->second;
    D().host_allocations.erase(found);
  }
  munmap(pointer, bytes);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemHostGetDevicePointer(CUdeviceptr* device_pointer, void* pointer,
                                               unsigned int) {
  if (device_pointer == nullptr || pointer == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *device_pointer = reinterpret_cast<CUdeviceptr>(pointer);
  return CUDA_SUCCESS;
}

// What the driver knows of a pointer; cuPointerGetAttributes answers from it.
namespace {
struct PointerInfo {
  CUmemorytype type = static_cast<CUmemorytype>(0);  // 0: not the driver's
  int device = -2;                                   // as the driver: -2 for host memory
  uintptr_t start = 0;
  size_t bytes = 0;
};

PointerInfo FindPointer(uintptr_t address) {
  std::lock_guard lock(D().mu);
  for (const auto& [start, allocation] : D().allocations) {
    if (address >= start && address < start + allocation.bytes) {
      return {CU_MEMORYTYPE_DEVICE, allocation.device, static_cast<uintptr_t>(start),
              allocation.bytes};
    }
  }
  auto after = D().host_allocations.upper_bound(address);
  if (after != D().host_allocations.begin()) {
    auto host = std::prev(after);
    if (address < host->first + host->second) {
      return {CU_MEMORYTYPE_HOST, -2, host->first, host->second};
    }
  }
  return {};
}

// Writes one attribute of `info` to `data`; false for an attribute the fake
// does not answer.
bool PointerAttribute(const PointerInfo& info, uintptr_t address, CUpointer_attribute attribute,
                      void* data) {
  const bool known = info.type != 0;
  switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: {
      Context* context = nullptr;
      if (known && info.type == CU_MEMORYTYPE_DEVICE) {
        std::lock_guard lock(D().mu);
        context = D().primary[info.device];
      }
      *static_cast<CUcontext*>(data) = reinterpret_cast<CUcontext>(context);
      return true;
    }
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
      *static_cast<unsigned int*>(data) = info.type;
      return true;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
      *static_cast<CUdeviceptr*>(data) = known ? address : 0;
      return true;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
      *static_cast<void**>(data) =
          known && info.type == CU_MEMORYTYPE_HOST ? reinterpret_cast<void*>(address) : nullptr;
      return true;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
      *static_cast<unsigned long long*>(data) = info.start;
      return true;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
      *static_cast<unsigned int*>(data) = 0;
      return true;
    case CU_POINTER_ATTRIBUTE_MAPPED:
      *static_cast<unsigned int*>(data) = known ? 1 : 0;
      return true;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
      *static_cast<int*>(data) = known ? info.device : -2;
      return true;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
      *static_cast<CUdeviceptr*>(data) = info.start;
      return true;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
      *static_cast<size_t*>(data) = info.bytes;
      return true;
    default:
      return false;
  }
}
}  // namespace

FAKE_EXPORT CUresult cuPointerGetAttribute(void* data, CUpointer_attribute attribute,
                                           CUdeviceptr pointer) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  PointerInfo info = FindPointer(pointer);
  if (info.type == 0) return CUDA_ERROR_INVALID_VALUE;
  return PointerAttribute(info, pointer, attribute, data) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// Unlike cuPointerGetAttribute, memory the driver does not know is no error:
// its attributes read as empty.
FAKE_EXPORT CUresult cuPointerGetAttributes(unsigned int count, CUpointer_attribute* attributes,
                                            void** data, CUdeviceptr pointer) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (attributes == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  PointerInfo info = FindPointer(pointer);
  for (unsigned int i = 0; i < count; ++i) {
    if (data[i] == nullptr) continue;
    if (!PointerAttribute(info, pointer, attributes[i], data[i])) return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

// ---- Streams and events ---------------------------------------------------------

FAKE_EXPORT CUresult cuStreamCreate(CUstream* stream, unsigned int) {
  REQUIRE_CONTEXT();
  if (stream == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* created = new Stream();
  created->context = Current();
  {
    std::lock_guard lock(D().mu);
    Current()->streams.push_back(created);
  }
  *stream = reinterpret_cast<CUstream>(created);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuStreamCreateWithPriority(CUstream* stream, unsigned int flags, int) {
  return cuStreamCreate(stream, flags);
}

FAKE_EXPORT CUresult cuStreamDestroy(CUstream stream) {
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  auto* fake = reinterpret_cast<Stream*>(stream);
  std::lock_guard lock(D().mu);
  std::erase(fake->context->streams, fake);
  return CUDA_SUCCESS;  // kept allocated: work may still name it
}

FAKE_EXPORT CUresult cuStreamSynchronize(CUstream stream) {
  return SynchronizeStream(stream);
}
FAKE_EXPORT CUresult cuStreamSynchronize_ptsz(CUstream stream) {
  return SynchronizeStream(stream);
}

FAKE_EXPORT CUresult cuStreamQuery(CUstream stream) {
  REQUIRE_CONTEXT();
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return fg::NowNs() >= resolved->ready_ns.load() ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}
FAKE_EXPORT CUresult cuStreamQuery_ptsz(CUstream stream) {
  return cuStreamQuery(stream);
}

// The stream's later work starts after the event's.
FAKE_EXPORT CUresult cuStreamWaitEvent(CUstream stream, CUevent event, unsigned int) {
  REQUIRE_CONTEXT();
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr || event == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  uint64_t at = reinterpret_cast<Event*>(event)->at_ns.load();
  uint64_t ready = resolved->ready_ns.load();
  while (ready < at && !resolved->ready_ns.compare_exchange_weak(ready, at)) {
  }
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamWaitEvent_ptsz(CUstream stream, CUevent event, unsigned int flags) {
  return cuStreamWaitEvent(stream, event, flags);
}

// The fake never captures a stream into a graph.
FAKE_EXPORT CUresult cuStreamIsCapturing(CUstream stream, CUstreamCaptureStatus* status) {
  REQUIRE_CONTEXT();
  if (Resolve(stream) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *status = CU_STREAM_CAPTURE_STATUS_NONE;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamIsCapturing_ptsz(CUstream stream, CUstreamCaptureStatus* status) {
  return cuStreamIsCapturing(stream, status);
}

FAKE_EXPORT CUresult cuStreamGetCaptureInfo(CUstream stream, CUstreamCaptureStatus* status,
                                            cuuint64_t* id, CUgraph* graph,
                                            const CUgraphNode** dependencies,
                                            const CUgraphEdgeData** edge_data, size_t* count) {
  CUresult result = cuStreamIsCapturing(stream, status);
  if (result != CUDA_SUCCESS) return result;
  if (id != nullptr) *id = 0;
  if (graph != nullptr) *graph = nullptr;
  if (dependencies != nullptr) *dependencies = nullptr;
  if (edge_data != nullptr) *edge_data = nullptr;
  if (count != nullptr) *count = 0;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream stream, CUstreamCaptureStatus* status,
                                                    cuuint64_t* id, CUgraph* graph,
                                                    const CUgraphNode** dependencies,
                                                    const CUgraphEdgeData** edge_data,
                                                    size_t* count) {
  return cuStreamGetCaptureInfo(stream, status, id, graph, dependencies, edge_data, count);
}

FAKE_EXPORT CUresult cuStreamGetCtx(CUstream stream, CUcontext* context) {
  REQUIRE_CONTEXT();
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr || context == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *context = reinterpret_cast<CUcontext>(resolved->context);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamGetCtx_ptsz(CUstream stream, CUcontext* context) {
  return cuStreamGetCtx(stream, context);
}

FAKE_EXPORT CUresult cuEventCreate(CUevent* event, unsigned int) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (event == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *event = reinterpret_cast<CUevent>(new Event());
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuEventDestroy(CUevent event) {
  delete reinterpret_cast<Event*>(event);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuEventRecord(CUevent event, CUstream stream) {
  return RecordOn(event, stream);
}
FAKE_EXPORT CUresult cuEventRecord_ptsz(CUevent event, CUstream stream) {
  return RecordOn(event, stream);
}

FAKE_EXPORT CUresult cuEventQuery(CUevent event) {
  if (event == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  auto* fake = reinterpret_cast<Event*>(event);
  return fg::NowNs() >= fake->at_ns.load() ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

FAKE_EXPORT CUresult cuEventSynchronize(CUevent event) {
  if (event == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  SleepUntil(reinterpret_cast<Event*>(event)->at_ns.load());
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuEventElapsedTime(float* milliseconds, CUevent start, CUevent end) {
  if (milliseconds == nullptr || start == nullptr || end == nullptr)
    return CUDA_ERROR_INVALID_VALUE;
  auto* first = reinterpret_cast<Event*>(start);
  auto* last = reinterpret_cast<Event*>(end);
  if (!first->recorded.load() || !last->recorded.load()) return CUDA_ERROR_INVALID_HANDLE;
  uint64_t now = fg::NowNs();
  if (now < first->at_ns.load() || now < last->at_ns.load()) return CUDA_ERROR_NOT_READY;
  *milliseconds = static_cast<float>(
      static_cast<double>(static_cast<int64_t>(last->at_ns.load() - first->at_ns.load())) / 1e6);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult FakeEventElapsedTimeV1(float* milliseconds, CUevent start,
                                            CUevent end) __asm__("cuEventElapsedTime");
CUresult FakeEventElapsedTimeV1(float* milliseconds, CUevent start, CUevent end) {
  return cuEventElapsedTime(milliseconds, start, end);
}

// ---- Modules and launches ---------------------------------------------------------

FAKE_EXPORT CUresult cuModuleLoadData(CUmodule* module, const void* image) {
  REQUIRE_CONTEXT();
  if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *module = reinterpret_cast<CUmodule>(new Module());
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int,
                                        CUjit_option*, void**) {
  return cuModuleLoadData(module, image);
}

FAKE_EXPORT CUresult cuModuleGetGlobal(CUdeviceptr* pointer, size_t* bytes, CUmodule module,
                                       const char* name) {
  if (module == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return reinterpret_cast<Module*>(module)->globals.Get(name, pointer, bytes);
}

FAKE_EXPORT CUresult cuModuleUnload(CUmodule module) {
  auto* fake = reinterpret_cast<Module*>(module);
  if (fake == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  delete fake;  // its functions stay valid: handles are never reused
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuModuleGetFunction(CUfunction* function, CUmodule module, const char* name) {
  if (function == nullptr || module == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* created = new Function{name};
  reinterpret_cast<Module*>(module)->functions.push_back(created);
  *function = reinterpret_cast<CUfunction>(created);
  return CUDA_SUCCESS;
}

// Every fake kernel looks alike: compiled for sm_90, any block size up to
// 1,024 threads, 32 registers, no static shared memory.
FAKE_EXPORT CUresult cuFuncGetAttribute(int* value, CUfunction_attribute attribute,
                                        CUfunction function) {
  if (value == nullptr || function == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (attribute) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
      *value = 1024;
      break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS:
      *value = 32;
      break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION:
      *value = 90;
      break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
      *value = 48 * 1024;
      break;
    default:
      *value = 0;
  }
  return CUDA_SUCCESS;
}

namespace {
// Blocks of `threads` threads and `shared_bytes` of dynamic shared memory
// that fit on one multiprocessor at once: 32 blocks, 2,048 threads and
// 228 KiB of shared memory (1 KiB of it reserved per block) at most.
int BlocksPerMultiprocessor(unsigned int threads, size_t shared_bytes) {
  if (threads == 0 || threads > 1024) return 0;
  size_t blocks = std::min<size_t>(32, 2048 / threads);
  blocks = std::min<size_t>(blocks, 233472 / (shared_bytes + 1024));
  return static_cast<int>(blocks);
}
}  // namespace

FAKE_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
    int* blocks, CUfunction function, int block_size, size_t shared_bytes, unsigned int) {
  if (blocks == nullptr || function == nullptr || block_size <= 0 || block_size > 1024) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *blocks = BlocksPerMultiprocessor(static_cast<unsigned int>(block_size), shared_bytes);
  return CUDA_SUCCESS;
}

// The shared memory a block may ask for when `blocks` of them share a
// multiprocessor: the multiprocessor's 228 KiB less 1 KiB reserved per block,
// at most the 227 KiB a block may opt into.
FAKE_EXPORT CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t* bytes, CUfunction function,
                                                             int blocks, int block_size) {
  if (bytes == nullptr || function == nullptr || blocks <= 0 || block_size <= 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const size_t per_block = 233472 / static_cast<size_t>(blocks);
  *bytes = per_block > 1024 ? std::min<size_t>(per_block - 1024, 232448) : 0;
  return CUDA_SUCCESS;
}

// Thread-block clusters: up to 8 blocks portably, 16 at most; a cluster's
// blocks run at once on one GPC, modelled as 8 GPCs of 16 multiprocessors
// that hold as many blocks as threads and shared memory allow. A cluster
// that cannot be placed gives 0, which libraries probe for (cuBLAS asks
// for sizes up to 17).
FAKE_EXPORT CUresult cuOccupancyMaxPotentialClusterSize(int* size, CUfunction function,
                                                        const CUlaunchConfig* config) {
  if (size == nullptr || function == nullptr || config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *size = 8;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuOccupancyMaxActiveClusters(int* clusters, CUfunction function,
                                                  const CUlaunchConfig* config) {
  if (clusters == nullptr || function == nullptr || config == nullptr) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  unsigned int cluster_blocks = 1;
  for (unsigned int i = 0; i < config->numAttrs; ++i) {
    const CUlaunchAttribute& attribute = config->attrs[i];
    if (attribute.id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) {
      const auto& dim = attribute.value.clusterDim;
      cluster_blocks = std::max(1U, dim.x) * std::max(1U, dim.y) * std::max(1U, dim.z);
    }
  }
  const unsigned int threads = config->blockDimX * config->blockDimY * config->blockDimZ;
  if (threads == 0 || threads > 1024) return CUDA_ERROR_INVALID_VALUE;
  const unsigned int per_gpc =
      16 * static_cast<unsigned int>(BlocksPerMultiprocessor(threads, config->sharedMemBytes));
  *clusters = cluster_blocks > 16 ? 0 : static_cast<int>(8 * (per_gpc / cluster_blocks));
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, CUfunction function,
                                                                 int block_size,
                                                                 size_t shared_bytes) {
  return cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(blocks, function, block_size,
                                                              shared_bytes, 0);
}

FAKE_EXPORT CUresult cuFuncSetAttribute(CUfunction function, CUfunction_attribute, int) {
  return function == nullptr ? CUDA_ERROR_INVALID_HANDLE : CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuFuncSetCacheConfig(CUfunction function, CUfunc_cache) {
  return function == nullptr ? CUDA_ERROR_INVALID_HANDLE : CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuFuncGetName(const char** name, CUfunction function) {
  if (name == nullptr || function == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *name = reinterpret_cast<Function*>(function)->name.c_str();
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *mode = CU_MODULE_EAGER_LOADING;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option*, void**,
                                       unsigned int, CUlibraryOption*, void**, unsigned int) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (library == nullptr || code == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *library = reinterpret_cast<CUlibrary>(new Library());
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuLibraryUnload(CUlibrary library) {
  auto* fake = reinterpret_cast<Library*>(library);
  if (fake == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  delete fake->module;
  delete fake;  // its kernels stay valid: handles are never reused
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuLibraryGetKernel(CUkernel* kernel, CUlibrary library, const char* name) {
  if (kernel == nullptr || library == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* owner = reinterpret_cast<Library*>(library);
  auto* created = new Function{name, owner};
  owner->kernels.push_back(created);
  *kernel = reinterpret_cast<CUkernel>(created);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuLibraryGetGlobal(CUdeviceptr* pointer, size_t* bytes, CUlibrary library,
                                        const char* name) {
  if (library == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return reinterpret_cast<Library*>(library)->globals.Get(name, pointer, bytes);
}

FAKE_EXPORT CUresult cuKernelGetLibrary(CUlibrary* library, CUkernel kernel) {
  if (library == nullptr || kernel == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Library* owner = reinterpret_cast<Function*>(kernel)->library;
  if (owner == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *library = reinterpret_cast<CUlibrary>(owner);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuLibraryGetModule(CUmodule* module, CUlibrary library) {
  REQUIRE_CONTEXT();
  if (module == nullptr || library == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* fake = reinterpret_cast<Library*>(library);
  if (fake->module == nullptr) fake->module = new Module();
  *module = reinterpret_cast<CUmodule>(fake->module);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuKernelGetFunction(CUfunction* function, CUkernel kernel) {
  REQUIRE_CONTEXT();
  if (function == nullptr || kernel == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *function = reinterpret_cast<CUfunction>(kernel);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuKernelGetAttribute(int* value, CUfunction_attribute attribute,
                                          CUkernel kernel, CUdevice) {
  return cuFuncGetAttribute(value, attribute, reinterpret_cast<CUfunction>(kernel));
}

FAKE_EXPORT CUresult cuKernelSetAttribute(CUfunction_attribute, int, CUkernel kernel, CUdevice) {
  return kernel == nullptr ? CUDA_ERROR_INVALID_HANDLE : CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache, CUdevice) {
  return kernel == nullptr ? CUDA_ERROR_INVALID_HANDLE : CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuKernelGetName(const char** name, CUkernel kernel) {
  return cuFuncGetName(name, reinterpret_cast<CUfunction>(kernel));
}

FAKE_EXPORT CUresult cuLaunchKernel(CUfunction function, unsigned int x, unsigned int y,
                                    unsigned int z, unsigned int, unsigned int, unsigned int,
                                    unsigned int, CUstream stream, void**, void**) {
  if (function == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return LaunchOn(stream, KernelNs(x, y, z));
}
FAKE_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction function, unsigned int x, unsigned int y,
                                         unsigned int z, unsigned int, unsigned int, unsigned int,
                                         unsigned int, CUstream stream, void**, void**) {
  if (function == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return LaunchOn(stream, KernelNs(x, y, z));
}

FAKE_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction function, void**,
                                      void**) {
  if (config == nullptr || function == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return LaunchOn(config->hStream, KernelNs(config->gridDimX, config->gridDimY, config->gridDimZ));
}
FAKE_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction function,
                                           void** parameters, void** extra) {
  return cuLaunchKernelEx(config, function, parameters, extra);
}

FAKE_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction function, unsigned int x, unsigned int y,
                                               unsigned int z, unsigned int, unsigned int,
                                               unsigned int, unsigned int, CUstream stream,
                                               void**) {
  if (function == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return LaunchOn(stream, KernelNs(x, y, z));
}
FAKE_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction function, unsigned int x,
                                                    unsigned int y, unsigned int z, unsigned int bx,
                                                    unsigned int by, unsigned int bz,
                                                    unsigned int shared, CUstream stream,
                                                    void** parameters) {
  return cuLaunchCooperativeKernel(function, x, y, z, bx, by, bz, shared, stream, parameters);
}

// ---- Graphs ---------------------------------------------------------------------

FAKE_EXPORT CUresult cuGraphCreate(CUgraph* graph, unsigned int) {
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *graph = reinterpret_cast<CUgraph>(new Graph());
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphDestroy(CUgraph graph) {
  auto* fake = reinterpret_cast<Graph*>(graph);
  if (fake == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (GraphNode* node : fake->nodes) {
    if (node->allocation != 0) (void)UnmapDeviceMemory(node->allocation);
    delete node;
  }
  delete fake;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphAddKernelNode(CUgraphNode* node, CUgraph graph, const CUgraphNode*,
                                          size_t, const CUDA_KERNEL_NODE_PARAMS* parameters) {
  if (node == nullptr || graph == nullptr || parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* created =
      new GraphNode{KernelNs(parameters->gridDimX, parameters->gridDimY, parameters->gridDimZ), 0};
  reinterpret_cast<Graph*>(graph)->nodes.push_back(created);
  *node = reinterpret_cast<CUgraphNode>(created);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphAddMemAllocNode(CUgraphNode* node, CUgraph graph, const CUgraphNode*,
                                            size_t, CUDA_MEM_ALLOC_NODE_PARAMS* parameters) {
  if (node == nullptr || graph == nullptr || parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  int device = parameters->poolProps.location.id;
  if (device < 0 || device >= static_cast<int>(D().visible.size())) return CUDA_ERROR_INVALID_VALUE;
  CUdeviceptr pointer = 0;
  if (CUresult result = MapDeviceMemory(&pointer, parameters->bytesize, Physical(device));
      result != CUDA_SUCCESS) {
    return result;
  }
  parameters->dptr = pointer;
  auto* created = new GraphNode{0, pointer};
  reinterpret_cast<Graph*>(graph)->nodes.push_back(created);
  *node = reinterpret_cast<CUgraphNode>(created);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphInstantiate(CUgraphExec* exec, CUgraph graph, unsigned long long) {
  if (exec == nullptr || graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *exec = reinterpret_cast<CUgraphExec>(new GraphExec{reinterpret_cast<Graph*>(graph)});
  return CUDA_SUCCESS;
}
// CUDA 10's form, with an error node and a log (the fake never fails to
// instantiate, so both stay empty).
FAKE_EXPORT CUresult FakeGraphInstantiateV1(CUgraphExec* exec, CUgraph graph,
                                            CUgraphNode* error_node, char* log,
                                            size_t log_bytes) __asm__("cuGraphInstantiate");
CUresult FakeGraphInstantiateV1(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node,
                                char* log, size_t log_bytes) {
  if (error_node != nullptr) *error_node = nullptr;
  if (log != nullptr && log_bytes > 0) log[0] = '\0';
  return cuGraphInstantiate(exec, graph, 0);
}

FAKE_EXPORT CUresult cuGraphInstantiateWithParams(CUgraphExec* exec, CUgraph graph,
                                                  CUDA_GRAPH_INSTANTIATE_PARAMS* parameters) {
  if (parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = cuGraphInstantiate(exec, graph, parameters->flags);
  parameters->hErrNode_out = nullptr;
  parameters->result_out =
      result == CUDA_SUCCESS ? CUDA_GRAPH_INSTANTIATE_SUCCESS : CUDA_GRAPH_INSTANTIATE_ERROR;
  return result;
}
FAKE_EXPORT CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec* exec, CUgraph graph,
                                                       CUDA_GRAPH_INSTANTIATE_PARAMS* parameters) {
  return cuGraphInstantiateWithParams(exec, graph, parameters);
}

FAKE_EXPORT CUresult cuGraphExecDestroy(CUgraphExec exec) {
  delete reinterpret_cast<GraphExec*>(exec);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t duration = 0;
  for (GraphNode* node : reinterpret_cast<GraphExec*>(exec)->graph->nodes)
    duration += node->duration_ns;
  return LaunchOn(stream, std::max<uint64_t>(duration, 1000));
}
FAKE_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream stream) {
  return cuGraphLaunch(exec, stream);
}

// ---- Errors, entry points -----------------------------------------------------------

FAKE_EXPORT CUresult cuGetErrorName(CUresult error, const char** text) {
  if (text == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (error) {
    case CUDA_SUCCESS:
      *text = "CUDA_SUCCESS";
      break;
    case CUDA_ERROR_INVALID_VALUE:
      *text = "CUDA_ERROR_INVALID_VALUE";
      break;
    case CUDA_ERROR_OUT_OF_MEMORY:
      *text = "CUDA_ERROR_OUT_OF_MEMORY";
      break;
    case CUDA_ERROR_NOT_INITIALIZED:
      *text = "CUDA_ERROR_NOT_INITIALIZED";
      break;
    case CUDA_ERROR_NO_DEVICE:
      *text = "CUDA_ERROR_NO_DEVICE";
      break;
    case CUDA_ERROR_INVALID_DEVICE:
      *text = "CUDA_ERROR_INVALID_DEVICE";
      break;
    case CUDA_ERROR_INVALID_CONTEXT:
      *text = "CUDA_ERROR_INVALID_CONTEXT";
      break;
    case CUDA_ERROR_INVALID_HANDLE:
      *text = "CUDA_ERROR_INVALID_HANDLE";
      break;
    case CUDA_ERROR_NOT_FOUND:
      *text = "CUDA_ERROR_NOT_FOUND";
      break;
    case CUDA_ERROR_NOT_READY:
      *text = "CUDA_ERROR_NOT_READY";
      break;
    case CUDA_ERROR_NOT_SUPPORTED:
      *text = "CUDA_ERROR_NOT_SUPPORTED";
      break;
    default:
      *text = nullptr;
      return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGetErrorString(CUresult error, const char** text) {
  if (CUresult result = cuGetErrorName(error, text); result != CUDA_SUCCESS) return result;
  if (error == CUDA_ERROR_OUT_OF_MEMORY) *text = "out of memory";
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult FakeGetProcAddressV1(const char* symbol, void** function, int version,
                                          cuuint64_t flags) __asm__("cuGetProcAddress");

namespace {

// Every entry point the fake exports, by the name cuGetProcAddress is asked
// for, the CUDA version that introduced the variant, and whether it is the
// per-thread-default-stream variant.
struct EntryPoint {
  const char* name;
  int version;
  bool per_thread;
  void* function;
};

#define ENTRY(name, version, function) \
  { name, version, false, reinterpret_cast<void*>(&function) }
#define ENTRY_PT(name, version, function) \
  { name, version, true, reinterpret_cast<void*>(&function) }

const EntryPoint kEntryPoints[] = {
    ENTRY("cuInit", 2000, cuInit),
    ENTRY("cuDriverGetVersion", 2020, cuDriverGetVersion),
    ENTRY("cuDeviceGet", 2000, cuDeviceGet),
    ENTRY("cuDeviceGetCount", 2000, cuDeviceGetCount),
    ENTRY("cuDeviceGetName", 2000, cuDeviceGetName),
    ENTRY("cuDeviceGetUuid", 9020, FakeDeviceGetUuidV1),
    ENTRY("cuDeviceGetUuid", 11040, cuDeviceGetUuid),
    ENTRY("cuDeviceTotalMem", 3020, cuDeviceTotalMem),
    ENTRY("cuDeviceGetAttribute", 2000, cuDeviceGetAttribute),
    ENTRY("cuDeviceGetPCIBusId", 4010, cuDeviceGetPCIBusId),
    ENTRY("cuDeviceCanAccessPeer", 4000, cuDeviceCanAccessPeer),
    ENTRY("cuDevicePrimaryCtxRetain", 7000, cuDevicePrimaryCtxRetain),
    ENTRY("cuDevicePrimaryCtxRelease", 7000, cuDevicePrimaryCtxRelease),
    ENTRY("cuDevicePrimaryCtxRelease", 11000, cuDevicePrimaryCtxRelease),
    ENTRY("cuDevicePrimaryCtxReset", 7000, cuDevicePrimaryCtxReset),
    ENTRY("cuDevicePrimaryCtxReset", 11000, cuDevicePrimaryCtxReset),
    ENTRY("cuDevicePrimaryCtxGetState", 7000, cuDevicePrimaryCtxGetState),
    ENTRY("cuDevicePrimaryCtxSetFlags", 7000, cuDevicePrimaryCtxSetFlags),
    ENTRY("cuDevicePrimaryCtxSetFlags", 11000, cuDevicePrimaryCtxSetFlags),
    ENTRY("cuCtxCreate", 3020, FakeCtxCreateV2),
    ENTRY("cuCtxCreate", 12050, cuCtxCreate),
    ENTRY("cuCtxDestroy", 4000, cuCtxDestroy),
    ENTRY("cuCtxSetCurrent", 4000, cuCtxSetCurrent),
    ENTRY("cuCtxGetCurrent", 4000, cuCtxGetCurrent),
    ENTRY("cuCtxPushCurrent", 4000, cuCtxPushCurrent),
    ENTRY("cuCtxPopCurrent", 4000, cuCtxPopCurrent),
    ENTRY("cuCtxGetDevice", 2000, cuCtxGetDevice),
    ENTRY("cuCtxGetApiVersion", 3020, cuCtxGetApiVersion),
    ENTRY("cuCtxSynchronize", 2000, cuCtxSynchronize),
    ENTRY("cuCtxGetStreamPriorityRange", 5050, cuCtxGetStreamPriorityRange),
    ENTRY("cuCtxGetLimit", 3010, cuCtxGetLimit),
    ENTRY("cuCtxSetLimit", 3010, cuCtxSetLimit),
    ENTRY("cuCtxEnablePeerAccess", 4000, cuCtxEnablePeerAccess),
    ENTRY("cuCtxDisablePeerAccess", 4000, cuCtxDisablePeerAccess),
    ENTRY("cuMemGetInfo", 3020, cuMemGetInfo),
    ENTRY("cuMemAlloc", 3020, cuMemAlloc),
    ENTRY("cuMemAllocPitch", 3020, cuMemAllocPitch),
    ENTRY("cuMemAllocManaged", 6000, cuMemAllocManaged),
    ENTRY("cuMemFree", 3020, cuMemFree),
    ENTRY("cuMemAllocAsync", 11020, cuMemAllocAsync),
    ENTRY_PT("cuMemAllocAsync", 11020, cuMemAllocAsync_ptsz),
    ENTRY("cuMemFreeAsync", 11020, cuMemFreeAsync),
    ENTRY_PT("cuMemFreeAsync", 11020, cuMemFreeAsync_ptsz),
    ENTRY("cuMemPoolCreate", 11020, cuMemPoolCreate),
    ENTRY("cuMemPoolDestroy", 11020, cuMemPoolDestroy),
    ENTRY("cuMemAllocFromPoolAsync", 11020, cuMemAllocFromPoolAsync),
    ENTRY_PT("cuMemAllocFromPoolAsync", 11020, cuMemAllocFromPoolAsync_ptsz),
    ENTRY("cuMemGetAllocationGranularity", 10020, cuMemGetAllocationGranularity),
    ENTRY("cuMemCreate", 10020, cuMemCreate),
    ENTRY("cuMemRelease", 10020, cuMemRelease),
    ENTRY("cuMemAddressReserve", 10020, cuMemAddressReserve),
    ENTRY("cuMemAddressFree", 10020, cuMemAddressFree),
    ENTRY("cuMemMap", 10020, cuMemMap),
    ENTRY("cuMemUnmap", 10020, cuMemUnmap),
    ENTRY("cuMemSetAccess", 10020, cuMemSetAccess),
    ENTRY("cuArrayCreate", 3020, cuArrayCreate),
    ENTRY("cuArray3DCreate", 3020, cuArray3DCreate),
    ENTRY("cuArrayDestroy", 2000, cuArrayDestroy),
    ENTRY("cuMipmappedArrayCreate", 5000, cuMipmappedArrayCreate),
    ENTRY("cuMipmappedArrayDestroy", 5000, cuMipmappedArrayDestroy),
    ENTRY("cuMemcpyHtoD", 3020, cuMemcpyHtoD),
    ENTRY("cuMemcpyDtoH", 3020, cuMemcpyDtoH),
    ENTRY("cuMemsetD8", 3020, cuMemsetD8),
    ENTRY("cuMemcpy", 4000, cuMemcpy),
    ENTRY_PT("cuMemcpy", 7000, cuMemcpy_ptds),
    ENTRY("cuMemcpyAsync", 4000, cuMemcpyAsync),
    ENTRY_PT("cuMemcpyAsync", 7000, cuMemcpyAsync_ptsz),
    ENTRY("cuMemcpyHtoDAsync", 3020, cuMemcpyHtoDAsync),
    ENTRY_PT("cuMemcpyHtoDAsync", 7000, cuMemcpyHtoDAsync_v2_ptsz),
    ENTRY("cuMemcpyDtoHAsync", 3020, cuMemcpyDtoHAsync),
    ENTRY_PT("cuMemcpyDtoHAsync", 7000, cuMemcpyDtoHAsync_v2_ptsz),
    ENTRY("cuMemcpyDtoDAsync", 3020, cuMemcpyDtoDAsync),
    ENTRY_PT("cuMemcpyDtoDAsync", 7000, cuMemcpyDtoDAsync_v2_ptsz),
    ENTRY("cuMemcpy2DAsync", 3020, cuMemcpy2DAsync),
    ENTRY_PT("cuMemcpy2DAsync", 7000, cuMemcpy2DAsync_v2_ptsz),
    ENTRY("cuMemPrefetchAsync", 8000, FakeMemPrefetchAsyncV1),
    ENTRY("cuMemPrefetchAsync", 12020, cuMemPrefetchAsync),
    ENTRY_PT("cuMemPrefetchAsync", 12020, cuMemPrefetchAsync_v2_ptsz),
    ENTRY("cuMemsetD8Async", 3020, cuMemsetD8Async),
    ENTRY_PT("cuMemsetD8Async", 7000, cuMemsetD8Async_ptsz),
    ENTRY("cuMemsetD32Async", 3020, cuMemsetD32Async),
    ENTRY_PT("cuMemsetD32Async", 7000, cuMemsetD32Async_ptsz),
    ENTRY("cuMemHostAlloc", 2020, cuMemHostAlloc),
    ENTRY("cuMemAllocHost", 3020, cuMemAllocHost),
    ENTRY("cuMemFreeHost", 2000, cuMemFreeHost),
    ENTRY("cuMemHostGetDevicePointer", 3020, cuMemHostGetDevicePointer),
    ENTRY("cuPointerGetAttribute", 4000, cuPointerGetAttribute),
    ENTRY("cuPointerGetAttributes", 7000, cuPointerGetAttributes),
    ENTRY("cuStreamCreate", 2000, cuStreamCreate),
    ENTRY("cuStreamDestroy", 4000, cuStreamDestroy),
    ENTRY("cuStreamCreateWithPriority", 5050, cuStreamCreateWithPriority),
    ENTRY("cuStreamWaitEvent", 3020, cuStreamWaitEvent),
    ENTRY_PT("cuStreamWaitEvent", 7000, cuStreamWaitEvent_ptsz),
    ENTRY("cuStreamIsCapturing", 10000, cuStreamIsCapturing),
    ENTRY_PT("cuStreamIsCapturing", 10000, cuStreamIsCapturing_ptsz),
    ENTRY("cuStreamGetCaptureInfo", 12030, cuStreamGetCaptureInfo),
    ENTRY_PT("cuStreamGetCaptureInfo", 12030, cuStreamGetCaptureInfo_v3_ptsz),
    ENTRY("cuStreamSynchronize", 2000, cuStreamSynchronize),
    ENTRY_PT("cuStreamSynchronize", 7000, cuStreamSynchronize_ptsz),
    ENTRY("cuStreamQuery", 2000, cuStreamQuery),
    ENTRY_PT("cuStreamQuery", 7000, cuStreamQuery_ptsz),
    ENTRY("cuStreamGetCtx", 9020, cuStreamGetCtx),
    ENTRY_PT("cuStreamGetCtx", 9020, cuStreamGetCtx_ptsz),
    ENTRY("cuEventCreate", 2000, cuEventCreate),
    ENTRY("cuEventDestroy", 4000, cuEventDestroy),
    ENTRY("cuEventRecord", 2000, cuEventRecord),
    ENTRY_PT("cuEventRecord", 7000, cuEventRecord_ptsz),
    ENTRY("cuEventQuery", 2000, cuEventQuery),
    ENTRY("cuEventSynchronize", 2000, cuEventSynchronize),
    ENTRY("cuEventElapsedTime", 2000, cuEventElapsedTime),
    ENTRY("cuModuleLoadData", 2000, cuModuleLoadData),
    ENTRY("cuModuleUnload", 2000, cuModuleUnload),
    ENTRY("cuModuleGetFunction", 2000, cuModuleGetFunction),
    ENTRY("cuFuncGetAttribute", 2020, cuFuncGetAttribute),
    ENTRY("cuFuncSetAttribute", 9000, cuFuncSetAttribute),
    ENTRY("cuOccupancyAvailableDynamicSMemPerBlock", 10020,
          cuOccupancyAvailableDynamicSMemPerBlock),
    ENTRY("cuOccupancyMaxPotentialClusterSize", 11070, cuOccupancyMaxPotentialClusterSize),
    ENTRY("cuOccupancyMaxActiveClusters", 11070, cuOccupancyMaxActiveClusters),
    ENTRY("cuOccupancyMaxActiveBlocksPerMultiprocessor", 6050,
          cuOccupancyMaxActiveBlocksPerMultiprocessor),
    ENTRY("cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags", 7000,
          cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags),
    ENTRY("cuFuncSetCacheConfig", 3000, cuFuncSetCacheConfig),
    ENTRY("cuFuncGetName", 12030, cuFuncGetName),
    ENTRY("cuModuleGetLoadingMode", 11070, cuModuleGetLoadingMode),
    ENTRY("cuLibraryLoadData", 12000, cuLibraryLoadData),
    ENTRY("cuLibraryUnload", 12000, cuLibraryUnload),
    ENTRY("cuLibraryGetKernel", 12000, cuLibraryGetKernel),
    ENTRY("cuLibraryGetModule", 12000, cuLibraryGetModule),
    ENTRY("cuLibraryGetGlobal", 12000, cuLibraryGetGlobal),
    ENTRY("cuKernelGetLibrary", 12050, cuKernelGetLibrary),
    ENTRY("cuModuleLoadDataEx", 2010, cuModuleLoadDataEx),
    ENTRY("cuModuleGetGlobal", 3020, cuModuleGetGlobal),
    ENTRY("cuKernelGetFunction", 12000, cuKernelGetFunction),
    ENTRY("cuKernelGetAttribute", 12000, cuKernelGetAttribute),
    ENTRY("cuKernelSetAttribute", 12000, cuKernelSetAttribute),
    ENTRY("cuKernelSetCacheConfig", 12000, cuKernelSetCacheConfig),
    ENTRY("cuKernelGetName", 12030, cuKernelGetName),
    ENTRY("cuLaunchKernel", 4000, cuLaunchKernel),
    ENTRY_PT("cuLaunchKernel", 7000, cuLaunchKernel_ptsz),
    ENTRY("cuLaunchKernelEx", 11060, cuLaunchKernelEx),
    ENTRY_PT("cuLaunchKernelEx", 11060, cuLaunchKernelEx_ptsz),
    ENTRY("cuLaunchCooperativeKernel", 9000, cuLaunchCooperativeKernel),
    ENTRY_PT("cuLaunchCooperativeKernel", 9000, cuLaunchCooperativeKernel_ptsz),
    ENTRY("cuGraphCreate", 10000, cuGraphCreate),
    ENTRY("cuGraphDestroy", 10000, cuGraphDestroy),
    ENTRY("cuGraphAddKernelNode", 12000, cuGraphAddKernelNode),
    ENTRY("cuGraphAddMemAllocNode", 11040, cuGraphAddMemAllocNode),
    ENTRY("cuGraphInstantiate", 11040, cuGraphInstantiate),
    ENTRY("cuGraphInstantiateWithFlags", 11040, cuGraphInstantiate),
    ENTRY("cuGraphInstantiateWithParams", 12000, cuGraphInstantiateWithParams),
    ENTRY_PT("cuGraphInstantiateWithParams", 12000, cuGraphInstantiateWithParams_ptsz),
    ENTRY("cuGraphExecDestroy", 10000, cuGraphExecDestroy),
    ENTRY("cuGraphLaunch", 10000, cuGraphLaunch),
    ENTRY_PT("cuGraphLaunch", 10000, cuGraphLaunch_ptsz),
    ENTRY("cuGetErrorName", 6000, cuGetErrorName),
    ENTRY("cuGetErrorString", 6000, cuGetErrorString),
    ENTRY("cuGetExportTable", 3000, cuGetExportTable),
    ENTRY("cuGetProcAddress", 11030, FakeGetProcAddressV1),
    ENTRY("cuGetProcAddress", 12000, cuGetProcAddress),
};

// cuda.h: the highest variant whose version is at most the one asked for;
// with CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, a per-thread variant
// where the function has one.
CUresult Lookup(const char* symbol, void** function, int version, cuuint64_t flags,
                CUdriverProcAddressQueryResult* status) {
  if (symbol == nullptr || function == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *function = nullptr;
  bool per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  bool has_per_thread = false;
  bool known = false;
  for (const EntryPoint& entry : kEntryPoints) {
    if (std::strcmp(entry.name, symbol) == 0) {
      known = true;
      has_per_thread = has_per_thread || entry.per_thread;
    }
  }
  const EntryPoint* best = nullptr;
  for (const EntryPoint& entry : kEntryPoints) {
    if (std::strcmp(entry.name, symbol) != 0 || entry.version > version) continue;
    if (entry.per_thread != (per_thread && has_per_thread)) continue;
    if (best == nullptr || entry.version > best->version) best = &entry;
  }
  if (best == nullptr) {
    if (fg::GetConfig().trace_misses) {
      std::fprintf(stderr, "fake GPU: no entry point %s (version %d%s)\n", symbol, version,
                   per_thread ? ", per-thread stream" : "");
    }
    if (status != nullptr) {
      *status =
          known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    }
    return CUDA_ERROR_NOT_FOUND;
  }
  *function = best->function;
  if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SUCCESS;
  return CUDA_SUCCESS;
}

}  // namespace

FAKE_EXPORT CUresult cuGetProcAddress(const char* symbol, void** function, int version,
                                      cuuint64_t flags, CUdriverProcAddressQueryResult* status) {
  return Lookup(symbol, function, version, flags, status);
}

CUresult FakeGetProcAddressV1(const char* symbol, void** function, int version, cuuint64_t flags) {
  return Lookup(symbol, function, version, flags, nullptr);
}

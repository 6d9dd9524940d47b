// A fake CUDA driver (built as libcuda.so.1 in a directory of its own) on the
// fake GPUs of fake_gpu.h: enough of the driver API for a driver-API program
// to initialise, create contexts, allocate by every path the interposer
// counts, launch, synchronise and query memory; cuGetProcAddress with
// cuda.h's version and per-thread-stream semantics; and, with the private
// tables of fake_export_tables.cpp and the library API (fake_modules.cpp),
// what the CUDA runtime (cudart 12 and 13) needs to start, register a
// program's kernels and launch them. Its files share fake_driver.h; this one
// holds the driver's state, devices and contexts.
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda/fake/fake_driver.h"

namespace allot::fake_cuda {

Driver& D() {
  static Driver* driver = new Driver();
  return *driver;
}

std::vector<Context*>& ThreadContexts() {
  thread_local std::vector<Context*> contexts;
  return contexts;
}

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
  return ThreadContexts().empty() ? nullptr : ThreadContexts().back();
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

CUresult LaunchOn(CUstream stream, uint64_t duration_ns) {
  REQUIRE_CONTEXT();
  if (CUresult refused = CheckLegacyStream(stream); refused != CUDA_SUCCESS) return refused;
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (duration_ns == 0) return CUDA_ERROR_INVALID_VALUE;
  if (resolved->capture != nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  Occupy(resolved, duration_ns);
  return CUDA_SUCCESS;
}

CUresult LaunchKernel(CUstream stream, const CUDA_KERNEL_NODE_PARAMS& kernel) {
  REQUIRE_CONTEXT();
  if (CUresult refused = CheckLegacyStream(stream); refused != CUDA_SUCCESS) return refused;
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (resolved->capture != nullptr) {
    if (resolved->capture_invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    // As the driver records it: a library's kernel by its kernel handle too,
    // which the runtime maps back to the program's function.
    CUDA_KERNEL_NODE_PARAMS node = kernel;
    if (reinterpret_cast<Function*>(kernel.func)->library != nullptr) {
      node.kern = reinterpret_cast<CUkernel>(kernel.func);
    }
    node.ctx = reinterpret_cast<CUcontext>(resolved->context);
    AddKernelNode(resolved->capture, node);
    return CUDA_SUCCESS;
  }
  const uint64_t duration_ns = KernelNs(kernel);
  if (duration_ns == 0) return CUDA_ERROR_INVALID_VALUE;
  Occupy(resolved, duration_ns);
  return CUDA_SUCCESS;
}

uint64_t KernelNs(const CUDA_KERNEL_NODE_PARAMS& kernel) {
  return KernelNs(kernel.gridDimX, kernel.gridDimY, kernel.gridDimZ);
}

CUresult RecordOn(CUevent event, CUstream stream) {
  REQUIRE_CONTEXT();
  if (CUresult refused = CheckLegacyStream(stream); refused != CUDA_SUCCESS) return refused;
  Stream* resolved = Resolve(stream);
  if (event == nullptr || resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  auto* fake = reinterpret_cast<Event*>(event);
  fake->at_ns.store(std::max(fg::NowNs(), resolved->ready_ns.load()));
  fake->recorded.store(true);
  return CUDA_SUCCESS;
}

CUresult SynchronizeStream(CUstream stream) {
  REQUIRE_CONTEXT();
  if (CUresult refused = CheckLegacyStream(stream); refused != CUDA_SUCCESS) return refused;
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (resolved->capture != nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  SleepUntil(resolved->ready_ns.load());
  return CUDA_SUCCESS;
}

bool ValidDevice(CUdevice device) {
  return Initialized() && device >= 0 && device < static_cast<int>(D().visible.size());
}

int Physical(CUdevice device) {
  return D().visible[static_cast<size_t>(device)];
}

}  // namespace allot::fake_cuda

using namespace allot::fake_cuda;

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

CUresult FakeCtxCreateV2(CUcontext* context, unsigned int, CUdevice device) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* created = NewContext(Physical(device), false);
  ThreadContexts().push_back(created);
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
  std::erase(ThreadContexts(), fake);
  return CUDA_SUCCESS;  // the context's memory stays valid: handles are never reused
}

FAKE_EXPORT CUresult cuCtxSetCurrent(CUcontext context) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!ThreadContexts().empty()) ThreadContexts().pop_back();
  if (context != nullptr) ThreadContexts().push_back(reinterpret_cast<Context*>(context));
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
  ThreadContexts().push_back(reinterpret_cast<Context*>(context));
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuCtxPopCurrent(CUcontext* context) {
  REQUIRE_CONTEXT();
  if (context != nullptr) *context = reinterpret_cast<CUcontext>(Current());
  ThreadContexts().pop_back();
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
  if (CUresult refused = CheckUnsafeCall(); refused != CUDA_SUCCESS) return refused;
  Context* context = Current();
  uint64_t until = context->default_stream->ready_ns.load();
  {
    std::lock_guard lock(D().mu);
    for (Stream* stream : context->streams) until = std::max(until, stream->ready_ns.load());
  }
  SleepUntil(until);
  return CUDA_SUCCESS;
}

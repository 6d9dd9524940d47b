// A CUDA driver API program for the interposer's tests (interposer_test.sh)
// and, unchanged, on a real GPU (tests/gpu). It resolves the driver's
// functions one of three ways, as applications do: linked directly, through
// dlsym on a libcuda handle, or through cuGetProcAddress.
//
//   cuda_probe [--via direct|dlsym|procaddress] COMMAND ...
//     limit             every allocation API up to the limit, to the byte
//     threads N UNIT    N threads allocate UNIT bytes until out of memory;
//                       prints the total, waits for stdin to close
//     alloc BYTES       one allocation: prints "ok" or the error name
//     hold BYTES        allocates, prints "holding", sleeps until killed
//     churn             threads allocate and free 1 MiB forever
//     report BYTES      allocates BYTES, prints what every reporting API says
//     spin SECONDS [START_MS]
//                       1 ms kernels (plain, Ex, cooperative, graph in turn)
//                       for SECONDS; prints the share of the time they ran.
//                       With START_MS (Unix time in ms), waits until then,
//                       so that processes side by side measure the same
//                       span (one started late would see an idle GPU)
//     entrypoints       checks which variant cuGetProcAddress returns
#include <cuda.h>
#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "probe_support.h"

extern "C" {
CUresult cuMemAllocAsync_ptsz(CUdeviceptr*, size_t, CUstream);
CUresult cuLaunchKernel_ptsz(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, CUstream, void**, void**);
}

namespace {

struct Api {
  decltype(&::cuInit) init;
  decltype(&::cuDeviceGet) device_get;
  decltype(&::cuDevicePrimaryCtxRetain) retain;
  decltype(&::cuCtxSetCurrent) set_current;
  decltype(&::cuMemAlloc) alloc;
  decltype(&::cuMemFree) free;
  decltype(&::cuMemAllocPitch) pitch;
  decltype(&::cuMemAllocManaged) managed;
  decltype(&::cuMemAllocAsync) async;
  decltype(&::cuMemAllocAsync) async_ptsz;
  decltype(&::cuMemFreeAsync) free_async;
  decltype(&::cuMemPoolCreate) pool_create;
  decltype(&::cuMemAllocFromPoolAsync) from_pool;
  decltype(&::cuMemCreate) create;
  decltype(&::cuMemRelease) release;
  decltype(&::cuMemAddressReserve) reserve;
  decltype(&::cuMemMap) map;
  decltype(&::cuMemUnmap) unmap;
  decltype(&::cuArrayCreate) array;
  decltype(&::cuArray3DCreate) array3d;
  decltype(&::cuArrayDestroy) array_destroy;
  decltype(&::cuMipmappedArrayCreate) mipmapped;
  decltype(&::cuMipmappedArrayDestroy) mipmapped_destroy;
  decltype(&::cuGraphCreate) graph_create;
  decltype(&::cuGraphAddMemAllocNode) graph_alloc;
  decltype(&::cuGraphAddKernelNode) graph_kernel;
  decltype(&::cuGraphInstantiate) graph_instantiate;
  decltype(&::cuGraphLaunch) graph_launch;
  decltype(&::cuGraphDestroy) graph_destroy;
  decltype(&::cuMemGetInfo) get_info;
  decltype(&::cuDeviceTotalMem) total_mem;
  decltype(&::cuModuleLoadData) module_load;
  decltype(&::cuModuleGetFunction) get_function;
  decltype(&::cuLaunchKernel) launch;
  decltype(&::cuLaunchKernelEx) launch_ex;
  decltype(&::cuLaunchCooperativeKernel) launch_cooperative;
  decltype(&::cuStreamSynchronize) sync;
  decltype(&::cuEventCreate) event_create;
  decltype(&::cuEventRecord) event_record;
  decltype(&::cuEventSynchronize) event_sync;
  decltype(&::cuGetErrorName) error_name;
  decltype(&::cuGetProcAddress) get_proc;
};

Api api;

#define RESOLVE_DIRECT(field, function) api.field = &::function;

void ResolveDirect() {
  RESOLVE_DIRECT(init, cuInit)
  RESOLVE_DIRECT(device_get, cuDeviceGet)
  RESOLVE_DIRECT(retain, cuDevicePrimaryCtxRetain)
  RESOLVE_DIRECT(set_current, cuCtxSetCurrent)
  RESOLVE_DIRECT(alloc, cuMemAlloc)
  RESOLVE_DIRECT(free, cuMemFree)
  RESOLVE_DIRECT(pitch, cuMemAllocPitch)
  RESOLVE_DIRECT(managed, cuMemAllocManaged)
  RESOLVE_DIRECT(async, cuMemAllocAsync)
  RESOLVE_DIRECT(async_ptsz, cuMemAllocAsync_ptsz)
  RESOLVE_DIRECT(free_async, cuMemFreeAsync)
  RESOLVE_DIRECT(pool_create, cuMemPoolCreate)
  RESOLVE_DIRECT(from_pool, cuMemAllocFromPoolAsync)
  RESOLVE_DIRECT(create, cuMemCreate)
  RESOLVE_DIRECT(release, cuMemRelease)
  RESOLVE_DIRECT(reserve, cuMemAddressReserve)
  RESOLVE_DIRECT(map, cuMemMap)
  RESOLVE_DIRECT(unmap, cuMemUnmap)
  RESOLVE_DIRECT(array, cuArrayCreate)
  RESOLVE_DIRECT(array3d, cuArray3DCreate)
  RESOLVE_DIRECT(array_destroy, cuArrayDestroy)
  RESOLVE_DIRECT(mipmapped, cuMipmappedArrayCreate)
  RESOLVE_DIRECT(mipmapped_destroy, cuMipmappedArrayDestroy)
  RESOLVE_DIRECT(graph_create, cuGraphCreate)
  RESOLVE_DIRECT(graph_alloc, cuGraphAddMemAllocNode)
  RESOLVE_DIRECT(graph_kernel, cuGraphAddKernelNode)
  RESOLVE_DIRECT(graph_instantiate, cuGraphInstantiate)
  RESOLVE_DIRECT(graph_launch, cuGraphLaunch)
  RESOLVE_DIRECT(graph_destroy, cuGraphDestroy)
  RESOLVE_DIRECT(get_info, cuMemGetInfo)
  RESOLVE_DIRECT(total_mem, cuDeviceTotalMem)
  RESOLVE_DIRECT(module_load, cuModuleLoadData)
  RESOLVE_DIRECT(get_function, cuModuleGetFunction)
  RESOLVE_DIRECT(launch, cuLaunchKernel)
  RESOLVE_DIRECT(launch_ex, cuLaunchKernelEx)
  RESOLVE_DIRECT(launch_cooperative, cuLaunchCooperativeKernel)
  RESOLVE_DIRECT(sync, cuStreamSynchronize)
  RESOLVE_DIRECT(event_create, cuEventCreate)
  RESOLVE_DIRECT(event_record, cuEventRecord)
  RESOLVE_DIRECT(event_sync, cuEventSynchronize)
  RESOLVE_DIRECT(error_name, cuGetErrorName)
  RESOLVE_DIRECT(get_proc, cuGetProcAddress)
}

// Replaces every pointer by what `find(base name, per-thread)` returns.
template <typename Find>
void ResolveBy(Find find) {
#define RESOLVE(field, name, per_thread)                                     \
  api.field = reinterpret_cast<decltype(api.field)>(find(name, per_thread)); \
  if (api.field == nullptr) {                                                \
    std::fprintf(stderr, "cannot resolve %s\n", name);                       \
    std::exit(3);                                                            \
  }
  RESOLVE(init, "cuInit", false)
  RESOLVE(device_get, "cuDeviceGet", false)
  RESOLVE(retain, "cuDevicePrimaryCtxRetain", false)
  RESOLVE(set_current, "cuCtxSetCurrent", false)
  RESOLVE(alloc, "cuMemAlloc", false)
  RESOLVE(free, "cuMemFree", false)
  RESOLVE(pitch, "cuMemAllocPitch", false)
  RESOLVE(managed, "cuMemAllocManaged", false)
  RESOLVE(async, "cuMemAllocAsync", false)
  RESOLVE(async_ptsz, "cuMemAllocAsync", true)
  RESOLVE(free_async, "cuMemFreeAsync", false)
  RESOLVE(pool_create, "cuMemPoolCreate", false)
  RESOLVE(from_pool, "cuMemAllocFromPoolAsync", false)
  RESOLVE(create, "cuMemCreate", false)
  RESOLVE(release, "cuMemRelease", false)
  RESOLVE(reserve, "cuMemAddressReserve", false)
  RESOLVE(map, "cuMemMap", false)
  RESOLVE(unmap, "cuMemUnmap", false)
  RESOLVE(array, "cuArrayCreate", false)
  RESOLVE(array3d, "cuArray3DCreate", false)
  RESOLVE(array_destroy, "cuArrayDestroy", false)
  RESOLVE(mipmapped, "cuMipmappedArrayCreate", false)
  RESOLVE(mipmapped_destroy, "cuMipmappedArrayDestroy", false)
  RESOLVE(graph_create, "cuGraphCreate", false)
  RESOLVE(graph_alloc, "cuGraphAddMemAllocNode", false)
  RESOLVE(graph_kernel, "cuGraphAddKernelNode", false)
  RESOLVE(graph_instantiate, "cuGraphInstantiate", false)
  RESOLVE(graph_launch, "cuGraphLaunch", true)
  RESOLVE(graph_destroy, "cuGraphDestroy", false)
  RESOLVE(get_info, "cuMemGetInfo", false)
  RESOLVE(total_mem, "cuDeviceTotalMem", false)
  RESOLVE(module_load, "cuModuleLoadData", false)
  RESOLVE(get_function, "cuModuleGetFunction", false)
  RESOLVE(launch, "cuLaunchKernel", true)
  RESOLVE(launch_ex, "cuLaunchKernelEx", false)
  RESOLVE(launch_cooperative, "cuLaunchCooperativeKernel", true)
  RESOLVE(sync, "cuStreamSynchronize", false)
  RESOLVE(event_create, "cuEventCreate", false)
  RESOLVE(event_record, "cuEventRecord", false)
  RESOLVE(event_sync, "cuEventSynchronize", false)
  RESOLVE(error_name, "cuGetErrorName", false)
#undef RESOLVE
}

// The exported name dlsym is asked for, as the runtime's table has them.
const char* Exported(const std::string& base, bool per_thread) {
  static std::vector<std::string> names;
  static const char* const kV2[] = {"cuMemAlloc",      "cuMemFree",       "cuMemAllocPitch",
                                    "cuArrayCreate",   "cuArray3DCreate", "cuMemGetInfo",
                                    "cuDeviceTotalMem"};
  std::string name = base;
  for (const char* v2 : kV2) {
    if (base == v2) name += "_v2";
  }
  if (base == "cuGraphAddKernelNode") name += "_v2";
  if (base == "cuGraphInstantiate") name = "cuGraphInstantiateWithFlags";
  if (per_thread) name += "_ptsz";
  names.push_back(name);
  return names.back().c_str();
}

std::string Name(CUresult result) {
  const char* name = nullptr;
  api.error_name(result, &name);
  return name == nullptr ? "CUresult " + std::to_string(result) : name;
}

#define CHECK(call)                                                      \
  do {                                                                   \
    CUresult check_result = (call);                                      \
    if (check_result != CUDA_SUCCESS) {                                  \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, \
                   Name(check_result).c_str());                          \
      std::exit(1);                                                      \
    }                                                                    \
  } while (0)

CUcontext context = nullptr;

void Start() {
  CHECK(api.init(0));
  CUdevice device = 0;
  CHECK(api.device_get(&device, 0));
  CHECK(api.retain(&context, device));
  CHECK(api.set_current(context));
}

uint64_t LimitFromEnv() {
  const char* text = std::getenv("ALLOT_GPU_MEMORY_LIMIT");
  if (text == nullptr) {
    std::fprintf(stderr, "ALLOT_GPU_MEMORY_LIMIT is not set\n");
    std::exit(2);
  }
  return probe::Bytes(text);
}

int failures = 0;

void Expect(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok" : "FAIL", what.c_str());
  if (!ok) ++failures;
}

// One allocation API: allocate `bytes`, returning a way to free it.
struct Allocator {
  std::string name;
  uint64_t granule;  // sizes it can make exactly
  std::function<CUresult(uint64_t, std::function<void()>*)> allocate;
};

std::vector<Allocator> Allocators() {
  std::vector<Allocator> all;
  auto by_pointer = [](auto call) {
    return [call](uint64_t bytes, std::function<void()>* undo) {
      CUdeviceptr pointer = 0;
      CUresult result = call(&pointer, bytes);
      if (result == CUDA_SUCCESS) *undo = [pointer] { CHECK(api.free(pointer)); };
      return result;
    };
  };
  all.push_back(
      {"cuMemAlloc", 1, by_pointer([](CUdeviceptr* p, uint64_t n) { return api.alloc(p, n); })});
  all.push_back({"cuMemAllocManaged", 1, by_pointer([](CUdeviceptr* p, uint64_t n) {
                   return api.managed(p, n, CU_MEM_ATTACH_GLOBAL);
                 })});
  all.push_back({"cuMemAllocAsync", 1,
                 by_pointer([](CUdeviceptr* p, uint64_t n) { return api.async(p, n, nullptr); })});
  all.push_back({"cuMemAllocAsync_ptsz", 1, by_pointer([](CUdeviceptr* p, uint64_t n) {
                   return api.async_ptsz(p, n, CU_STREAM_PER_THREAD);
                 })});
  all.push_back({"cuMemAllocFromPoolAsync", 1, by_pointer([](CUdeviceptr* p, uint64_t n) {
                   static CUmemoryPool pool = [] {
                     CUmemPoolProps properties{};
                     properties.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
                     properties.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
                     properties.location.id = 0;
                     CUmemoryPool created = nullptr;
                     CHECK(api.pool_create(&created, &properties));
                     return created;
                   }();
                   return api.from_pool(p, n, pool, nullptr);
                 })});
  // Pitch: 512-byte rows of 4-byte elements.
  all.push_back({"cuMemAllocPitch", 512, [](uint64_t bytes, std::function<void()>* undo) {
                   CUdeviceptr pointer = 0;
                   size_t pitch = 0;
                   CUresult result = api.pitch(&pointer, &pitch, 512, bytes / 512, 4);
                   if (result == CUDA_SUCCESS) *undo = [pointer] { CHECK(api.free(pointer)); };
                   return result;
                 }});
  // cuMemCreate + cuMemMap, as PyTorch's expandable segments.
  all.push_back({"cuMemCreate", 2 << 20, [](uint64_t bytes, std::function<void()>* undo) {
                   CUmemAllocationProp properties{};
                   properties.type = CU_MEM_ALLOCATION_TYPE_PINNED;
                   properties.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
                   properties.location.id = 0;
                   CUmemGenericAllocationHandle handle = 0;
                   CUresult result = api.create(&handle, bytes, &properties, 0);
                   if (result != CUDA_SUCCESS) return result;
                   CUdeviceptr range = 0;
                   CHECK(api.reserve(&range, bytes, 0, 0, 0));
                   CHECK(api.map(range, bytes, 0, handle, 0));
                   *undo = [handle, range, bytes] {
                     CHECK(api.unmap(range, bytes));
                     CHECK(api.release(handle));
                   };
                   return result;
                 }});
  // Arrays: 1-byte elements, 4 channels, rows of 1024 elements.
  all.push_back({"cuArrayCreate", 4096, [](uint64_t bytes, std::function<void()>* undo) {
                   CUDA_ARRAY_DESCRIPTOR descriptor{};
                   descriptor.Width = 1024;
                   descriptor.Height = bytes / 4096;
                   descriptor.Format = CU_AD_FORMAT_UNSIGNED_INT8;
                   descriptor.NumChannels = 4;
                   CUarray array = nullptr;
                   CUresult result = api.array(&array, &descriptor);
                   if (result == CUDA_SUCCESS) *undo = [array] { CHECK(api.array_destroy(array)); };
                   return result;
                 }});
  all.push_back({"cuArray3DCreate", 4096 * 4, [](uint64_t bytes, std::function<void()>* undo) {
                   CUDA_ARRAY3D_DESCRIPTOR descriptor{};
                   descriptor.Width = 1024;
                   descriptor.Height = bytes / (4096 * 4);
                   descriptor.Depth = 4;
                   descriptor.Format = CU_AD_FORMAT_UNSIGNED_INT8;
                   descriptor.NumChannels = 4;
                   CUarray array = nullptr;
                   CUresult result = api.array3d(&array, &descriptor);
                   if (result == CUDA_SUCCESS) *undo = [array] { CHECK(api.array_destroy(array)); };
                   return result;
                 }});
  all.push_back({"cuMipmappedArrayCreate", 4096, [](uint64_t bytes, std::function<void()>* undo) {
                   CUDA_ARRAY3D_DESCRIPTOR descriptor{};
                   descriptor.Width = bytes / 4;  // one level, 1-D
                   descriptor.Format = CU_AD_FORMAT_UNSIGNED_INT8;
                   descriptor.NumChannels = 4;
                   CUmipmappedArray array = nullptr;
                   CUresult result = api.mipmapped(&array, &descriptor, 1);
                   if (result == CUDA_SUCCESS)
                     *undo = [array] { CHECK(api.mipmapped_destroy(array)); };
                   return result;
                 }});
  all.push_back({"cuGraphAddMemAllocNode", 1, [](uint64_t bytes, std::function<void()>* undo) {
                   CUgraph graph = nullptr;
                   CHECK(api.graph_create(&graph, 0));
                   CUDA_MEM_ALLOC_NODE_PARAMS parameters{};
                   parameters.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
                   parameters.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
                   parameters.poolProps.location.id = 0;
                   parameters.bytesize = bytes;
                   CUgraphNode node = nullptr;
                   CUresult result = api.graph_alloc(&node, graph, nullptr, 0, &parameters);
                   *undo = [graph] { CHECK(api.graph_destroy(graph)); };
                   if (result != CUDA_SUCCESS) {
                     (*undo)();
                     *undo = nullptr;
                   }
                   return result;
                 }});
  return all;
}

// Every API: the whole limit fits, one granule more does not, and after a
// free the whole limit fits again; then two APIs share the limit.
int CheckLimit(uint64_t limit) {
  std::vector<Allocator> all = Allocators();
  for (const Allocator& allocator : all) {
    std::function<void()> undo;
    CUresult whole = allocator.allocate(limit, &undo);
    Expect(whole == CUDA_SUCCESS, allocator.name + " of the whole limit: " + Name(whole));
    std::function<void()> extra_undo;
    CUresult extra = allocator.allocate(allocator.granule, &extra_undo);
    Expect(extra == CUDA_ERROR_OUT_OF_MEMORY, allocator.name + " past the limit: " + Name(extra));
    if (extra_undo) extra_undo();
    if (undo) undo();
    std::function<void()> over_undo;
    CUresult over = allocator.allocate(limit + allocator.granule, &over_undo);
    Expect(over == CUDA_ERROR_OUT_OF_MEMORY,
           allocator.name + " of the limit plus one granule: " + Name(over));
    if (over_undo) over_undo();
  }
  // Mixed: half by cuMemCreate, the rest by cuMemAlloc to the byte.
  std::function<void()> half_undo, rest_undo, byte_undo;
  uint64_t half = limit / 2 / (2 << 20) * (2 << 20);
  CHECK(all[6].allocate(half, &half_undo));
  CUresult rest = all[0].allocate(limit - half, &rest_undo);
  Expect(rest == CUDA_SUCCESS,
         "cuMemCreate and cuMemAlloc together reach the limit: " + Name(rest));
  CUresult one = all[0].allocate(1, &byte_undo);
  Expect(one == CUDA_ERROR_OUT_OF_MEMORY, "one byte past the limit across APIs: " + Name(one));
  if (byte_undo) byte_undo();
  if (rest_undo) rest_undo();
  half_undo();
  return failures == 0 ? 0 : 1;
}

int Threads(int count, uint64_t unit) {
  std::atomic<uint64_t> total{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&] {
      CHECK(api.set_current(context));
      for (;;) {
        CUdeviceptr pointer = 0;
        CUresult result = api.alloc(&pointer, unit);
        if (result == CUDA_ERROR_OUT_OF_MEMORY) return;
        CHECK(result);
        total += unit;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::printf("allocated %llu\n", static_cast<unsigned long long>(total.load()));
  std::fflush(stdout);
  // Hold the memory until told to go, so that processes overlap.
  std::string line;
  std::getline(std::cin, line);
  return 0;
}

int Report(uint64_t bytes) {
  CUdeviceptr pointer = 0;
  if (bytes > 0) CHECK(api.alloc(&pointer, bytes));
  size_t free_bytes = 0, total_bytes = 0, device_total = 0;
  CHECK(api.get_info(&free_bytes, &total_bytes));
  CHECK(api.total_mem(&device_total, 0));
  std::printf("cuMemGetInfo free %zu total %zu used %zu\n", free_bytes, total_bytes,
              total_bytes - free_bytes);
  std::printf("cuDeviceTotalMem %zu\n", device_total);
  // NVML as PyTorch and nvidia-smi reach it: dlopen and dlsym.
  void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW);
  if (nvml == nullptr) {
    std::printf("nvml missing\n");
    return 1;
  }
  using Init = int (*)();
  using ByIndex = int (*)(unsigned, void**);
  using Memory = int (*)(void*, unsigned long long*);
  struct MemoryV2 {
    unsigned version;
    unsigned long long total, reserved, free, used;
  };
  using MemoryInfoV2 = int (*)(void*, MemoryV2*);
  reinterpret_cast<Init>(dlsym(nvml, "nvmlInit_v2"))();
  void* device = nullptr;
  // The CUDA device is the first visible one; find its NVML index by UUID.
  using Uuid = int (*)(void*, char*, unsigned);
  auto by_index = reinterpret_cast<ByIndex>(dlsym(nvml, "nvmlDeviceGetHandleByIndex_v2"));
  auto uuid_of = reinterpret_cast<Uuid>(dlsym(nvml, "nvmlDeviceGetUUID"));
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  for (unsigned index = 0; index < 16 && by_index(index, &device) == 0; ++index) {
    char uuid[96];
    uuid_of(device, uuid, sizeof uuid);
    if (visible == nullptr || std::string(uuid).rfind(visible, 0) == 0 ||
        std::to_string(index) == visible)
      break;
  }
  unsigned long long v1[3];
  reinterpret_cast<Memory>(dlsym(nvml, "nvmlDeviceGetMemoryInfo"))(device, v1);
  std::printf("nvmlDeviceGetMemoryInfo total %llu free %llu used %llu\n", v1[0], v1[1], v1[2]);
  MemoryV2 v2{};
  v2.version = (2U << 24) | static_cast<unsigned>(sizeof(MemoryV2));
  reinterpret_cast<MemoryInfoV2>(dlsym(nvml, "nvmlDeviceGetMemoryInfo_v2"))(device, &v2);
  std::printf("nvmlDeviceGetMemoryInfo_v2 total %llu free %llu used %llu\n", v2.total, v2.free,
              v2.used);
  return 0;
}

int Spin(double seconds, long long start_ms) {
  CUmodule module = nullptr;
  static const char kImage[] = "fake module";
  CHECK(api.module_load(&module, kImage));
  CUfunction function = nullptr;
  CHECK(api.get_function(&function, module, "spin"));
  // A 1000-block kernel: 1 ms on the fake GPU.
  CUgraph graph = nullptr;
  CHECK(api.graph_create(&graph, 0));
  CUDA_KERNEL_NODE_PARAMS node_parameters{};
  node_parameters.func = function;
  node_parameters.gridDimX = 1000;
  node_parameters.gridDimY = node_parameters.gridDimZ = 1;
  node_parameters.blockDimX = node_parameters.blockDimY = node_parameters.blockDimZ = 1;
  CUgraphNode node = nullptr;
  CHECK(api.graph_kernel(&node, graph, nullptr, 0, &node_parameters));
  CUgraphExec exec = nullptr;
  CHECK(api.graph_instantiate(&exec, graph, 0));
  CUlaunchConfig config{};
  config.gridDimX = 1000;
  config.gridDimY = config.gridDimZ = config.blockDimX = config.blockDimY = config.blockDimZ = 1;
  CUevent done[2] = {nullptr, nullptr};
  CHECK(api.event_create(&done[0], CU_EVENT_DEFAULT));
  CHECK(api.event_create(&done[1], CU_EVENT_DEFAULT));
  probe::Spin(
      seconds, start_ms,
      [&](int i) {
        switch (i % 4) {
          case 0:
            CHECK(api.launch(function, 1000, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr));
            break;
          case 1:
            CHECK(api.launch_ex(&config, function, nullptr, nullptr));
            break;
          case 2:
            CHECK(api.launch_cooperative(function, 1000, 1, 1, 1, 1, 1, 0, nullptr, nullptr));
            break;
          default:
            CHECK(api.graph_launch(exec, nullptr));
            break;
        }
      },
      [&](int slot) { CHECK(api.event_record(done[slot], nullptr)); },
      [&](int slot) { CHECK(api.event_sync(done[slot])); }, [&] { CHECK(api.sync(nullptr)); });
  return 0;
}

// cuGetProcAddress hands out the variant asked for: the wrapper where one
// exists (the first definition in the process), the per-thread one with the
// flag, nothing for a version older than the function.
int EntryPoints() {
  auto ask = [](const char* name, int version, cuuint64_t flags,
                CUdriverProcAddressQueryResult* status) {
    void* function = nullptr;
    CUresult result = api.get_proc(name, &function, version, flags, status);
    return result == CUDA_SUCCESS ? function : nullptr;
  };
  CUdriverProcAddressQueryResult status{};
  void* alloc = ask("cuMemAlloc", CUDA_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &status);
  Expect(alloc != nullptr && alloc == dlsym(RTLD_DEFAULT, "cuMemAlloc_v2"),
         "cuMemAlloc at the current version is cuMemAlloc_v2 as the process sees it");
  void* launch =
      ask("cuLaunchKernel", CUDA_VERSION, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &status);
  Expect(launch != nullptr && launch == dlsym(RTLD_DEFAULT, "cuLaunchKernel_ptsz"),
         "cuLaunchKernel with the per-thread flag is cuLaunchKernel_ptsz");
  void* legacy = ask("cuLaunchKernel", CUDA_VERSION, CU_GET_PROC_ADDRESS_LEGACY_STREAM, &status);
  Expect(legacy != nullptr && legacy == dlsym(RTLD_DEFAULT, "cuLaunchKernel"),
         "cuLaunchKernel legacy");
  void* old = ask("cuMemAllocAsync", 11000, CU_GET_PROC_ADDRESS_DEFAULT, &status);
  Expect(old == nullptr && status == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT,
         "cuMemAllocAsync before 11.2: version not sufficient");
  void* unknown = ask("cuNoSuchFunction", CUDA_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &status);
  Expect(unknown == nullptr && status == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND,
         "an unknown symbol: not found");
  void* self = ask("cuGetProcAddress", CUDA_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &status);
  Expect(self != nullptr && self == dlsym(RTLD_DEFAULT, "cuGetProcAddress_v2"),
         "cuGetProcAddress itself");
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int arg = 1;
  std::string via = "direct";
  if (argc > 2 && std::string(argv[1]) == "--via") {
    via = argv[2];
    arg = 3;
  }
  if (arg >= argc) {
    std::fprintf(stderr, "usage: cuda_probe [--via direct|dlsym|procaddress] COMMAND ...\n");
    return 2;
  }
  ResolveDirect();
  if (via == "dlsym") {
    void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    ResolveBy([driver](const char* base, bool per_thread) {
      return dlsym(driver, Exported(base, per_thread));
    });
  } else if (via == "procaddress") {
    // As the CUDA runtime: only cuGetProcAddress by dlsym, the rest through it.
    void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    api.get_proc = reinterpret_cast<decltype(api.get_proc)>(dlsym(driver, "cuGetProcAddress_v2"));
    ResolveBy([](const char* base, bool per_thread) {
      void* function = nullptr;
      cuuint64_t flags = per_thread ? CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
                                    : CU_GET_PROC_ADDRESS_LEGACY_STREAM;
      CUdriverProcAddressQueryResult status{};
      return api.get_proc(base, &function, CUDA_VERSION, flags, &status) == CUDA_SUCCESS ? function
                                                                                         : nullptr;
    });
  } else if (via != "direct") {
    std::fprintf(stderr, "--via %s: use direct, dlsym or procaddress\n", via.c_str());
    return 2;
  }
  Start();
  std::string command = argv[arg];
  if (command == "limit") return CheckLimit(LimitFromEnv());
  if (command == "threads" && arg + 2 < argc)
    return Threads(std::atoi(argv[arg + 1]), probe::Bytes(argv[arg + 2]));
  if (command == "alloc" && arg + 1 < argc) {
    CUdeviceptr pointer = 0;
    CUresult result = api.alloc(&pointer, probe::Bytes(argv[arg + 1]));
    std::printf("%s\n", result == CUDA_SUCCESS ? "ok" : Name(result).c_str());
    return result == CUDA_SUCCESS ? 0 : 1;
  }
  if (command == "hold" && arg + 1 < argc) {
    CUdeviceptr pointer = 0;
    CHECK(api.alloc(&pointer, probe::Bytes(argv[arg + 1])));
    std::printf("holding\n");
    std::fflush(stdout);
    for (;;) pause();
  }
  if (command == "churn") {
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([] {
        CHECK(api.set_current(context));
        for (;;) {
          CUdeviceptr pointer = 0;
          if (api.alloc(&pointer, 1 << 20) == CUDA_SUCCESS) CHECK(api.free(pointer));
        }
      });
    }
    std::printf("churning\n");
    std::fflush(stdout);
    for (auto& thread : threads) thread.join();
  }
  if (command == "report" && arg + 1 < argc) return Report(probe::Bytes(argv[arg + 1]));
  if (command == "spin" && arg + 1 < argc) {
    return Spin(std::atof(argv[arg + 1]), arg + 2 < argc ? std::atoll(argv[arg + 2]) : 0);
  }
  if (command == "entrypoints") return EntryPoints();
  std::fprintf(stderr, "unknown command %s\n", command.c_str());
  return 2;
}

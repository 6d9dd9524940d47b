// The fake driver's code: modules, libraries, functions and kernels, their
// launches, occupancy and clusters.
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda/fake/fake_driver.h"

using namespace allot::fake_cuda;

namespace allot::fake_cuda {

Globals::~Globals() {
  for (const auto& [name, global] : globals_) {
    munmap(reinterpret_cast<void*>(global), kGlobalBytes);
  }
}

CUresult Globals::Get(const char* name, CUdeviceptr* pointer, size_t* bytes) {
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

}  // namespace allot::fake_cuda

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

CUDA_KERNEL_NODE_PARAMS allot::fake_cuda::KernelLaunch(CUfunction function, unsigned int x,
                                                       unsigned int y, unsigned int z,
                                                       unsigned int bx, unsigned int by,
                                                       unsigned int bz, unsigned int shared,
                                                       void** parameters, void** extra) {
  CUDA_KERNEL_NODE_PARAMS kernel{};
  kernel.func = function;
  kernel.gridDimX = x;
  kernel.gridDimY = y;
  kernel.gridDimZ = z;
  kernel.blockDimX = bx;
  kernel.blockDimY = by;
  kernel.blockDimZ = bz;
  kernel.sharedMemBytes = shared;
  kernel.kernelParams = parameters;
  kernel.extra = extra;
  return kernel;
}

FAKE_EXPORT CUresult cuLaunchKernel(CUfunction function, unsigned int x, unsigned int y,
                                    unsigned int z, unsigned int bx, unsigned int by,
                                    unsigned int bz, unsigned int shared, CUstream stream,
                                    void** parameters, void** extra) {
  if (function == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return LaunchKernel(stream,
                      KernelLaunch(function, x, y, z, bx, by, bz, shared, parameters, extra));
}
FAKE_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction function, unsigned int x, unsigned int y,
                                         unsigned int z, unsigned int bx, unsigned int by,
                                         unsigned int bz, unsigned int shared, CUstream stream,
                                         void** parameters, void** extra) {
  return cuLaunchKernel(function, x, y, z, bx, by, bz, shared, stream, parameters, extra);
}

FAKE_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction function,
                                      void** parameters, void** extra) {
  if (config == nullptr || function == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return LaunchKernel(config->hStream,
                      KernelLaunch(function, config->gridDimX, config->gridDimY, config->gridDimZ,
                                   config->blockDimX, config->blockDimY, config->blockDimZ,
                                   config->sharedMemBytes, parameters, extra));
}
FAKE_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction function,
                                           void** parameters, void** extra) {
  return cuLaunchKernelEx(config, function, parameters, extra);
}

FAKE_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction function, unsigned int x, unsigned int y,
                                               unsigned int z, unsigned int bx, unsigned int by,
                                               unsigned int bz, unsigned int shared,
                                               CUstream stream, void** parameters) {
  if (function == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return LaunchKernel(stream,
                      KernelLaunch(function, x, y, z, bx, by, bz, shared, parameters, nullptr));
}
FAKE_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction function, unsigned int x,
                                                    unsigned int y, unsigned int z, unsigned int bx,
                                                    unsigned int by, unsigned int bz,
                                                    unsigned int shared, CUstream stream,
                                                    void** parameters) {
  return cuLaunchCooperativeKernel(function, x, y, z, bx, by, bz, shared, stream, parameters);
}

// Linking: the fake runs no code, so linking joins the inputs into one image,
// which cuModuleLoadData and cuLibraryLoadData accept as any other.
namespace {
struct LinkState {
  std::vector<char> image;
};
}  // namespace

FAKE_EXPORT CUresult cuLinkCreate(unsigned int, CUjit_option*, void**, CUlinkState* state) {
  if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (state == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *state = reinterpret_cast<CUlinkState>(new LinkState());
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuLinkAddData(CUlinkState state, CUjitInputType, void* data, size_t bytes,
                                   const char*, unsigned int, CUjit_option*, void**) {
  if (state == nullptr || data == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  auto* fake = reinterpret_cast<LinkState*>(state);
  const auto* begin = static_cast<const char*>(data);
  fake->image.insert(fake->image.end(), begin, begin + bytes);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuLinkComplete(CUlinkState state, void** image, size_t* bytes) {
  auto* fake = reinterpret_cast<LinkState*>(state);
  if (fake == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (fake->image.empty()) return CUDA_ERROR_INVALID_IMAGE;  // nothing was added
  *image = fake->image.data();
  if (bytes != nullptr) *bytes = fake->image.size();
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuLinkDestroy(CUlinkState state) {
  if (state == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  delete reinterpret_cast<LinkState*>(state);  // the image goes with it, as the driver's
  return CUDA_SUCCESS;
}

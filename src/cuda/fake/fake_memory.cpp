// The fake driver's memory: device allocations on host memory, copies and
// sets, page-locked host memory, pointer queries.
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda/array_bytes.h"
#include "cuda/fake/fake_driver.h"

using namespace allot::fake_cuda;

FAKE_EXPORT CUresult cuMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  REQUIRE_CONTEXT();
  if (free_bytes == nullptr || total_bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t total = fg::GetConfig().memory_bytes;
  uint64_t used = fg::GetState().devices[Current()->device].used_bytes.load();
  *total_bytes = total;
  *free_bytes = used > total ? 0 : total - used;
  return CUDA_SUCCESS;
}

// cuMemAlloc is the driver's example of a call a capture forbids: the
// allocation would not be part of the graph.
FAKE_EXPORT CUresult cuMemAlloc(CUdeviceptr* pointer, size_t bytes) {
  REQUIRE_CONTEXT();
  if (CUresult refused = CheckUnsafeCall(); refused != CUDA_SUCCESS) return refused;
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

// Asynchronous copies and sets run when called, after the stream's earlier
// work (the fake's kernels compute nothing, so only that order matters).
namespace {
// Copies and sets are not captured into graphs by the fake: they wait for
// the stream's earlier work as a synchronisation does, then run.
CUresult CopyOn(CUstream stream, void* destination, const void* source, size_t bytes) {
  if (CUresult waited = SynchronizeStream(stream); waited != CUDA_SUCCESS) return waited;
  std::memmove(destination, source, bytes);
  return CUDA_SUCCESS;
}

template <typename Element>
CUresult SetOn(CUstream stream, CUdeviceptr destination, Element value, size_t count) {
  if (CUresult waited = SynchronizeStream(stream); waited != CUDA_SUCCESS) return waited;
  std::fill_n(reinterpret_cast<Element*>(destination), count, value);
  return CUDA_SUCCESS;
}

void* Address(CUdeviceptr pointer) {
  return reinterpret_cast<void*>(pointer);
}
}  // namespace

// The synchronous copies run on the legacy stream.
FAKE_EXPORT CUresult cuMemcpyHtoD(CUdeviceptr destination, const void* source, size_t bytes) {
  return CopyOn(nullptr, Address(destination), source, bytes);
}

FAKE_EXPORT CUresult cuMemcpyDtoH(void* destination, CUdeviceptr source, size_t bytes) {
  return CopyOn(nullptr, destination, Address(source), bytes);
}

FAKE_EXPORT CUresult cuMemsetD8(CUdeviceptr destination, unsigned char value, size_t count) {
  return SetOn(nullptr, destination, value, count);
}

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
CUresult FakeMemPrefetchAsyncV1(CUdeviceptr pointer, size_t bytes, CUdevice device,
                                CUstream stream) {
  CUmemLocation location{};
  location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  location.id = device;
  return cuMemPrefetchAsync(pointer, bytes, location, 0, stream);
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

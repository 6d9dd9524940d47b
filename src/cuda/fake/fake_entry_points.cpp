// The fake driver's error names and its entry points by name and version
// (cuGetProcAddress).
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda/fake/fake_driver.h"

using namespace allot::fake_cuda;

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
    ENTRY("cuStreamBeginCapture", 10010, cuStreamBeginCapture),
    ENTRY_PT("cuStreamBeginCapture", 10010, cuStreamBeginCapture_v2_ptsz),
    ENTRY("cuStreamEndCapture", 10000, cuStreamEndCapture),
    ENTRY_PT("cuStreamEndCapture", 10000, cuStreamEndCapture_ptsz),
    ENTRY("cuStreamGetCaptureInfo", 11030, cuStreamGetCaptureInfo_v2),
    ENTRY_PT("cuStreamGetCaptureInfo", 11030, cuStreamGetCaptureInfo_v2_ptsz),
    ENTRY("cuThreadExchangeStreamCaptureMode", 10010, cuThreadExchangeStreamCaptureMode),
    ENTRY("cuStreamWaitValue32", 8000, FakeStreamWaitValue32V1),
    ENTRY("cuStreamWaitValue32", 11070, cuStreamWaitValue32),
    ENTRY_PT("cuStreamWaitValue32", 11070, cuStreamWaitValue32_v2_ptsz),
    ENTRY("cuStreamBatchMemOp", 8000, FakeStreamBatchMemOpV1),
    ENTRY("cuStreamBatchMemOp", 11070, cuStreamBatchMemOp),
    ENTRY_PT("cuStreamBatchMemOp", 11070, cuStreamBatchMemOp_v2_ptsz),
    ENTRY("cuLinkCreate", 6050, cuLinkCreate),
    ENTRY("cuLinkAddData", 6050, cuLinkAddData),
    ENTRY("cuLinkComplete", 5050, cuLinkComplete),
    ENTRY("cuLinkDestroy", 5050, cuLinkDestroy),
    ENTRY("cuGraphCreate", 10000, cuGraphCreate),
    ENTRY("cuGraphGetNodes", 10000, cuGraphGetNodes),
    ENTRY("cuGraphNodeGetType", 10000, cuGraphNodeGetType),
    ENTRY("cuGraphAddKernelNode", 10000, FakeGraphAddKernelNodeV1),
    ENTRY("cuGraphKernelNodeGetParams", 10000, FakeGraphKernelNodeGetParamsV1),
    ENTRY("cuGraphKernelNodeGetParams", 12000, cuGraphKernelNodeGetParams),
    ENTRY("cuGraphExecKernelNodeSetParams", 10010, FakeGraphExecKernelNodeSetParamsV1),
    ENTRY("cuGraphExecKernelNodeSetParams", 12000, cuGraphExecKernelNodeSetParams),
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

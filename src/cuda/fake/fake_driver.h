// The fake CUDA driver's internals, shared by its files (fake_cuda.cpp:
// state, devices and contexts; fake_memory.cpp; fake_streams.cpp;
// fake_modules.cpp: modules, libraries, launches; fake_graphs.cpp;
// fake_entry_points.cpp: errors and cuGetProcAddress). Not installed: the
// driver's interface is cuda.h.
#pragma once

#include <cuda.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda/fake/fake_gpu.h"

#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))

namespace fg = allot::fake_gpu;

namespace allot::fake_cuda {

struct Stream;
struct Graph;

struct Context {
  int device = 0;  // physical ordinal
  bool primary = false;
  Stream* default_stream = nullptr;
  std::vector<Stream*> streams;
};

struct Stream {
  Context* context = nullptr;
  std::atomic<uint64_t> ready_ns{0};
  bool blocking = true;  // made without CU_STREAM_NON_BLOCKING: waits for the legacy stream
  // While captured (cuStreamBeginCapture), kernels launched on the stream
  // are added to this graph instead of running.
  Graph* capture = nullptr;
  uint64_t capture_id = 0;
  CUstreamCaptureMode capture_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  pthread_t capture_thread{};
  bool capture_invalidated = false;  // by a call the capture forbids
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
  ~Globals();

  // The variable `name`, made on first use.
  CUresult Get(const char* name, CUdeviceptr* pointer, size_t* bytes);

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
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_KERNEL;
  CUDA_KERNEL_NODE_PARAMS kernel{};  // kernel nodes: as added
  CUdeviceptr allocation = 0;        // memory-allocation nodes
};

struct Graph {
  std::vector<GraphNode*> nodes;
};

// An executable graph holds its own copy of the graph's nodes, as the
// driver's does: the graph may be changed or destroyed after instantiation,
// and updating the executable graph (cuGraphExecKernelNodeSetParams)
// changes the copy only.
struct GraphExec {
  std::vector<const GraphNode*> origins;  // the graph's node each copy came from, for lookups
  std::vector<GraphNode> nodes;
};

struct Driver {
  std::mutex mu;
  bool initialized = false;
  std::vector<int> visible;  // visible ordinal -> physical ordinal
  Context* primary[fg::kMaxDevices] = {};
  int primary_refs[fg::kMaxDevices] = {};
  std::unordered_map<CUdeviceptr, Allocation> allocations;
  std::map<uintptr_t, size_t> host_allocations;  // page-locked host memory: start -> bytes
  std::vector<Stream*> capturing;                // streams being captured
  std::atomic<int> capturing_count{0};           // its size, read without the lock
};

// The driver's state, shared by the fake's files.
Driver& D();
// The calling thread's stack of current contexts.
std::vector<Context*>& ThreadContexts();
bool Initialized();
Context* Current();
// The stream a handle names: the current context's default stream for the
// legacy and per-thread default streams.
Stream* Resolve(CUstream stream);
Context* NewContext(int device, bool primary);
std::vector<int> VisibleDevices();
bool ValidDevice(CUdevice device);
// The physical ordinal of a visible device.
int Physical(CUdevice device);
void SleepUntil(uint64_t at_ns);
// Puts `duration_ns` of work on a stream: it starts after the stream's
// previous work and the device's previous kernel, whichever ends last.
void Occupy(Stream* stream, uint64_t duration_ns);
// A kernel's time on the fake GPU: one microsecond per block.
uint64_t KernelNs(unsigned x, unsigned y, unsigned z);
CUresult MapDeviceMemory(CUdeviceptr* out, uint64_t bytes, int device);
CUresult UnmapDeviceMemory(CUdeviceptr pointer);
// Runs `duration_ns` of work on a stream; a stream being captured refuses it
// (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED): see LaunchKernel.
CUresult LaunchOn(CUstream stream, uint64_t duration_ns);
// A kernel launch's parameters, as a kernel node holds them.
CUDA_KERNEL_NODE_PARAMS KernelLaunch(CUfunction function, unsigned int x, unsigned int y,
                                     unsigned int z, unsigned int bx, unsigned int by,
                                     unsigned int bz, unsigned int shared, void** parameters,
                                     void** extra);
// Launches a kernel on a stream, or adds it to the stream's capture.
CUresult LaunchKernel(CUstream stream, const CUDA_KERNEL_NODE_PARAMS& kernel);
// Adds a kernel node to a graph.
GraphNode* AddKernelNode(Graph* graph, const CUDA_KERNEL_NODE_PARAMS& kernel);
// A kernel's time on the fake GPU.
uint64_t KernelNs(const CUDA_KERNEL_NODE_PARAMS& kernel);
CUresult RecordOn(CUevent event, CUstream stream);
CUresult SynchronizeStream(CUstream stream);
// Stream capture's rules (fake_streams.cpp), as the driver applies them. A
// potentially unsafe call (cuCtxSynchronize) is refused to a thread whose
// interaction mode is not relaxed while its own capture, or (in global
// mode) another thread's global capture, is under way; work on the legacy
// stream is refused while a blocking stream of its context is captured,
// since it would join the capture. Either way the captures concerned are
// invalidated. Both return CUDA_SUCCESS when the call may go ahead.
CUresult CheckUnsafeCall();
CUresult CheckLegacyStream(CUstream stream);

}  // namespace allot::fake_cuda

#define REQUIRE_CONTEXT()                                        \
  do {                                                           \
    if (!Initialized()) return CUDA_ERROR_NOT_INITIALIZED;       \
    if (Current() == nullptr) return CUDA_ERROR_INVALID_CONTEXT; \
  } while (0)

// Entry points cuda.h does not declare: the per-thread-default-stream
// variants, and older variants exported under their plain names.
FAKE_EXPORT CUresult FakeDeviceGetUuidV1(CUuuid* uuid, CUdevice device) __asm__("cuDeviceGetUuid");
FAKE_EXPORT CUresult FakePrimaryCtxReleaseV1(CUdevice device) __asm__("cuDevicePrimaryCtxRelease");
FAKE_EXPORT CUresult FakeCtxCreateV2(CUcontext* context, unsigned int flags,
                                     CUdevice device) __asm__("cuCtxCreate_v2");
FAKE_EXPORT CUresult FakeMemPrefetchAsyncV1(CUdeviceptr, size_t, CUdevice,
                                            CUstream stream) __asm__("cuMemPrefetchAsync");
FAKE_EXPORT CUresult FakeEventElapsedTimeV1(float* milliseconds, CUevent start,
                                            CUevent end) __asm__("cuEventElapsedTime");
FAKE_EXPORT CUresult FakeGraphInstantiateV1(CUgraphExec* exec, CUgraph graph,
                                            CUgraphNode* error_node, char* log,
                                            size_t log_bytes) __asm__("cuGraphInstantiate");
FAKE_EXPORT CUresult FakeGraphAddKernelNodeV1(
    CUgraphNode* node, CUgraph graph, const CUgraphNode* dependencies, size_t count,
    const CUDA_KERNEL_NODE_PARAMS_v1* parameters) __asm__("cuGraphAddKernelNode");
FAKE_EXPORT CUresult FakeGraphKernelNodeGetParamsV1(
    CUgraphNode node, CUDA_KERNEL_NODE_PARAMS_v1* parameters) __asm__("cuGraphKernelNodeGetParams");
FAKE_EXPORT CUresult FakeGraphExecKernelNodeSetParamsV1(
    CUgraphExec exec, CUgraphNode node,
    const CUDA_KERNEL_NODE_PARAMS_v1* parameters) __asm__("cuGraphExecKernelNodeSetParams");
FAKE_EXPORT CUresult cuStreamBeginCapture_v2_ptsz(CUstream stream, CUstreamCaptureMode mode);
FAKE_EXPORT CUresult cuStreamEndCapture_ptsz(CUstream stream, CUgraph* graph);
FAKE_EXPORT CUresult cuStreamGetCaptureInfo_v2(CUstream stream, CUstreamCaptureStatus* status,
                                               cuuint64_t* id, CUgraph* graph,
                                               const CUgraphNode** dependencies, size_t* count);
FAKE_EXPORT CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream stream, CUstreamCaptureStatus* status,
                                                    cuuint64_t* id, CUgraph* graph,
                                                    const CUgraphNode** dependencies,
                                                    size_t* count);
FAKE_EXPORT CUresult cuStreamWaitValue32_v2_ptsz(CUstream stream, CUdeviceptr address,
                                                 cuuint32_t value, unsigned int flags);
FAKE_EXPORT CUresult cuStreamBatchMemOp_v2_ptsz(CUstream stream, unsigned int count,
                                                CUstreamBatchMemOpParams* operations,
                                                unsigned int flags);
FAKE_EXPORT CUresult FakeStreamWaitValue32V1(CUstream stream, CUdeviceptr address, cuuint32_t value,
                                             unsigned int flags) __asm__("cuStreamWaitValue32");
FAKE_EXPORT CUresult FakeStreamBatchMemOpV1(CUstream stream, unsigned int count,
                                            CUstreamBatchMemOpParams_v1* operations,
                                            unsigned int flags) __asm__("cuStreamBatchMemOp");
FAKE_EXPORT CUresult FakeGetProcAddressV1(const char* symbol, void** function, int version,
                                          cuuint64_t flags) __asm__("cuGetProcAddress");
FAKE_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* pointer, size_t bytes, CUstream stream);
FAKE_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr pointer, CUstream stream);
FAKE_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* pointer, size_t bytes,
                                                  CUmemoryPool pool, CUstream stream);
FAKE_EXPORT CUresult cuMemcpy_ptds(CUdeviceptr destination, CUdeviceptr source, size_t bytes);
FAKE_EXPORT CUresult cuMemcpyAsync_ptsz(CUdeviceptr destination, CUdeviceptr source, size_t bytes,
                                        CUstream stream);
FAKE_EXPORT CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr destination, const void* source,
                                               size_t bytes, CUstream stream);
FAKE_EXPORT CUresult cuMemcpyDtoHAsync_v2_ptsz(void* destination, CUdeviceptr source, size_t bytes,
                                               CUstream stream);
FAKE_EXPORT CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr destination, CUdeviceptr source,
                                               size_t bytes, CUstream stream);
FAKE_EXPORT CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D* copy, CUstream stream);
FAKE_EXPORT CUresult cuMemPrefetchAsync_v2_ptsz(CUdeviceptr pointer, size_t bytes,
                                                CUmemLocation location, unsigned int flags,
                                                CUstream stream);
FAKE_EXPORT CUresult cuMemsetD8Async_ptsz(CUdeviceptr destination, unsigned char value,
                                          size_t count, CUstream stream);
FAKE_EXPORT CUresult cuMemsetD32Async_ptsz(CUdeviceptr destination, unsigned int value,
                                           size_t count, CUstream stream);
FAKE_EXPORT CUresult cuStreamSynchronize_ptsz(CUstream stream);
FAKE_EXPORT CUresult cuStreamQuery_ptsz(CUstream stream);
FAKE_EXPORT CUresult cuStreamWaitEvent_ptsz(CUstream stream, CUevent event, unsigned int flags);
FAKE_EXPORT CUresult cuStreamIsCapturing_ptsz(CUstream stream, CUstreamCaptureStatus* status);
FAKE_EXPORT CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream stream, CUstreamCaptureStatus* status,
                                                    cuuint64_t* id, CUgraph* graph,
                                                    const CUgraphNode** dependencies,
                                                    const CUgraphEdgeData** edge_data,
                                                    size_t* count);
FAKE_EXPORT CUresult cuStreamGetCtx_ptsz(CUstream stream, CUcontext* context);
FAKE_EXPORT CUresult cuEventRecord_ptsz(CUevent event, CUstream stream);
FAKE_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction function, unsigned int x, unsigned int y,
                                         unsigned int z, unsigned int, unsigned int, unsigned int,
                                         unsigned int, CUstream stream, void**, void**);
FAKE_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction function,
                                           void** parameters, void** extra);
FAKE_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction function, unsigned int x,
                                                    unsigned int y, unsigned int z, unsigned int bx,
                                                    unsigned int by, unsigned int bz,
                                                    unsigned int shared, CUstream stream,
                                                    void** parameters);
FAKE_EXPORT CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec* exec, CUgraph graph,
                                                       CUDA_GRAPH_INSTANTIATE_PARAMS* parameters);
FAKE_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream stream);

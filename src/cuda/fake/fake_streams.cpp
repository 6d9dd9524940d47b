// The fake driver's streams and events, on the fake GPU's clock.
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda/fake/fake_driver.h"

using namespace allot::fake_cuda;

FAKE_EXPORT CUresult cuStreamCreate(CUstream* stream, unsigned int flags) {
  REQUIRE_CONTEXT();
  if (stream == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* created = new Stream();
  created->context = Current();
  created->blocking = (flags & CU_STREAM_NON_BLOCKING) == 0;
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
  if (CUresult refused = CheckLegacyStream(stream); refused != CUDA_SUCCESS) return refused;
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

// Capture: between cuStreamBeginCapture and cuStreamEndCapture the kernels
// launched on a stream are added to a new graph, one after another, instead
// of running (fake_cuda.cpp: LaunchKernel); copies, sets and waiting on the
// stream are refused meanwhile. The legacy default stream cannot be
// captured, as with the driver.
namespace {
// How this thread's calls interact with captures (cuThreadExchangeStreamCaptureMode).
CUstreamCaptureMode& ThreadCaptureMode() {
  thread_local CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  return mode;
}

// Invalidates the captures under way for which `forbids` is true; true if
// there was one.
template <typename Forbids>
bool InvalidateCaptures(Forbids forbids) {
  if (D().capturing_count.load() == 0) return false;  // the common case, without the lock
  std::lock_guard lock(D().mu);
  bool any = false;
  for (Stream* stream : D().capturing) {
    if (!stream->capture_invalidated && forbids(*stream)) {
      stream->capture_invalidated = true;
      any = true;
    }
  }
  return any;
}
}  // namespace

CUresult allot::fake_cuda::CheckUnsafeCall() {
  const CUstreamCaptureMode mode = ThreadCaptureMode();
  if (mode == CU_STREAM_CAPTURE_MODE_RELAXED) return CUDA_SUCCESS;
  const pthread_t self = pthread_self();
  bool refused = InvalidateCaptures([&](const Stream& stream) {
    if (stream.capture_mode == CU_STREAM_CAPTURE_MODE_RELAXED) return false;
    if (pthread_equal(stream.capture_thread, self)) return true;
    return mode == CU_STREAM_CAPTURE_MODE_GLOBAL &&
           stream.capture_mode == CU_STREAM_CAPTURE_MODE_GLOBAL;
  });
  return refused ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}

CUresult allot::fake_cuda::CheckLegacyStream(CUstream stream) {
  if (stream != nullptr && stream != CU_STREAM_LEGACY) return CUDA_SUCCESS;
  Context* context = Current();
  bool refused = InvalidateCaptures(
      [&](const Stream& captured) { return captured.blocking && captured.context == context; });
  return refused ? CUDA_ERROR_STREAM_CAPTURE_IMPLICIT : CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuStreamBeginCapture(CUstream stream, CUstreamCaptureMode mode) {
  REQUIRE_CONTEXT();
  if (stream == nullptr || stream == CU_STREAM_LEGACY) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  std::lock_guard lock(D().mu);
  if (resolved->capture != nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  static std::atomic<uint64_t> next_id{1};
  resolved->capture = new Graph();
  resolved->capture_id = next_id++;
  resolved->capture_mode = mode;
  resolved->capture_thread = pthread_self();
  resolved->capture_invalidated = false;
  D().capturing.push_back(resolved);
  D().capturing_count.store(static_cast<int>(D().capturing.size()));
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamBeginCapture_v2_ptsz(CUstream stream, CUstreamCaptureMode mode) {
  return cuStreamBeginCapture(stream, mode);
}

FAKE_EXPORT CUresult cuStreamEndCapture(CUstream stream, CUgraph* graph) {
  REQUIRE_CONTEXT();
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Graph* captured = nullptr;
  bool invalidated = false;
  {
    std::lock_guard lock(D().mu);
    if (resolved->capture == nullptr) return CUDA_ERROR_ILLEGAL_STATE;
    captured = resolved->capture;
    invalidated = resolved->capture_invalidated;
    resolved->capture = nullptr;
    std::erase(D().capturing, resolved);
    D().capturing_count.store(static_cast<int>(D().capturing.size()));
  }
  if (invalidated) {
    *graph = nullptr;
    (void)cuGraphDestroy(reinterpret_cast<CUgraph>(captured));
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  *graph = reinterpret_cast<CUgraph>(captured);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamEndCapture_ptsz(CUstream stream, CUgraph* graph) {
  return cuStreamEndCapture(stream, graph);
}

// How this thread's potentially unsafe calls meet captures (CheckUnsafeCall).
FAKE_EXPORT CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::swap(ThreadCaptureMode(), *mode);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuStreamIsCapturing(CUstream stream, CUstreamCaptureStatus* status) {
  REQUIRE_CONTEXT();
  Stream* resolved = Resolve(stream);
  if (resolved == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(D().mu);
  if (resolved->capture == nullptr) {
    *status = CU_STREAM_CAPTURE_STATUS_NONE;
  } else {
    *status = resolved->capture_invalidated ? CU_STREAM_CAPTURE_STATUS_INVALIDATED
                                            : CU_STREAM_CAPTURE_STATUS_ACTIVE;
  }
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamIsCapturing_ptsz(CUstream stream, CUstreamCaptureStatus* status) {
  return cuStreamIsCapturing(stream, status);
}

// A capture's graph is a chain: what comes next depends on its last node.
FAKE_EXPORT CUresult cuStreamGetCaptureInfo(CUstream stream, CUstreamCaptureStatus* status,
                                            cuuint64_t* id, CUgraph* graph,
                                            const CUgraphNode** dependencies,
                                            const CUgraphEdgeData** edge_data, size_t* count) {
  CUresult result = cuStreamIsCapturing(stream, status);
  if (result != CUDA_SUCCESS) return result;
  Stream* resolved = Resolve(stream);
  Graph* capture = resolved->capture;
  const bool chained = capture != nullptr && !capture->nodes.empty();
  if (id != nullptr) *id = capture != nullptr ? resolved->capture_id : 0;
  if (graph != nullptr) *graph = reinterpret_cast<CUgraph>(capture);
  if (dependencies != nullptr) {
    *dependencies =
        chained ? reinterpret_cast<const CUgraphNode*>(&capture->nodes.back()) : nullptr;
  }
  if (edge_data != nullptr) *edge_data = nullptr;
  if (count != nullptr) *count = chained ? 1 : 0;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream stream, CUstreamCaptureStatus* status,
                                                    cuuint64_t* id, CUgraph* graph,
                                                    const CUgraphNode** dependencies,
                                                    const CUgraphEdgeData** edge_data,
                                                    size_t* count) {
  return cuStreamGetCaptureInfo(stream, status, id, graph, dependencies, edge_data, count);
}
// CUDA 11.3's form, without edge data.
FAKE_EXPORT CUresult cuStreamGetCaptureInfo_v2(CUstream stream, CUstreamCaptureStatus* status,
                                               cuuint64_t* id, CUgraph* graph,
                                               const CUgraphNode** dependencies, size_t* count) {
  return cuStreamGetCaptureInfo(stream, status, id, graph, dependencies, nullptr, count);
}
FAKE_EXPORT CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream stream, CUstreamCaptureStatus* status,
                                                    cuuint64_t* id, CUgraph* graph,
                                                    const CUgraphNode** dependencies,
                                                    size_t* count) {
  return cuStreamGetCaptureInfo(stream, status, id, graph, dependencies, nullptr, count);
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
CUresult FakeEventElapsedTimeV1(float* milliseconds, CUevent start, CUevent end) {
  return cuEventElapsedTime(milliseconds, start, end);
}

// Stream memory operations (waiting on and writing a value in memory from a
// stream) need the GPU to watch memory; the fake's kernels do not touch it,
// so it reports them unsupported, as a driver does on a device without them
// (its CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR and kin are 0).
FAKE_EXPORT CUresult cuStreamWaitValue32(CUstream, CUdeviceptr, cuuint32_t, unsigned int) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
FAKE_EXPORT CUresult cuStreamWaitValue32_v2_ptsz(CUstream stream, CUdeviceptr address,
                                                 cuuint32_t value, unsigned int flags) {
  return cuStreamWaitValue32(stream, address, value, flags);
}

FAKE_EXPORT CUresult cuStreamBatchMemOp(CUstream, unsigned int, CUstreamBatchMemOpParams*,
                                        unsigned int) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
FAKE_EXPORT CUresult cuStreamBatchMemOp_v2_ptsz(CUstream stream, unsigned int count,
                                                CUstreamBatchMemOpParams* operations,
                                                unsigned int flags) {
  return cuStreamBatchMemOp(stream, count, operations, flags);
}
// CUDA 8's forms, under the plain names.
CUresult FakeStreamWaitValue32V1(CUstream stream, CUdeviceptr address, cuuint32_t value,
                                 unsigned int flags) {
  return cuStreamWaitValue32(stream, address, value, flags);
}
CUresult FakeStreamBatchMemOpV1(CUstream, unsigned int, CUstreamBatchMemOpParams_v1*,
                                unsigned int) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

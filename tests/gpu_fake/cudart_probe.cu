// A CUDA C++ program for the interposer's tests: the CUDA runtime (cudart),
// a kernel launched with <<<>>> and its other launch forms, as nvcc builds
// applications. It runs on the fake driver (interposer_test.sh, when nvcc is
// there to build it) and, unchanged, on a real GPU (tests/gpu/run.sh).
//
//   cudart_probe limit          each allocation API in 1 MiB steps until it
//                               fails; prints "API MIB error" per API
//   report BYTES                allocates BYTES, prints what cudaMemGetInfo
//                               and the device properties say
//   spin SECONDS [START_MS]     1000-block kernels (<<<>>>, cudaLaunchKernelEx,
//                               cooperative, graph in turn) for SECONDS;
//                               prints the share of the time they ran on the
//                               fake GPU (where a block takes 1 us). With
//                               START_MS (Unix time, ms), starts then.
//   torchlike                   what PyTorch asks of the runtime to start and
//                               move a tensor to the GPU and back
//   library                     what libraries such as cuBLAS ask before they
//                               launch: symbols, limits, occupancy
//   capture [PAUSE_MS [blocking]]
//                               kernels captured from a stream into a graph,
//                               PAUSE_MS apart, on a blocking stream if asked
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "probe_support.h"

namespace {

#define CHECK(call)                                                             \
  do {                                                                          \
    cudaError_t status_ = (call);                                               \
    if (status_ != cudaSuccess) {                                               \
      std::fprintf(stderr, "FAIL: %s: %s\n", #call, cudaGetErrorName(status_)); \
      std::exit(1);                                                             \
    }                                                                           \
  } while (0)

__global__ void Touch(int* counter) {
  if (counter != nullptr && threadIdx.x == 0) atomicAdd(counter, 1);
}

__device__ int device_table[4];

__global__ void BigShared() {
  extern __shared__ int shared[];
  shared[threadIdx.x] = 0;
}

constexpr size_t kMiB = size_t{1} << 20;

// Allocates 1 MiB at a time with `allocate` until it fails, frees it all with
// `release`, and prints how far it got and why it stopped.
void Exhaust(const char* api, const std::function<cudaError_t(void**)>& allocate,
             const std::function<cudaError_t(void*)>& release) {
  std::vector<void*> held;
  cudaError_t stopped = cudaSuccess;
  while (held.size() < 1000000) {
    void* pointer = nullptr;
    stopped = allocate(&pointer);
    if (stopped != cudaSuccess) break;
    held.push_back(pointer);
  }
  cudaGetLastError();  // the failure is the expected end
  for (void* pointer : held) CHECK(release(pointer));
  std::printf("%s %zu %s\n", api, held.size(), cudaGetErrorName(stopped));
}

int Limit() {
  cudaStream_t stream = nullptr;
  CHECK(cudaStreamCreate(&stream));
  Exhaust(
      "cudaMalloc", [](void** p) { return cudaMalloc(p, kMiB); }, cudaFree);
  Exhaust(
      "cudaMallocManaged", [](void** p) { return cudaMallocManaged(p, kMiB); }, cudaFree);
  Exhaust(
      "cudaMallocPitch",
      [](void** p) {
        size_t pitch = 0;
        return cudaMallocPitch(p, &pitch, kMiB / 4, 4);
      },
      cudaFree);
  Exhaust(
      "cudaMallocAsync",
      [&](void** p) {
        cudaError_t status = cudaMallocAsync(p, kMiB, stream);
        return status == cudaSuccess ? cudaStreamSynchronize(stream) : status;
      },
      [&](void* p) {
        cudaError_t status = cudaFreeAsync(p, stream);
        return status == cudaSuccess ? cudaStreamSynchronize(stream) : status;
      });
  CHECK(cudaStreamDestroy(stream));
  return 0;
}

int Report(size_t bytes) {
  void* held = nullptr;
  CHECK(cudaMalloc(&held, bytes));
  size_t free_bytes = 0, total = 0;
  CHECK(cudaMemGetInfo(&free_bytes, &total));
  std::printf("cudaMemGetInfo free %zu total %zu used %zu\n", free_bytes, total,
              total - free_bytes);
  cudaDeviceProp properties{};
  CHECK(cudaGetDeviceProperties(&properties, 0));
  std::printf("totalGlobalMem %zu\n", properties.totalGlobalMem);
  CHECK(cudaFree(held));
  return 0;
}

int Spin(double seconds, long long start_ms) {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  CHECK(cudaGraphCreate(&graph, 0));
  int* no_counter = nullptr;
  void* arguments[] = {&no_counter};
  cudaKernelNodeParams node{};
  node.func = reinterpret_cast<void*>(&Touch);
  node.gridDim = dim3(1000);
  node.blockDim = dim3(1);
  node.kernelParams = arguments;
  cudaGraphNode_t added = nullptr;
  CHECK(cudaGraphAddKernelNode(&added, graph, nullptr, 0, &node));
  CHECK(cudaGraphInstantiate(&exec, graph, 0));
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(1000);
  config.blockDim = dim3(1);
  cudaEvent_t done[2] = {nullptr, nullptr};
  CHECK(cudaEventCreate(&done[0]));
  CHECK(cudaEventCreate(&done[1]));
  probe::Spin(
      seconds, start_ms,
      [&](int i) {
        switch (i % 4) {
          case 0:
            Touch<<<1000, 1>>>(nullptr);
            CHECK(cudaGetLastError());
            break;
          case 1:
            CHECK(cudaLaunchKernelEx(&config, Touch, no_counter));
            break;
          case 2:
            CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<void*>(&Touch), dim3(1000), dim3(1),
                                              arguments, 0, nullptr));
            break;
          default:
            CHECK(cudaGraphLaunch(exec, nullptr));
            break;
        }
      },
      [&](int slot) { CHECK(cudaEventRecord(done[slot], nullptr)); },
      [&](int slot) { CHECK(cudaEventSynchronize(done[slot])); },
      [&] { CHECK(cudaDeviceSynchronize()); });
  return 0;
}

// What PyTorch asks of the runtime to start on a GPU, keep its streams and
// caching allocator, and move a tensor there and back (c10/cuda and ATen:
// the stream pool, events without timing, capture checks before each
// allocation, pinned host memory, asynchronous copies and memsets), then a
// kernel on the data. Prints "ok" and the checksum of the round trip.
int TorchLike() {
  int devices = 0;
  CHECK(cudaGetDeviceCount(&devices));
  CHECK(cudaSetDevice(0));
  int device = -1;
  CHECK(cudaGetDevice(&device));
  cudaDeviceProp properties{};
  CHECK(cudaGetDeviceProperties(&properties, device));
  int major = 0;
  CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  int least = 0, greatest = 0;
  CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  cudaStream_t streams[2] = {nullptr, nullptr};
  CHECK(cudaStreamCreateWithPriority(&streams[0], cudaStreamNonBlocking, least));
  CHECK(cudaStreamCreateWithPriority(&streams[1], cudaStreamNonBlocking, greatest));
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusActive;
  CHECK(cudaStreamIsCapturing(streams[0], &capturing));
  if (capturing != cudaStreamCaptureStatusNone) {
    std::fprintf(stderr, "FAIL: a new stream reports a capture\n");
    return 1;
  }
  constexpr int kCount = 1 << 20;
  int* device_data = nullptr;
  CHECK(cudaMalloc(&device_data, kCount * sizeof(int)));
  cudaPointerAttributes attributes{};
  CHECK(cudaPointerGetAttributes(&attributes, device_data));
  if (attributes.type != cudaMemoryTypeDevice || attributes.device != device) {
    std::fprintf(stderr, "FAIL: cudaPointerGetAttributes: type %d device %d\n",
                 static_cast<int>(attributes.type), attributes.device);
    return 1;
  }
  int* pinned = nullptr;
  CHECK(
      cudaHostAlloc(reinterpret_cast<void**>(&pinned), kCount * sizeof(int), cudaHostAllocDefault));
  for (int i = 0; i < kCount; ++i) pinned[i] = i;
  cudaEvent_t copied = nullptr;
  CHECK(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming));
  CHECK(cudaMemsetAsync(device_data, 0, kCount * sizeof(int), streams[0]));
  CHECK(cudaMemcpyAsync(device_data, pinned, kCount * sizeof(int), cudaMemcpyHostToDevice,
                        streams[0]));
  CHECK(cudaEventRecord(copied, streams[0]));
  CHECK(cudaStreamWaitEvent(streams[1], copied, 0));
  Touch<<<1, 1, 0, streams[1]>>>(nullptr);
  CHECK(cudaGetLastError());
  std::memset(pinned, 0, kCount * sizeof(int));
  CHECK(cudaMemcpyAsync(pinned, device_data, kCount * sizeof(int), cudaMemcpyDeviceToHost,
                        streams[1]));
  CHECK(cudaStreamSynchronize(streams[1]));
  long long sum = 0;
  for (int i = 0; i < kCount; ++i) sum += pinned[i];
  int peer = 0;
  if (devices > 1) CHECK(cudaDeviceCanAccessPeer(&peer, 0, 1));
  CHECK(cudaEventQuery(copied));
  CHECK(cudaEventDestroy(copied));
  CHECK(cudaFreeHost(pinned));
  CHECK(cudaFree(device_data));
  for (cudaStream_t stream : streams) CHECK(cudaStreamDestroy(stream));
  CHECK(cudaDeviceSynchronize());
  std::printf("ok sum %lld\n", sum);
  return 0;
}

// What libraries such as cuBLAS ask before they launch: a __device__
// variable written and read back, the device's limits, and occupancy with
// the block's shared memory raised to the most a block may opt into.
// Prints one line per answer.
int Library() {
  int in[4] = {1, 2, 3, 4}, out[4] = {};
  CHECK(cudaMemcpyToSymbol(device_table, in, sizeof in));
  CHECK(cudaMemcpyFromSymbol(out, device_table, sizeof out));
  std::printf("symbol %d %d %d %d\n", out[0], out[1], out[2], out[3]);
  cudaDeviceProp properties{};
  CHECK(cudaGetDeviceProperties(&properties, 0));
  std::printf("sm_%d%d multiprocessors %d shared per block opt-in %zu\n", properties.major,
              properties.minor, properties.multiProcessorCount, properties.sharedMemPerBlockOptin);
  const int optin = static_cast<int>(properties.sharedMemPerBlockOptin);
  CHECK(cudaFuncSetAttribute(BigShared, cudaFuncAttributeMaxDynamicSharedMemorySize, optin));
  int blocks = 0;
  CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, BigShared, 128,
                                                      static_cast<size_t>(optin)));
  size_t available = 0;
  CHECK(cudaOccupancyAvailableDynamicSMemPerBlock(&available, BigShared, 1, 128));
  std::printf("blocks per multiprocessor %d, shared for one block %zu\n", blocks, available);
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(8);
  config.blockDim = dim3(128);
  config.dynamicSmemBytes = static_cast<size_t>(optin);
  cudaLaunchAttribute cluster{};
  cluster.id = cudaLaunchAttributeClusterDimension;
  cluster.val.clusterDim.x = 8;
  cluster.val.clusterDim.y = cluster.val.clusterDim.z = 1;
  config.attrs = &cluster;
  config.numAttrs = 1;
  int clusters = 0;
  CHECK(cudaOccupancyMaxActiveClusters(&clusters, BigShared, &config));
  std::printf("clusters of 8 at once %d\n", clusters);
  BigShared<<<8, 128, static_cast<size_t>(optin)>>>();
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  return 0;
}

// Stream capture, as PyTorch's CUDA graphs and cuBLAS use it: three kernels
// captured (in global mode, the strictest), not run, then run as one graph
// (after the graph it was made from is destroyed).
// Prints what the graph holds. Between the captured launches, for
// `pause_ms`, kernels run on a second stream, so that a throttled process
// holds and ends slices during the capture; a `blocking` stream (not
// cudaStreamNonBlocking) is one that work on the legacy stream would join.
int Capture(int pause_ms, bool blocking) {
  cudaStream_t stream = nullptr;
  cudaStream_t side = nullptr;
  CHECK(cudaStreamCreateWithFlags(&stream, blocking ? cudaStreamDefault : cudaStreamNonBlocking));
  CHECK(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking));
  CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  CHECK(cudaStreamIsCapturing(stream, &status));
  for (int i = 0; i < 3; ++i) {
    Touch<<<1000, 1, 0, stream>>>(nullptr);
    CHECK(cudaGetLastError());
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(pause_ms);
    while (std::chrono::steady_clock::now() < until) {
      Touch<<<1000, 1, 0, side>>>(nullptr);
      CHECK(cudaGetLastError());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  cudaGraph_t graph = nullptr;
  CHECK(cudaStreamEndCapture(stream, &graph));
  size_t count = 0;
  CHECK(cudaGraphGetNodes(graph, nullptr, &count));
  std::vector<cudaGraphNode_t> nodes(count);
  CHECK(cudaGraphGetNodes(graph, nodes.data(), &count));
  int kernels = 0;
  unsigned int blocks = 0;
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type{};
    CHECK(cudaGraphNodeGetType(node, &type));
    if (type != cudaGraphNodeTypeKernel) continue;
    cudaKernelNodeParams parameters{};
    CHECK(cudaGraphKernelNodeGetParams(node, &parameters));
    ++kernels;
    blocks += parameters.gridDim.x;
  }
  cudaGraphExec_t exec = nullptr;
  CHECK(cudaGraphInstantiate(&exec, graph, 0));
  CHECK(cudaGraphDestroy(graph));  // the executable graph stands alone
  CHECK(cudaGraphLaunch(exec, stream));
  CHECK(cudaStreamSynchronize(stream));
  std::printf("capturing %d, captured %d kernels of %u blocks, ran\n",
              status == cudaStreamCaptureStatusActive ? 1 : 0, kernels, blocks);
  CHECK(cudaGraphExecDestroy(exec));
  CHECK(cudaStreamDestroy(stream));
  CHECK(cudaStreamDestroy(side));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "limit") return Limit();
  if (command == "torchlike") return TorchLike();
  if (command == "library") return Library();
  if (command == "capture") {
    return Capture(argc > 2 ? std::atoi(argv[2]) : 0,
                   argc > 3 && std::string(argv[3]) == "blocking");
  }
  if (command == "report" && argc > 2) return Report(probe::Bytes(argv[2]));
  if (command == "spin" && argc > 2) {
    return Spin(std::atof(argv[2]), argc > 3 ? std::atoll(argv[3]) : 0);
  }
  std::fprintf(stderr,
               "usage: cudart_probe limit | report BYTES | spin SECONDS [START_MS] | torchlike | "
               "library | capture [PAUSE_MS [blocking]]\n");
  return 2;
}

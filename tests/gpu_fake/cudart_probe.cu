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
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

#define CHECK(call)                                                                     \
  do {                                                                                  \
    cudaError_t status_ = (call);                                                       \
    if (status_ != cudaSuccess) {                                                       \
      std::fprintf(stderr, "FAIL: %s: %s\n", #call, cudaGetErrorName(status_));         \
      std::exit(1);                                                                     \
    }                                                                                   \
  } while (0)

__global__ void Touch(int* counter) {
  if (counter != nullptr && threadIdx.x == 0) atomicAdd(counter, 1);
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
  // Two kernels in flight, as a training loop keeps the GPU fed: wait for
  // the one before the last launched.
  cudaEvent_t done[2] = {nullptr, nullptr};
  CHECK(cudaEventCreate(&done[0]));
  CHECK(cudaEventCreate(&done[1]));
  if (start_ms > 0) {
    std::this_thread::sleep_until(
        std::chrono::system_clock::time_point(std::chrono::milliseconds(start_ms)));
  }
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  int kernels = 0;
  while (std::chrono::steady_clock::now() < end) {
    switch (kernels % 4) {
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
    CHECK(cudaEventRecord(done[kernels % 2], nullptr));
    ++kernels;
    if (kernels >= 2) CHECK(cudaEventSynchronize(done[kernels % 2]));
  }
  CHECK(cudaDeviceSynchronize());
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("kernels %d share %.1f\n", kernels, 100.0 * kernels * 0.001 / wall);
  return 0;
}

size_t ParseBytes(const char* text) {
  char* end = nullptr;
  unsigned long long value = std::strtoull(text, &end, 10);
  std::string suffix = end;
  if (suffix == "Ki") return value << 10;
  if (suffix == "Mi") return value << 20;
  if (suffix == "Gi") return value << 30;
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "limit") return Limit();
  if (command == "report" && argc > 2) return Report(ParseBytes(argv[2]));
  if (command == "spin" && argc > 2) {
    return Spin(std::atof(argv[2]), argc > 3 ? std::atoll(argv[3]) : 0);
  }
  std::fprintf(stderr, "usage: cudart_probe limit | report BYTES | spin SECONDS [START_MS]\n");
  return 2;
}

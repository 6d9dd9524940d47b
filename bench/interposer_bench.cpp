// What the GPU interposer adds to a launch and to an allocation, on the fake
// CUDA driver (docs/gpu-sharing.md, docs/benchmarks.md):
//   allot_interposer_bench [--runs 5] [--calls 200000]
// Each run starts one process per configuration (no interposer: the
// baseline; a memory limit only; a memory limit and a 50 % fair compute
// share), alternating, and each process times batches of calls; a run's
// figure is the median batch's time per call. The report is the median over runs, and the
// difference and ratio against the baseline of the same runs.
#include <cuda.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double NowNs() {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count());
}

#define CHECK(call)                                                             \
  do {                                                                          \
    if (CUresult result = (call); result != CUDA_SUCCESS) {                     \
      std::fprintf(stderr, "%s failed: %d\n", #call, static_cast<int>(result)); \
      std::exit(1);                                                             \
    }                                                                           \
  } while (0)

// In a child: times `calls` launches and `calls / 10` allocate-free pairs.
int Child(int calls) {
  CHECK(cuInit(0));
  CUdevice device = 0;
  CUcontext context = nullptr;
  CHECK(cuDeviceGet(&device, 0));
  CHECK(cuDevicePrimaryCtxRetain(&context, device));
  CHECK(cuCtxSetCurrent(context));
  CUmodule module = nullptr;
  CHECK(cuModuleLoadData(&module, "bench"));
  CUfunction function = nullptr;
  CHECK(cuModuleGetFunction(&function, module, "empty"));
  // Batches of calls, so that the clock's cost and granularity do not count.
  constexpr int kLaunchBatch = 1000;
  constexpr int kAllocateBatch = 100;
  std::vector<double> launch;
  for (int batch = 0; batch < calls / kLaunchBatch; ++batch) {
    double start = NowNs();
    for (int i = 0; i < kLaunchBatch; ++i) {
      CHECK(cuLaunchKernel(function, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr));
    }
    launch.push_back((NowNs() - start) / kLaunchBatch);
  }
  std::vector<double> allocate;
  for (int batch = 0; batch < calls / 10 / kAllocateBatch; ++batch) {
    double start = NowNs();
    for (int i = 0; i < kAllocateBatch; ++i) {
      CUdeviceptr pointer = 0;
      CHECK(cuMemAlloc(&pointer, 1 << 20));
      CHECK(cuMemFree(pointer));
    }
    allocate.push_back((NowNs() - start) / kAllocateBatch);
  }
  std::printf("%.1f %.1f\n", Median(launch), Median(allocate));
  return 0;
}

struct Config {
  const char* name;
  std::vector<std::string> env;
};

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  int calls = 200000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--calls") == 0) calls = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "child") == 0) return Child(std::atoi(argv[i + 1]));
  }
  char state[] = "/tmp/allot-interposer-bench-XXXXXX";
  if (mkdtemp(state) == nullptr) return 1;
  std::string directory = state;
  std::string common = "ALLOT_FAKE_GPU_STATE=" + directory + "/fake-gpu";
  std::vector<Config> configs = {
      {"no interposer (baseline)", {common}},
      {"memory limit",
       {common, "LD_PRELOAD=" ALLOT_CUDA_LIBRARY, "ALLOT_GPU_MEMORY_LIMIT=10Gi",
        "ALLOT_GPU_COMPUTE_SHARE=100", "ALLOT_GPU_SHARE_MODE=fair",
        "ALLOT_GPU_LEDGER_DIR=" + directory}},
      {"memory limit + 50 % fair share",
       {common, "LD_PRELOAD=" ALLOT_CUDA_LIBRARY, "ALLOT_GPU_MEMORY_LIMIT=10Gi",
        "ALLOT_GPU_COMPUTE_SHARE=50", "ALLOT_GPU_SHARE_MODE=fair", "CUDA_VISIBLE_DEVICES=0",
        "ALLOT_GPU_LEDGER_DIR=" + directory}},
  };
  std::vector<std::vector<double>> launch(configs.size()), allocate(configs.size());
  for (int run = 0; run < runs; ++run) {
    for (size_t c = 0; c < configs.size(); ++c) {
      int pipe_fds[2];
      if (pipe(pipe_fds) != 0) return 1;
      pid_t child = fork();
      if (child == 0) {
        dup2(pipe_fds[1], 1);
        for (const std::string& entry : configs[c].env) putenv(const_cast<char*>(entry.c_str()));
        std::string count = std::to_string(calls);
        execl("/proc/self/exe", argv[0], "child", count.c_str(), nullptr);
        _exit(127);
      }
      close(pipe_fds[1]);
      char buffer[128] = {};
      ssize_t got = read(pipe_fds[0], buffer, sizeof buffer - 1);
      close(pipe_fds[0]);
      int status = 0;
      waitpid(child, &status, 0);
      double launch_ns = 0, allocate_ns = 0;
      if (got <= 0 || std::sscanf(buffer, "%lf %lf", &launch_ns, &allocate_ns) != 2 ||
          status != 0) {
        std::fprintf(stderr, "%s: the child failed\n", configs[c].name);
        return 1;
      }
      launch[c].push_back(launch_ns);
      allocate[c].push_back(allocate_ns);
    }
  }
  std::string remove = "rm -rf " + directory;
  if (std::system(remove.c_str()) != 0) return 1;
  double base_launch = Median(launch[0]), base_allocate = Median(allocate[0]);
  std::printf(
      "median over %d runs of the median batch, per call (%d launches, %d allocate+free pairs per "
      "run)\n",
      runs, calls, calls / 10);
  std::printf("%-32s %10s %10s %8s %14s %10s %8s\n", "configuration", "launch ns", "added ns",
              "ratio", "alloc+free ns", "added ns", "ratio");
  for (size_t c = 0; c < configs.size(); ++c) {
    double l = Median(launch[c]), a = Median(allocate[c]);
    std::printf("%-32s %10.1f %10.1f %8.2f %14.1f %10.1f %8.2f\n", configs[c].name, l,
                l - base_launch, l / base_launch, a, a - base_allocate, a / base_allocate);
  }
  return 0;
}

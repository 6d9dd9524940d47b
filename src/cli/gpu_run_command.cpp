#include "cli/gpu_run_command.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>

#include "cuda/gpu_limits.h"

namespace allot::cli {
namespace {

struct GpuRunOptions {
  std::string memory_limit;
  std::string memory_request;
  int compute_share = 100;
  std::string mode = "fair";
  std::vector<std::string> command;
};

GpuRunOptions options;
CLI::App* gpu_run = nullptr;

}  // namespace

void AddGpuRunCommand(CLI::App& app) {
  gpu_run = app.add_subcommand(
      "gpu-run",
      "Run a command under the GPU interposer: enforced GPU memory limit and compute "
      "share (docs/gpu-sharing.md)");
  gpu_run->add_option("--memory-limit", options.memory_limit,
                      "GPU memory per GPU, e.g. 10Gi (default: the whole GPU)");
  gpu_run->add_option(
      "--memory-request", options.memory_request,
      "Guaranteed part of --memory-limit (a dynamic fraction: memory above it is lent)");
  gpu_run
      ->add_option("--compute-share", options.compute_share, "Percent of the GPU's time, 1 to 100")
      ->check(CLI::Range(1, 100));
  gpu_run
      ->add_option("--mode", options.mode, "strict (exactly the share) or fair (idle time shared)")
      ->check(CLI::IsMember({"strict", "fair"}));
  gpu_run->add_option("command", options.command, "The command to run, after --")->required();
}

int RunGpuRunCommand() {
  if (gpu_run == nullptr || !*gpu_run) return -1;
  std::map<std::string, std::string> env;
  env["ALLOT_GPU_MEMORY_LIMIT"] = options.memory_limit.empty() ? "unlimited" : options.memory_limit;
  if (!options.memory_request.empty()) env["ALLOT_GPU_MEMORY_REQUEST"] = options.memory_request;
  env["ALLOT_GPU_COMPUTE_SHARE"] = std::to_string(options.compute_share);
  env["ALLOT_GPU_SHARE_MODE"] = options.mode;
  // The processes of this command share its limits; an outer tenant (the
  // agent's task) is kept.
  const char* outer = std::getenv("ALLOT_GPU_TENANT");
  env["ALLOT_GPU_TENANT"] =
      outer != nullptr && *outer != '\0' ? outer : "gpu-run-" + std::to_string(getpid());

  auto limits = cuda::ParseGpuLimits(
      [&](const char* name) {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
      },
      env["ALLOT_GPU_TENANT"]);
  if (!limits) {
    // Name the flag too, not only the variable it becomes.
    static const std::map<std::string, std::string> kFlags = {
        {"ALLOT_GPU_MEMORY_LIMIT", "--memory-limit"},
        {"ALLOT_GPU_MEMORY_REQUEST", "--memory-request"},
        {"ALLOT_GPU_TENANT", "ALLOT_GPU_TENANT"}};
    auto flag = kFlags.find(limits.error().field);
    std::cerr << "allot gpu-run: " << (flag == kFlags.end() ? "" : flag->second + ": ")
              << limits.error().message << "\n";
    return 2;
  }
  if (auto gpu = cuda::CheckComputeGpu(*limits, std::getenv("CUDA_VISIBLE_DEVICES")); !gpu) {
    std::cerr << "allot gpu-run: --compute-share " << options.compute_share << ": "
              << gpu.error().message << "\n";
    return 2;
  }
  auto library = cuda::FindInterposerLibrary();
  if (!library) {
    std::cerr << "allot gpu-run: " << library.error().message << "\n";
    return 2;
  }
  const char* preload = std::getenv("LD_PRELOAD");
  env["LD_PRELOAD"] =
      *library + (preload != nullptr && *preload != '\0' ? std::string(":") + preload : "");
  for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);

  std::vector<char*> argv;
  for (auto& part : options.command) argv.push_back(part.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  std::cerr << "allot gpu-run: cannot run " << options.command[0] << ": " << std::strerror(errno)
            << "\n";
  return errno == ENOENT ? 127 : 126;
}

}  // namespace allot::cli

// `allot gpu-run [--memory-limit 10Gi] [--compute-share 30] [--mode fair] -- CMD`:
// runs a command under the GPU interposer (liballot-cuda.so) with those
// limits, on the GPUs the process can see (docs/gpu-sharing.md).
#pragma once

#include <CLI/CLI.hpp>

namespace allot::cli {

void AddGpuRunCommand(CLI::App& app);
// Replaces the process with the command (or returns its error status); -1
// when gpu-run was not chosen.
int RunGpuRunCommand();

}  // namespace allot::cli

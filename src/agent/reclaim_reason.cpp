#include "agent/reclaim_reason.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cuda/gpu_board.h"

namespace allot::agent {
namespace {

std::string Gibibytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1ULL << 30));
  return text;
}

std::string Value(const std::map<std::string, std::string>& env, const std::string& key) {
  auto it = env.find(key);
  return it == env.end() ? "" : it->second;
}

}  // namespace

std::string ReclaimReason(const std::map<std::string, std::string>& env, int64_t started_ms) {
  std::string tenant = Value(env, "ALLOT_GPU_TENANT");
  std::string devices = Value(env, "CUDA_VISIBLE_DEVICES");
  if (tenant.empty() || devices.empty()) return "";
  std::string directory = Value(env, "ALLOT_GPU_LEDGER_DIR");
  if (directory.empty()) directory = "/dev/shm";
  for (size_t start = 0; start <= devices.size();) {
    size_t comma = devices.find(',', start);
    std::string uuid = devices.substr(start, comma - start);
    start = comma == std::string::npos ? devices.size() + 1 : comma + 1;
    // Only a ledger the interposer made (GpuBoard's path): the shim never
    // creates one.
    std::error_code ec;
    std::string path = cuda::BoardPath(uuid, directory);
    if (uuid.rfind("GPU-", 0) != 0 || !std::filesystem::exists(path, ec)) continue;
    auto board = cuda::GpuBoard::Open(uuid, directory);
    if (!board) continue;
    auto reclaim = (*board)->FindReclaim(tenant);
    if (!reclaim || reclaim->time_ms < started_ms) continue;
    return "stopped to give back GPU memory lent above its request: it held " +
           Gibibytes(reclaim->bytes) + " of a " + Gibibytes(reclaim->request) + " request on " +
           uuid + ", which another task needed within its own request";
  }
  return "";
}

}  // namespace allot::agent

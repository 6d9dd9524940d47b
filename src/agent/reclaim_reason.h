// Why a dynamic fraction's task ended, when it did because another tenant of
// its GPU needed the memory lent to it above its request: the GPU
// interposer records each such reclaim in the GPU's ledger (cuda/gpu_board.h)
// before it asks the borrower to stop, and the task's shim reads it here, so
// that the task's report says so instead of a bare signal.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace allot::agent {

// The reason for the task whose environment is `env` (CUDA_VISIBLE_DEVICES
// with GPU UUIDs, ALLOT_GPU_TENANT, ALLOT_GPU_LEDGER_DIR), counting only
// reclaims recorded at or after `started_ms`; "" when there was none.
std::string ReclaimReason(const std::map<std::string, std::string>& env, int64_t started_ms);

}  // namespace allot::agent

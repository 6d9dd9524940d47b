#!/usr/bin/env bash
# The GPU interposer on a real NVIDIA GPU: never in CI (it needs the GPU
# machine; see docs/gpu-sharing.md, where the results are recorded).
#   tests/gpu/run.sh [BUILD_DIR]      (default build/)
# Builds cuda_probe against the system's libcuda.so.1 (and, where nvcc is,
# cudart_probe: the CUDA runtime and nvcc-built kernels), then checks
#   - allocation past the limit fails with out-of-memory (CUDA C++, PyTorch);
#   - PyTorch reports the limit as the total memory;
#   - two processes at 30 % and 70 % get within 5 points of that;
#   - the overhead on a PyTorch training loop (iterations per second with
#     gpu-run against without, medians of 3 runs each).
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD="${1:-build}"
ALLOT="$BUILD/src/cli/allot"
out="$(mktemp -d)"
g++ -std=c++20 -O2 -isystem /usr/local/cuda/include tests/gpu_fake/cuda_probe.cpp -o "$out/cuda_probe" \
  -L/usr/lib/x86_64-linux-gnu -lcuda -ldl -lpthread || exit 1
PROBE="$out/cuda_probe"
export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-0}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

echo "== CUDA C++: the limit on every allocation API (64Mi)"
"$ALLOT" gpu-run --memory-limit 64Mi -- "$PROBE" limit
"$ALLOT" gpu-run --memory-limit 64Mi -- "$PROBE" --via procaddress limit | grep -c '^ok'
echo "== CUDA C++: reporting"
"$ALLOT" gpu-run --memory-limit 10Gi -- "$PROBE" report 1Gi
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  NVCC="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
  "$NVCC" -std=c++17 -O2 -arch=sm_90 tests/gpu_fake/cudart_probe.cu -o "$out/cudart_probe" || exit 1
  echo "== CUDA C++ with the CUDA runtime (nvcc): the limit on cudaMalloc and friends (64Mi)"
  "$ALLOT" gpu-run --memory-limit 64Mi -- "$out/cudart_probe" limit
  echo "== CUDA C++ with the CUDA runtime: reporting"
  "$ALLOT" gpu-run --memory-limit 10Gi -- "$out/cudart_probe" report 1Gi
  echo "== CUDA C++: stream captures of a process at 30 % survive its slices"
  "$ALLOT" gpu-run --compute-share 30 --mode strict -- "$out/cudart_probe" capture 60
  "$ALLOT" gpu-run --compute-share 30 --mode strict -- "$out/cudart_probe" capture 60 blocking
else
  echo "nvcc is not installed: the CUDA runtime checks did not run"
fi

if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  T=tests/gpu/torch_checks.py
  echo "== PyTorch: reporting and out-of-memory under a 10Gi limit"
  "$ALLOT" gpu-run --memory-limit 10Gi -- python3 "$T" report
  "$ALLOT" gpu-run --memory-limit 10Gi -- python3 "$T" oom $((11 << 30))
  echo "== PyTorch: 30 % and 70 % side by side (matmuls per second, against alone)"
  python3 "$T" spin 10
  "$ALLOT" gpu-run --compute-share 30 --mode strict -- python3 "$T" spin 10 &
  "$ALLOT" gpu-run --compute-share 70 --mode strict -- python3 "$T" spin 10
  wait
  echo "== PyTorch: training loop overhead (memory limit only), 3 runs each"
  for i in 1 2 3; do
    python3 "$T" train 10
    "$ALLOT" gpu-run --memory-limit 70Gi -- python3 "$T" train 10
  done
else
  echo "PyTorch with CUDA is not installed: the PyTorch checks did not run"
fi
rm -rf "$out"

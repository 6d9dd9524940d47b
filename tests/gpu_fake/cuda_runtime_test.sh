#!/usr/bin/env bash
# The GPU interposer under a CUDA C++ program on the fake CUDA driver: the
# CUDA runtime (cudart) as nvcc links it, statically and as a shared library.
#   [CUBLAS_PROBE=...] cuda_runtime_test.sh ALLOT FAKE_GPU_DIR PROBE...
# Each PROBE is tests/gpu_fake/cudart_probe.cu built by nvcc; CUBLAS_PROBE,
# where cuBLAS is installed, is tests/gpu_fake/cublas_probe.cu.
set -euo pipefail
ALLOT="$1"
FAKE_DIR="$2"
shift 2

source "$(dirname "$0")/common.sh"

for PROBE in "$@"; do
  name="$(basename "$PROBE")"
  echo "== $name: every runtime allocation API stops at the limit, to the MiB"
  out="$(gpu_run --memory-limit 64Mi -- "$PROBE" limit 2>&1)" || fail "$name limit: $out"
  for api in cudaMalloc cudaMallocManaged cudaMallocPitch cudaMallocAsync; do
    grep -q "^$api 64 cudaErrorMemoryAllocation$" <<<"$out" || fail "$name $api: $out"
  done
  grep -q "would pass the limit of 67108864 bytes" <<<"$out" || fail "$name: no message: $out"

  echo "== $name: the runtime reports the limit as the total"
  out="$(CUDA_VISIBLE_DEVICES=1 gpu_run --memory-limit 1Gi -- "$PROBE" report 256Mi 2>&1)" ||
    fail "$name report: $out"
  grep -q "cudaMemGetInfo free 805306368 total 1073741824 used 268435456" <<<"$out" || fail "$out"
  grep -q "totalGlobalMem 1073741824" <<<"$out" || fail "$out"

  echo "== $name: what PyTorch asks of the runtime (streams, events, pinned copies) works"
  out="$(gpu_run --memory-limit 64Mi -- "$PROBE" torchlike 2>&1)" || fail "$name torchlike: $out"
  [ "$out" = "ok sum 549755289600" ] || fail "$name torchlike: $out"

  echo "== $name: what libraries ask before they launch (symbols, limits, occupancy) is answered"
  out="$(gpu_run --memory-limit 64Mi -- "$PROBE" library 2>&1)" || fail "$name library: $out"
  expected="symbol 1 2 3 4
sm_90 multiprocessors 132 shared per block opt-in 232448
blocks per multiprocessor 1, shared for one block 232448
clusters of 8 at once 16"
  [ "$out" = "$expected" ] || fail "$name library: $out"

  echo "== $name: kernels captured from a stream run as a graph"
  out="$(gpu_run --memory-limit 64Mi -- "$PROBE" capture 2>&1)" || fail "$name capture: $out"
  [ "$out" = "capturing 1, captured 3 kernels of 3000 blocks, ran" ] || fail "$name capture: $out"

  echo "== $name: a throttled process's stream captures survive its slices (global mode)"
  for stream in nonblocking blocking; do
    extra=""
    [ "$stream" = blocking ] && extra=blocking
    out="$(CUDA_VISIBLE_DEVICES=0 gpu_run --compute-share 30 --mode strict -- "$PROBE" capture 60 $extra 2>&1)" ||
      fail "$name capture on a $stream stream at 30 %: $out"
    [ "$out" = "capturing 1, captured 3 kernels of 3000 blocks, ran" ] || fail "$name: $out"
  done

  echo "== $name: kernels launched by the runtime share the GPU 30/70 (strict) over 2 s"
  export CUDA_VISIBLE_DEVICES=0
  start_ms=$(($(date +%s%3N) + 1500))
  "$ALLOT" gpu-run --compute-share 30 --mode strict -- "$PROBE" spin 2 "$start_ms" \
    >"$work/$name-30" 2>&1 &
  gpu_run --compute-share 70 --mode strict -- "$PROBE" spin 2 "$start_ms" >"$work/$name-70" 2>&1
  wait
  echo "   measured: $(share "$work/$name-30") % and $(share "$work/$name-70") %"
  within "$(share "$work/$name-30")" 30 "$name 30 % beside 70 %"
  within "$(share "$work/$name-70")" 70 "$name 70 % beside 30 %"
  unset CUDA_VISIBLE_DEVICES
done

if [ -n "${CUBLAS_PROBE:-}" ]; then
  echo "== cuBLAS starts on the fake driver under the interposer"
  out="$(gpu_run --memory-limit 1Gi -- "$CUBLAS_PROBE" 2>&1)" || fail "cuBLAS: $out"
  [ "$out" = "cublas started" ] || fail "cuBLAS: $out"
fi

echo "PASS"

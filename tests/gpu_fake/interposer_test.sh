#!/usr/bin/env bash
# The GPU interposer end to end on the fake CUDA driver and NVML:
#   interposer_test.sh ALLOT CUDA_PROBE FAKE_GPU_DIR
# Every case runs cuda_probe (a driver API program) under `allot gpu-run`.
set -euo pipefail
ALLOT="$1"
PROBE="$2"
FAKE_DIR="$3"
LIBRARY="$(dirname "$ALLOT")/../cuda/liballot-cuda.so"

source "$(dirname "$0")/common.sh"

echo "== every allocation API holds the limit to the byte, through each entry path"
for via in direct dlsym procaddress; do
  out="$(gpu_run --memory-limit 64Mi -- "$PROBE" --via "$via" limit 2>&1)" || fail "limit via $via: $out"
  [ "$(grep -c '^ok' <<<"$out")" -eq 35 ] || fail "limit via $via: $out"
done

echo "== cuGetProcAddress hands out the variant asked for, wrapped"
out="$(gpu_run --memory-limit 64Mi -- "$PROBE" entrypoints 2>&1)" || fail "entrypoints: $out"
! grep -q FAIL <<<"$out" || fail "$out"

echo "== many threads in many processes of one tenant never pass the limit"
mkfifo "$work/go"
for i in 1 2 3 4; do
  ALLOT_GPU_TENANT=crowd "$ALLOT" gpu-run --memory-limit 1Gi -- "$PROBE" threads 8 1Mi <"$work/go" >"$work/threads.$i" 2>&1 &
  pids+=($!)
done
exec 9>"$work/go"
total=0
for i in 1 2 3 4; do
  wait_for "$work/threads.$i" allocated
  total=$((total + $(awk '/allocated/ {print $2}' "$work/threads.$i")))
done
exec 9>&-
wait
[ "$total" -eq $((1 << 30)) ] || fail "4 processes x 8 threads allocated $total bytes under a 1Gi limit"

echo "== a process killed mid-allocation leaks nothing"
for delay in 0.05 0.2 0.4; do
  ALLOT_GPU_TENANT=churn "$ALLOT" gpu-run --memory-limit 256Mi -- "$PROBE" churn >"$work/churn" 2>&1 &
  victim=$!
  pids+=("$victim")
  wait_for "$work/churn" churning
  sleep "$delay"
  kill -9 "$victim"
  wait "$victim" 2>/dev/null || true
  out="$(ALLOT_GPU_TENANT=churn gpu_run --memory-limit 256Mi -- "$PROBE" alloc 256Mi 2>&1)" ||
    fail "after killing an allocating process the whole limit should be free: $out"
done

echo "== every reporting API says the limit is the total, and agrees"
out="$(CUDA_VISIBLE_DEVICES=1 gpu_run --memory-limit 1Gi -- "$PROBE" --via procaddress report 256Mi 2>&1)" ||
  fail "report: $out"
grep -q "cuMemGetInfo free 805306368 total 1073741824 used 268435456" <<<"$out" || fail "$out"
grep -q "cuDeviceTotalMem 1073741824" <<<"$out" || fail "$out"
grep -q "nvmlDeviceGetMemoryInfo total 1073741824 free 805306368 used 268435456" <<<"$out" || fail "$out"
grep -q "nvmlDeviceGetMemoryInfo_v2 total 1073741824 free 805306368 used 268435456" <<<"$out" || fail "$out"

echo "== compute shares over 2 s of the fake GPU's clock"
export CUDA_VISIBLE_DEVICES=0
gpu_run --compute-share 30 --mode strict -- "$PROBE" spin 2 >"$work/strict-alone" 2>&1
within "$(share "$work/strict-alone")" 30 "strict 30 % alone"
gpu_run --compute-share 30 --mode fair -- "$PROBE" spin 2 >"$work/fair-alone" 2>&1
awk -v v="$(share "$work/fair-alone")" 'BEGIN { exit !(v >= 90) }' ||
  fail "fair 30 % alone should use the idle GPU: $(cat "$work/fair-alone")"
for mode in strict fair; do
  # Both measure the same 2 s: a process that started first would have the
  # GPU to itself for a while, which a fair share lends it.
  start_ms=$(($(date +%s%3N) + 1500))
  "$ALLOT" gpu-run --compute-share 30 --mode "$mode" -- "$PROBE" spin 2 "$start_ms" \
    >"$work/$mode-30" 2>&1 &
  gpu_run --compute-share 70 --mode "$mode" -- "$PROBE" spin 2 "$start_ms" >"$work/$mode-70" 2>&1
  wait
  echo "   $mode measured: $(share "$work/$mode-30") % and $(share "$work/$mode-70") %"
  within "$(share "$work/$mode-30")" 30 "$mode 30 % beside 70 %"
  within "$(share "$work/$mode-70")" 70 "$mode 70 % beside 30 %"
done
unset CUDA_VISIBLE_DEVICES

echo "== a dynamic fraction's borrowed memory is taken back by stopping its process"
export ALLOT_FAKE_GPU_STATE="$work/fake-gpu-small" ALLOT_FAKE_GPU_MEMORY=8Gi
CUDA_VISIBLE_DEVICES=0 "$ALLOT" gpu-run --memory-request 2Gi --memory-limit 6Gi -- "$PROBE" hold 6Gi \
  >"$work/borrower" 2>&1 &
borrower=$!
pids+=("$borrower")
wait_for "$work/borrower" holding
out="$(CUDA_VISIBLE_DEVICES=0 gpu_run --memory-limit 6Gi -- "$PROBE" alloc 4Gi 2>&1)" ||
  fail "the owner of a 6Gi request could not get 4Gi back from a borrower: $out"
grep -q "stopping process $borrower (SIGTERM)" <<<"$out" || fail "the borrower was not named: $out"
status=0
wait "$borrower" 2>/dev/null || status=$?
[ "$status" -eq 143 ] || fail "the borrower should have been asked to stop, SIGTERM (status $status)"

echo "== a borrower that ignores SIGTERM is killed after 2 s"
CUDA_VISIBLE_DEVICES=0 "$ALLOT" gpu-run --memory-request 2Gi --memory-limit 6Gi -- \
  sh -c "trap '' TERM; exec \"$PROBE\" hold 6Gi" >"$work/stubborn" 2>&1 &
stubborn=$!
pids+=("$stubborn")
wait_for "$work/stubborn" holding
out="$(CUDA_VISIBLE_DEVICES=0 gpu_run --memory-limit 6Gi -- "$PROBE" alloc 4Gi 2>&1)" ||
  fail "the owner could not get its memory back from a borrower ignoring SIGTERM: $out"
grep -q "process $stubborn did not stop within 2 s: SIGKILL" <<<"$out" || fail "no SIGKILL named: $out"
status=0
wait "$stubborn" 2>/dev/null || status=$?
[ "$status" -eq 137 ] || fail "the stubborn borrower should have been killed (status $status)"

echo "== missing or malformed limits: fail closed, with the variable and the fix"
set +e
out="$(LD_PRELOAD="$LIBRARY" "$PROBE" alloc 1Mi 2>&1)"
status=$?
set -e
[ "$status" -eq 125 ] && grep -q "ALLOT_GPU_MEMORY_LIMIT is not set" <<<"$out" || fail "no limits: $status $out"
set +e
out="$(LD_PRELOAD="$LIBRARY" ALLOT_GPU_MEMORY_LIMIT=1Gi ALLOT_GPU_COMPUTE_SHARE=50 ALLOT_GPU_SHARE_MODE=fast \
  CUDA_VISIBLE_DEVICES=0 "$PROBE" alloc 1Mi 2>&1)"
status=$?
set -e
[ "$status" -eq 125 ] && grep -q 'ALLOT_GPU_SHARE_MODE=fast is unknown: use "strict"' <<<"$out" ||
  fail "bad mode: $status $out"
set +e
out="$(gpu_run --memory-limit 10Xi -- true 2>&1)"
status=$?
set -e
[ "$status" -eq 2 ] && grep -q -- '--memory-limit: ALLOT_GPU_MEMORY_LIMIT: "10Xi" has an unknown suffix' <<<"$out" ||
  fail "bad size: $status $out"
set +e
out="$(env -u CUDA_VISIBLE_DEVICES "$ALLOT" gpu-run --compute-share 30 -- true 2>&1)"
status=$?
set -e
[ "$status" -eq 2 ] && grep -q "set CUDA_VISIBLE_DEVICES to exactly one GPU" <<<"$out" ||
  fail "share without one GPU: $status $out"
out="$(gpu_run --memory-limit 3Gi -- sh -c 'echo "$ALLOT_GPU_MEMORY_LIMIT $ALLOT_GPU_COMPUTE_SHARE $ALLOT_GPU_SHARE_MODE"')"
[ "$out" = "3Gi 100 fair" ] || fail "gpu-run environment: $out"

echo "PASS"

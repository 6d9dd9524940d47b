#!/usr/bin/env bash
# A fractional container task under the GPU interposer on the fake CUDA
# driver and NVML (docs/isolation.md §2): `allot up` finds the fake GPU
# through NVML, the task's image holds the probe but no driver, and the
# shim binds the driver's libraries, the interposer and the GPU's ledger
# into the container. Within its fraction's GPU memory an allocation
# succeeds; past it, it fails with CUDA_ERROR_OUT_OF_MEMORY.
# Usage: container_gpu_test.sh ALLOT CUDA_PROBE FAKE_GPU_DIR. Needs root,
# podman, runc or crun and busybox-static (exit 77: skipped).
set -euo pipefail
ALLOT="$1"
PROBE="$(realpath "$2")"
FAKE_DIR="$(realpath "$3")"
if [[ "$(id -u)" != 0 ]] || ! command -v podman >/dev/null ||
  ! { command -v runc || command -v crun; } >/dev/null || ! command -v busybox >/dev/null; then
  echo "SKIP: needs root, podman, runc (or crun) and busybox-static (scripts/dev.sh deps)"
  exit 77
fi
source "$(dirname "$0")/../lib/standalone.sh"
source "$(dirname "$0")/lib.sh"
IMAGE="localhost/allot-container-gpu-test:$$"
trap 'podman rmi -f "$IMAGE" >/dev/null 2>&1 || true; cleanup' EXIT

build_busybox_image "$IMAGE" "$WORK/image" "$PROBE"
# Host tasks run the probe as their owners: from where every user can read it.
install -D -m 755 "$PROBE" "$WORK/bin/cuda_probe"
HOST_PROBE="$WORK/bin/cuda_probe"
cp -a "$FAKE_DIR" "$WORK/fake-gpu" && chmod 755 "$WORK/fake-gpu"
FAKE_DIR="$WORK/fake-gpu"
# The fake GPU (16 GiB) for the agent and the tasks; its ledger here.
mkdir -m 755 "$WORK/ledger"
export LD_LIBRARY_PATH="$FAKE_DIR" ALLOT_FAKE_GPUS=1 ALLOT_FAKE_GPU_MEMORY=16Gi \
  ALLOT_FAKE_GPU_STATE="$WORK/fake-gpu-state" ALLOT_GPU_LEDGER_DIR="$WORK/ledger"
start_standalone
DATA="$WORK/.local/share/allot"
export ALLOT_SERVER="$URL" ALLOT_TOKEN="$(cat "$DATA/admin-token")"
expect_in "$("$ALLOT" nodes)" "local .*1x" "the agent found the fake GPU through NVML"

echo "== a quarter of the GPU: 4 GiB of GPU memory, enforced in the container"
"$ALLOT" submit --name frac --gpu 0.25 --max-restarts 0 --image "$IMAGE" \
  --env ALLOT_FAKE_GPUS=1 --env ALLOT_FAKE_GPU_MEMORY=16Gi -- sh -c "
  echo preload=\$LD_PRELOAD; ls /usr/local/allot/driver
  /opt/allot-test/bin/cuda_probe alloc 3Gi; /opt/allot-test/bin/cuda_probe alloc 5Gi
  echo probe-done" >/dev/null
wait_status frac succeeded failed
out="$("$ALLOT" logs frac)"
expect_in "$out" "preload=/usr/local/allot/lib/liballot-cuda.so" "the interposer is preloaded"
expect_in "$out" "^libcuda.so.1$" "the driver's library is bound in"
expect_in "$out" "^ok$" "3 GiB fits in the fraction"
expect_in "$out" "CUDA_ERROR_OUT_OF_MEMORY" "5 GiB is past the fraction's limit"
expect_in "$out" "probe-done" "the probe ran to its end"
ls "$WORK/ledger"/allot-gpu-GPU-* >/dev/null 2>&1 || fail "no GPU ledger on the host"

echo "== memory lent to another user's dynamic fraction comes back"
# Two users (two uids) share the fake GPU: ada's dynamic fraction holds
# 10 GiB (4 GiB asked, up to 12 lent); bob's 8 GiB request needs 2 of them.
# Bob's interposer cannot signal ada's process (another uid); ada's shim
# sees the reclaim in the ledger and stops her task.
install -m 666 /dev/null "$ALLOT_FAKE_GPU_STATE"  # the fake driver's state, shared by both
for user in ada bob; do "$ALLOT" user create "$user" --role researcher:default >/dev/null; done
ADA="$("$ALLOT" token create --user ada 2>/dev/null)"
BOB="$("$ALLOT" token create --user bob 2>/dev/null)"
fake_env=(--env ALLOT_FAKE_GPUS=1 --env ALLOT_FAKE_GPU_MEMORY=16Gi
  --env "ALLOT_FAKE_GPU_STATE=$ALLOT_FAKE_GPU_STATE")
as "$ADA" "$ALLOT" submit --name lender --kind interactive --gpu-memory 4Gi --gpu-memory-limit 12Gi \
  "${fake_env[@]}" -- "$HOST_PROBE" hold 10Gi >/dev/null
wait_log lender holding
as "$BOB" "$ALLOT" submit --name taker --kind interactive --gpu-memory 8Gi "${fake_env[@]}" -- \
  sh -c "id -u; $HOST_PROBE alloc 8Gi" >/dev/null
wait_status taker succeeded failed
out="$("$ALLOT" logs taker)"
expect_in "$out" "^ok$" "bob's allocation within his request succeeds once the loan is back"
wait_status lender failed succeeded stopped
expect_in "$("$ALLOT" describe lender)" "give back GPU memory lent above its request" \
  "ada's task says why it ended"
echo "PASS"

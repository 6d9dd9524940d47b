# What the interposer's end-to-end tests share: a private fake GPU and
# ledger, failure reporting, and helpers. Sourced with ALLOT and FAKE_DIR set.
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  exec 9>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export LD_LIBRARY_PATH="$FAKE_DIR"
export ALLOT_FAKE_GPU_STATE="$work/fake-gpu-state"
export ALLOT_GPU_LEDGER_DIR="$work"
export ALLOT_FAKE_GPUS=2
export ALLOT_FAKE_GPU_MEMORY=16Gi

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# A command that fails under set -e says which, with what the probes wrote.
set -E
# (Only where errexit is on: the cases that expect a failure turn it off.)
trap 'status=$?; if [[ $- == *e* ]]; then
        echo "FAIL: line $LINENO: $BASH_COMMAND exited $status" >&2
        for f in "$work"/*-30 "$work"/*-70 "$work"/*-alone; do
          [ -f "$f" ] && { echo "-- $f" >&2; tail -n 5 "$f" >&2; }; done; fi' ERR
# In the foreground; background runs call "$ALLOT" gpu-run themselves, so that
# $! is the probe's pid (gpu-run execs the command).
gpu_run() { "$ALLOT" gpu-run "$@"; }
# Waits for a line matching $2 in file $1.
wait_for() {
  for _ in $(seq 1 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "no '$2' in $1: $(cat "$1" 2>/dev/null)"
}

# The share a spinning probe printed, and a check that it is within 5 points.
share() { awk '/share/ {print $4}' "$1"; }
within() { # value target
  awk -v v="$1" -v t="$2" 'BEGIN { exit !(v >= t - 5 && v <= t + 5) }' || fail "share $1, expected $2 +- 5 ($3)"
}

#!/usr/bin/env bash
# Start latency, submit to running, of a host task and a container task on
# an idle node (docs/benchmarks.md, "Task start"): `allot up` as root on a
# free port with simulated GPUs, then N submissions of each kind,
# alternating, one at a time. A sample is the time from just before
# `allot submit` to the first instruction of the task's own command, read
# from the host clock by both (busybox adjtimex, microseconds): the
# scheduling cycle, the agent's watch, the shim, and for a container the
# image mount, the overlay and the OCI runtime. Prints one JSON line per
# kind (median and p99 in ms) and the container's extra cost against the
# host task in the same run.
# Usage: bench/start_latency.sh PATH_TO_ALLOT [N]   (root, podman, runc, busybox-static)
set -euo pipefail
ALLOT="$(realpath "$1")"
N="${2:-50}"
[[ "$(id -u)" == 0 ]] || { echo "start_latency: run as root (containers need it)" >&2; exit 2; }
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/tests/lib/standalone.sh"
source "$ROOT/tests/isolation/lib.sh"
IMAGE="localhost/allot-start-latency:$$"
trap 'podman rmi -f "$IMAGE" >/dev/null 2>&1 || true; cleanup' EXIT
build_busybox_image "$IMAGE" "$WORK/image"
start_standalone --simulate-gpus 1xA100-80GB
DATA="$WORK/.local/share/allot"
export ALLOT_SERVER="$URL" ALLOT_TOKEN="$(cat "$DATA/admin-token")"

now_us() { echo $(( $(date +%s%N) / 1000 )); }
# The task's clock at its start: "time.tv_sec: S" and "time.tv_usec: U".
task_us() {
  local out sec usec
  out="$("$ALLOT" logs "$1")"
  sec="$(sed -n 's/.*tv_sec: *\([0-9]*\).*/\1/p' <<<"$out")"
  usec="$(sed -n 's/.*tv_usec: *\([0-9]*\).*/\1/p' <<<"$out")"
  [[ -n "$sec" && -n "$usec" ]] || fail "no clock in the logs of $1: $out"
  echo $(( sec * 1000000 + 10#$usec ))
}
sample() {  # sample NAME [--image IMAGE]: one submission's latency in microseconds
  local name="$1" start
  shift
  start="$(now_us)"
  "$ALLOT" submit --name "$name" "$@" -- busybox adjtimex >/dev/null
  wait_status "$name" succeeded
  echo $(( $(task_us "$name") - start ))
}
summary() {  # summary KIND FILE: {"kind", "median_ms", "p99_ms"}
  sort -n "$2" | awk -v kind="$1" '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    p = v[int(0.99 * (NR - 1)) + 1]
    printf "{\"bench\":\"start-latency\",\"kind\":\"%s\",\"samples\":%d,\"median_ms\":%.1f,\"p99_ms\":%.1f}\n", kind, NR, m / 1000, p / 1000 }'
}
# One of each first, unmeasured: the image's first mount, the page cache.
sample warm-host >/dev/null
sample warm-container --image "$IMAGE" >/dev/null
: >"$WORK/host" && : >"$WORK/container"
for i in $(seq "$N"); do
  sample "host-$i" >>"$WORK/host"
  sample "container-$i" --image "$IMAGE" >>"$WORK/container"
done
host="$(summary host "$WORK/host")"
container="$(summary container "$WORK/container")"
echo "$host"
echo "$container"
median() { sed -n 's/.*"median_ms":\([0-9.]*\).*/\1/p' <<<"$1"; }
awk -v h="$(median "$host")" -v c="$(median "$container")" 'BEGIN {
  printf "{\"bench\":\"start-latency\",\"container_extra_ms\":%.1f,\"container_over_host\":%.2f}\n", c - h, c / h }'

#!/usr/bin/env bash
# Container tasks end to end (docs/isolation.md §2) on `allot up` as root:
# a small image built here from Debian's static busybox (no registry is
# reachable), run by the OCI runtime from the bundle the task shim
# prepares: its environment, identity and devices, the image's defaults,
# /dev/shm, volumes, the memory limit, stop with the grace period, an agent
# restart under a running container, and a pull that fails.
# Usage: container_test.sh PATH_TO_ALLOT. Needs root, podman, runc or crun,
# and busybox-static (exit 77: skipped when any is missing).
set -euo pipefail
ALLOT="$1"
BUSYBOX="$(command -v busybox || true)"
if [[ "$(id -u)" != 0 ]] || ! command -v podman >/dev/null ||
  ! { command -v runc || command -v crun; } >/dev/null || [[ -z "$BUSYBOX" ]]; then
  echo "SKIP: needs root, podman, runc (or crun) and busybox-static (scripts/dev.sh deps)"
  exit 77
fi
source "$(dirname "$0")/../lib/standalone.sh"
source "$(dirname "$0")/lib.sh"
IMAGE="localhost/allot-container-test:$$"
trap 'podman rmi -f "$IMAGE" >/dev/null 2>&1 || true; cleanup' EXIT

echo "== a local image from busybox"
build_busybox_image "$IMAGE" "$WORK/image"

start_standalone --simulate-gpus 2xA100-80GB
DATA="$WORK/.local/share/allot"
export ALLOT_SERVER="$URL" ALLOT_TOKEN="$(cat "$DATA/admin-token")"
ADMIN_UID="$("$ALLOT" user list -o json | tr -d ' \n' | grep -o '"assigned_identity":{"gid":[0-9]*,"groups":\[\],"uid":[0-9]*' | sed 's/.*"uid"://' | head -1)"
[[ -n "$ADMIN_UID" ]] || fail "no assigned uid for admin: $("$ALLOT" user list)"

echo "== its environment, identity and devices; nothing of the host"
"$ALLOT" submit --name c-env --gpu 1 --image "$IMAGE" --env FROM_TASK=yes -- sh -c "
  echo uid=\$(id -u) gid=\$(id -g); env; ls /dev
  test -e $DATA && echo LEAK-host-files
  grep -E 'NoNewPrivs|CapEff' /proc/self/status; echo pid1=\$\$" >/dev/null
wait_status c-env succeeded
out="$("$ALLOT" logs c-env)"
expect_in "$out" "uid=$ADMIN_UID gid=$ADMIN_UID" "the container runs as its owner"
expect_in "$out" "^CUDA_VISIBLE_DEVICES=GPU-sim-local-[01]$" "the assigned GPU in its environment"
expect_in "$out" "^ALLOT_WORKLOAD=c-env$" "the agent's variables"
expect_in "$out" "^FROM_TASK=yes$" "the task's variables"
expect_in "$out" "^IMAGE_VAR=from-image$" "the image's variables"
expect_in "$out" "^HOME=/home/admin$" "HOME is the owner's directory"
expect_not_in "$out" "nvidia|LEAK-" "no device or host file it was not given"
expect_in "$out" "NoNewPrivs:[[:space:]]+1" "no_new_privs"
expect_in "$out" "CapEff:[[:space:]]+0+$" "no capabilities"
expect_in "$out" "^pid1=1$" "its own PID namespace"
out="$("$ALLOT" describe c-env)"
expect_in "$out" "Image: +$IMAGE" "describe names the image"
expect_in "$out" "Runs as: +uid $ADMIN_UID, gid $ADMIN_UID" "describe names the identity"

echo "== paths from the task's environment bind nothing of the host"
# A file only its path's 0700 directory protects (readable itself), and a
# task's links to it: the shim, as root, would reach it.
mkdir -m 700 "$WORK/private" && echo private-secret >"$WORK/private/secret"
chmod 644 "$WORK/private/secret"
mkdir -p "$WORK/bait" && chmod 755 "$WORK/bait"
ln -s "$WORK/private/secret" "$WORK/bait/libcuda.so.1"
"$ALLOT" submit --name c-bait --gpu 1 --image "$IMAGE" --env "LD_LIBRARY_PATH=$WORK/bait" \
  --env "ALLOT_HOSTFILE=$WORK/private/secret" -- sh -c \
  'cat /usr/local/allot/driver/* /etc/allot/hostfile 2>/dev/null; echo bait-done' >/dev/null
wait_status c-bait succeeded
out="$("$ALLOT" logs c-bait)"
expect_in "$out" "bait-done" "the bait task ran"
expect_not_in "$out" "private-secret" "nothing through a library path or hostfile it named"

echo "== the image's own command; /dev/shm; the owner's directory persists"
"$ALLOT" submit --name c-default --image "$IMAGE" >/dev/null
wait_status c-default succeeded
expect_in "$("$ALLOT" logs c-default)" "^default-cmd$" "the image's cmd without a command"
"$ALLOT" submit --name c-shm --image "$IMAGE" --shm-size 16Mi -- sh -c \
  'df -k /dev/shm | tail -1; echo kept > $HOME/note' >/dev/null
wait_status c-shm succeeded
expect_in "$("$ALLOT" logs c-shm)" "^shm +16384 " "--shm-size sizes /dev/shm"
[[ "$(cat "$DATA/agent/users/admin/note")" == kept ]] || fail "the owner's directory is on the host"

echo "== volumes: granted paths, read-only"
mkdir -p "$WORK/vol" && echo shared-data >"$WORK/vol/file"
"$ALLOT" quota set default --allow-path "$WORK/vol" >/dev/null
"$ALLOT" submit --name c-vol --image "$IMAGE" --volume "$WORK/vol:/data:ro" -- sh -c \
  'cat /data/file; touch /data/new 2>&1 || echo read-only' >/dev/null
wait_status c-vol succeeded
out="$("$ALLOT" logs c-vol)"
expect_in "$out" "^shared-data$" "the volume's file"
expect_in "$out" "^read-only$" "a read-only volume"
ln -s /etc "$WORK/vol/escape"
"$ALLOT" submit --name c-link --image "$IMAGE" --volume "$WORK/vol/escape:/data" -- true >/dev/null
wait_status c-link failed
expect_in "$("$ALLOT" describe c-link)" "through a symbolic link" "a link out of the grant is refused"

echo "== exit codes"
"$ALLOT" submit --name c-exit --max-restarts 0 --image "$IMAGE" -- sh -c 'echo bye; exit 3' >/dev/null
wait_status c-exit failed
expect_in "$("$ALLOT" describe c-exit)" "exited with code 3" "the container's exit code"

echo "== the memory request is the container's limit"
"$ALLOT" submit --name c-oom --memory 32Mi --max-restarts 0 --image "$IMAGE" -- tail /dev/zero >/dev/null
wait_status c-oom failed
expect_in "$("$ALLOT" describe c-oom)" "killed by signal 9|SIGKILL|signal 9" "past its memory limit"

echo "== stopped with its grace period"
"$ALLOT" submit --name c-trap --image "$IMAGE" -- sh -c \
  'trap "echo got-term; exit 0" TERM; echo ready; while true; do sleep 0.2; done' >/dev/null
"$ALLOT" submit --name c-deaf --grace-period 2 --image "$IMAGE" -- sleep 600 >/dev/null
wait_log c-trap ready
wait_status c-deaf running
wait_running_pid c-deaf
"$ALLOT" delete c-trap c-deaf >/dev/null
wait_file "$(task_dir c-trap)/exit.json"
wait_file "$(task_dir c-deaf)/exit.json"
expect_in "$(cat "$(task_dir c-trap)/output.log")" "got-term" "SIGTERM reaches the container"
expect_in "$(cat "$(task_dir c-trap)/stop.json")" '"sigkill":false' "it ended within its grace"
expect_in "$(cat "$(task_dir c-deaf)/stop.json")" '"sigkill":true' "SIGKILL after the grace"
expect_in "$(cat "$(task_dir c-deaf)/exit.json")" '"signal":9' "killed"

echo "== an agent restart leaves the container running"
"$ALLOT" submit --name c-long --image "$IMAGE" -- sh -c 'echo started; sleep 8; echo finished' >/dev/null
wait_log c-long started
kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
container_pid="$(sed -n 's/.*"container_pid":\([0-9]*\).*/\1/p' "$(task_dir c-long)/process.json")"
[[ -n "$container_pid" ]] && kill -0 "$container_pid" || fail "the container ended with its agent"
start_standalone --simulate-gpus 2xA100-80GB
export ALLOT_SERVER="$URL"
wait_status c-long succeeded
out="$("$ALLOT" logs c-long)"
expect_in "$out" "finished" "it ran to its end"
[[ "$(grep -c started <<<"$out")" == 1 ]] || fail "it started twice: $out"

echo "== a pull that fails says which image, from where, and why"
"$ALLOT" submit --name c-pull --image nosuch.invalid/team/model:1 -- true >/dev/null
wait_status c-pull failed
expect_in "$("$ALLOT" describe c-pull)" \
  "image nosuch.invalid/team/model:1 is not on this node, and pulling it from nosuch.invalid failed: .+" \
  "the pull's failure"
echo "PASS"

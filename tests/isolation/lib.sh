# What the isolation tests share (sourced after tests/lib/standalone.sh):
# expectations, waiting on workloads, and a local busybox image.
expect_in() {  # expect_in TEXT PATTERN WHAT
  grep -qE -- "$2" <<<"$1" || fail "$3: expected /$2/ in:"$'\n'"$1"
}
expect_not_in() {  # expect_not_in TEXT PATTERN WHAT
  if grep -qE -- "$2" <<<"$1"; then fail "$3: /$2/ in:"$'\n'"$1"; fi
}
expect_refused() {  # expect_refused PATTERN WHAT COMMAND...: exit 2 and the message
  local pattern="$1" what="$2" rc=0 err
  shift 2
  err="$("$@" 2>&1 >/dev/null)" || rc=$?
  [[ $rc == 2 ]] || fail "$what: exit $rc, not 2: $err"
  expect_in "$err" "$pattern" "$what"
}
status_of() { "$ALLOT" describe "$1" -o json | sed -n 's/^  "status": "\([a-z]*\)".*/\1/p'; }
wait_status() {  # wait_status NAME STATUS...
  local name="$1" s=""
  shift
  for _ in $(seq 200); do
    s="$(status_of "$name")"
    for want in "$@"; do [[ "$s" == "$want" ]] && return 0; done
    sleep 0.1
  done
  fail "$name is $s, not $*: $("$ALLOT" describe "$name")"
}
wait_log() {  # wait_log NAME PATTERN
  for _ in $(seq 200); do
    grep -qE -- "$2" <<<"$("$ALLOT" logs "$1" 2>/dev/null)" && return 0
    sleep 0.1
  done
  fail "no /$2/ in the logs of $1: $("$ALLOT" logs "$1" 2>&1)"
}
wait_file() {  # wait_file PATH
  for _ in $(seq 200); do [[ -e "$1" ]] && return 0; sleep 0.1; done
  fail "no $1"
}
# The pid the agent reported for task 0 of NAME.
running_pid() { "$ALLOT" describe "$1" -o json | sed -n 's/^ *"pid": \([0-9]*\).*/\1/p' | head -1; }
wait_running_pid() {  # wait_running_pid NAME: sets PID
  PID=""
  for _ in $(seq 100); do
    PID="$(running_pid "$1")"
    [[ -n "$PID" ]] && return 0
    sleep 0.1
  done
  fail "no pid for $1"
}
# The directory of task 0, attempt 1 of NAME on node local.
task_dir() { echo "$DATA/agent/nodes/local/tasks/$1.0.1"; }
as() {  # as TOKEN COMMAND...: a CLI command with that user's token
  local token="$1"
  shift
  ALLOT_TOKEN="$token" "$@"
}
# build_busybox_image NAME DIR [FILE...]: an image of Debian's static
# busybox (and FILEs in /opt/allot-test/bin, with the libraries they load
# at their own paths), built by podman from scratch: no registry is
# reachable. (Not at the FILEs' own paths: a container's /tmp is a tmpfs.)
build_busybox_image() {
  local name="$1" dir="$2" file lib
  shift 2
  mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc"
  cp "$(command -v busybox)" "$dir/rootfs/bin/busybox"
  for applet in sh id ls cat env echo sleep tail head df grep test touch trap true; do
    ln -sf busybox "$dir/rootfs/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/rootfs/etc/passwd"
  for file in "$@"; do
    mkdir -p "$dir/rootfs/opt/allot-test/bin" && cp -L "$file" "$dir/rootfs/opt/allot-test/bin/"
    for lib in $(ldd "$file" | grep -o '/[^ ]*' | grep -v -E 'libcuda|libnvidia'); do
      mkdir -p "$dir/rootfs$(dirname "$lib")" && cp -L "$lib" "$dir/rootfs$lib"
    done
  done
  cat >"$dir/Containerfile" <<'FILE'
FROM scratch
COPY rootfs/ /
ENV IMAGE_VAR=from-image
CMD ["/bin/sh", "-c", "echo default-cmd"]
FILE
  podman build -q -t "$name" "$dir" >/dev/null || fail "podman build $name"
}

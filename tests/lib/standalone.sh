# Sourced by the end-to-end tests that drive `allot up` (tests/cli,
# tests/e2e): a private HOME in a temporary WORK directory, `allot up` on a
# free port, and a cleanup that stops the server and the tasks it started.
# Needs ALLOT (the binary). Defines fail; start_standalone sets SERVER_PID
# and URL.
source "$(dirname "${BASH_SOURCE[0]}")/tasks.sh"
WORK="$(mktemp -d)"
# Tasks run as their owners (not root): they pass through WORK to their
# own directories under the data directory.
chmod 711 "$WORK"
export HOME="$WORK" XDG_CONFIG_HOME="" XDG_DATA_HOME="$WORK/.local/share"
unset ALLOT_SERVER ALLOT_TOKEN ALLOT_PROJECT
cleanup() {
  [[ -n "${SERVER_PID:-}" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  kill_tasks_under "$WORK"
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# Starts `allot up --port 0 ARGS...`; its output is in $WORK/up.log.
start_standalone() {
  "$ALLOT" up --port 0 "$@" >"$WORK/up.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 50); do grep -q "^allot up: http" "$WORK/up.log" && break; sleep 0.1; done
  URL="$(sed -n 's/^allot up: \(http[^ ]*\).*/\1/p' "$WORK/up.log")"
  [[ -n "$URL" ]] || fail "allot up printed no URL: $(cat "$WORK/up.log")"
}

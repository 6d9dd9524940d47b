# Sourced by the end-to-end tests that drive `allot up` (tests/cli,
# tests/e2e): a private HOME in a temporary WORK directory, `allot up` on a
# free port, and a cleanup that stops the server and the tasks it started.
# Needs ALLOT (the binary). Defines fail; start_standalone sets SERVER_PID
# and URL.
WORK="$(mktemp -d)"
export HOME="$WORK" XDG_CONFIG_HOME="" XDG_DATA_HOME=""
unset ALLOT_SERVER ALLOT_TOKEN ALLOT_PROJECT
cleanup() {
  [[ -n "${SERVER_PID:-}" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  # Tasks outlive their agent by design: end the ones the test started.
  for file in $(find "$WORK" -name process.json); do
    pid="$(grep -o '"pid":[0-9]*' "$file" | cut -d: -f2)"
    [[ -n "$pid" ]] && kill -9 -- "-$pid" 2>/dev/null || true
  done
  pkill -9 -f "task-shim $WORK" 2>/dev/null || true
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

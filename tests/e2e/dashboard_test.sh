#!/usr/bin/env bash
# The dashboard end to end in headless Chromium: `allot up` on a free port
# with a private HOME, work submitted through the CLI, then
# dashboard.e2e.mjs drives the page (login, live updates, pending reason,
# GPU map, keyboard and labels) and keeps a screenshot.
# Usage: dashboard_test.sh PATH_TO_ALLOT WEB_DIR ARTIFACT_DIR
set -euo pipefail
ALLOT="$1"
WEB_DIR="$2"
ARTIFACTS="$3"
WORK="$(mktemp -d)"
export HOME="$WORK" XDG_CONFIG_HOME="" XDG_DATA_HOME=""
unset ALLOT_SERVER ALLOT_TOKEN ALLOT_PROJECT
cleanup() {
  [[ -n "${SERVER_PID:-}" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  for file in $(find "$WORK" -name process.json); do
    pid="$(grep -o '"pid":[0-9]*' "$file" | cut -d: -f2)"
    [[ -n "$pid" ]] && kill -9 -- "-$pid" 2>/dev/null || true
  done
  pkill -9 -f "task-shim $WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$ALLOT" up --port 0 >"$WORK/up.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do grep -q "^allot up: http" "$WORK/up.log" && break; sleep 0.1; done
URL="$(sed -n 's/^allot up: \(http[^ ]*\).*/\1/p' "$WORK/up.log")"
[[ -n "$URL" ]] || fail "allot up printed no URL: $(cat "$WORK/up.log")"
TOKEN="$(cat "$WORK/.local/share/allot/admin-token")"
"$ALLOT" login --server "$URL" --token "$TOKEN" >/dev/null

# A fraction that runs and a workload that cannot fit (4 simulated GPUs).
"$ALLOT" submit --name frac --gpu 0.5 --kind interactive -- sleep 300 >/dev/null
"$ALLOT" submit --name toobig --gpu 8 -- sleep 1 >/dev/null

mkdir -p "$ARTIFACTS"
ALLOT="$ALLOT" AGENT_STATE="$WORK/.local/share/allot/agent/agent.json" node "$(dirname "$0")/dashboard.e2e.mjs" "$URL" "$TOKEN" "$WEB_DIR" "$ARTIFACTS"

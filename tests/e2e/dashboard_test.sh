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
source "$(dirname "$0")/../lib/standalone.sh"
start_standalone
TOKEN="$(cat "$WORK/.local/share/allot/admin-token")"
"$ALLOT" login --server "$URL" --token "$TOKEN" >/dev/null

# A fraction that runs and a workload that cannot fit (4 simulated GPUs).
"$ALLOT" submit --name frac --gpu 0.5 --kind interactive -- sleep 300 >/dev/null
"$ALLOT" submit --name toobig --gpu 8 --pool default,spare --max-runtime 2h -- sleep 1 >/dev/null

mkdir -p "$ARTIFACTS"
# The workspace part needs Debian's jupyter-notebook (scripts/dev.sh deps).
JUPYTER="$(command -v jupyter-notebook || true)" ALLOT="$ALLOT" AGENT_STATE="$WORK/.local/share/allot/agent/agent.json" \
  node "$(dirname "$0")/dashboard.e2e.mjs" "$URL" "$TOKEN" "$WEB_DIR" "$ARTIFACTS"

#!/usr/bin/env bash
# What serving costs and how fast it reacts (docs/benchmarks.md, "Serving"):
# `allot up` on this machine with one simulated GPU, services whose replicas
# are host processes. In the same run:
#   overhead   hey at a fixed rate (1,000 and 10,000 requests/s offered, 64
#              connections, keep-alive) against bench/gateway_tool's HTTP
#              server: direct to the replica's port and through
#              /serve/<project>/<name>/; p50 and p99 of each, median of RUNS
#   cold-start tests/serving/model_server.py: its own start (process start to
#              its port answering, run directly) against a request to the
#              service at zero (request sent to first byte); median of RUNS
#   scale-out  a 10x step of in-flight requests (4 to 40, target 4 per
#              replica): time from the step to the first new replica serving
#              and to all that the autoscaler asked for serving; median of RUNS
# Usage: bench/serve.sh PATH_TO_ALLOT PATH_TO_GATEWAY_TOOL [RUNS] (hey, curl)
set -euo pipefail
ALLOT="$(realpath "$1")"
TOOL_BUILT="$(realpath "$2")"
RUNS="${3:-3}"
for tool in hey curl; do
  command -v "$tool" >/dev/null || { echo "serve bench: needs $tool (apt-get install hey)" >&2; exit 2; }
done
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/tests/lib/standalone.sh"
PY=/usr/bin/python3
mkdir -p "$WORK/bin" && chmod 755 "$WORK/bin"
cp "$TOOL_BUILT" "$WORK/bin/gateway_tool" && cp "$ROOT/tests/serving/model_server.py" "$WORK/bin/"
chmod 755 "$WORK/bin/gateway_tool" && chmod 644 "$WORK/bin/model_server.py"
start_standalone --simulate-gpus 1xA100-80GB
export ALLOT_SERVER="$URL" ALLOT_TOKEN="$(cat "$WORK/.local/share/allot/admin-token")"
AUTH="Authorization: Bearer $ALLOT_TOKEN"
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
status() {  # status SERVICE KEY
  "$ALLOT" serve describe "$1" -o json |
    $PY -c "import json,sys; print(json.load(sys.stdin)['status'].get('$2', 0))"
}
now() { date +%s.%N; }
echo "# serve bench: $(nproc) cores, $RUNS runs, $(date -u +%F)"

# ---- overhead
"$ALLOT" serve create fast --port 8000 --min-replicas 1 --max-replicas 1 \
  -- sh -c "exec $WORK/bin/gateway_tool http \$PORT" >/dev/null
for _ in $(seq 200); do [[ "$(status fast ready)" == 1 ]] && break; sleep 0.1; done
PORT="$(grep -ho '"PORT=[0-9]*' "$WORK"/.local/share/allot/agent/nodes/local/tasks/fast-*/process.json | head -1 | cut -d= -f2)"
[[ -n "$PORT" ]] || fail "no PORT for the replica"
hey_run() {  # hey_run RATE URL [HEADER]: "p50_ms p99_ms rps"
  local out per=$(( $1 / 64 ))
  out="$(hey -z 5s -c 64 -q "$per" ${3:+-H "$3"} "$2")"
  grep -q "\[200\]" <<<"$out" || { echo "hey: no 200 replies: $out" >&2; exit 1; }
  awk '/ 50% in /{p50 = $3} / 99% in /{p99 = $3} /Requests\/sec:/{rps = $2}
       END {printf "%.3f %.3f %.0f\n", p50 * 1000, p99 * 1000, rps}' <<<"$out"
}
for rate in 1000 10000; do
  : >"$WORK/direct" && : >"$WORK/gateway"
  for _ in $(seq "$RUNS"); do
    hey_run "$rate" "http://127.0.0.1:$PORT/x" >>"$WORK/direct"
    hey_run "$rate" "$URL/serve/default/fast/x" "$AUTH" >>"$WORK/gateway"
  done
  col() { cut -d' ' -f"$1" "$WORK/$2" | median; }
  printf '{"bench":"serve-overhead","offered_rps":%d,"direct_p50_ms":%s,"direct_p99_ms":%s,"gateway_p50_ms":%s,"gateway_p99_ms":%s,"added_p50_ms":%.3f,"added_p99_ms":%.3f,"direct_rps":%s,"gateway_rps":%s}\n' \
    "$rate" "$(col 1 direct)" "$(col 2 direct)" "$(col 1 gateway)" "$(col 2 gateway)" \
    "$(echo "$(col 1 gateway) - $(col 1 direct)" | bc -l)" "$(echo "$(col 2 gateway) - $(col 2 direct)" | bc -l)" \
    "$(col 3 direct)" "$(col 3 gateway)"
done
"$ALLOT" serve delete fast >/dev/null

# ---- cold start
: >"$WORK/own" && : >"$WORK/cold"
for _ in $(seq "$RUNS"); do
  port=$(( 20000 + RANDOM % 10000 ))
  start="$(now)"
  PORT=$port $PY "$WORK/bin/model_server.py" >/dev/null 2>&1 &
  direct=$!
  until curl -s -o /dev/null "http://127.0.0.1:$port/health"; do sleep 0.005; done
  echo "$(now) - $start" | bc -l >>"$WORK/own"
  kill "$direct"
done
"$ALLOT" serve create cold --port 8000 --min-replicas 0 --max-replicas 1 --ready-path /health \
  --scale-to-zero-after 1s --stable-window 2s --panic-window 1s -- $PY "$WORK/bin/model_server.py" >/dev/null
for _ in $(seq "$RUNS"); do
  for _ in $(seq 300); do
    [[ "$(status cold ready)" == 0 && "$(status cold replicas)" == 0 ]] && break
    sleep 0.1
  done
  curl -s -o /dev/null -w '%{time_starttransfer}\n' -H "$AUTH" "$URL/serve/default/cold/predict?x=1" >>"$WORK/cold"
  sleep 2
done
printf '{"bench":"serve-cold-start","server_start_s":%s,"cold_start_first_byte_s":%s,"added_s":%.3f}\n' \
  "$(median <"$WORK/own")" "$(median <"$WORK/cold")" \
  "$(echo "$(median <"$WORK/cold") - $(median <"$WORK/own")" | bc -l)"
"$ALLOT" serve delete cold >/dev/null

# ---- scale-out on a 10x step
"$ALLOT" serve create step --port 8000 --min-replicas 1 --max-replicas 10 --target-concurrency 4 \
  --ready-path /health -- $PY "$WORK/bin/model_server.py" >/dev/null
: >"$WORK/first" && : >"$WORK/all"
for _ in $(seq "$RUNS"); do
  for _ in $(seq 900); do [[ "$(status step ready)" == 1 && "$(status step replicas)" == 1 ]] && break; sleep 0.1; done
  hey -z 8s -c 4 -H "$AUTH" "$URL/serve/default/step/predict?x=1&ms=200" >/dev/null &
  sleep 8
  start="$(now)"
  hey -z 20s -c 40 -H "$AUTH" "$URL/serve/default/step/predict?x=1&ms=200" >/dev/null &
  load=$!
  first="" all=""
  while kill -0 "$load" 2>/dev/null; do
    ready="$(status step ready)"
    desired="$(status step desired)"
    [[ -z "$first" && "$ready" -ge 2 ]] && first="$(echo "$(now) - $start" | bc -l)"
    [[ -z "$all" && "$ready" -ge 10 ]] && all="$(echo "$(now) - $start" | bc -l)"
    [[ -n "$all" ]] && break
    sleep 0.1
  done
  wait "$load" || true
  echo "${first:-nan}" >>"$WORK/first"
  echo "${all:-nan}" >>"$WORK/all"
  # Back to one replica before the next step (panic holds a stable window).
  sleep 70
done
printf '{"bench":"serve-scale-out","step":"4 to 40 in flight, target 4","first_new_replica_s":%s,"all_replicas_s":%s,"panic_window_s":6}\n' \
  "$(median <"$WORK/first")" "$(median <"$WORK/all")"

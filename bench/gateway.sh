#!/usr/bin/env bash
# What the gateway and the tunnel add (docs/benchmarks.md, "Gateway"): an
# `allot server` and an `allot agent` as root on this machine, a workspace
# serving bench/gateway_tool's HTTP, another holding WebSockets. In the same
# run, against the same server process in the task's own network:
#   latency   hey, keep-alive, 1, 64 and 512 concurrent: direct (hey inside
#             the task's network namespace, nsenter) and through the gateway;
#             p50 and p99 of each, median of RUNS runs, and what the gateway adds
#   bulk      one stream of 1 GiB: direct, through the gateway's HTTP path,
#             and through `allot port-forward`; MB/s, median of RUNS runs
#   sockets   N WebSockets held open through the gateway: the server's
#             resident memory before and after
# Usage: bench/gateway.sh PATH_TO_ALLOT PATH_TO_GATEWAY_TOOL [RUNS] [WEBSOCKETS]
# (root, hey, curl, nsenter)
set -euo pipefail
ALLOT="$(realpath "$1")"
TOOL_BUILT="$(realpath "$2")"
RUNS="${3:-3}"
[[ "$(id -u)" == 0 ]] || { echo "gateway bench: run as root (workspaces get a network of their own)" >&2; exit 2; }
for tool in hey curl nsenter; do
  command -v "$tool" >/dev/null || { echo "gateway bench: needs $tool (apt-get install hey)" >&2; exit 2; }
done
# Each open WebSocket holds two descriptors in the server and in the agent.
FDS="$(ulimit -Hn)"
WEBSOCKETS="${4:-$(( FDS / 2 - 500 < 10000 ? FDS / 2 - 500 : 10000 ))}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/tests/lib/standalone.sh"
source "$ROOT/tests/isolation/lib.sh"

mkdir -p "$WORK/bin" && chmod 755 "$WORK/bin"
cp "$TOOL_BUILT" "$WORK/bin/gateway_tool" && chmod 755 "$WORK/bin/gateway_tool"
TOOL="$WORK/bin/gateway_tool"
"$ALLOT" server --data-dir "$WORK/server" --port 0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do grep -q "^allot server: http" "$WORK/server.log" && break; sleep 0.1; done
URL="$(sed -n 's/^allot server: \(http[^ ]*\).*/\1/p' "$WORK/server.log" | head -1)"
export ALLOT_SERVER="$URL" ALLOT_TOKEN="$(cat "$WORK/server/admin-token")"
JOIN="$("$ALLOT" nodes join-token --uses 1 2>/dev/null | grep -o 'allot_join_[A-Za-z0-9_]*')"
"$ALLOT" agent --server "$URL" --join-token "$JOIN" --name bench --simulate-gpus 1xA100-80GB \
  --state-dir "$WORK/agent" --address 127.0.0.1 --listen 127.0.0.1 >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
trap 'kill $AGENT_PID $SERVER_PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do grep -q "tunnel to the server open" "$WORK/agent.log" && break; sleep 0.1; done

"$ALLOT" workspace create httpb --port 8000 -- "$TOOL" http 8000 >/dev/null
"$ALLOT" workspace create wsb --port 8001 -- "$TOOL" ws-server 8001 >/dev/null
wait_status httpb running
wait_status wsb running
GATEWAY="$URL/workspaces/default/httpb"
for _ in $(seq 100); do
  curl -sf -o /dev/null -H "Authorization: Bearer $ALLOT_TOKEN" "$GATEWAY/x" && break
  sleep 0.1
done
SHIM="$(cut -d' ' -f1 "$WORK"/agent/nodes/bench/tasks/httpb.0.*/shim.pid)"
inside() { nsenter -t "$SHIM" -n "$@"; }

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# hey's p50 and p99 in ms and its requests per second: "p50 p99 rps".
hey_run() {  # hey_run CONCURRENCY REQUESTS URL [HEADER]
  local out
  out="$("${@:5}" hey -c "$1" -n "$2" ${4:+-H "$4"} "$3")"
  grep -q "\[200\]" <<<"$out" || { echo "hey: no 200 replies: $out" >&2; exit 1; }
  awk '/ 50%% in / || / 50% in /{p50 = $3} / 99%% in / || / 99% in /{p99 = $3} /Requests\/sec:/{rps = $2}
       END {printf "%.3f %.3f %.0f\n", p50 * 1000, p99 * 1000, rps}' <<<"$out"
}

echo "# gateway bench: $(nproc) cores, $RUNS runs, $(date -u +%F)"
if [[ -n "${PROFILE:-}" ]]; then  # PROFILE=FILE: perf record the server under 64 concurrent
  perf record -g -o "$PROFILE" -p "$SERVER_PID" -- sleep 6 >/dev/null 2>&1 &
  PERF_PID=$!
  hey -c 64 -z 5s -H "Authorization: Bearer $ALLOT_TOKEN" "$GATEWAY/x" >/dev/null &
  sleep 2
  # Where the two cores go: each process's share while the load runs.
  top -b -n 1 -d 1 | sed -n '7,14p'
  wait "$PERF_PID"
  exit 0
fi
for c in 1 64 512; do
  n=$(( c == 1 ? 3000 : c * 200 ))
  : >"$WORK/direct" && : >"$WORK/gateway"
  for _ in $(seq "$RUNS"); do
    hey_run "$c" "$n" "http://127.0.0.1:8000/x" "" nsenter -t "$SHIM" -n >>"$WORK/direct"
    hey_run "$c" "$n" "$GATEWAY/x" "Authorization: Bearer $ALLOT_TOKEN" >>"$WORK/gateway"
  done
  d50="$(cut -d' ' -f1 "$WORK/direct" | median)"; d99="$(cut -d' ' -f2 "$WORK/direct" | median)"
  g50="$(cut -d' ' -f1 "$WORK/gateway" | median)"; g99="$(cut -d' ' -f2 "$WORK/gateway" | median)"
  drps="$(cut -d' ' -f3 "$WORK/direct" | median)"; grps="$(cut -d' ' -f3 "$WORK/gateway" | median)"
  printf '{"bench":"gateway-latency","concurrency":%d,"requests":%d,"direct_p50_ms":%s,"direct_p99_ms":%s,"gateway_p50_ms":%s,"gateway_p99_ms":%s,"added_p50_ms":%.3f,"added_p99_ms":%.3f,"direct_rps":%s,"gateway_rps":%s}\n' \
    "$c" "$n" "$d50" "$d99" "$g50" "$g99" "$(echo "$g50 - $d50" | bc -l)" "$(echo "$g99 - $d99" | bc -l)" "$drps" "$grps"
done

"$ALLOT" port-forward httpb 0:8000 >"$WORK/pf.log" 2>&1 &
PF_PID=$!
for _ in $(seq 50); do grep -q Forwarding "$WORK/pf.log" && break; sleep 0.1; done
LOCAL="$(sed -n 's/.*127.0.0.1:\([0-9]*\) ->.*/\1/p' "$WORK/pf.log")"
mbps() { awk '{printf "%.0f\n", $1 / 1e6}'; }
: >"$WORK/bulk-direct" && : >"$WORK/bulk-gateway" && : >"$WORK/bulk-forward"
for _ in $(seq "$RUNS"); do
  inside curl -s -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:8000/bulk" | mbps >>"$WORK/bulk-direct"
  curl -s -o /dev/null -w '%{speed_download}\n' -H "Authorization: Bearer $ALLOT_TOKEN" "$GATEWAY/bulk" |
    mbps >>"$WORK/bulk-gateway"
  curl -s -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:$LOCAL/bulk" | mbps >>"$WORK/bulk-forward"
done
kill "$PF_PID"
direct="$(median <"$WORK/bulk-direct")"
gateway="$(median <"$WORK/bulk-gateway")"
forward="$(median <"$WORK/bulk-forward")"
printf '{"bench":"gateway-bulk","bytes":1073741824,"direct_mb_s":%s,"gateway_http_mb_s":%s,"port_forward_mb_s":%s,"gateway_ratio":%.2f,"port_forward_ratio":%.2f}\n' \
  "$direct" "$gateway" "$forward" "$(echo "$gateway / $direct" | bc -l)" "$(echo "$forward / $direct" | bc -l)"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
before="$(rss_kib "$SERVER_PID")"
coproc CLIENTS { "$TOOL" ws-clients 127.0.0.1 "${URL##*:}" /workspaces/default/wsb/ "$ALLOT_TOKEN" "$WEBSOCKETS"; }
read -r -t 300 word opened <&"${CLIENTS[0]}" || { echo "ws-clients did not finish" >&2; exit 1; }
after="$(rss_kib "$SERVER_PID")"
agent="$(rss_kib "$AGENT_PID")"
exec {CLIENTS[1]}>&-
wait "$CLIENTS_PID" 2>/dev/null || true
printf '{"bench":"gateway-websockets","asked":%d,"open":%d,"server_rss_before_mib":%.1f,"server_rss_open_mib":%.1f,"server_kib_per_websocket":%.1f,"agent_rss_open_mib":%.1f}\n' \
  "$WEBSOCKETS" "$opened" "$(echo "$before / 1024" | bc -l)" "$(echo "$after / 1024" | bc -l)" \
  "$(echo "($after - $before) / $opened" | bc -l)" "$(echo "$agent / 1024" | bc -l)"

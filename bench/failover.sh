#!/usr/bin/env bash
# Failover time (docs/benchmarks.md, "High availability"): two `allot
# server`s on a PostgreSQL of this script's own (tests/lib/postgres.sh) and
# one agent with simulated GPUs. KILLS times: kill -9 the leader, submit a
# probe through the list of both servers, and time from the kill to the
# probe bound by the new leader (and to the new leader's /healthz saying
# so); then start the killed server again as a follower. Prints one JSON
# line per kill and a last line with the median and the max.
# Usage: bench/failover.sh PATH_TO_ALLOT [KILLS (20)] [LEASE_TTL (5s)]
set -euo pipefail
ALLOT="$(realpath "$1")"
KILLS="${2:-20}"
TTL="${3:-5s}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/tests/lib/tasks.sh"
source "$ROOT/tests/lib/postgres.sh"
source "$ROOT/tests/lib/wait.sh"
WORK="$(mktemp -d)"
chmod 711 "$WORK"
export HOME="$WORK" XDG_CONFIG_HOME="" XDG_DATA_HOME="$WORK/.local/share"
unset ALLOT_SERVER ALLOT_TOKEN ALLOT_PROJECT ALLOT_CA
declare -A PID URL PORT
cleanup() {
  for pid in "${PID[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  kill_tasks_under "$WORK"
  stop_postgres
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_server() {  # start_server NAME
  "$ALLOT" server --store "$PG_URL" --data-dir "$WORK/$1" --port "${PORT[$1]}" \
    --lease-ttl "$TTL" >>"$WORK/$1.log" 2>&1 &
  PID[$1]=$!
  wait_until 15 "server $1 starts" curl -sf "${URL[$1]}/healthz"
}
leads() { curl -sf "${URL[$1]}/healthz" | grep -q '"leading":true'; }
now_ms() { date +%s%3N; }

start_postgres "$WORK/pg"
for s in s1 s2; do
  PORT[$s]="$(free_port)"
  URL[$s]="http://127.0.0.1:${PORT[$s]}"
  start_server "$s"
done
export ALLOT_SERVER="${URL[s1]},${URL[s2]}"
for s in s1 s2; do [[ -e "$WORK/$s/admin-token" ]] && ALLOT_TOKEN="$(cat "$WORK/$s/admin-token")"; done
export ALLOT_TOKEN
JOIN="$("$ALLOT" nodes join-token --uses 1 2>/dev/null)"
"$ALLOT" agent --server "$ALLOT_SERVER" --join-token "$JOIN" --name a1 --simulate-gpus 8xA100-80GB \
  --state-dir "$WORK/agent" --address 127.0.0.1 --listen 127.0.0.1 >>"$WORK/agent.log" 2>&1 &
PID[agent]=$!
wait_until 30 "the agent registers" bash -c "\"$ALLOT\" nodes | grep -q ready"

bound_ms=()
for kill in $(seq "$KILLS"); do
  wait_until 30 "a server leads" bash -c "curl -s ${URL[s1]}/healthz ${URL[s2]}/healthz | grep -q '\"leading\":true'"
  if leads s1; then leader=s1 other=s2; else leader=s2 other=s1; fi
  kill -9 "${PID[$leader]}"
  killed="$(now_ms)"
  "$ALLOT" submit --name "probe-$kill" --cpu 100m -- true >/dev/null
  leading=""
  while :; do
    [[ -z "$leading" ]] && leads "$other" && leading="$(now_ms)"
    "$ALLOT" describe "probe-$kill" -o json 2>/dev/null | grep -q '"node": "a1"' && break
    (( $(now_ms) - killed < 60000 )) || fail "probe-$kill was not bound within 60 s"
    sleep 0.05
  done
  bound="$(now_ms)"
  [[ -n "$leading" ]] || leading="$bound"
  bound_ms+=($((bound - killed)))
  echo "{\"kill\":$kill,\"lease_ttl\":\"$TTL\",\"leading_ms\":$((leading - killed)),\"first_bind_ms\":$((bound - killed))}"
  start_server "$leader"
done
printf '%s\n' "${bound_ms[@]}" | sort -n | /usr/bin/python3 -c '
import json, statistics, sys
values = [int(line) for line in sys.stdin]
print(json.dumps({"name": "failover", "kills": len(values), "lease_ttl": sys.argv[1],
                  "first_bind_median_ms": statistics.median(values), "first_bind_max_ms": max(values)}))
' "$TTL"

#!/usr/bin/env bash
# A real multi-host cluster on TLS (issue 28): hosts in network namespaces
# of the test's own (tests/lib/netns.sh): PostgreSQL on one, two `allot
# server`s on two more (https with certificates from a CA of the test's
# own), two agents on two others; the CLI runs here and reaches them only
# over the network. Checks:
#   - plain HTTP from another host is refused, and a server will not listen
#     on a non-loopback address in plain text without --insecure;
#   - a distributed PyTorch job (gloo) across the two agent hosts, started
#     from the variables allot injects, all-reduces to the right sum (its
#     logs come from the agents' log endpoints over https);
#   - `allot exec` into a task through either server (agents keep a tunnel
#     to each);
#   - faults, each losing nothing acknowledged and binding nothing twice:
#     kill -9 of the leader during a 64-client submit storm; the leader cut
#     off from PostgreSQL (it stops leading, the other takes over); an agent
#     host cut off (its node is lost, its training runs again on the other,
#     and its old task is stopped when it comes back); PostgreSQL restarted
#     under load.
# Needs root (network namespaces); exits 77 (skipped) without.
# Usage: multi_host_test.sh PATH_TO_ALLOT
set -euo pipefail
ALLOT="$(realpath "$1")"
if [[ "$(id -u)" != 0 ]] || ! ip netns add "at$$-probe" 2>/dev/null; then
  echo "SKIP: needs root and network namespaces (ip netns add)"
  exit 77
fi
ip netns del "at$$-probe"
LIB="$(dirname "$0")/../lib"
source "$LIB/tasks.sh"
source "$LIB/postgres.sh"
source "$LIB/wait.sh"
source "$LIB/storm.sh"
source "$LIB/netns.sh"
source "$LIB/checks.sh"
WORK="$(mktemp -d)"
chmod 711 "$WORK"
export HOME="$WORK" XDG_CONFIG_HOME="" XDG_DATA_HOME="$WORK/.local/share"
unset ALLOT_SERVER ALLOT_TOKEN ALLOT_PROJECT ALLOT_CA
declare -A PID URL
cleanup() {
  for pid in "${PID[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  kill_tasks_under "$WORK"
  stop_postgres
  remove_network
  if [[ -n "${KEEP_WORK:-}" ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
FAIL_EXTRA='"$ALLOT" list -a | grep -v storm-; "$ALLOT" nodes; for w in probe1 probe2 train; do "$ALLOT" describe $w; done'

make_network
add_host pg 10
add_host s1 11
add_host s2 12
add_host a1 21
add_host a2 22
"$LIB/make_certs.sh" "$WORK/tls" s1 "IP:${HOST_IP[s1]}" s2 "IP:${HOST_IP[s2]}"
export ALLOT_CA="$WORK/tls/ca.pem"
PG_NETNS="$NET_TAG-pg" PG_LISTEN="${HOST_IP[pg]}" start_postgres "$WORK/pg"
PG_NETNS="$NET_TAG-pg"  # restart_postgres and stop_postgres run there too

https() { curl -sf --cacert "$ALLOT_CA" "$@"; }
leads() { https "${URL[$1]}/healthz" | grep -q '"leading":true'; }
follows() { https "${URL[$1]}/healthz" | grep -q '"leading":false'; }
start_server() {  # start_server NAME
  ip netns exec "${HOST_NS[$1]}" "$ALLOT" server --store "$PG_URL" --data-dir "$WORK/$1" --host "${HOST_IP[$1]}" \
    --port 7070 --tls-cert "$WORK/tls/$1.pem" --tls-key "$WORK/tls/$1.key" --lease-ttl 3s \
    --node-lost-after 15 --restart-backoff 1 >>"$WORK/$1.log" 2>&1 &
  PID[$1]=$!
  URL[$1]="https://${HOST_IP[$1]}:7070"
  wait_until 15 "server $1 starts" https "${URL[$1]}/healthz"
}
start_agent() {  # start_agent NAME [JOIN_TOKEN]
  ip netns exec "${HOST_NS[$1]}" "$ALLOT" agent --server "$ALLOT_SERVER" --ca "$ALLOT_CA" ${2:+--join-token "$2"} \
    --name "$1" --simulate-gpus 1xA100-80GB --state-dir "$WORK/agent-$1" \
    --address "${HOST_IP[$1]}" --listen "${HOST_IP[$1]}" >>"$WORK/agent-$1.log" 2>&1 &
  PID[agent-$1]=$!
}
now_ms() { date +%s%3N; }
leader_is_one_of() {
  local count
  count=$(for s in s1 s2; do https "${URL[$s]}/healthz" || true; done | grep -o '"leading":true' | wc -l)
  [[ "$count" == 1 ]]
}
find_leader() {
  wait_until 15 "exactly one server leads" leader_is_one_of
  if leads s1; then LEADER=s1 OTHER=s2; else LEADER=s2 OTHER=s1; fi
}

# Plain text: refused to start on an address of the network, refused from
# another host (this one, .1) on a TLS server.
if on s1 "$ALLOT" server --data-dir "$WORK/plain" --host "${HOST_IP[s1]}" --port 7071 \
  >"$WORK/plain.out" 2>&1; then
  fail "a server listened in plain text on ${HOST_IP[s1]}"
fi
grep -q -- "--tls-cert" "$WORK/plain.out" || fail "the refusal does not name --tls-cert: $(cat "$WORK/plain.out")"

start_server s1
start_server s2
export ALLOT_SERVER="${URL[s1]},${URL[s2]}"
for s in s1 s2; do [[ -e "$WORK/$s/admin-token" ]] && ALLOT_TOKEN="$(cat "$WORK/$s/admin-token")"; done
export ALLOT_TOKEN
plain="$(curl -s "http://${HOST_IP[s1]}:7070/api/v1/whoami" -H "Authorization: Bearer $ALLOT_TOKEN" || true)"
grep -q "https://" <<<"$plain" || fail "plain HTTP from another host was not refused: $plain"
find_leader
echo "leader: $LEADER"

JOIN="$("$ALLOT" nodes join-token --uses 2)"
start_agent a1 "$JOIN"
start_agent a2 "$JOIN"
wait_until 30 "both agents register over TLS" bash -c "\"$ALLOT\" nodes | grep -c ready | grep -q 2"
# Their log endpoints serve https too, with certificates the servers pin.
for a in a1 a2; do grep -q "logs at https://" "$WORK/agent-$a.log" || fail "$a's logs are not on https"; done

# PyTorch across the two agent hosts: one GPU each, so one worker on each.
"$ALLOT" submit --name allreduce --kind distributed --workers 2 --gpu 1 --max-restarts 0 \
  --env GLOO_SOCKET_IFNAME=eth0 -- /usr/bin/python3 -c '
import datetime, os, torch, torch.distributed as dist
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
rank, world = dist.get_rank(), dist.get_world_size()
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
node = os.environ["ALLOT_NODE"]
print(f"rank {rank} of {world} on {node}: sum {t.item():.0f}")
assert t.item() == world * (world + 1) / 2
' >/dev/null
finished() { status_is allreduce succeeded || status_is allreduce failed; }
wait_until 180 "the all-reduce ends" finished
logs="$("$ALLOT" logs allreduce --task 0 2>&1; "$ALLOT" logs allreduce --task 1 2>&1)"
status_is allreduce succeeded || fail "the all-reduce failed: $logs"
echo "$logs" | grep "sum"
grep -q "rank 0 of 2 on a.: sum 3" <<<"$logs" || fail "rank 0: $logs"
grep -q "rank 1 of 2 on a.: sum 3" <<<"$logs" || fail "rank 1: $logs"
[[ "$(grep -o 'on a[12]' <<<"$logs" | sort -u | wc -l)" == 2 ]] || fail "both ranks on one host: $logs"

# Fault 1: kill -9 of the leader during a storm from 64 clients.
start_storm 64 kill
sleep 0.5
kill -9 "${PID[$LEADER]}"
killed_ms="$(now_ms)"
unset "PID[$LEADER]"
wait_until 30 "$OTHER takes over" leads "$OTHER"
"$ALLOT" submit --name probe1 --cpu 100m -- sleep 30 >/dev/null
wait_until 30 "the new leader binds" bash -c "\"$ALLOT\" describe probe1 -o json | grep -q '\"node\": \"a'"
echo "kill -9: first bind by the new leader $(($(now_ms) - killed_ms)) ms after the kill"
wait "${STORM[@]}"
echo "acknowledged: $(ls "$WORK/acked" | wc -l) of 128"
CHECK_URL="${URL[$OTHER]}"
storm_settles 120 "every acknowledged submission runs once (kill -9)"
start_server "$LEADER"
follows "$LEADER" || fail "the restarted $LEADER does not follow"
find_leader

# Fault 2: the leader cut off from PostgreSQL (its packets to it vanish;
# agents and clients still reach it).
start_storm 16 cut
sleep 0.3
cut_route "$LEADER" "${HOST_IP[pg]}"
cut_ms="$(now_ms)"
wait_until 15 "the cut-off $LEADER stops leading" follows "$LEADER"
wait_until 20 "$OTHER takes over from the cut-off leader" leads "$OTHER"
echo "cut off from PostgreSQL: $OTHER leads $(($(now_ms) - cut_ms)) ms after the cut"
"$ALLOT" submit --name probe2 --cpu 100m -- true >/dev/null
wait_until 30 "probe2 runs during the cut" status_is probe2 succeeded
wait "${STORM[@]}"
heal_route "$LEADER" "${HOST_IP[pg]}"
CHECK_URL="${URL[$OTHER]}"
storm_settles 120 "every acknowledged submission runs once (cut from PostgreSQL)"
sleep 2
follows "$LEADER" || fail "$LEADER leads again beside $OTHER after the cut healed"
find_leader

# Fault 3: an agent host cut off. Its training runs again on the other
# host; its old task is stopped when it comes back, never doubled.
"$ALLOT" submit --name train --gpu 1 --preemptible -- sleep 600 >/dev/null
wait_until 30 "train runs" status_is train running
# The agents keep a tunnel to every server: a stream opens through either.
wait_until 30 "train's task runs" bash -c "\"$ALLOT\" describe train -o json | grep -q '\"state\": \"running\"'"
for s in s1 s2; do
  out="$(ALLOT_SERVER="${URL[$s]}" "$ALLOT" exec train -- echo "through-$s" 2>&1)" ||
    fail "exec through $s: $out"
  grep -q "through-$s" <<<"$out" || fail "exec through $s: $out"
done
node="$(task_node train)"
other_node=$([[ "$node" == a1 ]] && echo a2 || echo a1)
train_pids() {  # the live processes of train's tasks under the agents' directories ARGS
  local file pid
  while IFS= read -r file; do
    pid="$(grep -o '"pid":[0-9]*' "$file" | cut -d: -f2)"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
  done < <(find "$@" -path "*train*" -name process.json)
}
wait_until 15 "train's process on $node is recorded" bash -c "[[ -n \"\$(find '$WORK/agent-$node' -path '*train*' -name process.json)\" ]]"
old_pids=($(train_pids "$WORK/agent-$node"))
(( ${#old_pids[@]} == 1 )) || fail "train's process on $node: ${old_pids[*]:-none}"
cut_host "$node"
cut_ms="$(now_ms)"
wait_until 40 "$node is lost" node_is "$node" lost
echo "agent host $node cut off: its node lost after $(($(now_ms) - cut_ms)) ms"
wait_until 40 "train runs again on $other_node" runs_elsewhere train "$node"
kill -0 "${old_pids[0]}" 2>/dev/null || fail "the task on the cut-off host ended before it came back"
heal_host "$node"
wait_until 40 "$node is ready again" node_is "$node" ready
wait_until 30 "the old task on $node is stopped" bash -c "! kill -0 ${old_pids[0]} 2>/dev/null"
echo "train moved to $other_node; its old task on $node stopped when $node came back"
status_is train running || fail "train does not run after $node came back"
running_pids=$(train_pids "$WORK"/agent-a1 "$WORK"/agent-a2 | wc -l)
(( running_pids == 1 )) || fail "train runs $running_pids times"
"$ALLOT" delete train >/dev/null

# Fault 4: PostgreSQL restarts under load.
start_storm 16 pg
sleep 0.3
restart_postgres
wait "${STORM[@]}"
CHECK_URL="${URL[$LEADER]}"
storm_settles 120 "every submission acknowledged across the restart runs once"
echo "PostgreSQL restarted under load: $(ls "$WORK/acked" | wc -l) of 32 acknowledged, none lost"
echo "PASS"

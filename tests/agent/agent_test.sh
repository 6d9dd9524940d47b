#!/usr/bin/env bash
# Agents end to end, real processes on loopback (issue 5): a server and
# three agents with simulated GPUs; a distributed workload whose workers
# meet over TCP; over-quota work preempted with SIGTERM; kill -9 of an
# agent and of the server with tasks running (nothing lost, nothing run
# twice); a node that goes silent (training runs elsewhere, interactive is
# lost); join tokens refused and audited.
# Usage: agent_test.sh PATH_TO_ALLOT PATH_TO_RENDEZVOUS_WORKER
set -euo pipefail
ALLOT="$1"
WORKER="$2"
source "$(dirname "$0")/../lib/tasks.sh"
source "$(dirname "$0")/../lib/wait.sh"
source "$(dirname "$0")/../lib/checks.sh"
WORK="$(mktemp -d)"
chmod 711 "$WORK"  # tasks run as their owners and pass through to their directories
export HOME="$WORK" XDG_CONFIG_HOME="" XDG_DATA_HOME="$WORK/.local/share"
# Where tasks (which run as their owner, not root) leave what the test reads.
DROP="$WORK/drop"
mkdir -m 1777 "$DROP"
# The worker runs as a task's owner: from where every user can read it
# (the build tree may sit under a private home).
install -D -m 755 "$WORKER" "$WORK/bin/rendezvous_worker"
WORKER="$WORK/bin/rendezvous_worker"
unset ALLOT_SERVER ALLOT_TOKEN ALLOT_PROJECT
declare -A AGENT_PID
SERVER_PID=""

# Tasks outlive agents by design: the test ends them itself.
kill_tasks() { kill_tasks_under "$WORK"; }
cleanup() {
  for pid in "${AGENT_PID[@]}" $SERVER_PID; do kill -9 "$pid" 2>/dev/null || true; done
  kill_tasks
  rm -rf "$WORK"
}
trap cleanup EXIT

FAIL_EXTRA='"$ALLOT" list -a'

start_server() {  # start_server [PORT]
  "$ALLOT" server --data-dir "$WORK/server" --port "${1:-0}" --node-lost-after 4 \
    --restart-backoff 1 >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  wait_until 10 "the server starts" grep -q "^allot server: http" "$WORK/server.log"
}
start_agent() {  # start_agent NAME [JOIN_TOKEN]
  "$ALLOT" agent --server "$URL" ${2:+--join-token "$2"} --name "$1" \
    --simulate-gpus 2xA100-80GB --state-dir "$WORK/agent-$1" --address 127.0.0.1 \
    --listen 127.0.0.1 >>"$WORK/agent-$1.log" 2>&1 &
  AGENT_PID[$1]=$!
}

start_server
URL="$(sed -n 's/^allot server: \(http[^ ]*\).*/\1/p' "$WORK/server.log" | head -1)"
PORT="${URL##*:}"
export ALLOT_SERVER="$URL" ALLOT_TOKEN="$(cat "$WORK/server/admin-token")"

# Join tokens: a wrong one is refused and audited; one for three agents
# admits three and then no more.
rc=0
"$ALLOT" agent --server "$URL" --join-token allot_join_0000_bad --name n0 \
  --simulate-gpus 1xA100-80GB --state-dir "$WORK/agent-n0" --address 127.0.0.1 \
  >"$WORK/refused.log" 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "a wrong join token: exit $rc, not 2"
grep -q "join token is not valid" "$WORK/refused.log" || fail "a wrong join token says so"
"$ALLOT" audit | grep -E "anonymous .* /api/v1/agents/register +NO +401" >/dev/null ||
  fail "the refused registration is audited"
JOIN="$("$ALLOT" nodes join-token --uses 3 2>/dev/null)"
for node in n1 n2 n3; do start_agent "$node" "$JOIN"; done
for node in n1 n2 n3; do wait_until 10 "node $node registers" node_is "$node" ready; done
rc=0
"$ALLOT" agent --server "$URL" --join-token "$JOIN" --name n4 --simulate-gpus 1xA100-80GB \
  --state-dir "$WORK/agent-n4" --address 127.0.0.1 >"$WORK/reused.log" 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "a used-up join token: exit $rc, not 2"
grep -q "used up" "$WORK/reused.log" || fail "a used-up join token says so"

# A distributed workload of three workers, one per node: they meet over TCP.
"$ALLOT" submit --name ring --kind distributed --workers 3 --gpu 2 -- "$WORKER" >/dev/null
wait_until 30 "the distributed workload succeeds" status_is ring succeeded
for task in 0 1 2; do
  out="$("$ALLOT" logs ring --task "$task")"
  grep -q "worker rank $task of 3, master 127.0.0.1" <<<"$out" || fail "rank $task: $out"
done
grep -q "rank 0 met all 3 ranks" <<<"$("$ALLOT" logs ring --task 0)" || fail "rank 0 met them"
nodes="$("$ALLOT" describe ring -o json | grep -o '"previous_node": "n[0-9]"' | sort -u | wc -l)"
[[ $nodes == 3 ]] || fail "the three workers ran on three nodes ($nodes)"

# Over-quota training is preempted when another project claims its quota:
# the victim's processes get SIGTERM, and the new workload starts.
"$ALLOT" quota set department/research --gpu 6 >/dev/null
"$ALLOT" quota set borrower --department research --gpu 0 >/dev/null
"$ALLOT" quota set owner --department research --gpu 6 >/dev/null
"$ALLOT" submit --name victim --project borrower --workers 3 --gpu 2 --grace-period 5 -- \
  sh -c 'trap "echo got SIGTERM; exit 0" TERM; echo borrowing; while true; do sleep 0.1; done' \
  >/dev/null
wait_until 20 "the borrower runs" status_is victim running
wait_until 10 "the victim's processes start" \
  sh -c "\"$ALLOT\" logs victim --task 2 | grep -q borrowing"
"$ALLOT" submit --name claim --project owner --gpu 2 -- sh -c 'echo claimed' >/dev/null
wait_until 30 "the owner's workload runs and succeeds" status_is claim succeeded
"$ALLOT" logs victim --task 0 --attempt 1 | grep -q "got SIGTERM" ||
  "$ALLOT" logs victim --task 1 --attempt 1 | grep -q "got SIGTERM" ||
  "$ALLOT" logs victim --task 2 --attempt 1 | grep -q "got SIGTERM" ||
  fail "the victim received SIGTERM"
"$ALLOT" describe victim | grep -q "TaskStopped" || fail "the victim's exit is an event"
"$ALLOT" delete victim >/dev/null

# kill -9 of an agent with a task running: the task goes on, the restarted
# agent re-adopts it, it succeeds, and it ran once.
"$ALLOT" submit --name steady --gpu 1 -- \
  sh -c "echo run >> $DROP/steady.count; sleep 4; echo steady done" >/dev/null
wait_until 20 "steady runs" sh -c "test -s $DROP/steady.count"
node="$(task_node steady)"
kill -9 "${AGENT_PID[$node]}"
sleep 1
start_agent "$node"
wait_until 30 "steady succeeds after the agent restart" status_is steady succeeded
[[ "$(wc -l <"$DROP/steady.count")" == 1 ]] || fail "steady ran more than once"
grep -q "steady done" <<<"$("$ALLOT" logs steady)" || fail "steady's output survives"

# kill -9 of the server with a task running: nothing acknowledged is lost,
# the agents resync, the task completes once.
"$ALLOT" submit --name durable --gpu 1 -- \
  sh -c "echo run >> $DROP/durable.count; sleep 4; echo durable done" >/dev/null
wait_until 20 "durable runs" sh -c "test -s $DROP/durable.count"
kill -9 "$SERVER_PID"
sleep 2
start_server "$PORT"
wait_until 40 "durable succeeds after the server restart" status_is durable succeeded
[[ "$(wc -l <"$DROP/durable.count")" == 1 ]] || fail "durable ran more than once"
status_is ring succeeded || fail "the earlier workloads are still on record"

# A node that goes silent: training runs again elsewhere, interactive work
# is reported lost.
"$ALLOT" submit --name trainer --project owner --gpu 2 -- sleep 60 >/dev/null
wait_until 20 "trainer runs" status_is trainer running
node="$(task_node trainer)"
"$ALLOT" submit --name notebook --project owner --kind interactive --gpu 0.5 -- sleep 60 \
  >/dev/null
wait_until 20 "notebook runs" status_is notebook running
kill -9 "${AGENT_PID[$node]}"
wait_until 20 "node $node is lost" node_is "$node" lost
if [[ "$(task_node notebook)" == "$node" ]]; then
  wait_until 20 "the notebook on the lost node is lost" status_is notebook lost
fi
wait_until 20 "trainer runs again on another node" runs_elsewhere trainer "$node"
start_agent "$node"
wait_until 20 "node $node is ready again" node_is "$node" ready
"$ALLOT" describe trainer | grep -q "Evicted .*node $node is lost" || fail "the move is an event"

echo "agent end to end: ok"

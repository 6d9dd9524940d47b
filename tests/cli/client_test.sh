#!/usr/bin/env bash
# The CLI end to end: `allot up` on a free port with a private HOME, then
# every client command against it, human and machine output, bad input,
# and the completion scripts. Usage: client_test.sh PATH_TO_ALLOT
set -euo pipefail
ALLOT="$1"
source "$(dirname "$0")/../lib/standalone.sh"
expect_in() {  # expect_in TEXT PATTERN WHAT
  grep -qE -- "$2" <<<"$1" || fail "$3: expected /$2/ in:"$'\n'"$1"
}
expect_exit() {  # expect_exit STATUS WHAT COMMAND...: runs it, keeps its stderr in $err
  local want="$1" what="$2" rc=0
  shift 2
  err="$("$@" 2>&1 >/dev/null)" || rc=$?
  [[ $rc == "$want" ]] || fail "$what: exit $rc, not $want: $err"
}

start_standalone
expect_in "$(cat "$WORK/up.log")" "admin token: $WORK/.local/share/allot/admin-token" "up names the token file"

# Without login the local admin token is used only for the default port;
# log in to the test server with it.
TOKEN="$(cat "$WORK/.local/share/allot/admin-token")"
out="$("$ALLOT" login --server "$URL" --token "$TOKEN")"
expect_in "$out" "logged in to $URL as admin" "login"
[[ "$(stat -c %a "$WORK/.config/allot/config")" == 600 ]] || fail "config is not 0600"
echo "$TOKEN" | "$ALLOT" login --server "$URL" >/dev/null || fail "login with the token on stdin"

# Submit: whole GPUs, a fraction, one that cannot fit; the command after --.
"$ALLOT" submit --name hello -- sh -c 'echo hello' >/dev/null
"$ALLOT" submit --name frac --gpu 0.5 --kind interactive --env A=1 -- \
  sh -c 'echo "preload=$LD_PRELOAD tenant=$ALLOT_GPU_TENANT"; exec sleep 120' >/dev/null
"$ALLOT" submit --name big --gpu 8 -- sleep 1 >/dev/null
out="$("$ALLOT" submit --gpu 1 --cpu 1 --memory 1Gi -o json -- sleep 120)"
expect_in "$out" '"name": "training-[a-z0-9]{5}"' "a generated name"
for _ in $(seq 50); do
  "$ALLOT" list --status running | grep -q '^frac ' && break
  sleep 0.1
done
out="$("$ALLOT" list)"
expect_in "$out" "^NAME +PROJECT +KIND +STATUS +GPU +WORKERS +AGE +OWNER" "list header"
expect_in "$out" "^frac +default +interactive +running +0.5 +1/1 " "the fraction runs"
expect_in "$out" "^big +default +training +pending +8 +0/1 " "the 8-GPU workload waits"
out="$("$ALLOT" list --status pending -o json)"
expect_in "$out" '"name": "big"' "list -o json"
if grep -q '"name": "frac"' <<<"$out"; then fail "status filter"; fi
out="$("$ALLOT" list --limit 1 -o yaml)"
expect_in "$out" 'name: "big"' "list -o yaml"

out="$("$ALLOT" describe big)"
expect_in "$out" "^Status: +pending" "describe status"
expect_in "$out" "^Pending reason: +.*8 GPU" "describe shows the pending reason"
expect_in "$out" "Pending +queue" "describe shows the pending event"
out="$("$ALLOT" describe hello)"
expect_in "$out" "^Command: +sh -c 'echo hello'" "describe shows the command"
# The quick start: the local agent runs it, and its output is one command away.
for _ in $(seq 100); do
  "$ALLOT" list --status succeeded | grep -q '^hello ' && break
  sleep 0.1
done
expect_in "$("$ALLOT" list)" "^hello +default +training +succeeded " "hello succeeds"
expect_in "$("$ALLOT" logs hello)" "^hello$" "allot logs shows its output"
for _ in $(seq 100); do
  "$ALLOT" describe frac -o json | grep -q '"state": "running"' && break
  sleep 0.1
done
expect_in "$("$ALLOT" describe frac -o json)" '"state": "running"' "the agent reports frac running"
spec="$(cat "$WORK"/.local/share/allot/agent/nodes/local/tasks/frac.0.1/spec.json)"
expect_in "$spec" '"ALLOT_GPU_COMPUTE_SHARE": "50"' "a fraction gets the interposer's compute share"
expect_in "$spec" '"ALLOT_GPU_MEMORY_LIMIT": "42949672960"' "and its memory limit (half of 80 GiB)"
expect_in "$spec" '"CUDA_VISIBLE_DEVICES": "GPU-sim-local-[0-3]"' "and its GPU by UUID"
expect_in "$spec" '"A": "1"' "and the user's environment"
if [ -e "$(dirname "$ALLOT")/../cuda/liballot-cuda.so" ]; then
  expect_in "$("$ALLOT" logs frac)" "^preload=.*/liballot-cuda.so tenant=frac/0/1$" \
    "the fraction runs under the GPU interposer"
fi
expect_exit 2 "logs of a workload that has not run" "$ALLOT" logs big
expect_in "$out" "Bound +task 0 bound to node local" "describe shows the bind event"

out="$("$ALLOT" top)"
expect_in "$out" "^GPUs 4, allocated 1.5 \(38%\)" "top cluster line"
expect_in "$out" "^  default +4 +4 +1.5 +- +1" "top project row"
out="$("$ALLOT" nodes)"
expect_in "$out" "^local +default +4xA100-80GB .* ready +yes" "nodes"

# Quotas: a department and a project in it, then a change.
"$ALLOT" quota set department/research --gpu 2 >/dev/null
"$ALLOT" quota set vision --department research --gpu 1 --limit-gpu 2 >/dev/null
"$ALLOT" quota set vision --gpu 2 >/dev/null
out="$("$ALLOT" quota get)"
expect_in "$out" "^  vision +2 +- +2 " "quota get shows the change"

# Departments inside departments (any depth), projects as leaves, named by
# their path; deserved GPUs per model.
"$ALLOT" quota set department/research --gpu 6 >/dev/null
"$ALLOT" quota set department/research/cv --gpu 3 >/dev/null
out="$("$ALLOT" quota set research/cv/detection --gpu-model-quota A100-80GB=2)"
expect_in "$out" "project 'detection' created: deserved gpu 2 \(A100-80GB=2\)" "a project deep in the tree"
out="$("$ALLOT" quota get)"
expect_in "$out" "^  department/cv +3 " "quota get nests a department"
expect_in "$out" "^    detection +2 +A100-80GB=2 " "quota get nests its project with its GPUs per model"
"$ALLOT" quota set detection --gpu-model-limit A100-80GB=3 >/dev/null
expect_in "$("$ALLOT" quota get)" "^    detection +2 +A100-80GB=2 \(limit A100-80GB=3\) " \
  "quota get shows a per-model limit"
expect_exit 2 "a path that is not the tree's" "$ALLOT" quota set vision/cv/detection --gpu 1
expect_in "$err" "the tree has 'cv' at research/" "the wrong path names where the department is"
expect_exit 2 "a child past its parent" "$ALLOT" quota set department/research/cv/deep --gpu 4
expect_exit 2 "a department below what its children deserve" \
  "$ALLOT" quota set department/research --gpu 1
"$ALLOT" submit --name deep --project detection --gpu 1 -- sleep 30 >/dev/null
for _ in $(seq 50); do
  "$ALLOT" top | grep -qE "^    detection +2 +[0-9.]+ +1 " && break
  sleep 0.1
done
out="$("$ALLOT" top)"
expect_in "$out" "^department/research +6 +[0-9.]+ +1 " "top rolls a deep project up to the top department"
expect_in "$out" "^    detection +2 +[0-9.]+ +1 +- +0 +A100-80GB 1/2/" "top shows GPUs per model"

# Where a workload may run and for how long, as flags, shown by describe.
"$ALLOT" submit --name placed --pool spare,default --node-selector zone=a --topology-required rack \
  --topology-preferred nvlink-domain --max-runtime 1h30m --gpu 1 -- sleep 1 >/dev/null
out="$("$ALLOT" describe placed)"
expect_in "$out" "^Pools: +spare, default \(in this order\)" "describe shows the pools in order"
expect_in "$out" "^Node selector: +zone=a" "describe shows the node selector"
expect_in "$out" "^Topology: +required rack, preferred nvlink-domain" "describe shows the topology"
expect_in "$out" "^Max runtime: +90m" "describe shows the maximum run time"
expect_in "$out" "^Pending reason: +tried the pools in order: pool 'spare': .*; pool 'default': .*rack" \
  "the pending reason names the pools tried and why"
expect_exit 2 "bad max runtime" "$ALLOT" submit --name bad --max-runtime forever -- true
expect_in "$err" "max_runtime: 'forever' is not a positive duration" "bad max runtime names the field"

# A dynamic fraction: scheduled by its request, up to its limit while free.
"$ALLOT" submit --name dyn --gpu 0.25 --gpu-limit 0.5 -- sleep 1 >/dev/null
expect_in "$("$ALLOT" list)" "^dyn .* 0.25 \(up to 0.5\) " "list shows a dynamic fraction's limit"
expect_exit 2 "a limit on whole GPUs" "$ALLOT" submit --name bad --gpu 1 --gpu-limit 2 -- true
expect_in "$err" "gpu_limit: only a fraction of one GPU" "a bad limit names the field"

# Declarative specs: what describe prints submits again unchanged; unknown
# keys and bad values are named with their line.
"$ALLOT" describe placed -o yaml >"$WORK/placed.yaml"
"$ALLOT" submit -f "$WORK/placed.yaml" --name placed-again >/dev/null
spec_of() {  # the spec fields of a workload, as YAML, without what the server sets
  "$ALLOT" describe "$1" -o yaml | grep -vE '^(name|owner|status|pending_reason|reason|created_ms|revision):' |
    sed '/^assignments:/,/^[a-z_]*:/{/^assignments:/d;/^[ -]/d}; /^events:/,/^[a-z_]*:/{/^events:/d;/^[ -]/d}'
}
[[ "$(spec_of placed)" == "$(spec_of placed-again)" ]] ||
  fail "describe -o yaml did not submit again unchanged:"$'\n'"$(diff <(spec_of placed) <(spec_of placed-again))"
printf 'name: from-file\ngpu: 1\ntopology:\n  required: rack\n  around: x\ncommand: [sh, -c, "true"]\n' \
  >"$WORK/bad.yaml"
expect_exit 2 "an unknown key in a spec" "$ALLOT" submit -f "$WORK/bad.yaml"
expect_in "$err" "bad.yaml:5: unknown field 'topology.around'" "the unknown key's line"
printf 'name: from-file\nworkers: many\n' >"$WORK/bad.yaml"
expect_exit 2 "a bad value in a spec" "$ALLOT" submit -f "$WORK/bad.yaml"
expect_in "$err" "bad.yaml:2: workers" "the bad value's line"
expect_exit 2 "flags and a spec" "$ALLOT" submit -f "$WORK/placed.yaml" --gpu 2
expect_in "$err" "--gpu with -f" "flags beside -f are named"
sed 's/^name: .*/name: "from-stdin"/' "$WORK/placed.yaml" | "$ALLOT" submit -f - >/dev/null
"$ALLOT" describe from-stdin >/dev/null || fail "submit -f - reads the spec from stdin"

# Bad input: named field, exit 2, nothing changed.
expect_exit 2 "bad gpu" "$ALLOT" submit --name bad --gpu 1.5
expect_in "$err" "^allot submit: gpu: " "bad gpu names the field"
expect_exit 2 "quota past the department" "$ALLOT" quota set vision --gpu 5
if "$ALLOT" describe bad >/dev/null 2>&1; then fail "a refused submission was stored"; fi
expect_exit 2 "bad token" env ALLOT_TOKEN=allot_x_y "$ALLOT" list
expect_in "$err" "token is not valid" "bad token message"
expect_exit 1 "unreachable" env ALLOT_SERVER=http://127.0.0.1:1 "$ALLOT" list
expect_in "$err" "cannot reach the allot server" "unreachable message"

"$ALLOT" delete hello >/dev/null
out="$("$ALLOT" list --status deleted)"
expect_in "$out" "^hello " "delete marks deleted"
if "$ALLOT" list | grep -q "^hello "; then fail "list shows a deleted workload"; fi
expect_in "$("$ALLOT" list --all)" "^hello .* deleted " "list --all shows it"

# Audit: the table and the JSON-lines export (refusals included).
out="$("$ALLOT" audit --limit 100)"
expect_in "$out" "anonymous .*NO +401" "audit shows the refused token"
out="$("$ALLOT" audit --limit 1)"
expect_in "$out" "DELETE +/api/v1/workloads/hello" "audit shows the latest entry"
lines="$("$ALLOT" audit --export | grep -c '"path":')"
(( lines >= 8 )) || fail "audit export has $lines lines"

# Completion: bash completes commands and options; zsh parses and loads.
"$ALLOT" completion bash >"$WORK/allot.bash"
# shellcheck disable=SC1091
source "$WORK/allot.bash"
COMP_WORDS=(allot su); COMP_CWORD=1; _allot
[[ "${COMPREPLY[*]}" == "submit" ]] || fail "bash completion of su: ${COMPREPLY[*]}"
COMP_WORDS=(allot quota set vision --lim); COMP_CWORD=4; _allot
[[ "${COMPREPLY[*]}" == "--limit-gpu" ]] || fail "bash completion of --lim: ${COMPREPLY[*]}"
if command -v zsh >/dev/null; then
  "$ALLOT" completion zsh >"$WORK/_allot"
  zsh -n "$WORK/_allot" || fail "zsh completion syntax"
  zsh -c "autoload -U compinit; compinit -u -d $WORK/zcomp; source $WORK/_allot; whence -w _allot" \
    | grep -q "function" || fail "zsh completion does not load"
fi
echo "cli end to end: ok"

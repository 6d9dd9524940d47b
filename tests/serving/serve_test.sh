#!/usr/bin/env bash
# Inference services end to end (docs/serving.md) against `allot up` with
# one simulated GPU: a real HTTP model server (model_server.py, and a tiny
# PyTorch model where Debian's python3-torch is installed) served through
# the gateway. Load from Debian's hey grows the replicas, they shrink to the
# minimum and to zero when it stops, and a request at zero waits for the cold
# start and succeeds; a replica killed under load and a rolling update under
# load fail no request; ten services share the one GPU; streamed responses
# and request bodies pass through; who may call; bad input.
# Usage: serve_test.sh PATH_TO_ALLOT. Needs hey and curl (exit 77: skipped).
set -euo pipefail
ALLOT="$1"
PY=/usr/bin/python3
for tool in hey curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: no $tool (scripts/dev.sh deps)"; exit 77; }
done
source "$(dirname "$0")/../lib/standalone.sh"
source "$(dirname "$0")/../isolation/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
cp "$HERE/model_server.py" "$HERE/torch_server.py" "$WORK/"
chmod 644 "$WORK"/*.py
MODEL="$WORK/model_server.py"

start_standalone --simulate-gpus 1xA100-80GB
export ALLOT_SERVER="$URL" ALLOT_TOKEN="$(cat "$WORK/.local/share/allot/admin-token")"
ADMIN="$ALLOT_TOKEN"
"$ALLOT" user create ada --role researcher:default >/dev/null
"$ALLOT" quota set other --department default --gpu 0 >/dev/null
"$ALLOT" user create bob --role researcher:other >/dev/null
ADA="$("$ALLOT" token create --user ada 2>/dev/null)"
BOB="$("$ALLOT" token create --user bob 2>/dev/null)"
as_ada() { ALLOT_TOKEN="$ADA" "$ALLOT" "$@"; }
field() {  # field SERVICE JQ-LIKE-KEY: a number of describe's status
  as_ada serve describe "$1" -o json | $PY -c "import json,sys; print(json.load(sys.stdin)['status'].get('$2', 0))"
}
wait_field() {  # wait_field SERVICE KEY OP VALUE SECONDS
  local got=""
  for _ in $(seq $(($5 * 10))); do
    got="$(field "$1" "$2")"
    $PY -c "import sys; sys.exit(0 if $got $3 $4 else 1)" && return 0
    sleep 0.1
  done
  fail "$1: $2 is $got, not $3 $4 after $5 s: $(as_ada serve describe "$1")"
}
call() {  # call SERVICE PATH [curl args]: the body; fails on a non-2xx
  local service="$1" path="$2"
  shift 2
  curl -sS -f -m 90 -H "Authorization: Bearer $ADA" "$@" "$URL/serve/default/$service$path"
}

echo "== a service at zero: the first request waits for the cold start, then succeeds"
as_ada serve create model --port 8000 --gpu 0.1 --min-replicas 0 --max-replicas 4 \
  --target-concurrency 2 --stable-window 10s --panic-window 3s --scale-to-zero-after 5s \
  --ready-path /health -- $PY "$MODEL" >/dev/null
sleep 1
[[ "$(field model ready)" == 0 ]] || fail "a service with min 0 started a replica unasked"
out="$(call model "/predict?x=20")"
expect_in "$out" '"y": 41.0' "the prediction after a cold start"
expect_in "$out" '"prefix": "/serve/default/model"' "the replica is told the gateway's prefix"
expect_in "$out" '"user": "ada"' "the replica is told who called"
expect_in "$out" '"authorization": ""' "the replica never sees the token"
expect_not_in "$out" '"port": "8000"' "a host replica listens on a port the agent chose, not 8000"
[[ "$(field model cold_starts)" == 1 ]] || fail "the cold start is not counted"

echo "== load grows the replicas; a replica killed under load fails no request"
hey -z 14s -c 16 -H "Authorization: Bearer $ADA" "$URL/serve/default/model/predict?x=1&ms=100" \
  >"$WORK/hey-load.txt" 2>&1 &
HEY=$!
wait_field model ready '>=' 2 12
victim="$(pgrep -f "$MODEL" | head -1)"
kill -9 "$victim"
wait "$HEY"
expect_in "$(cat "$WORK/hey-load.txt")" '\[200\]' "answers under load"
expect_not_in "$(sed -n '/Status code distribution/,$p' "$WORK/hey-load.txt")" '\[[013-9][0-9][0-9]\]|Error distribution' \
  "no failed request under load with a replica killed"
ports="$(as_ada serve describe model -o json | $PY -c '
import json, sys
print(len(json.load(sys.stdin)["replicas"]))')"
[[ "$ports" -ge 2 ]] || fail "fewer than two replicas under load"

echo "== load stops: back to the minimum, then to zero; a request at zero succeeds"
wait_field model desired '==' 0 40
wait_field model ready '==' 0 10
out="$(call model "/predict?x=1")"
expect_in "$out" '"y": 3.0' "a request at zero after the scale-in"
[[ "$(field model cold_starts)" == 2 ]] || fail "the second cold start is not counted"

echo "== a rolling update under load fails no request"
as_ada serve update model --min-replicas 2 >/dev/null
wait_field model ready '>=' 2 20
hey -z 10s -c 8 -H "Authorization: Bearer $ADA" "$URL/serve/default/model/predict?x=1&ms=20" \
  >"$WORK/hey-roll.txt" 2>&1 &
HEY=$!
sleep 1
out="$(as_ada serve update model --env VERSION=2)"
expect_in "$out" "generation 2" "the update is a new generation"
wait "$HEY"
expect_not_in "$(sed -n '/Status code distribution/,$p' "$WORK/hey-roll.txt")" '\[[013-9][0-9][0-9]\]|Error distribution' \
  "no failed request during the rolling update"
for _ in $(seq 100); do
  gens="$(as_ada serve describe model -o json | $PY -c '
import json, sys
print(sorted(set(r["generation"] for r in json.load(sys.stdin)["replicas"])))')"
  [[ "$gens" == "[2]" ]] && break
  sleep 0.2
done
[[ "$gens" == "[2]" ]] || fail "old replicas remain after the rolling update: $gens"
expect_in "$(call model "/predict?x=1")" '"version": "2"' "the new version answers"

echo "== streamed responses and request bodies pass through as they come"
out="$($PY "$HERE/stream_client.py" "$URL/serve/default/model/stream?n=4&ms=400" "$ADA")"
first="$(head -1 <<<"$out" | cut -d' ' -f1)"
total="$(tail -1 <<<"$out" | cut -d' ' -f2)"
$PY -c "import sys; sys.exit(0 if $first < 0.5 and $total >= 1.2 else 1)" ||
  fail "the event stream was buffered: first event at $first s of $total s: $out"
head -c 5000000 /dev/urandom >"$WORK/body.bin"
want="$(sha256sum "$WORK/body.bin" | cut -d' ' -f1)"
out="$(call model /echo -X POST -H "Transfer-Encoding: chunked" --data-binary @"$WORK/body.bin")"
expect_in "$out" "\"bytes\": 5000000, \"sha256\": \"$want\"" "a chunked 5 MB request body"
out="$(call model /echo -X POST --data-binary @"$WORK/body.bin")"
expect_in "$out" "\"sha256\": \"$want\"" "a 5 MB request body with a length"

echo "== who may call"
code="$(curl -s -o /dev/null -w '%{http_code}' "$URL/serve/default/model/predict")"
[[ "$code" == 401 ]] || fail "no token: $code, not 401"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BOB" "$URL/serve/default/model/predict")"
[[ "$code" == 403 ]] || fail "another project's researcher: $code, not 403"
expect_refused "project admins" "a researcher makes a service public" \
  env ALLOT_TOKEN="$ADA" "$ALLOT" serve update model --public
"$ALLOT" serve update model --public >/dev/null
code="$(curl -s -o /dev/null -w '%{http_code}' "$URL/serve/default/model/predict")"
[[ "$code" == 200 ]] || fail "a public service without a token: $code, not 200"
audit_log="$("$ALLOT" audit --limit 1000 2>/dev/null)"
# Read whole first: grep -q stops early, and pipefail would count the
# writer's broken pipe as a failure.
grep -q "called service default/model" <<<"$audit_log" ||
  fail "calls are not audited"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADA" "$URL/serve/default/nothing/")"
[[ "$code" == 404 ]] || fail "an unknown service: $code, not 404"
as_ada serve delete model >/dev/null

echo "== ten services on fractions of one GPU all serve at once"
for i in $(seq 0 9); do
  as_ada serve create "small-$i" --port 8000 --gpu 0.1 --min-replicas 1 --ready-path /health \
    -- $PY "$MODEL" >/dev/null
done
for i in $(seq 0 9); do wait_field "small-$i" ready '==' 1 30; done
calls=()
for i in $(seq 0 9); do
  (call "small-$i" "/predict?x=$i&ms=200" >"$WORK/small-$i.out") &
  calls+=($!)
done
for pid in "${calls[@]}"; do wait "$pid" || fail "a call to a small service failed"; done
for i in $(seq 0 9); do
  expect_in "$(cat "$WORK/small-$i.out")" "\"y\": $((2 * i + 1)).0" "service small-$i"
done
# Each under the interposer's memory limit: a tenth of the 80 GiB GPU.
for i in $(seq 0 9); do
  expect_in "$(cat "$WORK/small-$i.out")" '"gpu_memory_limit": "8589934592"' "small-$i's GPU memory limit"
done
for i in $(seq 0 9); do as_ada serve delete "small-$i" >/dev/null; done

echo "== bad input changes nothing and says what to fix"
expect_refused "min_replicas: give 0 or more" "replicas below zero" \
  env ALLOT_TOKEN="$ADA" "$ALLOT" serve create bad --port 8000 --min-replicas=-1 -- true
expect_refused "min_replicas: 5 is above max_replicas 2" "min above max" \
  env ALLOT_TOKEN="$ADA" "$ALLOT" serve create bad --port 8000 --min-replicas 5 --max-replicas 2 -- true
expect_refused "no service 'nothing'" "an unknown service" env ALLOT_TOKEN="$ADA" "$ALLOT" serve describe nothing
[[ -z "$(as_ada serve list -o json | grep '"bad"' || true)" ]] || fail "a refused service was stored"

echo "== a port the server never opens: the replica stays unready, with the reason"
as_ada serve create deaf --port 8000 --min-replicas 1 --cold-start-timeout 3s -- sleep 600 >/dev/null
for _ in $(seq 100); do
  reason="$(as_ada serve describe deaf -o json | $PY -c '
import json, sys
r = json.load(sys.stdin)["replicas"]
print(r[0].get("reason", "") if r else "")')"
  [[ "$reason" == *"listens on port"* ]] && break
  sleep 0.2
done
expect_in "$reason" "listens on port" "the unready replica's reason"
body="$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $ADA" "$URL/serve/default/deaf/")"
expect_in "$body" "no ready replica after 3 s.*listens on port.* 503$" "a request to it: 503 with the reason"
as_ada serve delete deaf >/dev/null

BUSYBOX="$(command -v busybox || true)"
if [[ "$(id -u)" == 0 && -n "$BUSYBOX" ]] && command -v podman >/dev/null &&
  { command -v runc || command -v crun; } >/dev/null; then
  echo "== a container replica keeps the service's port, in a network of its own"
  IMAGE="localhost/allot-serve-test:$$"
  build_busybox_image "$IMAGE" "$WORK/image"
  as_ada serve create boxed --port 8080 --min-replicas 2 --image "$IMAGE" \
    -- sh -c 'echo "port=$PORT" >/tmp/port.txt; exec httpd -f -p "$PORT" -h /' >/dev/null
  wait_field boxed ready '==' 2 60
  for _ in 1 2 3 4; do
    expect_in "$(call boxed /tmp/port.txt)" "^port=8080$" "a container replica's PORT"
  done
  if curl -s -m 2 -o /dev/null "http://127.0.0.1:8080/tmp/port.txt"; then
    fail "a container replica's port is reachable from the node directly"
  fi
  as_ada serve delete boxed >/dev/null
  podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
else
  echo "(not root, or no podman, runc or busybox: the container replica part is skipped)"
fi

if $PY -c "import torch" 2>/dev/null; then
  echo "== a tiny PyTorch model built in the test answers predictions"
  as_ada serve create torch --port 8000 --min-replicas 1 --ready-path /health \
    -- $PY "$WORK/torch_server.py" >/dev/null
  wait_field torch ready '==' 1 120
  out="$(call torch /predict -X POST -H 'Content-Type: application/json' -d '{"x": [1.0, 2.0, 3.0, 4.0]}')"
  want="$($PY "$WORK/torch_server.py" --predict 1 2 3 4)"
  expect_in "$out" "\"y\": $want" "the model's prediction through the gateway"
  as_ada serve delete torch >/dev/null
else
  echo "(no python3-torch: the PyTorch model part is skipped)"
fi
echo "PASS"

#!/usr/bin/env bash
# Workspaces through the gateway (docs/workspaces.md, docs/gateway.md), end
# to end with a real Jupyter server (Debian's jupyter-notebook): create one,
# open it through the gateway, run code in a kernel over its WebSocket (the
# task's GPUs and its owner's uid), stop, start, and find a file written
# before the stop; 401 without credentials, 403 for another project, the
# page's session cookie, the task's port unreachable from the node;
# port-forward carrying an echo both ways; exec with its output and exit
# code, -it under a real terminal (tmux); the tunnel after an agent restart.
# Usage: workspace_test.sh PATH_TO_ALLOT. Needs root, jupyter-notebook and
# tmux (exit 77: skipped).
set -euo pipefail
ALLOT="$1"
PY=/usr/bin/python3
if [[ "$(id -u)" != 0 ]]; then
  echo "SKIP: workspaces run in a network of their own under an agent running as root"
  exit 77
fi
for tool in jupyter-notebook tmux curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: no $tool (scripts/dev.sh deps)"; exit 77; }
done
source "$(dirname "$0")/../lib/standalone.sh"
source "$(dirname "$0")/../isolation/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
TMUX_SESSION="allot-exec-$$"

"$ALLOT" server --data-dir "$WORK/server" --port 0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do grep -q "^allot server: http" "$WORK/server.log" && break; sleep 0.1; done
URL="$(sed -n 's/^allot server: \(http[^ ]*\).*/\1/p' "$WORK/server.log" | head -1)"
[[ -n "$URL" ]] || fail "the server did not start: $(cat "$WORK/server.log")"
export ALLOT_SERVER="$URL" ALLOT_TOKEN="$(cat "$WORK/server/admin-token")"
ADMIN="$ALLOT_TOKEN"
JOIN="$("$ALLOT" nodes join-token --uses 5 2>/dev/null | grep -o 'allot_join_[A-Za-z0-9_]*')"
start_agent() {
  "$ALLOT" agent --server "$URL" --join-token "$JOIN" --name ws-node --simulate-gpus 2xA100-80GB \
    --state-dir "$WORK/agent" --address 127.0.0.1 --listen 127.0.0.1 >>"$WORK/agent.log" 2>&1 &
  AGENT_PID=$!
  for _ in $(seq 100); do grep -q "tunnel to the server open" "$WORK/agent.log" && return 0; sleep 0.1; done
  fail "the agent opened no tunnel: $(cat "$WORK/agent.log")"
}
start_agent
trap 'kill $AGENT_PID $SERVER_PID 2>/dev/null || true; tmux kill-session -t "$TMUX_SESSION" 2>/dev/null || true; cleanup' EXIT

"$ALLOT" quota set department/default --gpu 2 >/dev/null
"$ALLOT" quota set default --department default --gpu 2 >/dev/null
"$ALLOT" quota set other --department default --gpu 0 >/dev/null
"$ALLOT" user create ada --role researcher:default >/dev/null
"$ALLOT" user create bob --role researcher:other >/dev/null
ADA="$("$ALLOT" token create --user ada 2>/dev/null)"
BOB="$("$ALLOT" token create --user bob 2>/dev/null)"
ADA_UID="$("$ALLOT" user list | awk '$1 == "ada" {print $3}' | cut -d: -f1)"

echo "== a Jupyter workspace on a GPU, created and opened through the gateway"
ALLOT_TOKEN="$ADA" "$ALLOT" workspace create nb --gpu 1 --jupyter >/dev/null
wait_status nb running
BASE="$URL/workspaces/default/nb/"
code=""
for _ in $(seq 100); do
  code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADA" "${BASE}api/status")"
  [[ "$code" == 200 ]] && break
  sleep 0.2
done
[[ "$code" == 200 ]] || fail "Jupyter does not answer through the gateway: $code; $("$ALLOT" logs nb)"
out="$(ALLOT_TOKEN="$ADA" "$ALLOT" workspace open nb --no-browser 2>&1)"
expect_in "$out" "^$BASE\$" "workspace open prints the URL"
out="$(ALLOT_TOKEN="$ADA" "$ALLOT" workspace list)"
expect_in "$out" "nb +default +running +jupyter" "workspace list"

echo "== code in a kernel over its WebSocket: the task's GPU, the owner's uid"
out="$($PY "$HERE/kernel_client.py" "$BASE" "$ADA" $'import os\nprint(os.environ["CUDA_VISIBLE_DEVICES"], os.getuid())\nopen("kept.txt", "w").write("kept before the stop")')"
expect_in "$out" "^GPU-[A-Za-z0-9-]+ $ADA_UID\$" "the kernel runs with the task's GPU as ada"

echo "== who may open it"
code="$(curl -s -o /dev/null -w '%{http_code}' "${BASE}tree")"
[[ "$code" == 401 ]] || fail "no credentials: $code, not 401"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BOB" "${BASE}tree")"
[[ "$code" == 403 ]] || fail "another project's researcher: $code, not 403"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "${BASE}tree")"
[[ "$code" == 200 ]] || fail "an admin: $code, not 200"
audit_log="$("$ALLOT" audit --limit 1000 2>/dev/null)"
# Read whole first: grep -q stops early, and pipefail would count the
# writer's broken pipe as a failure.
grep -q "opened workspace default/nb" <<<"$audit_log" ||
  fail "the opening is not audited: $("$ALLOT" audit --limit 20)"
cookie="$(curl -s -D - -o /dev/null -X POST -d "{}" -H "Authorization: Bearer $ADA" "$URL/api/v1/session" |
  sed -n "s/^set-cookie: \\(allot_token=[^;]*\\);.*HttpOnly.*/\\1/Ip" | tr -d '\r')"
[[ -n "$cookie" ]] || fail "the session route set no HttpOnly cookie"
page="$(curl -s -b "$cookie" "${BASE}tree")"
expect_in "$page" "<title>Home Page - Select or create a notebook</title>" "the tree page with the cookie"
code="$(curl -s -o /dev/null -w '%{http_code}' -b "allot_token=allot_bad_x" "${BASE}tree")"
[[ "$code" == 401 ]] || fail "a bad cookie: $code, not 401"
if curl -s -m 2 -o /dev/null "http://127.0.0.1:8888/"; then
  fail "the workspace's port is reachable from the node directly"
fi

echo "== what the task sees of a request: never allot's credentials"
cat >"$WORK/headers.py" <<'PYEOF'
import http.server, os
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(self.headers).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Echo).serve_forever()
PYEOF
chmod 644 "$WORK/headers.py"
ALLOT_TOKEN="$ADA" "$ALLOT" workspace create hdr --port 9000 -- $PY "$WORK/headers.py" >/dev/null
wait_status hdr running
seen=""
for _ in $(seq 50); do
  seen="$(curl -s -f -H "Authorization: Bearer $ADA" "$URL/workspaces/default/hdr/x")" && break
  sleep 0.2
done
expect_in "$seen" "X-Forwarded-User: ada" "the task is told who sent the request"
expect_not_in "$seen" "Authorization|$ADA" "the task sees no bearer token"
seen="$(curl -s -b "$cookie; theirs=kept" "$URL/workspaces/default/hdr/x")"
expect_in "$seen" "Cookie: theirs=kept" "the task's own cookies pass"
expect_not_in "$seen" "allot_token|${cookie#allot_token=}" "the task sees no session cookie"
ALLOT_TOKEN="$ADA" "$ALLOT" workspace delete hdr >/dev/null

echo "== exec: output and exit code, as the owner"
out="$(ALLOT_TOKEN="$ADA" "$ALLOT" exec nb -- sh -c 'id -u; echo err >&2; exit 7' 2>&1)" && rc=0 || rc=$?
[[ $rc == 7 ]] || fail "exec: exit $rc, not 7: $out"
expect_in "$out" "^$ADA_UID\$" "exec runs as ada"
expect_in "$out" "^err\$" "exec carries stderr"
out="$(echo piped | ALLOT_TOKEN="$ADA" "$ALLOT" exec -i nb -- cat)"
[[ "$out" == piped ]] || fail "exec -i carries stdin: '$out'"
expect_refused "exec into" "bob may not exec" env ALLOT_TOKEN="$BOB" "$ALLOT" exec nb -- true
tmux new-session -d -s "$TMUX_SESSION" -x 120 -y 40 \
  "ALLOT_SERVER=$URL ALLOT_TOKEN=$ADA $ALLOT exec -it nb -- sh; echo EXITED \$? > $WORK/it.rc"
sleep 1
tmux send-keys -t "$TMUX_SESSION" 'tty; stty size; echo marker-$((6*7))' Enter
for _ in $(seq 50); do tmux capture-pane -p -t "$TMUX_SESSION" | grep -q "marker-42" && break; sleep 0.1; done
pane="$(tmux capture-pane -p -t "$TMUX_SESSION")"
expect_in "$pane" "/dev/pts/" "exec -it gives the command a terminal"
expect_in "$pane" "^40 120" "the terminal has the client's size"
expect_in "$pane" "marker-42" "exec -it runs what is typed"
tmux send-keys -t "$TMUX_SESSION" 'exit 5' Enter
wait_file "$WORK/it.rc"
[[ "$(cat "$WORK/it.rc")" == "EXITED 5" ]] || fail "exec -it exit: $(cat "$WORK/it.rc")"

echo "== port-forward: an echo both ways"
cat >"$WORK/echo.py" <<'PYEOF'
import os, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen()
while True:
    c, _ = s.accept()
    data = b""
    while not data.endswith(b"\n"):
        chunk = c.recv(65536)
        if not chunk: break
        data += chunk
    c.sendall(b"echo:" + data); c.close()
PYEOF
chmod 644 "$WORK/echo.py"
ALLOT_TOKEN="$ADA" "$ALLOT" workspace create echo --port 7000 -- $PY "$WORK/echo.py" >/dev/null
wait_status echo running
ALLOT_TOKEN="$ADA" "$ALLOT" port-forward echo 0:7000 >"$WORK/pf.log" 2>&1 &
PF_PID=$!
wait_file "$WORK/pf.log"
for _ in $(seq 50); do grep -q Forwarding "$WORK/pf.log" && break; sleep 0.1; done
LOCAL="$(sed -n 's/.*127.0.0.1:\([0-9]*\) ->.*/\1/p' "$WORK/pf.log")"
echo_once() {  # echo_once [LOCAL_PORT]
  $PY -c "
import socket, sys
s = socket.create_connection(('127.0.0.1', ${1:-$LOCAL})); s.sendall(b'x' * 100000 + b'\n')
data = b''
while True:
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
sys.stdout.write('%d %s' % (len(data), data[:5].decode()))"
}
out=""
for _ in $(seq 50); do out="$(echo_once 2>/dev/null)" && [[ "$out" == "100006 echo:" ]] && break; sleep 0.2; done
[[ "$out" == "100006 echo:" ]] || fail "port-forward echo: '$out' $(cat "$WORK/pf.log")"

echo "== a task on the node's network: only its own user's listeners are reached"
ALLOT_TOKEN="$ADA" "$ALLOT" submit --name plain --kind interactive --env PORT=7100 -- $PY "$WORK/echo.py" >/dev/null
wait_status plain running
ALLOT_TOKEN="$ADA" "$ALLOT" port-forward plain 0:7100 >"$WORK/pf-plain.log" 2>&1 &
PLAIN_PID=$!
for _ in $(seq 50); do grep -q Forwarding "$WORK/pf-plain.log" && break; sleep 0.1; done
PLAIN="$(sed -n 's/.*127.0.0.1:\([0-9]*\) ->.*/\1/p' "$WORK/pf-plain.log")"
out=""
for _ in $(seq 50); do out="$(echo_once "$PLAIN" 2>/dev/null)" && [[ "$out" == "100006 echo:" ]] && break; sleep 0.2; done
[[ "$out" == "100006 echo:" ]] || fail "port-forward to a host task's own port: '$out'"
kill "$PLAIN_PID"
SERVER_PORT="${URL##*:}"
ALLOT_TOKEN="$ADA" "$ALLOT" port-forward plain "0:$SERVER_PORT" >"$WORK/pf-server.log" 2>&1 &
PLAIN_PID=$!
for _ in $(seq 50); do grep -q Forwarding "$WORK/pf-server.log" && break; sleep 0.1; done
ROOTS="$(sed -n 's/.*127.0.0.1:\([0-9]*\) ->.*/\1/p' "$WORK/pf-server.log")"
curl -s -m 5 -o /dev/null "http://127.0.0.1:$ROOTS/healthz" && fail "a port-forward reached the server's own port"
for _ in $(seq 50); do grep -q "nothing of the task's user" "$WORK/pf-server.log" && break; sleep 0.1; done
expect_in "$(cat "$WORK/pf-server.log")" "nothing of the task's user \(uid $ADA_UID\) listens on port $SERVER_PORT" \
  "port-forward says why it refused the server's port"
kill "$PLAIN_PID"
ALLOT_TOKEN="$ADA" "$ALLOT" delete plain >/dev/null

echo "== the tunnel after an agent restart"
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
start_agent
out=""
for _ in $(seq 50); do out="$(echo_once 2>/dev/null)" && [[ "$out" == "100006 echo:" ]] && break; sleep 0.2; done
[[ "$out" == "100006 echo:" ]] || fail "port-forward after the agent restarted: '$out'"
kill "$PF_PID"

echo "== stop and start: the owner's files stay"
ALLOT_TOKEN="$ADA" "$ALLOT" workspace stop nb >/dev/null
wait_status nb stopped
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADA" "${BASE}api/status")"
[[ "$code" == 503 ]] || fail "a stopped workspace: $code, not 503"
expect_refused "nothing to stop" "stopping a stopped workspace" env ALLOT_TOKEN="$ADA" "$ALLOT" workspace stop nb
ALLOT_TOKEN="$ADA" "$ALLOT" workspace start nb >/dev/null
wait_status nb running
for _ in $(seq 100); do
  code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADA" "${BASE}api/status")"
  [[ "$code" == 200 ]] && break
  sleep 0.2
done
out="$($PY "$HERE/kernel_client.py" "$BASE" "$ADA" 'print(open("kept.txt").read())')"
[[ "$out" == "kept before the stop" ]] || fail "the file written before the stop: '$out'"

echo "== bad input"
expect_refused "give --jupyter" "a workspace without a port" env ALLOT_TOKEN="$ADA" "$ALLOT" workspace create bad -- true
expect_refused "not interactive" "stop on training" sh -c "\"$ALLOT\" submit --name tr -- sleep 30 >/dev/null && \"$ALLOT\" workspace stop tr"
ALLOT_TOKEN="$ADA" "$ALLOT" workspace delete nb >/dev/null
wait_status nb deleted
echo "PASS"

#!/usr/bin/env bash
# Every task runs isolated, as its owner (docs/isolation.md), end to end on
# `allot up` started as root: the attack of issue 25 (a researcher's task
# reading the admin token), identities, root only where granted, refused
# volumes, images and identities, the persistent working directory, and
# users and tokens from the CLI with revocation at once.
# Usage: isolation_test.sh PATH_TO_ALLOT. Needs root (exit 77: skipped).
set -euo pipefail
ALLOT="$1"
if [[ "$(id -u)" != 0 ]]; then
  echo "SKIP: tasks switch to their owners' identities only under an agent running as root"
  exit 77
fi
source "$(dirname "$0")/../lib/standalone.sh"
source "$(dirname "$0")/lib.sh"

start_standalone
DATA="$WORK/.local/share/allot"
export ALLOT_SERVER="$URL" ALLOT_TOKEN="$(cat "$DATA/admin-token")"
TASKS="$DATA/agent/nodes/local/tasks"

echo "== the server's files are its own"
[[ "$(stat -c %a "$DATA")" == 711 ]] || fail "the data directory is $(stat -c %a "$DATA"), not 711"
for file in admin-token allot.db; do
  [[ "$(stat -c %a "$DATA/$file")" == 600 ]] || fail "$file is not 0600"
done

echo "== users: assigned identities, admin-set identities"
"$ALLOT" quota set other --department default --gpu 0 >/dev/null
out="$("$ALLOT" user create ada --role researcher:default)"
expect_in "$out" "uid:gid 2000[0-9][0-9]:2000[0-9][0-9] \(assigned" "ada gets an assigned uid"
ADA_UID="$(sed -n 's/.*uid:gid \([0-9]*\):.*/\1/p' <<<"$out")"
"$ALLOT" user create bob --role researcher:other --uid 3001 --gid 3001 --groups 3100 >/dev/null
out="$("$ALLOT" user list)"
expect_in "$out" "bob +researcher:other +3001:3001 \+3100 +admin" "user list shows bob's identity"
expect_in "$out" "ada +researcher:default +$ADA_UID:$ADA_UID +assigned" "user list shows ada's"
ADA="$("$ALLOT" token create --user ada 2>/dev/null)"
BOB="$("$ALLOT" token create --user bob 2>/dev/null)"

echo "== another project's task, and the attack of issue 25"
as "$BOB" "$ALLOT" submit --project other --name bob-long -- \
  sh -c 'echo bob-secret > "$HOME/secret"; echo bob-log-secret; id; exec sleep 300' >/dev/null
wait_status bob-long running
for _ in $(seq 50); do grep -q bob-log-secret "$TASKS/bob-long.0.1/output.log" 2>/dev/null && break; sleep 0.1; done
wait_running_pid bob-long
BOB_PID="$PID"
expect_in "$(as "$BOB" "$ALLOT" logs bob-long)" "uid=3001 gid=3001 groups=.*3100" \
  "bob's task runs as bob's identity"
BOB_DIR="$TASKS/bob-long.0.1"
as "$ADA" "$ALLOT" submit --name attack -- sh -c "
  echo uid=\$(id -u) gid=\$(id -g)
  cat $DATA/admin-token && echo LEAK-admin-token
  head -c 16 $DATA/allot.db && echo LEAK-database
  cat $DATA/agent/agent.json && echo LEAK-agent-token
  ls $DATA $DATA/agent $TASKS && echo LEAK-listing
  cat $BOB_DIR/output.log && echo LEAK-other-log
  cat $BOB_DIR/spec.json && echo LEAK-other-spec
  ls $BOB_DIR/work && echo LEAK-other-work
  cat $DATA/agent/users/bob/secret && echo LEAK-other-home
  touch $DATA/agent/planted && echo LEAK-write-agent
  touch $BOB_DIR/planted && echo LEAK-write-other-task
  touch $TASKS/attack.0.1/planted && echo LEAK-write-own-task-dir
  kill -0 $BOB_PID && echo LEAK-signal
  cat /proc/$BOB_PID/environ && echo LEAK-environ
  grep NoNewPrivs /proc/self/status
  echo attack-done" >/dev/null
wait_status attack succeeded failed
out="$(as "$ADA" "$ALLOT" logs attack)"
expect_in "$out" "attack-done" "the attack ran to its end"
expect_in "$out" "uid=$ADA_UID gid=$ADA_UID" "a researcher's task runs as its owner, not root"
expect_not_in "$out" "LEAK-" "a researcher's task reads, writes or signals nothing of others"
expect_not_in "$out" "allot_[0-9a-f]{16}_" "no token in the attack's output"
expect_in "$out" "NoNewPrivs:[[:space:]]+1" "no_new_privs is set"
[[ ! -e "$DATA/agent/planted" && ! -e "$BOB_DIR/planted" ]] || fail "the attack planted a file"
kill -0 "$BOB_PID" || fail "bob's task did not survive the attack"

echo "== the owner's working directory outlives its tasks"
as "$ADA" "$ALLOT" submit --name note-write -- sh -c 'echo kept > "$HOME/note"; pwd' >/dev/null
wait_status note-write succeeded
as "$ADA" "$ALLOT" submit --name note-read -- sh -c 'cat "$HOME/note"; echo "home=$HOME"' >/dev/null
wait_status note-read succeeded
out="$(as "$ADA" "$ALLOT" logs note-read)"
expect_in "$out" "^kept$" "a file written by an earlier task is there"
expect_in "$out" "home=$DATA/agent/users/ada" "HOME is the owner's directory"
[[ "$(stat -c '%u %a' "$DATA/agent/users/ada")" == "$ADA_UID 700" ]] ||
  fail "ada's directory is $(stat -c '%u %a' "$DATA/agent/users/ada")"

echo "== root only where an admin granted it, audited"
count="$("$ALLOT" list -o json | grep -c '"name"')"
expect_refused "project default does not allow tasks to run as root.*--allow-root" \
  "root without the grant" as "$ADA" "$ALLOT" submit --name as-root --as-root -- id
DEE="$("$ALLOT" user create dee --role department-admin:department/default >/dev/null &&
  "$ALLOT" token create --user dee 2>/dev/null)"
expect_refused "admins grant host access" "a department admin cannot grant root" \
  as "$DEE" "$ALLOT" quota set other --allow-root
as "$DEE" "$ALLOT" quota set other --weight 2 >/dev/null || fail "a department admin sets quota"
expect_refused "setting a user's Unix identity" "a department admin cannot map uids" \
  as "$DEE" "$ALLOT" user create eve --role researcher:other --uid 0
[[ "$("$ALLOT" list -o json | grep -c '"name"')" == "$count" ]] || fail "a refusal created work"
"$ALLOT" quota set default --allow-root >/dev/null
as "$ADA" "$ALLOT" submit --name as-root --as-root -- sh -c 'echo uid=$(id -u)' >/dev/null
wait_status as-root succeeded
expect_in "$(as "$ADA" "$ALLOT" logs as-root)" "^uid=0$" "root where granted"
expect_in "$("$ALLOT" audit --actor admin --limit 500)" "PUT +/api/v1/projects/default +yes" \
  "the grant is audited"
"$ALLOT" quota set default --deny-root >/dev/null
expect_refused "does not allow tasks to run as root" "root taken back" \
  as "$ADA" "$ALLOT" submit --name as-root-2 --as-root -- id

echo "== volumes only under granted paths; images and identities checked at submit"
mkdir -p "$WORK/data/vision"
expect_refused "/etc is not under a host path granted to project default .*--allow-path /etc" \
  "a volume outside the grants" as "$ADA" "$ALLOT" submit --name v1 --image localhost/x:1 \
  --volume /etc:/mnt -- true
expect_refused "without \. and \.\. components" "a volume with .." \
  as "$ADA" "$ALLOT" submit --name v2 --image localhost/x:1 --volume "$WORK/data/../..:/mnt" -- true
expect_refused "bind host paths into a container" "a volume on a host task" \
  as "$ADA" "$ALLOT" submit --name v3 --volume "$WORK/data/vision:/data" -- true
expect_refused "image: 'Local/X Y' has the character ' '" "a malformed image" \
  as "$ADA" "$ALLOT" submit --name v4 --image 'Local/X Y' -- true
expect_refused "would grant the whole host" "granting /" "$ALLOT" quota set default --allow-path /
"$ALLOT" quota set default --allow-path "$WORK/data/vision" >/dev/null
as "$ADA" "$ALLOT" submit --name v5 --image localhost/x:1 --volume "$WORK/data/vision/a:/data:ro" \
  -o json -- true | grep -q '"volumes"' || fail "a volume under the grant is taken"
"$ALLOT" delete v5 >/dev/null
expect_refused "--gid and --groups need --uid" "a gid without a uid" \
  "$ALLOT" user create fay --gid 5
expect_refused "default_identity: uid 0 is root" "a root default identity" \
  "$ALLOT" quota set other --default-uid 0
[[ "$("$ALLOT" list -o json | grep -c '"name"')" == "$((count + 1))" ]] ||
  fail "refusals created work"

echo "== a project's default identity"
"$ALLOT" user create gil --role researcher:other >/dev/null
GIL="$("$ALLOT" token create --user gil 2>/dev/null)"
"$ALLOT" quota set other --default-uid 4100 --default-gid 4200 >/dev/null
as "$GIL" "$ALLOT" submit --project other --name gil-id -- sh -c 'echo uid=$(id -u) gid=$(id -g)' >/dev/null
wait_status gil-id succeeded
expect_in "$(as "$GIL" "$ALLOT" logs gil-id)" "uid=4100 gid=4200" "the project's default identity"

echo "== tokens: list, revoke at once (API and watch), user delete"
out="$(as "$ADA" "$ALLOT" token list)"
expect_in "$out" "ada" "ada lists her tokens"
expect_not_in "$out" "bob|admin " "only hers"
expect_in "$("$ALLOT" token list)" "bob" "admins list everyone's"
SECOND="$("$ALLOT" token create --user ada 2>/dev/null)"
SECOND_ID="$(cut -d_ -f2 <<<"$SECOND")"
revision="$("$ALLOT" list -o json | sed -n 's/^ *"revision": \([0-9]*\),*$/\1/p' | tail -1)"
curl -s -o "$WORK/watch.out" -w '%{http_code}' -H "Authorization: Bearer $SECOND" \
  "$URL/api/v1/watch?since=${revision:-0}&timeout_s=30&kind=nodes" >"$WORK/watch.code" &
watcher=$!
sleep 1
as "$ADA" "$ALLOT" token revoke "$SECOND_ID" >/dev/null
started=$SECONDS
wait "$watcher"
(( SECONDS - started < 10 )) || fail "the watch held on $((SECONDS - started)) s after the revoke"
[[ "$(cat "$WORK/watch.code")" == 401 ]] || fail "the watch ended with $(cat "$WORK/watch.code")"
expect_refused "the token is not valid" "a revoked token" as "$SECOND" "$ALLOT" list
expect_refused "does not exist" "another user's token is not confirmed" \
  as "$ADA" "$ALLOT" token revoke "$(cut -d_ -f2 <<<"$BOB")"
"$ALLOT" delete bob-long >/dev/null
out="$("$ALLOT" user delete bob)"
expect_in "$out" "1 token\(s\) revoked" "deleting a user revokes its tokens"
expect_refused "the token is not valid|no longer exists" "a deleted user's token" as "$BOB" "$ALLOT" list
expect_refused "cannot delete your own user" "deleting yourself" "$ALLOT" user delete admin
echo "PASS"

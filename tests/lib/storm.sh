# Sourced by the high-availability tests: a submit storm whose acknowledged
# submissions are recorded, and the check that each of them was stored and
# ran exactly once. Needs ALLOT, WORK, ALLOT_TOKEN (and ALLOT_CA for https).
storm() {  # storm CLIENT: two submissions, each retried; acknowledged names in $WORK/acked
  local i name try out
  for i in 1 2; do
    name="storm-$1-$i"
    for try in 1 2 3 4 5 6 7 8 9 10; do
      out="$("$ALLOT" submit --name "$name" --cpu 100m -- true 2>&1)" && { touch "$WORK/acked/$name"; break; }
      grep -q "already exists" <<<"$out" && { touch "$WORK/acked/$name"; break; }
      sleep 0.5
    done
  done
}
start_storm() {  # start_storm CLIENTS PREFIX: the clients in the background, their pids in STORM
  rm -rf "$WORK/acked" && mkdir "$WORK/acked"
  STORM=()
  local c
  for c in $(seq "$1"); do storm "$2$c" & STORM+=($!); done
}
# Every acknowledged submission is stored, succeeded, and was bound once
# (one Bound event), read from the server at CHECK_URL.
check_storm() {
  /usr/bin/python3 - "$CHECK_URL" "$ALLOT_TOKEN" "$WORK/acked" "${ALLOT_CA:-}" <<'PY'
import json, os, ssl, sys, urllib.request
server, token, acked, ca = sys.argv[1:5]
context = ssl.create_default_context(cafile=ca) if ca else None
def all_items(path):
    items, after = [], ""
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{server}{path}{sep}limit=1000" + (f"&after={after}" if after else "")
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
        page = json.load(urllib.request.urlopen(req, context=context))
        items += page["items"]
        if not page.get("next"):
            return items
        after = page["next"]
workloads = {w["name"]: w for w in all_items("/api/v1/workloads?all=true")}
bound = {}
for event in all_items("/api/v1/events"):
    if event.get("type") == "Bound":
        bound[event["workload"]] = bound.get(event["workload"], 0) + 1
problems = []
for name in os.listdir(acked):
    w = workloads.get(name)
    if w is None:
        problems.append(f"{name}: acknowledged but not stored")
    elif w["status"] != "succeeded":
        problems.append(f"{name}: {w['status']}")
    elif bound.get(name) != 1:
        problems.append(f"{name}: bound {bound.get(name)} times")
if problems:
    print("\n".join(problems[:10]))
    sys.exit(1)
PY
}
# Waits up to SECONDS for check_storm to pass; fails with what it found.
storm_settles() {  # storm_settles SECONDS WHAT
  local problems=""
  for _ in $(seq "$1"); do
    problems="$(check_storm 2>&1)" && return 0
    sleep 1
  done
  fail "$2 (waited $1 s): $problems"
}

# Sourced by end-to-end tests: questions to the CLI at $ALLOT.
status_is() { "$ALLOT" describe "$1" -o json | grep -q "\"status\": \"$2\""; }
node_is() { "$ALLOT" nodes -o json | tr -d '\n ' | grep -q "\"name\":\"$1\"[^}]*\"state\":\"$2\""; }
task_node() {  # the node of task 0 now
  "$ALLOT" describe "$1" -o json | tr -d '\n ' | grep -o '"assignments":\[{[^}]*}' |
    grep -o '"node":"[^"]*"' | cut -d'"' -f4
}
runs_elsewhere() {  # runs_elsewhere WORKLOAD NODE: running again, not on NODE
  local now
  now="$(task_node "$1")"
  [[ -n "$now" && "$now" != "$2" ]] && "$ALLOT" describe "$1" -o json | grep -q '"state": "running"'
}

# Sourced by end-to-end tests that run tasks through an agent: ends the
# tasks a test started. Tasks outlive their agent by design, so a test kills
# them itself, each by its process group, but only while the pid is still
# the task's (the start time in its process.json matches /proc): pids come
# back quickly (pid_max is 32768 on CI machines), and a reused one may be
# another test's process group.
kill_tasks_under() {  # kill_tasks_under DIR
  local dir="$1" file pid start now
  while IFS= read -r file; do
    pid="$(grep -o '"pid":[0-9]*' "$file" | cut -d: -f2)"
    start="$(grep -o '"start_time":[0-9]*' "$file" | cut -d: -f2)"
    [[ -n "$pid" && -n "$start" && -r "/proc/$pid/stat" ]] || continue
    # Fields after the command (which may hold spaces) start at field 3;
    # the start time is field 22.
    now="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f20)"
    if [[ "$now" == "$start" ]]; then kill -9 -- "-$pid" 2>/dev/null || true; fi
  done < <(find "$dir" -name process.json 2>/dev/null)
  pkill -9 -f "task-shim $dir" 2>/dev/null || true
  # A task whose shim was stopped before it recorded the task's pid (a
  # replica that was starting) has no process.json: its working directory,
  # under DIR, gives it away.
  local proc cwd
  for proc in /proc/[0-9]*; do
    cwd="$(readlink "$proc/cwd" 2>/dev/null || true)"
    if [[ "$cwd" == "$dir"/* && "${proc#/proc/}" != "$$" ]]; then kill -9 "${proc#/proc/}" 2>/dev/null || true; fi
  done
}

# Sourced by end-to-end tests: fail (prints the tails of $WORK/*.log, then
# FAIL_EXTRA when the test sets it to a command) and wait_until.
fail() {
  echo "FAIL: $*" >&2
  for log in "$WORK"/*.log; do echo "--- $log" >&2; tail -25 "$log" >&2; done
  if [[ -n "${FAIL_EXTRA:-}" ]]; then eval "$FAIL_EXTRA" >&2 || true; fi
  exit 1
}
wait_until() {  # wait_until SECONDS WHAT COMMAND...
  local seconds="$1" what="$2"
  shift 2
  for _ in $(seq $((seconds * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "$what (waited ${seconds} s)"
}

# Sourced by tests that need PostgreSQL: a cluster of the test's own, made
# with initdb in DIR and started with pg_ctl (as the postgres user when the
# test runs as root: PostgreSQL refuses root), on 127.0.0.1 and a free port
# unless PG_LISTEN names another address; inside the network namespace
# PG_NETNS when it is set (a host of tests/lib/netns.sh). Defines
# start_postgres, restart_postgres, stop_postgres; start_postgres sets PG_URL.
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
pg_as() {
  local in_netns=()
  [[ -z "${PG_NETNS:-}" ]] || in_netns=(ip netns exec "$PG_NETNS")
  if [[ "$(id -u)" == 0 ]]; then "${in_netns[@]}" runuser -u postgres -- "$@"; else "${in_netns[@]}" "$@"; fi
}

start_postgres() {  # start_postgres DIR
  PG_DIR="$1"
  [[ -x "$PG_BIN/initdb" ]] || { echo "FAIL: no initdb: install postgresql-15" >&2; exit 1; }
  mkdir -p "$PG_DIR"
  if [[ "$(id -u)" == 0 ]]; then chown postgres "$PG_DIR"; chmod 700 "$PG_DIR"; fi
  PG_PORT="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 >/dev/null
  # Another address: the hosts of its own subnet connect too (test hosts).
  if [[ -n "${PG_LISTEN:-}" ]]; then echo "host all all samenet trust" >>"$PG_DIR/data/pg_hba.conf"; fi
  pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-k $PG_DIR -p $PG_PORT -c listen_addresses=${PG_LISTEN:-127.0.0.1}" start >/dev/null
  pg_as "$PG_BIN/psql" -q -h "$PG_DIR" -p "$PG_PORT" -U postgres -c 'CREATE DATABASE allot' >/dev/null
  PG_URL="postgresql://postgres@${PG_LISTEN:-127.0.0.1}:$PG_PORT/allot"
}
restart_postgres() { pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w restart >/dev/null; }
stop_postgres() {
  [[ -n "${PG_DIR:-}" && -d "$PG_DIR/data" ]] &&
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
}

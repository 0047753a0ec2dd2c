#!/usr/bin/env bash
# PostgreSQL (Optuna's study storage, MLflow's backend store) and an MLflow tracking server on
# 127.0.0.1, from Debian's postgresql package and PyPI's mlflow, for sweeps with many workers.
#
#   scripts/local_cluster.sh start|stop|status [STATE_DIR]      (STATE_DIR: runs/cluster)
#
# start  initialises a database cluster the first time (a random password, scram-sha-256 auth),
#        starts both servers on free ports, waits until both answer and writes STATE_DIR/env
#        (mode 600; `source` it): MLFLOW_TRACKING_URI, AUDIOSTYLE_OPTUNA_STORAGE (no password in
#        it) and PGPASSWORD, which PostgreSQL's client library reads. Process ids: STATE_DIR/pids.
# stop   stops both by their process ids; the data stays for the next start.
# status says whether both run and answer (exit 0) or not (exit 3).
#
# As root, PostgreSQL runs as the `postgres` user (initdb refuses root), with its data in a
# directory that user owns (its path is kept in STATE_DIR/pgdata.path).
# Environment: PYTHON (the interpreter with mlflow, default python3), PG_BIN (PostgreSQL's bin).
set -euo pipefail

usage() { echo "usage: $0 start|stop|status [STATE_DIR]" >&2; exit 2; }
[ $# -ge 1 ] || usage
command=$1
mkdir -p "${2:-runs/cluster}"
state=$(cd "${2:-runs/cluster}" && pwd)
PYTHON=${PYTHON:-python3}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
DB_USER=audiostyle

die() { echo "local_cluster: error: $*" >&2; exit 1; }
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL not found (apt-get install postgresql, or set PG_BIN)"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pgdata_dir() {
  if [ "$(id -u)" != 0 ]; then echo "$state/pgdata"; return; fi
  if [ ! -f "$state/pgdata.path" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/audiostyle-pgdata.XXXXXX")
    chown postgres: "$dir" && chmod 700 "$dir"
    echo "$dir" >"$state/pgdata.path"
  fi
  cat "$state/pgdata.path"
}

read_pids() {
  pg_pid="" mlflow_pid="" pg_port="" mlflow_port=""
  # shellcheck disable=SC1091
  [ -f "$state/pids" ] && . "$state/pids"
  return 0
}

psql_as_user() {
  PGPASSWORD=$(cat "$state/password") "$PG_BIN/psql" -h 127.0.0.1 -p "$pg_port" -U "$DB_USER" \
    -d postgres -v ON_ERROR_STOP=1 -tAq "$@"
}

init_postgres() {
  pgdata=$1
  [ -f "$pgdata/PG_VERSION" ] && return
  umask 077
  "$PYTHON" -c 'import secrets; print(secrets.token_hex(16))' >"$state/password"
  pwfile=$(mktemp)
  cp "$state/password" "$pwfile"
  [ "$(id -u)" = 0 ] && chown postgres: "$pwfile"
  as_postgres "$PG_BIN/initdb" -D "$pgdata" -U "$DB_USER" --pwfile="$pwfile" \
    --auth=scram-sha-256 -E UTF8 >"$state/initdb.log" 2>&1 || {
    rm -f "$pwfile"
    die "initdb failed; see $state/initdb.log"
  }
  rm -f "$pwfile"
}

start_postgres() {
  pgdata=$(pgdata_dir)
  init_postgres "$pgdata"
  pg_port=$(free_port)
  as_postgres "$PG_BIN/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 \
    -o "-p $pg_port -k $pgdata -c listen_addresses=127.0.0.1" start >/dev/null ||
    die "PostgreSQL did not start; see $pgdata/server.log"
  pg_pid=$(head -n 1 "$pgdata/postmaster.pid")
  for db in optuna mlflow; do
    if [ -z "$(psql_as_user -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
      psql_as_user -c "CREATE DATABASE $db" >/dev/null
    fi
  done
}

start_mlflow() {
  mlflow_port=$(free_port)
  mkdir -p "$state/mlartifacts"
  # Its own session, so stopping the group also stops the server's worker processes.
  PGPASSWORD=$(cat "$state/password") setsid "$PYTHON" -m mlflow server \
    --backend-store-uri "postgresql+psycopg://$DB_USER@127.0.0.1:$pg_port/mlflow" \
    --serve-artifacts --artifacts-destination "$state/mlartifacts" \
    --host 127.0.0.1 --port "$mlflow_port" --workers 2 \
    >"$state/mlflow.log" 2>&1 </dev/null &
  mlflow_pid=$!
  for _ in $(seq 1 180); do
    alive "$mlflow_pid" || die "the MLflow server stopped; see $state/mlflow.log"
    answers "$mlflow_port" && return
    sleep 1
  done
  die "the MLflow server did not answer in 180 s; see $state/mlflow.log"
}

answers() {
  "$PYTHON" -c 'import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=5)' "$1" 2>/dev/null
}

write_state() {
  umask 077
  cat >"$state/pids" <<EOF
pg_pid=$pg_pid
pg_port=$pg_port
mlflow_pid=$mlflow_pid
mlflow_port=$mlflow_port
EOF
  cat >"$state/env" <<EOF
export MLFLOW_TRACKING_URI=http://127.0.0.1:$mlflow_port
export AUDIOSTYLE_OPTUNA_STORAGE=postgresql+psycopg://$DB_USER@127.0.0.1:$pg_port/optuna
export PGPASSWORD=$(cat "$state/password")
EOF
}

stop_pid() {  # stop_pid TARGET SIGNAL: TARGET a pid, or -PID for its process group
  target=$1 pid=${1#-}
  alive "$pid" || return 0
  kill "-$2" -- "$target" 2>/dev/null || true
  for _ in $(seq 1 120); do alive "$pid" || return 0; sleep 0.5; done
  kill -KILL -- "$target" 2>/dev/null || true
}

case $command in
  start)
    read_pids
    if alive "$pg_pid" && alive "$mlflow_pid"; then
      echo "already running; source $state/env"
      exit 0
    fi
    stop_pid "-$mlflow_pid" TERM
    stop_pid "$pg_pid" INT
    # A failed start stops what it started, so no server is left without a pid on record.
    trap 'stop_pid "-${mlflow_pid:-}" TERM; stop_pid "${pg_pid:-}" INT' EXIT
    start_postgres
    start_mlflow
    write_state
    trap - EXIT
    echo "PostgreSQL on 127.0.0.1:$pg_port (pid $pg_pid), MLflow on http://127.0.0.1:$mlflow_port (pid $mlflow_pid)"
    echo "source $state/env"
    ;;
  stop)
    read_pids
    stop_pid "-$mlflow_pid" TERM  # the server's process group
    stop_pid "$pg_pid" INT       # PostgreSQL's fast shutdown
    rm -f "$state/pids"
    echo "stopped"
    ;;
  status)
    read_pids
    ok=0
    if alive "$pg_pid" && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$pg_port"; then
      echo "PostgreSQL: answering on 127.0.0.1:$pg_port (pid $pg_pid)"
    else
      echo "PostgreSQL: not running"; ok=3
    fi
    if alive "$mlflow_pid" && answers "$mlflow_port"; then
      echo "MLflow: answering on http://127.0.0.1:$mlflow_port (pid $mlflow_pid)"
    else
      echo "MLflow: not running"; ok=3
    fi
    exit $ok
    ;;
  *) usage ;;
esac

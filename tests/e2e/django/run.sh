#!/usr/bin/env bash
# End-to-end test of the generated Django instrumentation (instrumentation/django/), no Docker:
# render examples/dkp.yaml for topologies A and B, install the generated requirements-otel.txt
# in a Python 3.11 virtualenv from PyPI, serve a tiny Django project with gunicorn and the
# generated gunicorn.conf.py in a service's generated environment (only the endpoint rewritten,
# to a local OTLP/HTTP sink), with a real Redis and a real PostgreSQL, and check what the sink
# receives. Three runs: `web` (which lists its libraries) from web.env in A and B, and `worker`
# (which lists none) from its Kubernetes patch in B, read as Kubernetes would.
#
#   tests/e2e/django/run.sh
#
# Needs python3.11 (or PYTHON=...), PyPI, redis-server and PostgreSQL's server binaries
# (POSTGRES_BIN_DIR, default the newest /usr/lib/postgresql/*/bin; both installed with apt-get
# when missing and root). As root, PostgreSQL runs as a system user `otelplane2e`, created when
# missing. Only loopback addresses are used. The virtualenv is cached under
# ${XDG_CACHE_HOME:-$HOME/.cache}/otelplan-e2e, keyed by a hash of the requirements.
# The last line is `e2e: N passed, M failed`; the exit code is non-zero on any failure.
# OTELPLAN_E2E_KEEP=1 keeps the work directory (trees, sink records, gunicorn logs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$root"

python=${PYTHON:-python3.11}
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the test project
work=$(mktemp -d "${TMPDIR:-/tmp}/otelplan-e2e.XXXXXX")
pids=()
passed=0
failed=0

cleanup() {
  local pid
  pg_stop
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [ -n "${OTELPLAN_E2E_KEEP:-}" ] || rm -rf "$work"
}
pg_bin=
pg_data="$work/pg/data"
pg_as=()

# Stop the PostgreSQL server this run started, if it did.
pg_stop() {
  if [ -n "$pg_bin" ] && [ -f "$pg_data/postmaster.pid" ]; then
    "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_data" stop -m fast >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
[ -z "${OTELPLAN_E2E_KEEP:-}" ] || echo "work directory (kept): $work"

# Record one result line: `say ok NAME` or `say FAIL NAME: DETAIL`.
say() {
  echo "  $*"
  case $1 in
    ok) passed=$((passed + 1)) ;;
    *) failed=$((failed + 1)) ;;
  esac
}

# Run a checker that prints `ok …` / `FAIL …` lines and count them; a checker that dies
# without printing a FAIL line still counts as one failure.
step() {
  local name=$1 out="$work/step.out" status=0 ok bad
  shift
  "$@" >"$out" 2>&1 || status=$?
  if [ "$status" -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
    echo "FAIL $name: exited with status $status" >>"$out"
  fi
  sed 's/^/  /' "$out"
  ok=$(grep -c '^ok ' "$out" || true)
  bad=$(grep -c '^FAIL ' "$out" || true)
  passed=$((passed + ok))
  failed=$((failed + bad))
}

finish() {
  echo "e2e: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}

echo "== build otelplan"
cargo build --release --quiet || { say FAIL "cargo build --release"; finish; exit 1; }
bin="${CARGO_TARGET_DIR:-$root/target}/release/otelplan"

echo "== render examples/dkp.yaml for A and B"
for t in A B; do
  "$bin" render examples/dkp.yaml --topology "$t" -o "$work/tree-$t" >/dev/null 2>"$work/render-$t.err" \
    || { cat "$work/render-$t.err"; say FAIL "render $t"; finish; exit 1; }
done
req="$work/tree-A/instrumentation/django/requirements-otel.txt"
if cmp -s "$req" "$work/tree-B/instrumentation/django/requirements-otel.txt"; then
  say ok "requirements-otel.txt is the same in A and B"
else
  say FAIL "requirements-otel.txt differs between A and B"
fi

echo "== Python virtualenv ($python)"
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { say FAIL "need Python 3.11 (set PYTHON=...)"; finish; exit 1; }
key=$({ cat "$req" "$here/requirements-e2e.txt"; "$python" -VV; } | sha256sum | cut -c1-16)
venv="${XDG_CACHE_HOME:-$HOME/.cache}/otelplan-e2e/venv-$key"
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  # pip's resolver proves the pins install together (with Django 5.2 on Python 3.11).
  if "$python" -m venv "$venv" && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-input -r "$req" -r "$here/requirements-e2e.txt"; then
    touch "$venv/.complete"
  else
    say FAIL "pip install -r requirements-otel.txt -r requirements-e2e.txt"
    finish
    exit 1
  fi
fi
vpy="$venv/bin/python"
echo "  $venv"
if "$vpy" -m pip check --disable-pip-version-check >"$work/pipcheck.out" 2>&1; then
  say ok "pip check: the installed set is consistent"
else
  say FAIL "pip check: $(cat "$work/pipcheck.out")"
fi

echo "== requirements-otel.txt pins everything otel_setup.py imports"
step audit "$vpy" "$here/e2e.py" audit --tree "$work/tree-A"

echo "== Redis"
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; } || true
  fi
fi
command -v redis-server >/dev/null || { say FAIL "redis-server is not installed"; finish; exit 1; }
redis_port=$("$vpy" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize no \
  --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
redis_up=no
for _ in $(seq 50); do
  if "$vpy" -c "import redis; redis.Redis(host='127.0.0.1', port=$redis_port).ping()" 2>/dev/null; then
    redis_up=yes
    break
  fi
  sleep 0.1
done
if [ "$redis_up" = yes ]; then
  say ok "redis-server answers on 127.0.0.1:$redis_port"
else
  say FAIL "redis-server did not start: $(cat "$work/redis.log")"
fi

echo "== PostgreSQL"
pg_bin=${POSTGRES_BIN_DIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)}
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/postgres" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } || true
  fi
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
[ -n "$pg_bin" ] && [ -x "$pg_bin/postgres" ] || { pg_bin=; say FAIL "PostgreSQL is not installed"; finish; exit 1; }
mkdir -p "$work/pg"
if [ "$(id -u)" -eq 0 ]; then
  # PostgreSQL refuses to run as root: a system user of its own, which must reach $work/pg.
  id otelplane2e >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin otelplane2e
  chmod 711 "$work"
  chown otelplane2e "$work/pg"
  pg_as=(runuser -u otelplane2e --)
fi
pg_port=$("$vpy" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_up=no
if "${pg_as[@]}" "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust --no-locale -E UTF8 >"$work/pg/initdb.log" 2>&1 \
  && "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -l "$work/pg/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $pg_port -k $work/pg -c fsync=off" start >/dev/null 2>&1; then
  pg_up=yes
fi
pg_dsn="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres"
if [ "$pg_up" = yes ] && "$vpy" -c "import psycopg; psycopg.connect('$pg_dsn').close()" 2>/dev/null; then
  say ok "PostgreSQL $("$pg_bin/postgres" --version | sed -n 's/^postgres (PostgreSQL) \([0-9.]*\).*/\1/p') answers on 127.0.0.1:$pg_port"
else
  say FAIL "PostgreSQL did not start: $(cat "$work/pg/initdb.log" "$work/pg/server.log" 2>/dev/null | tail -n 5)"
fi

# The APM Server credential the B env file references, as a deployment would supply it.
ELASTIC_APM_SECRET_TOKEN="e2e-token-$RANDOM$RANDOM"
export ELASTIC_APM_SECRET_TOKEN

# One run per line: topology, service, where its environment comes from, gunicorn's mode.
# A: workers load the app after the fork; B: gunicorn --preload (the arbiter imports it first).
runs=("A web compose fork" "B web compose preload" "B worker kubernetes fork")
for run in "${runs[@]}"; do
  read -r t service env_from mode <<<"$run"
  preload=()
  if [ "$mode" = preload ]; then preload=(--preload); fi
  name="$t-$service"
  echo "== topology $t, $service from its $env_from environment (gunicorn, 2 workers${preload:+, --preload})"
  rm -f "$work/sink-$name.port"
  "$vpy" "$here/sink.py" --port-file "$work/sink-$name.port" --out "$work/sink-$name.jsonl" 2>"$work/sink-$name.err" &
  sink_pid=$!
  pids+=("$sink_pid")
  for _ in $(seq 100); do [ -s "$work/sink-$name.port" ] && break; sleep 0.1; done
  sink_port=$(cat "$work/sink-$name.port" 2>/dev/null || echo 0)
  echo "  OTLP sink on 127.0.0.1:$sink_port"
  step "topology $t $service" "$vpy" "$here/e2e.py" django --tree "$work/tree-$t" --topology "$t" \
    --service "$service" --env-from "$env_from" --sink-port "$sink_port" --sink-record "$work/sink-$name.jsonl" \
    --redis-port "$redis_port" --pg-dsn "$pg_dsn" "${preload[@]}"
  kill "$sink_pid" 2>/dev/null || true
  wait "$sink_pid" 2>/dev/null || true
done

finish

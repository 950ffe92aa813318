#!/usr/bin/env bash
# End-to-end test of the generated Django instrumentation (instrumentation/django/), no Docker:
# render examples/dkp.yaml for topologies A and B, install the generated requirements-otel.txt
# in a Python 3.11 virtualenv from PyPI, serve a tiny Django project with gunicorn and the
# generated gunicorn.conf.py in the environment of the generated web.env (only the endpoint
# rewritten, to a local OTLP/HTTP sink), with a real Redis, and check what the sink receives.
#
#   tests/e2e/django/run.sh
#
# Needs python3.11 (or PYTHON=...), PyPI, and redis-server (installed with apt-get when missing).
# Only loopback addresses are used. The virtualenv is cached under
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
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [ -n "${OTELPLAN_E2E_KEEP:-}" ] || rm -rf "$work"
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

# The APM Server credential the B env file references, as a deployment would supply it.
ELASTIC_APM_SECRET_TOKEN="e2e-token-$RANDOM$RANDOM"
export ELASTIC_APM_SECRET_TOKEN

for t in A B; do
  # A: workers load the app after the fork; B: gunicorn --preload (the arbiter imports it first).
  preload=()
  mode="gunicorn, 2 workers"
  if [ "$t" = B ]; then preload=(--preload); mode="$mode, --preload"; fi
  echo "== topology $t ($mode)"
  rm -f "$work/sink-$t.port"
  "$vpy" "$here/sink.py" --port-file "$work/sink-$t.port" --out "$work/sink-$t.jsonl" 2>"$work/sink-$t.err" &
  sink_pid=$!
  pids+=("$sink_pid")
  for _ in $(seq 100); do [ -s "$work/sink-$t.port" ] && break; sleep 0.1; done
  sink_port=$(cat "$work/sink-$t.port" 2>/dev/null || echo 0)
  echo "  OTLP sink on 127.0.0.1:$sink_port"
  step "topology $t" "$vpy" "$here/e2e.py" django --tree "$work/tree-$t" --topology "$t" \
    --sink-port "$sink_port" --sink-record "$work/sink-$t.jsonl" --redis-port "$redis_port" "${preload[@]}"
  kill "$sink_pid" 2>/dev/null || true
  wait "$sink_pid" 2>/dev/null || true
done

finish

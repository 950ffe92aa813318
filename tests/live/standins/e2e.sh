#!/usr/bin/env bash
# Wire check of the stand-ins against the real collector (the v0.152.0 build of
# tests/live/build.sh): OTLP in, then otlp_grpc + otlp_http to the APM Server
# stand-in (Bearer token), elasticsearch to the Elasticsearch stand-in (Basic
# auth, one 429 burst first), otlp_http to the Loki stand-in (tenant).
# Counts what each stand-in accepted against what was sent.
#
#   OTELCOL=/path/to/otelcol-otelplan tests/live/standins/e2e.sh
#
# Bounded (E2E_TIMEOUT, default 180 s); every process is stopped on exit.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${OTELCOL:?set OTELCOL to the collector binary (tests/live/build.sh output)}"
STANDINS=$("$HERE/build.sh" | tail -n 1)

WORK=$(mktemp -d /tmp/otelplan-e2e.XXXXXX)
PIDS=()
WATCHDOG=
log() { printf '[e2e %s] %s\n' "$(date +%T)" "$*" >&2; }
cleanup() {
  local rc=$?
  set +e
  for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
  [[ -n "$WATCHDOG" ]] && kill "$WATCHDOG" 2>/dev/null
  if [[ $rc -ne 0 ]]; then for f in "$WORK"/*.log; do echo "----- $f" >&2; tail -n 30 "$f" >&2; done; fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
(
  sleep "${E2E_TIMEOUT:-180}" & s=$!
  trap 'kill $s 2>/dev/null; exit 0' TERM
  wait $s && kill -TERM $$
) </dev/null >/dev/null 2>&1 &
WATCHDOG=$!

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
start() { local n=$1; shift; setsid "$@" >"$WORK/$n.log" 2>&1 </dev/null & PIDS+=("$!"); }
wait_for() {
  local secs=$1 what=$2; shift 2; local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [[ $(date +%s) -lt $end ]] || { log "FAILED waiting for $what"; return 1; }
    sleep 0.5
  done
}

export APM_TOKEN=e2e-apm-token ES_PASSWORD=e2e-es-pass
APM=$(free_port); ES=$(free_port); ESA=$(free_port); LOKI=$(free_port); OG=$(free_port); OH=$(free_port); HC=$(free_port)
start apm "$STANDINS" apm --listen "127.0.0.1:$APM" --secret-token "$APM_TOKEN" --watch-secrets "$APM_TOKEN,$ES_PASSWORD"
start es "$STANDINS" es --listen "127.0.0.1:$ES" --admin-listen "127.0.0.1:$ESA" --user elastic --password "$ES_PASSWORD" --watch-secrets "$APM_TOKEN,$ES_PASSWORD"
start loki "$STANDINS" loki --listen "127.0.0.1:$LOKI" --auth-enabled
for u in "http://127.0.0.1:$APM" "http://127.0.0.1:$ESA" "http://127.0.0.1:$LOKI"; do
  wait_for 20 "$u" curl -fsS "$u/_standin/health"
done

cat > "$WORK/otelcol.yaml" <<EOF
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:$OG"}
      http: {endpoint: "127.0.0.1:$OH"}
exporters:
  otlp_grpc/apm:
    endpoint: "127.0.0.1:$APM"
    tls: {insecure: true}
    headers: {Authorization: "Bearer \${env:APM_TOKEN}"}
  otlp_http/apm:
    endpoint: "http://127.0.0.1:$APM"
    headers: {Authorization: "Bearer \${env:APM_TOKEN}"}
  elasticsearch:
    endpoint: "http://127.0.0.1:$ES"
    user: elastic
    password: "\${env:ES_PASSWORD}"
    sending_queue:
      batch: {flush_timeout: 1s}
  otlp_http/loki:
    endpoint: "http://127.0.0.1:$LOKI/otlp"
    headers: {X-Scope-OrgID: tenant-a}
extensions:
  health_check: {endpoint: "127.0.0.1:$HC"}
service:
  extensions: [health_check]
  telemetry:
    metrics: {level: none}
  pipelines:
    traces: {receivers: [otlp], exporters: [otlp_grpc/apm, elasticsearch]}
    metrics: {receivers: [otlp], exporters: [otlp_http/apm, elasticsearch]}
    logs: {receivers: [otlp], exporters: [otlp_grpc/apm, elasticsearch, otlp_http/loki]}
EOF
start otelcol "$OTELCOL" --config "file:$WORK/otelcol.yaml"
wait_for 60 "collector health" curl -fsS "http://127.0.0.1:$HC/"

A="http://127.0.0.1:$APM"; E="http://127.0.0.1:$ESA"; L="http://127.0.0.1:$LOKI"
# check URL PYTHON-EXPR WANT DESCRIPTION: polls the stand-in's stats (d) until
# the expression prints WANT (60 s at most)
check() {
  local url=$1 expr=$2 want=$3 what=$4 got= end=$(( $(date +%s) + 60 ))
  while :; do
    got=$(curl -fsS "$url/_standin/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$expr" 2>&1) || true
    [[ "$got" == "$want" ]] && { log "ok: $what = $want"; return 0; }
    [[ $(date +%s) -lt $end ]] || { log "FAIL: $what: got $got, want $want"; return 1; }
    sleep 0.5
  done
}

# 1. Elasticsearch answers 429 to every request for 2 s. The exporter's
#    transport retries a whole-request 429 twice (retry.max_retries default 2,
#    100 ms initial backoff), then drops the batch: 3 answers of 429, the
#    document with id lost-1 never arrives.
curl -fsS -X POST "$E/_standin/fault?mode=429&seconds=2" >/dev/null
"$STANDINS" send --protocol http --endpoint "http://127.0.0.1:$OH/v1/logs" --signal logs --service worker --ids lost-1 >&2
check "$E" "d['rejected'].get('fault_429', 0)" 3 "ES whole-request 429s (1 try + 2 retries)"
sleep 2.5

# 2. Normal delivery through every exporter.
"$STANDINS" send --protocol grpc --endpoint "127.0.0.1:$OG" --signal traces --service web --ids t1,t2,t3,t4,t5 >&2
"$STANDINS" send --protocol http --endpoint "http://127.0.0.1:$OH/v1/logs" --signal logs --service worker --ids l1,l2,l3 >&2
"$STANDINS" send --protocol http --endpoint "http://127.0.0.1:$OH/v1/metrics" --signal metrics --service web --count 2 >&2

ALL="['l1', 'l2', 'l3', 'lost-1', 't1', 't2', 't3', 't4', 't5']"
check "$A" "d['signals'].get('traces',{}).get('items')" 5 "APM traces (otlp_grpc)"
check "$A" "d['signals'].get('logs',{}).get('items')" 4 "APM logs (otlp_grpc)"
check "$A" "d['signals'].get('metrics',{}).get('items')" 2 "APM metrics (otlp_http)"
check "$A" "sorted(d['ids']['values'])" "$ALL" "APM ids"
check "$E" "d['signals'].get('traces',{}).get('items')" 5 "ES trace documents"
check "$E" "d['signals'].get('logs',{}).get('items')" 3 "ES log documents"
check "$E" "d['signals'].get('metrics',{}).get('items')" 2 "ES metric documents"
check "$E" "sorted(d['ids']['values'])" "['l1', 'l2', 'l3', 't1', 't2', 't3', 't4', 't5']" "ES ids (lost-1 dropped)"
check "$E" "sorted(d['groups'])" "['logs-generic.otel-default', 'metrics-generic.otel-default', 'traces-generic.otel-default']" "ES data streams"
check "$E" "sorted(d['services'])" "['web', 'worker']" "ES services"
check "$L" "d['groups'].get('tenant-a')" 4 "Loki logs for tenant-a"
check "$A" "d['secret_leaks']" "{}" "APM: secrets only in Authorization"
check "$E" "d['secret_leaks']" "{}" "ES: secrets only in Authorization"
check "$E" "sorted(set(a['scheme'] for a in d['auth']['seen']))" "['Basic']" "ES auth scheme"
check "$A" "sorted(set(a['scheme'] for a in d['auth']['seen']))" "['Bearer']" "APM auth scheme"
curl -fsS "$E/_standin/stats?values=0" > "$WORK/es-stats.json"
log "ES stats: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print({k: d[k] for k in ("requests_by_status","signals","rejected")})' "$WORK/es-stats.json")"
echo "e2e: all checks passed"

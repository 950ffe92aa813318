#!/usr/bin/env bash
# Starts each real program built by build-tools.sh on loopback, on free ports,
# with a minimal config in a temp dir; checks that it answers; stops it.
# Everything is bounded in time and cleaned up on exit (failure included).
#
#   tests/live/tools/smoke.sh [jaeger] [prometheus] [kafka] [postgres] [redis] [es]
#
# Without arguments: all but es (es only when ES_HOME is set, i.e. with
# OTELPLAN_LIVE_WITH_ES=1). The tool paths come from the environment (as
# printed by build-tools.sh) or, when JAEGER is unset, from running it.
# SMOKE_TIMEOUT (default 600) bounds the whole run in seconds.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Tool paths: take those already in the environment, ask build-tools.sh for
# the rest (it only checks the cache when everything is built).
if [[ -z "${JAEGER:-}" || -z "${PROMETHEUS:-}" || -z "${KAFKA_CLASSPATH:-}" || -z "${OTEL_JAVAAGENT:-}" \
      || -z "${POSTGRES_BIN_DIR:-}" || -z "${REDIS_SERVER:-}" || -z "${STANDINS:-}" ]]; then
  while IFS= read -r line; do
    name=${line%%=*}
    [[ -n "${!name:-}" ]] || eval "$line"
  done < <("$HERE/build-tools.sh" | grep -E '^[A-Z_0-9]+=')
fi

WANT=("$@")
if [[ ${#WANT[@]} -eq 0 ]]; then
  WANT=(jaeger prometheus kafka postgres redis)
  [[ -n "${ES_HOME:-}" ]] && WANT+=(es)
fi

WORK=$(mktemp -d /tmp/otelplan-smoke.XXXXXX)
chmod 755 "$WORK"
PIDS=()
WATCHDOG=
RESULTS=()
FAILED=0
RUNUSER=otelplanlive

log() { printf '[smoke %s] %s\n' "$(date +%T)" "$*" >&2; }

cleanup() {
  local rc=$?
  set +e
  for pid in "${PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  done
  local deadline=$(( $(date +%s) + 15 ))
  for pid in "${PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [[ $(date +%s) -lt $deadline ]]; do sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  done
  [[ -n "$WATCHDOG" ]] && kill "$WATCHDOG" 2>/dev/null
  [[ $rc -eq 130 ]] && log "stopped by a signal or the ${SMOKE_TIMEOUT:-600}s timeout"
  if [[ $rc -ne 0 || $FAILED -ne 0 ]]; then
    for f in "$WORK"/*.log; do
      [[ -f "$f" ]] || continue
      echo "----- tail of $f" >&2; tail -n 25 "$f" >&2
    done
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# whole-run watchdog (detached from our stdout/stderr, so a pipe reading this
# script's output is not held open by it)
(
  sleep "${SMOKE_TIMEOUT:-600}" & s=$!
  trap 'kill $s 2>/dev/null; exit 0' TERM
  wait $s && kill -TERM $$
) </dev/null >/dev/null 2>&1 &
WATCHDOG=$!

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start NAME CMD...: runs CMD in its own process group, output to $WORK/NAME.log
start() {
  local name=$1; shift
  setsid "$@" >"$WORK/$name.log" 2>&1 < /dev/null &
  PIDS+=("$!")
  log "$name started (pid $!)"
}

# stop the last started process (group)
stop_last() {
  local pid=${PIDS[-1]}
  kill -TERM -- "-$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset 'PIDS[-1]'
}

# wait_for SECONDS DESCRIPTION CMD...: retries CMD until it succeeds
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if [[ $(date +%s) -ge $deadline ]]; then log "FAILED waiting ${secs}s for: $what"; return 1; fi
    if [[ ${#PIDS[@]} -gt 0 ]] && ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
      log "FAILED: the process for '$what' exited"; return 1
    fi
    sleep 0.5
  done
}

ensure_user() {
  id "$RUNUSER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$RUNUSER"
}

ok() { RESULTS+=("ok   $1 ($2s)"); log "OK $1 in $2s"; }
bad() { RESULTS+=("FAIL $1"); FAILED=1; log "FAIL $1"; }

# ---- Jaeger v2: OTLP/gRPC in, query API out ----------------------------------
smoke_jaeger() {
  local t0=$SECONDS g h q qg
  g=$(free_port); h=$(free_port); q=$(free_port); qg=$(free_port)
  cat > "$WORK/jaeger.yaml" <<EOF
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: []
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
extensions:
  jaeger_query:
    storage:
      traces: mem
    http:
      endpoint: 127.0.0.1:$q
    grpc:
      endpoint: 127.0.0.1:$qg
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 1000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$g
      http:
        endpoint: 127.0.0.1:$h
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
EOF
  start jaeger "$JAEGER" --config "file:$WORK/jaeger.yaml"
  wait_for 60 "jaeger query API" curl -fsS "http://127.0.0.1:$q/api/v3/services" || return 1
  "$STANDINS" send --protocol grpc --endpoint "127.0.0.1:$g" --service smoke-jaeger --count 3 >&2 || return 1
  wait_for 30 "smoke-jaeger in /api/v3/services" \
    sh -c "curl -fsS http://127.0.0.1:$q/api/v3/services | grep -q smoke-jaeger" || return 1
  wait_for 30 "spans in /api/traces" \
    sh -c "curl -fsS 'http://127.0.0.1:$q/api/traces?service=smoke-jaeger' | grep -q standin-span-2" || return 1
  stop_last
  ok jaeger $((SECONDS - t0))
}

# ---- Prometheus 3: OTLP/HTTP metrics in, PromQL out ---------------------------
smoke_prometheus() {
  local t0=$SECONDS p
  p=$(free_port)
  mkdir -p "$WORK/prom"
  cat > "$WORK/prometheus.yml" <<'EOF'
global:
  scrape_interval: 15s
otlp:
  promote_resource_attributes: [service.name]
storage:
  tsdb:
    out_of_order_time_window: 30m
EOF
  start prometheus "$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
    --web.listen-address="127.0.0.1:$p" --web.enable-otlp-receiver
  wait_for 60 "prometheus ready" curl -fsS "http://127.0.0.1:$p/-/ready" || return 1
  "$STANDINS" send --protocol http --signal metrics --metric smoke_gauge --service smoke-prom \
    --endpoint "http://127.0.0.1:$p/api/v1/otlp/v1/metrics" >&2 || return 1
  wait_for 30 "smoke_gauge queryable" \
    sh -c "curl -fsS 'http://127.0.0.1:$p/api/v1/query?query=smoke_gauge' | grep -q smoke-prom" || return 1
  stop_last
  ok prometheus $((SECONDS - t0))
}

# ---- Kafka (KRaft, single node) + the OpenTelemetry Java agent -----------------
smoke_kafka() {
  local t0=$SECONDS bp cp apm cid
  bp=$(free_port); cp=$(free_port); apm=$(free_port)
  mkdir -p "$WORK/kafka-logs"
  cat > "$WORK/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cp
listeners=PLAINTEXT://127.0.0.1:$bp,CONTROLLER://127.0.0.1:$cp
advertised.listeners=PLAINTEXT://127.0.0.1:$bp
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$WORK/kafka-logs
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  local java=("$KAFKA_JAVA" -Xms256m -Xmx512m -Dlog4j2.configurationFile="$KAFKA_LOG4J" -cp "$KAFKA_CLASSPATH")
  cid=$(timeout 60 "${java[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  timeout 60 "${java[@]}" kafka.tools.StorageTool format -t "$cid" -c "$WORK/server.properties" >"$WORK/kafka-format.log" 2>&1 || return 1
  # an OTLP sink for the Java agent's metrics: the APM stand-in without auth
  start otlp-sink "$STANDINS" apm --listen "127.0.0.1:$apm"
  wait_for 20 "otlp sink" curl -fsS "http://127.0.0.1:$apm/_standin/health" || return 1
  start kafka "${java[0]}" -javaagent:"$OTEL_JAVAAGENT" \
    -Dotel.service.name=smoke-kafka -Dotel.jmx.target.system=kafka-broker \
    -Dotel.traces.exporter=none -Dotel.logs.exporter=none -Dotel.metrics.exporter=otlp \
    -Dotel.exporter.otlp.protocol=http/protobuf -Dotel.exporter.otlp.endpoint="http://127.0.0.1:$apm" \
    -Dotel.metric.export.interval=2000 \
    "${java[@]:1}" kafka.Kafka "$WORK/server.properties"
  local topics=("${java[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$bp")
  wait_for 120 "kafka broker answers" timeout 30 "${topics[@]}" --list || return 1
  timeout 60 "${topics[@]}" --create --topic smoke --partitions 1 --replication-factor 1 >&2 || return 1
  timeout 60 "${topics[@]}" --describe --topic smoke >&2 || return 1
  wait_for 60 "kafka JMX metrics via the Java agent" \
    sh -c "curl -fsS 'http://127.0.0.1:$apm/_standin/stats' | grep -q '\"smoke-kafka\"'" || return 1
  log "java agent: $(curl -fsS "http://127.0.0.1:$apm/_standin/stats?values=0" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["services"].get("smoke-kafka"))')"
  stop_last   # kafka
  stop_last   # otlp sink
  ok kafka+javaagent $((SECONDS - t0))
}

# ---- PostgreSQL: initdb + start + psql as a non-root user ----------------------
smoke_postgres() {
  local t0=$SECONDS p
  p=$(free_port)
  ensure_user
  mkdir -p "$WORK/pg" "$WORK/pgsock"
  chown "$RUNUSER" "$WORK/pg" "$WORK/pgsock"
  timeout 120 runuser -u "$RUNUSER" -- "$POSTGRES_BIN_DIR/initdb" -D "$WORK/pg/data" -U postgres --auth=trust >"$WORK/initdb.log" 2>&1 || return 1
  start postgres runuser -u "$RUNUSER" -- "$POSTGRES_BIN_DIR/postgres" -D "$WORK/pg/data" \
    -h 127.0.0.1 -p "$p" -k "$WORK/pgsock" -c fsync=off
  wait_for 60 "postgres ready" "$POSTGRES_BIN_DIR/pg_isready" -h 127.0.0.1 -p "$p" || return 1
  local out
  out=$(timeout 30 "$POSTGRES_BIN_DIR/psql" -h 127.0.0.1 -p "$p" -U postgres -tAc 'select 1') || return 1
  [[ "$out" == 1 ]] || { log "psql said: $out"; return 1; }
  stop_last
  ok postgres $((SECONDS - t0))
}

# ---- Redis: PING ---------------------------------------------------------------
smoke_redis() {
  local t0=$SECONDS p
  p=$(free_port)
  mkdir -p "$WORK/redis"
  start redis "$REDIS_SERVER" --bind 127.0.0.1 --port "$p" --save '' --appendonly no --dir "$WORK/redis"
  wait_for 30 "redis PONG" sh -c "'$REDIS_CLI' -h 127.0.0.1 -p $p ping | grep -q PONG" || return 1
  stop_last
  ok redis $((SECONDS - t0))
}

# ---- Elasticsearch integ-test distribution (optional) ---------------------------
smoke_es() {
  local t0=$SECONDS p tp
  [[ -n "${ES_HOME:-}" ]] || { log "ES_HOME unset: run build-tools.sh with OTELPLAN_LIVE_WITH_ES=1"; return 1; }
  p=$(free_port); tp=$(free_port)
  ensure_user
  mkdir -p "$WORK/es/data" "$WORK/es/logs" "$WORK/es/tmp"
  # a private copy: the cache under /root is not readable by the non-root user
  cp -a "$ES_HOME" "$WORK/es/home"
  cp -r "$WORK/es/home/config" "$WORK/es/config"
  cat >> "$WORK/es/config/elasticsearch.yml" <<EOF
cluster.name: smoke
node.name: smoke-0
discovery.type: single-node
network.host: 127.0.0.1
http.port: $p
transport.port: $tp
path.data: $WORK/es/data
path.logs: $WORK/es/logs
xpack.security.enabled: false
cluster.routing.allocation.disk.threshold_enabled: false
EOF
  chown -R "$RUNUSER" "$WORK/es"
  start elasticsearch runuser -u "$RUNUSER" -- env ES_JAVA_HOME="$ES_JAVA_HOME" ES_PATH_CONF="$WORK/es/config" \
    ES_TMPDIR="$WORK/es/tmp" ES_JAVA_OPTS="-Xms512m -Xmx512m" "$WORK/es/home/bin/elasticsearch"
  wait_for 180 "elasticsearch green/yellow" \
    curl -fsS "http://127.0.0.1:$p/_cluster/health?wait_for_status=yellow&timeout=5s" || return 1
  # the integ-test distribution lacks the rest-root module: GET / answers 405
  curl -fsS -i "http://127.0.0.1:$p/_cluster/health" | grep -qi '^x-elastic-product: Elasticsearch' || return 1
  curl -fsS -XPUT "http://127.0.0.1:$p/smoke/_doc/1?refresh=true" -H 'Content-Type: application/json' -d '{"a":1}' >/dev/null || return 1
  curl -fsS "http://127.0.0.1:$p/smoke/_count" | grep -q '"count":1' || return 1
  stop_last
  ok elasticsearch $((SECONDS - t0))
}

for t in "${WANT[@]}"; do
  log "---- $t"
  if ! "smoke_$t"; then
    bad "$t"
    # stop whatever this check left running before the next one
    while [[ ${#PIDS[@]} -gt 0 ]]; do stop_last; done
  fi
done

printf '%s\n' "${RESULTS[@]}"
[[ $FAILED -eq 0 ]]

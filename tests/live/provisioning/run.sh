#!/usr/bin/env bash
# Proves the files otelplan writes for the team's datastores against real servers: for each
# datastore it renders a stack whose endpoints are loopback servers started here, applies the
# tree's provisioning files and settings exactly as the tree's README says, then runs the real
# collector with the tree's own configs (exporting to the `file` exporter) and checks what the
# receivers and the log agent report.
#
#   tests/live/provisioning/run.sh [postgres] [redis] [kafka] [es]      (default: all four)
#
# - postgres: PostgreSQL 15 started with the compose overlay's `command` (plus
#   log_statement=all); monitoring-role.sql refuses to run without its password, then creates the
#   role (twice: it is idempotent); the password reaches neither the server's log nor a file; the
#   postgresql receiver scrapes with the role; the log agent, running as another user in the
#   group the compose file gives it, reads the group-readable files and parses a multi-line
#   error into one record.
# - redis: Redis 7 with an aclfile; acl-user.sh creates the ACL user (a password with spaces
#   and quotes) and saves it to the aclfile; the user may run INFO and nothing else; the redis
#   receiver scrapes with no command refused.
# - kafka: a Kafka 4.4 KRaft broker with StandardAuthorizer, an admin on SASL/PLAIN and an
#   unauthenticated listener for the receiver; before acls.sh the kafka_metrics receiver sees
#   only the broker count, after it (run twice) topics, partitions and a consumer group's lag;
#   a Kafka buffer's topics.sh (run twice) creates its topics with the planned partitions and
#   retention.
# - es: monitoring-user.sh against a recording HTTP server, not a real Elasticsearch (see
#   prove_es): the requests, the privileges and the passwords it sends.
#
# Servers and collectors run as non-root users on loopback, on free ports, in a temporary
# directory removed on exit; each step is bounded by a timeout, the whole run by
# PROVISION_TIMEOUT (default 600 s). Needs root (to switch users), Python with PyYAML, the
# tools of tests/live/tools/build-tools.sh (PostgreSQL, Redis, Kafka jars, Java), the collector
# of tests/live/build.sh ($OTELCOL) and otelplan ($OTELPLAN, default target/release/otelplan,
# built when missing).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)

[[ $(id -u) -eq 0 ]] || { echo "run.sh: needs root, to run the servers and agents as other users" >&2; exit 2; }
PYTHON=
for p in "${OTELPLAN_CHECKERS_VENV:-$HOME/.cache/otelplan-checkers/venv}/bin/python" python3; do
  if "$p" -c 'import yaml' 2>/dev/null; then PYTHON=$p; break; fi
done
[[ -n $PYTHON ]] || { echo "run.sh: no Python with PyYAML (run ../shared/tools/setup-checkers)" >&2; exit 2; }
CHECK=("$PYTHON" "$HERE/check.py")

WANT=("$@")
[[ ${#WANT[@]} -gt 0 ]] || WANT=(postgres redis kafka es)

# The tools, from the environment or build-tools.sh (which only checks its cache when warm).
if [[ -z "${POSTGRES_BIN_DIR:-}" || -z "${REDIS_SERVER:-}" || -z "${REDIS_CLI:-}" || -z "${KAFKA_LIBS:-}" \
  || -z "${KAFKA_LOG4J:-}" || -z "${KAFKA_JAVA:-}" ]]; then
  while IFS= read -r line; do
    name=${line%%=*}
    [[ -n "${!name:-}" ]] || eval "$line"
  done < <(OTELPLAN_LIVE_SKIP="jaeger prometheus javaagent standins ${OTELPLAN_LIVE_SKIP:-}" \
    "$ROOT/tests/live/tools/build-tools.sh" | grep -E '^[A-Z_0-9]+=')
fi
OTELCOL=${OTELCOL:-$("$ROOT/tests/live/build.sh" | tail -n 1)}
OTELPLAN=${OTELPLAN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/otelplan}
[[ -x $OTELPLAN ]] || (cd "$ROOT" && cargo build --release --quiet)

RUNUSER=otelplanlive   # runs the servers
AGENT=nobody           # runs the collectors
WORK=$(mktemp -d /tmp/otelplan-provision.XXXXXX)
chmod 755 "$WORK"
WATCHDOG=
CHECK_PID=
FAILED=0
RESULTS=()
# Process groups started, one a line: each check runs in a subshell, and the cleanup of a
# stopped run must still find them.
PIDFILE=$WORK/pids
: >"$PIDFILE"

log() { printf '[provision %s] %s\n' "$(date +%T)" "$*" >&2; }

# stop_all: stop every process group started, TERM then KILL after 15 s
stop_all() {
  local pid pids
  mapfile -t pids <"$PIDFILE"
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  local deadline=$(($(date +%s) + 15))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [[ $(date +%s) -lt $deadline ]]; do sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  : >"$PIDFILE"
}

cleanup() {
  local rc=$?
  set +e
  [[ -n ${CHECK_PID:-} ]] && kill -TERM "$CHECK_PID" 2>/dev/null && wait "$CHECK_PID" 2>/dev/null
  stop_all
  [[ -n $WATCHDOG ]] && kill "$WATCHDOG" 2>/dev/null
  [[ $rc -eq 130 ]] && log "stopped by a signal or the ${PROVISION_TIMEOUT:-600}s timeout"
  if [[ $rc -ne 0 || $FAILED -ne 0 ]]; then
    for f in "$WORK"/*.log; do
      [[ -f $f ]] || continue
      echo "----- tail of $f" >&2
      tail -n 30 "$f" | cut -c1-400 >&2
    done
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
(
  sleep "${PROVISION_TIMEOUT:-600}" &
  s=$!
  trap 'kill $s 2>/dev/null; exit 0' TERM
  wait $s && kill -TERM $$
) </dev/null >/dev/null 2>&1 &
WATCHDOG=$!

id "$RUNUSER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$RUNUSER"
RUN_UID=$(id -u "$RUNUSER")
RUN_GID=$(id -g "$RUNUSER")
# The collector in root's cache is not readable by other users: a private copy.
install -m 0755 "$OTELCOL" "$WORK/otelcol"

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start NAME CMD...: CMD in its own process group, output in $WORK/NAME.log
start() {
  local name=$1
  shift
  setsid "$@" >"$WORK/$name.log" 2>&1 </dev/null &
  echo "$!" >>"$PIDFILE"
}

# wait_for SECONDS WHAT CMD...: retries CMD until it succeeds
wait_for() {
  local secs=$1 what=$2
  shift 2
  local deadline=$(($(date +%s) + secs))
  local last
  last=$(tail -n 1 "$PIDFILE")
  until "$@" >/dev/null 2>&1; do
    if [[ $(date +%s) -ge $deadline ]]; then
      log "FAILED waiting ${secs}s for: $what"
      return 1
    fi
    if [[ -n $last ]] && ! kill -0 "$last" 2>/dev/null; then
      log "FAILED: the process for '$what' exited"
      return 1
    fi
    sleep 0.5
  done
}

# a command prefix: as the servers' user
AS_SERVER=(runuser -u "$RUNUSER" --)

# bounded SECS CMD...: CMD, stopped after SECS. `timeout` runs it in a process group of its own,
# recorded while it runs, so that the cleanup of an interrupted check stops it too.
bounded() {
  local secs=$1 pid rc=0
  shift
  timeout "$secs" "$@" <&0 &
  pid=$!
  echo "$pid" >>"$PIDFILE"
  wait "$pid" || rc=$?
  sed -i "/^$pid\$/d" "$PIDFILE"
  return $rc
}

# render NAME TEXT: render the stack TEXT into $WORK/NAME-tree, as the team gets it
render() {
  printf '%s' "$2" >"$WORK/$1.yaml"
  "$OTELPLAN" render "$WORK/$1.yaml" -o "$WORK/$1-tree" >"$WORK/$1-render.log" 2>&1
}

# collect NAME CONFIG GROUPS SECONDS [VAR=VALUE...]: run the real collector on a config of the
# tree, every pipeline exporting to $WORK/NAME.json, as $AGENT with the extra GROUPS
# (comma-separated, or -), for SECONDS. Fails when the collector logs an error.
collect() {
  local name=$1 config=$2 groups=$3 secs=$4
  shift 4
  mkdir -p "$WORK/$name-storage"
  chown "$AGENT" "$WORK/$name-storage"
  "${CHECK[@]}" override "$config" "$WORK/$name-override.yaml" "$WORK/$name.json" "$WORK/$name-storage" "$(free_port)"
  touch "$WORK/$name.json"
  chown "$AGENT" "$WORK/$name.json"
  local ids=(--reuid="$AGENT" --regid=nogroup --clear-groups)
  [[ $groups == - ]] || ids=(--reuid="$AGENT" --regid=nogroup --groups="$groups")
  bounded "$secs" setpriv "${ids[@]}" env -i PATH=/usr/bin:/bin "$@" \
    "$WORK/otelcol" --config "$config" --config "$WORK/$name-override.yaml" >"$WORK/$name.log" 2>&1 || true
  if grep -P '^\S+\t(error|fatal)\t' "$WORK/$name.log" >&2; then
    log "the collector logged errors"
    return 1
  fi
}

ok() { log "OK $1 in $2s"; }

# ---- PostgreSQL ---------------------------------------------------------------------------
prove_postgres() {
  local t0=$SECONDS port pw=pg-M0nitor#42 pg=$POSTGRES_BIN_DIR
  port=$(free_port)
  mkdir -p "$WORK/pg/logs" "$WORK/pg/sock"
  render pg "version: 1
name: prov
topology: D
targets: [compose]
backends: { elasticsearch: { endpoint: \"http://127.0.0.1:9\" } }
services:
  db:
    kind: postgres
    endpoint: 127.0.0.1:$port
    databases: [app]
    username: otel_monitor
    password: \${PG_MONITOR_PASSWORD}
    logs: { path: $WORK/pg/logs/*.log, owner: \"$RUN_UID:$RUN_GID\" }
"
  # The log directory as compose's volume-init leaves it: the owner's, group-readable.
  chown "$RUN_UID:$RUN_GID" "$WORK/pg/logs" && chmod 0750 "$WORK/pg/logs"
  chown "$RUNUSER" "$WORK/pg" "$WORK/pg/sock"
  bounded 120 "${AS_SERVER[@]}" "$pg/initdb" -D "$WORK/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    >"$WORK/initdb.log" 2>&1
  local args
  mapfile -t args < <("${CHECK[@]}" args "$WORK/pg-tree/compose/dkp.override.yaml" db)
  [[ ${args[0]} == postgres ]] || { log "the overlay's command is not postgres: ${args[*]}"; return 1; }
  # The overlay's settings, as the official image's entrypoint would run them; log_statement=all
  # so that a leaked password would show in the log.
  start postgres "${AS_SERVER[@]}" "$pg/postgres" -D "$WORK/pg/data" -h 127.0.0.1 -p "$port" -k "$WORK/pg/sock" \
    "${args[@]:1}" -c log_statement=all
  wait_for 60 "postgres ready" "$pg/pg_isready" -h 127.0.0.1 -p "$port"
  local psql=("$pg/psql" -X -h "$WORK/pg/sock" -p "$port" -U postgres)
  bounded 30 "${psql[@]}" -qc 'CREATE DATABASE app'
  local role=$WORK/pg-tree/provisioning/db/monitoring-role.sql out
  if out=$(bounded 30 env -u PG_MONITOR_PASSWORD "${psql[@]}" -f "$role" 2>&1); then
    log "monitoring-role.sql ran without its password: $out"
    return 1
  fi
  grep -q 'set PG_MONITOR_PASSWORD in the environment of psql' <<<"$out" || { log "unexpected refusal: $out"; return 1; }
  PG_MONITOR_PASSWORD=$pw bounded 30 "${psql[@]}" -q -f "$role"
  PG_MONITOR_PASSWORD=$pw bounded 30 "${psql[@]}" -q -f "$role"
  out=$(bounded 30 "${psql[@]}" -tAc "SELECT pg_has_role('otel_monitor', 'pg_monitor', 'member'), has_database_privilege('otel_monitor', 'app', 'CONNECT')")
  [[ $out == "t|t" ]] || { log "otel_monitor: pg_monitor member, may connect to app: $out"; return 1; }
  PGPASSWORD=$pw bounded 30 "$pg/psql" -X -h 127.0.0.1 -p "$port" -U otel_monitor -d app -tAc 'SELECT 1' >/dev/null
  if grep -rlF -- "$pw" "$WORK/pg/logs" "$WORK/postgres.log" "$WORK/pg-tree" "$WORK/pg/data/postgresql.auto.conf" >&2; then
    log "the password reached these files"
    return 1
  fi
  # A multi-line statement that fails: the agent must send one record for it.
  bounded 30 "${psql[@]}" -d app -qf - >/dev/null 2>&1 <<'SQL' || true
SELECT 1,
    provoked_error
  FROM pg_class;
SQL
  # The scraper as the tree configures it, then the log agent as another user in the group
  # the compose file gives it.
  collect pg-scraper "$WORK/pg-tree/collector/scraper.yaml" - 8 PG_MONITOR_PASSWORD="$pw"
  "${CHECK[@]}" expect-metrics "$WORK/pg-scraper.json" 'postgresql.db_size{postgresql.database.name=app}' \
    'postgresql.commits{postgresql.database.name=app,service.name=db}' postgresql.table.count \
    postgresql.bgwriter.checkpoint.count
  local groups
  groups=$("${CHECK[@]}" group-add "$WORK/pg-tree/compose/docker-compose.yaml" prov-agent-db)
  [[ $groups == "$RUN_GID" ]] || { log "the agent joins group $groups, not the owner's $RUN_GID"; return 1; }
  collect pg-agent "$WORK/pg-tree/collector/agent-db.yaml" "$groups" 6
  "${CHECK[@]}" postgres-logs "$WORK/pg-agent.json"
  # Without that group the files are closed to the agent: the group is what lets it read.
  collect pg-outsider "$WORK/pg-tree/collector/agent-db.yaml" - 4 2>/dev/null || true
  if [[ -s "$WORK/pg-outsider.json" ]]; then
    log "an agent outside the owner's group read the log files"
    return 1
  fi
  stop_all
  ok postgres $((SECONDS - t0))
}

# ---- Redis ----------------------------------------------------------------------------------
prove_redis() {
  local t0=$SECONDS port admin=admin-pw pw="p w'\"\\x"
  port=$(free_port)
  mkdir -p "$WORK/redis"
  printf 'user default on >%s ~* &* +@all\n' "$admin" >"$WORK/redis/users.acl"
  chown -R "$RUNUSER" "$WORK/redis"
  render redis "version: 1
name: prov
topology: D
targets: [compose]
backends: { elasticsearch: { endpoint: \"http://127.0.0.1:9\" } }
services:
  cache: { kind: redis, endpoint: \"127.0.0.1:$port\", username: otel_monitor, password: \"\${REDIS_MONITOR_PASSWORD}\" }
"
  start redis "${AS_SERVER[@]}" "$REDIS_SERVER" --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$WORK/redis" --aclfile "$WORK/redis/users.acl"
  wait_for 30 "redis answers" sh -c "REDISCLI_AUTH=$admin '$REDIS_CLI' -p $port ping | grep -q PONG"
  local script=$WORK/redis-tree/provisioning/cache/acl-user.sh out
  export PATH="$(dirname "$REDIS_CLI"):$PATH"
  if out=$(bounded 30 env -u REDIS_MONITOR_PASSWORD REDISCLI_AUTH=$admin sh "$script" 2>&1); then
    log "acl-user.sh ran without its password: $out"
    return 1
  fi
  REDISCLI_AUTH=$admin REDIS_MONITOR_PASSWORD=$pw bounded 30 sh "$script"
  REDISCLI_AUTH=$admin REDIS_MONITOR_PASSWORD=$pw bounded 30 sh "$script"
  grep -q '^user otel_monitor on .*-@all +info' "$WORK/redis/users.acl" || { log "not saved: $(cat "$WORK/redis/users.acl")"; return 1; }
  if grep -qF -- "$pw" "$WORK/redis/users.acl"; then log "the password is in the aclfile"; return 1; fi
  local as_monitor=(bounded 10 env REDISCLI_AUTH="$pw" "$REDIS_CLI" -p "$port" --user otel_monitor)
  "${as_monitor[@]}" INFO server | grep -q '^redis_version:' || { log "the monitoring user cannot run INFO"; return 1; }
  local refused
  for refused in "GET k" "CONFIG GET maxmemory" "KEYS x*" "CLIENT LIST"; do
    read -ra words <<<"$refused"
    "${as_monitor[@]}" "${words[@]}" 2>&1 | grep -q NOPERM || { log "the monitoring user may run $refused"; return 1; }
  done
  REDISCLI_AUTH=$admin "$REDIS_CLI" -p "$port" ACL LOG RESET >/dev/null
  collect redis-scraper "$WORK/redis-tree/collector/scraper.yaml" - 6 REDIS_MONITOR_PASSWORD="$pw"
  "${CHECK[@]}" expect-metrics "$WORK/redis-scraper.json" 'redis.clients.connected{service.name=cache}' \
    redis.memory.used redis.commands.processed
  out=$(REDISCLI_AUTH=$admin "$REDIS_CLI" -p "$port" ACL LOG)
  [[ -z $out ]] || { log "the server refused the receiver something: $out"; return 1; }
  stop_all
  ok redis $((SECONDS - t0))
}

# ---- Kafka ------------------------------------------------------------------------------------
prove_kafka() {
  local t0=$SECONDS admin_port controller_port monitor_port
  admin_port=$(free_port)
  controller_port=$(free_port)
  monitor_port=$(free_port)
  local k=$WORK/kafka
  mkdir -p "$k/data"
  # The jars in root's cache are not readable by the servers' user: a private copy.
  cp -r "$KAFKA_LIBS" "$k/libs"
  cp "$KAFKA_LOG4J" "$k/log4j2.properties"
  local jaas='org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret"'
  cat >"$k/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=ADMIN://127.0.0.1:$admin_port,CONTROLLER://127.0.0.1:$controller_port,MONITOR://127.0.0.1:$monitor_port
advertised.listeners=ADMIN://127.0.0.1:$admin_port,MONITOR://127.0.0.1:$monitor_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=ADMIN
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,ADMIN:SASL_PLAINTEXT,MONITOR:PLAINTEXT
sasl.enabled.mechanisms=PLAIN
sasl.mechanism.controller.protocol=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.controller.plain.sasl.jaas.config=$jaas user_admin="admin-secret";
listener.name.admin.plain.sasl.jaas.config=$jaas user_admin="admin-secret";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
log.dirs=$k/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  cat >"$k/admin.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=$jaas;
EOF
  # kafka-acls.sh as the distribution has it, for the script under test
  cat >"$k/kafka-acls.sh" <<EOF
#!/bin/sh
exec "$KAFKA_JAVA" -Xms64m -Xmx256m -Dlog4j2.configurationFile=$k/log4j2.properties -cp "$k/libs/*" org.apache.kafka.tools.AclCommand "\$@"
EOF
  chmod 755 "$k/kafka-acls.sh"
  # and kafka-topics.sh, for the buffer's topics script
  cat >"$k/kafka-topics.sh" <<EOF
#!/bin/sh
exec "$KAFKA_JAVA" -Xms64m -Xmx256m -Dlog4j2.configurationFile=$k/log4j2.properties -cp "$k/libs/*" org.apache.kafka.tools.TopicCommand "\$@"
EOF
  chmod 755 "$k/kafka-topics.sh"
  chown -R "$RUNUSER" "$k"
  render events "version: 1
name: prov
topology: D
targets: [compose]
backends: { elasticsearch: { endpoint: \"http://127.0.0.1:9\" } }
services:
  events: { kind: kafka, brokers: [\"127.0.0.1:$monitor_port\"] }
"
  local java=("$KAFKA_JAVA" -Xms256m -Xmx512m -Dlog4j2.configurationFile="$k/log4j2.properties" -cp "$k/libs/*")
  local cid
  cid=$(bounded 60 "${AS_SERVER[@]}" "${java[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  bounded 60 "${AS_SERVER[@]}" "${java[@]}" kafka.tools.StorageTool format -t "$cid" -c "$k/server.properties" \
    >"$WORK/kafka-format.log" 2>&1
  start kafka "${AS_SERVER[@]}" "${java[@]}" kafka.Kafka "$k/server.properties"
  local admin=(--bootstrap-server "127.0.0.1:$admin_port" --command-config "$k/admin.properties")
  local topics=(bounded 60 "${java[@]}" org.apache.kafka.tools.TopicCommand "${admin[@]}")
  wait_for 120 "kafka answers the admin" "${topics[@]}" --list
  "${topics[@]}" --create --topic orders --partitions 2 --replication-factor 1 >/dev/null
  printf 'a\nb\nc\nd\n' | bounded 60 "${java[@]}" org.apache.kafka.tools.ConsoleProducer "${admin[@]}" --topic orders \
    >"$WORK/kafka-produce.log" 2>&1
  bounded 60 "${java[@]}" org.apache.kafka.tools.consumer.ConsoleConsumer "${admin[@]}" --topic orders \
    --group billing --from-beginning --max-messages 2 >"$WORK/kafka-consume.log" 2>&1
  # Before the ACLs the authorizer hides topics and groups: only the broker count.
  collect kafka-before "$WORK/events-tree/collector/scraper.yaml" - 6
  "${CHECK[@]}" expect-metrics "$WORK/kafka-before.json" 'kafka.brokers{service.name=events}'
  "${CHECK[@]}" refuse-metrics "$WORK/kafka-before.json" kafka.topic.partitions kafka.consumer_group.lag
  local acls=(bounded 120 env KAFKA_ACLS="$k/kafka-acls.sh" KAFKA_BOOTSTRAP="127.0.0.1:$admin_port"
    KAFKA_ADMIN_CONFIG="$k/admin.properties" sh "$WORK/events-tree/provisioning/events/acls.sh")
  "${acls[@]}" >"$WORK/kafka-acls.log" 2>&1
  "${acls[@]}" >>"$WORK/kafka-acls.log" 2>&1
  collect kafka-after "$WORK/events-tree/collector/scraper.yaml" - 6
  "${CHECK[@]}" expect-metrics "$WORK/kafka-after.json" 'kafka.brokers{service.name=events}' \
    'kafka.topic.partitions{topic=orders}' 'kafka.partition.current_offset{topic=orders}' \
    'kafka.consumer_group.lag{group=billing,topic=orders}' 'kafka.consumer_group.members{group=billing}'
  # A Kafka buffer on the team's cluster: topics.sh (run twice) creates the planned topics, with
  # the partitions and retention `otelplan plan` states.
  render buffer "version: 1
name: prov
topology: D
targets: [compose]
collector: { buffer: { kafka: { brokers: [\"127.0.0.1:$admin_port\"], topic_prefix: prov. } } }
backends: { elasticsearch: { endpoint: \"http://127.0.0.1:9\" } }
services:
  web: { kind: django }
"
  "$OTELPLAN" plan "$WORK/buffer.yaml" --format json >"$WORK/buffer-plan.json"
  local create=(bounded 120 env KAFKA_TOPICS="$k/kafka-topics.sh" KAFKA_ADMIN_CONFIG="$k/admin.properties"
    KAFKA_REPLICATION_FACTOR=1 KAFKA_MIN_INSYNC_REPLICAS=1 sh "$WORK/buffer-tree/provisioning/kafka-buffer/topics.sh")
  "${create[@]}" >"$WORK/kafka-topics.log" 2>&1
  "${create[@]}" >>"$WORK/kafka-topics.log" 2>&1
  "${topics[@]}" --describe --topics-with-overrides >"$WORK/kafka-describe.log" 2>&1
  "${CHECK[@]}" buffer-topics "$WORK/buffer-plan.json" "$WORK/kafka-describe.log"
  stop_all
  ok kafka $((SECONDS - t0))
}

# ---- Elasticsearch: the requests only --------------------------------------------------------
# The Elasticsearch distribution the live tools cache (integ-test) cannot keep native users: its
# security index needs the analysis-common module it lacks. So this checks what
# monitoring-user.sh sends, against a recording HTTP server: passwords with quotes, backslashes
# and spaces arrive intact, a bad or missing one stops it before any request.
prove_es() {
  local t0=$SECONDS port admin='adm "in\\' pw="s p\"w\\x'y"
  port=$(free_port)
  render search "version: 1
name: prov
topology: D
targets: [compose]
backends: { elasticsearch: { endpoint: \"http://127.0.0.1:9\" } }
services:
  search: { kind: elasticsearch, endpoint: \"http://127.0.0.1:$port\", username: \"otel mon\", password: \"\${SEARCH_MONITOR_PASSWORD}\" }
"
  start es-recorder "${CHECK[@]}" record-http "$port" "$WORK/es-requests.json"
  wait_for 20 "the recording server" curl -fsS -X PUT -d '{}' "http://127.0.0.1:$port/ready"
  : >"$WORK/es-requests.json"
  local script=$WORK/search-tree/provisioning/search/monitoring-user.sh
  local newline=$'bad\npassword'
  if ELASTICSEARCH_ADMIN_PASSWORD=$admin bounded 30 sh "$script" 2>/dev/null \
    || ELASTICSEARCH_ADMIN_PASSWORD=$admin SEARCH_MONITOR_PASSWORD=$newline bounded 30 sh "$script" 2>/dev/null; then
    log "monitoring-user.sh ran without a usable password"
    return 1
  fi
  [[ ! -s "$WORK/es-requests.json" ]] || { log "a request went out before the passwords were checked"; return 1; }
  ELASTICSEARCH_ADMIN_USER=admin ELASTICSEARCH_ADMIN_PASSWORD=$admin SEARCH_MONITOR_PASSWORD=$pw bounded 30 sh "$script" >/dev/null
  "${CHECK[@]}" es-requests "$WORK/es-requests.json" prov-otel-monitor "otel mon" "$pw" "admin:$admin"
  stop_all
  ok es-requests $((SECONDS - t0))
}

for t in "${WANT[@]}"; do
  log "---- $t"
  # In a subshell of its own, so that `set -e` stops the check at its first failure (inside an
  # `if`, bash would ignore it); waited for in the background, so that a signal or the watchdog
  # interrupts the wait and the cleanup stops it.
  (
    set -e
    trap stop_all EXIT
    "prove_$t"
  ) &
  CHECK_PID=$!
  rc=0
  wait "$CHECK_PID" || rc=$?
  CHECK_PID=
  if [[ $rc -eq 0 ]]; then
    RESULTS+=("ok   $t")
  else
    RESULTS+=("FAIL $t")
    FAILED=1
    log "FAIL $t"
  fi
done
printf '%s\n' "${RESULTS[@]}"
[[ $FAILED -eq 0 ]]

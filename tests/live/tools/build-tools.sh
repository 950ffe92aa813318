#!/usr/bin/env bash
# Builds or installs the real programs the live harness runs, and caches them
# under ${OTELPLAN_LIVE_CACHE:-$HOME/.cache/otelplan-live}/<tool>/<version>/.
# A warm run checks the cache only (seconds, no network).
#
# Prints NAME=PATH lines last, for `eval "$(tests/live/tools/build-tools.sh | tail -n 20)"`
# (every line of the tail is NAME=VALUE; progress goes to stderr).
#
#   JAEGER            Jaeger v2 binary (module github.com/jaegertracing/jaeger v1.75.0 = Jaeger 2.12.0)
#   PROMETHEUS        Prometheus 3 binary (github.com/prometheus/prometheus v0.316.0 = 3.16.0), no UI assets
#   KAFKA_LIBS        directory of the Kafka broker's jars (org.apache.kafka:kafka_2.13 + runtime deps + log4j2 binding)
#   KAFKA_CLASSPATH   "$KAFKA_LIBS/*" for java -cp
#   KAFKA_LOG4J       a log4j2 config (console, WARN) for -Dlog4j2.configurationFile=
#   KAFKA_JAVA        java for Kafka (17+)
#   OTEL_JAVAAGENT    io.opentelemetry.javaagent:opentelemetry-javaagent jar
#   POSTGRES_BIN_DIR  directory holding initdb, postgres, pg_ctl, psql (Debian package)
#   REDIS_SERVER      redis-server (Debian package)
#   REDIS_CLI         redis-cli
#   ES_HOME, ES_JAVA_HOME  Elasticsearch integ-test distribution (only with OTELPLAN_LIVE_WITH_ES=1)
#   STANDINS          the stand-ins binary (tests/live/standins/build.sh)
#
# Environment: OTELPLAN_LIVE_CACHE (cache root), OTELPLAN_LIVE_WITH_ES=1 (also the
# Elasticsearch distribution), OTELPLAN_LIVE_SKIP="jaeger prometheus ..." (skip tools).
set -euo pipefail

JAEGER_MODULE_VERSION=v1.75.0        # Jaeger 2.12.0; the only approved release served
PROMETHEUS_MODULE_VERSION=v0.316.0   # Prometheus 3.16.0; its go.mod has no replace/exclude
KAFKA_VERSION=4.4.0                  # kafka_2.13; newest that resolved with its deps on Maven Central here
LOG4J_VERSION=2.26.1                 # log4j-slf4j2-impl + log4j-core: the logging binding Kafka's POM leaves out
SLF4J_VERSION=2.0.17                 # Kafka's POM asks for slf4j-api 1.7.36; 2.0.x (compatible) so the slf4j2 binding applies
OTEL_JAVAAGENT_VERSION=2.33.1        # io.opentelemetry.javaagent:opentelemetry-javaagent
ES_VERSION=9.5.2                     # org.elasticsearch.distribution.integ-test-zip:elasticsearch (optional)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${OTELPLAN_LIVE_CACHE:-$HOME/.cache/otelplan-live}
SKIP=" ${OTELPLAN_LIVE_SKIP:-} "
mkdir -p "$CACHE"

log() { printf '[build-tools] %s\n' "$*" >&2; }
skip() { [[ "$SKIP" == *" $1 "* ]]; }
now() { date +%s; }
declare -A OUT=()
ORDER=()
emit() { OUT[$1]=$2; ORDER+=("$1"); }

# Go builds: static, no VCS stamping, module proxy only.
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"
# One module cache with tests/live/build.sh, under ~/.cache so CI keeps it.
export GOMODCACHE="${GOMODCACHE:-$CACHE/gomod}"

# ---- Jaeger v2 -------------------------------------------------------------
# Its go.mod has a replace directive, so `go install …@v` refuses it: build it
# as a tool of a throwaway module of our own.
build_jaeger() {
  local dir="$CACHE/jaeger/$JAEGER_MODULE_VERSION"
  if [[ ! -x "$dir/jaeger" ]]; then
    local t0; t0=$(now)
    log "jaeger $JAEGER_MODULE_VERSION: building (cold: several minutes)"
    rm -rf "$dir/src"; mkdir -p "$dir/src"
    (
      cd "$dir/src"
      go mod init otelplan-live/jaeger >/dev/null 2>&1
      go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_MODULE_VERSION"
      go build -trimpath -ldflags "-s -w \
        -X github.com/jaegertracing/jaeger/internal/version.latestVersion=v2.12.0 \
        -X github.com/jaegertracing/jaeger/internal/version.commitSHA=module-$JAEGER_MODULE_VERSION" \
        -o "$dir/jaeger.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
    ) >&2
    mv "$dir/jaeger.tmp" "$dir/jaeger"
    log "jaeger built in $(( $(now) - t0 ))s"
  fi
  emit JAEGER "$dir/jaeger"
}

# ---- Prometheus 3 ----------------------------------------------------------
build_prometheus() {
  local dir="$CACHE/prometheus/$PROMETHEUS_MODULE_VERSION"
  if [[ ! -x "$dir/prometheus" ]]; then
    local t0; t0=$(now)
    log "prometheus $PROMETHEUS_MODULE_VERSION: building (cold: several minutes)"
    mkdir -p "$dir"
    local mod; mod=$(go list -m -json "github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    if grep -Eq '^(replace|exclude)' "$mod"; then
      echo "prometheus $PROMETHEUS_MODULE_VERSION has replace/exclude in go.mod: go install refuses it" >&2; exit 1
    fi
    local vpath=github.com/prometheus/common/version
    GOBIN="$dir/bin" go install -trimpath -ldflags "-s -w \
      -X $vpath.Version=3.${PROMETHEUS_MODULE_VERSION#v0.} -X $vpath.Revision=module -X $vpath.Branch=module \
      -X $vpath.BuildUser=otelplan -X $vpath.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)" \
      "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_MODULE_VERSION" >&2
    mv "$dir/bin/prometheus" "$dir/prometheus"; rmdir "$dir/bin" 2>/dev/null || true
    log "prometheus built in $(( $(now) - t0 ))s"
  fi
  emit PROMETHEUS "$dir/prometheus"
}

# ---- Kafka broker (KRaft) from Maven Central --------------------------------
build_kafka() {
  local dir="$CACHE/kafka/$KAFKA_VERSION"
  if [[ ! -f "$dir/.done" ]]; then
    local t0; t0=$(now)
    log "kafka $KAFKA_VERSION: resolving jars from Maven Central"
    rm -rf "$dir"; mkdir -p "$dir"
    cat > "$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>otelplan.live</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
    (cd "$dir" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/libs") >&2
    cat > "$dir/log4j2.properties" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDERR
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.console.ref = STDERR
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
EOF
    touch "$dir/.done"
    log "kafka resolved in $(( $(now) - t0 ))s ($(ls "$dir/libs" | wc -l) jars)"
  fi
  emit KAFKA_LIBS "$dir/libs"
  emit KAFKA_CLASSPATH "$dir/libs/*"
  emit KAFKA_LOG4J "$dir/log4j2.properties"
  emit KAFKA_JAVA "$(command -v java)"
}

# ---- OpenTelemetry Java agent ------------------------------------------------
build_javaagent() {
  local dir="$CACHE/otel-javaagent/$OTEL_JAVAAGENT_VERSION"
  local jar="$dir/opentelemetry-javaagent.jar"
  if [[ ! -f "$jar" ]]; then
    log "opentelemetry-javaagent $OTEL_JAVAAGENT_VERSION: fetching from Maven Central"
    mkdir -p "$dir"
    mvn -q -B -Dstyle.color=never dependency:get -Dtransitive=false \
      -Dartifact="io.opentelemetry.javaagent:opentelemetry-javaagent:$OTEL_JAVAAGENT_VERSION" >&2
    cp "$HOME/.m2/repository/io/opentelemetry/javaagent/opentelemetry-javaagent/$OTEL_JAVAAGENT_VERSION/opentelemetry-javaagent-$OTEL_JAVAAGENT_VERSION.jar" "$jar.tmp"
    mv "$jar.tmp" "$jar"
  fi
  emit OTEL_JAVAAGENT "$jar"
}

# ---- PostgreSQL and Redis (Debian packages) ----------------------------------
apt_install() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "need root to apt-get install $*" >&2; exit 1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 || {
    apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; }
}

build_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -z "$bin" || ! -x "$bin/postgres" ]]; then
    apt_install postgresql
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  emit POSTGRES_BIN_DIR "$bin"
}

build_redis() {
  if ! command -v redis-server >/dev/null; then
    apt_install redis-server
  fi
  emit REDIS_SERVER "$(command -v redis-server)"
  emit REDIS_CLI "$(command -v redis-cli)"
}

# ---- Elasticsearch integ-test distribution (optional) ------------------------
build_es() {
  local dir="$CACHE/elasticsearch/$ES_VERSION"
  local jhome
  jhome=$(ls -d /usr/lib/jvm/temurin-2[1-9]* /usr/lib/jvm/temurin-[3-9]* 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -z "$jhome" ]]; then
    log "elasticsearch: no Java 21+ under /usr/lib/jvm; skipped"; return 0
  fi
  if [[ ! -f "$dir/.done" ]]; then
    log "elasticsearch integ-test-zip $ES_VERSION: fetching from Maven Central"
    rm -rf "$dir"; mkdir -p "$dir"
    mvn -q -B -Dstyle.color=never dependency:get -Dtransitive=false \
      -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" >&2
    (cd "$dir" && unzip -q "$HOME/.m2/repository/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip")
    mv "$dir/elasticsearch-$ES_VERSION" "$dir/home"
    touch "$dir/.done"
  fi
  emit ES_HOME "$dir/home"
  emit ES_JAVA_HOME "$jhome"
}

build_standins() {
  local out
  out=$("$HERE/../standins/build.sh" | tail -n 1)
  emit STANDINS "$out"
}

T0=$(now)
skip jaeger || build_jaeger
skip prometheus || build_prometheus
skip kafka || build_kafka
skip javaagent || build_javaagent
skip postgres || build_postgres
skip redis || build_redis
skip standins || build_standins
if [[ "${OTELPLAN_LIVE_WITH_ES:-0}" == 1 ]] && ! skip es; then build_es; fi
log "done in $(( $(now) - T0 ))s; cache: $CACHE"

for k in "${ORDER[@]}"; do
  printf '%s=%q\n' "$k" "${OUT[$k]}"
done

#!/usr/bin/env bash
# Builds the stand-ins binary (APM Server, Elasticsearch, Loki stand-ins and an
# OTLP sender) and caches it under
# ${OTELPLAN_LIVE_CACHE:-$HOME/.cache/otelplan-live}/standins/<hash of the sources>/.
# Prints the binary's path on its last line. `--test` runs the unit tests first.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${OTELPLAN_LIVE_CACHE:-$HOME/.cache/otelplan-live}
cd "$HERE"
export GOMODCACHE="${GOMODCACHE:-$CACHE/gomod}"
if [[ "${1:-}" == "--test" ]]; then
  timeout 600 go test -count=1 ./... >&2
fi
hash=$(find . -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
out="$CACHE/standins/$hash/standins"
if [[ ! -x "$out" ]]; then
  mkdir -p "$(dirname "$out")"
  CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$out.tmp" . >&2
  mv "$out.tmp" "$out"
fi
echo "$out"

#!/usr/bin/env bash
# Shows that tests/live/validate.sh can fail: the DKP tree passes as rendered, and each of three
# broken copies is refused with the reason named (an unknown key, a pipeline naming a component
# that is not configured, a secret the compose service running the config is not given).
#
#   tests/live/validate-selftest.sh [OTELPLAN_BINARY]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/release/otelplan}"
export OTELCOL="${OTELCOL:-$("$here/build.sh" | tail -n1)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" render "$root/examples/dkp.yaml" --topology A -o "$work/tree" >/dev/null 2>&1
passed=0 failed=0

expect() { # NAME EXPECTED-STATUS PATTERN
  local name=$1 want=$2 pattern=$3 status=0
  "$here/validate.sh" "$work/$name" >"$work/$name.log" 2>&1 || status=$?
  if [[ $status -eq $want ]] && grep -q -- "$pattern" "$work/$name.log"; then
    passed=$((passed + 1))
    echo "ok   $name: exit $status, says: $(grep -m1 -- "$pattern" "$work/$name.log" | cut -c1-140)"
  else
    failed=$((failed + 1))
    echo "FAIL $name: exit $status (expected $want, and a line matching '$pattern'):"
    sed 's/^/     /' "$work/$name.log"
  fi
}

broken() { # NAME FILE SED-SCRIPT
  cp -r "$work/tree" "$work/$1"
  sed -i "$3" "$work/$1/$2"
  cmp -s "$work/tree/$2" "$work/$1/$2" && { echo "selftest: the edit of $1 changed nothing" >&2; exit 2; }
  return 0
}

cp -r "$work/tree" "$work/as-rendered"
expect as-rendered 0 "otelcol validate: 6 passed, 0 failed"

broken unknown-key collector/gateway.yaml 's/^    limit_mib:/    limit_mb:/'
expect unknown-key 1 "has invalid keys: limit_mb"

broken undefined-component collector/gateway.yaml '0,/^        - otlp_grpc\/apm_server$/s//        - otlp_grpc\/nowhere/'
expect undefined-component 1 'references exporter "otlp_grpc/nowhere" which is not configured'

broken missing-secret compose/docker-compose.yaml '/^  dkp-gateway:$/,/^  [a-z]/{/^      - ELASTIC_APM_SECRET_TOKEN$/d}'
expect missing-secret 1 "references ELASTIC_APM_SECRET_TOKEN, which compose service .dkp-gateway. .* is not given"

echo "validate selftest: $passed passed, $failed failed"
[[ $failed -eq 0 ]]

#!/usr/bin/env bash
# Shows that the live harness can fail: it must report failures
#   1. for a tree whose gateway exporters point one port off (topology D, plain run), and
#   2. for a stack with `persistent_queue: false` under fault 2 (topology A, faults 1 and 2): the
#      gateway killed during a store outage loses what it had queued;
#   3. for examples/sampling.yaml whose tail sampler keeps three times its ratio (topology D);
#   4. for examples/kafka-buffer.yaml when the store does not come back in fault 6 (a 30 s outage).
# Each run must exit non-zero and its report must hold the expected FAIL rows.
#
#   tests/live/harness-selftest.sh [STACK]      (default: examples/dkp.yaml, for 1 and 2)
#   LIVE_SELFTEST_ONLY=3,4 tests/live/harness-selftest.sh    (some of the cases)
#
# Last line: `harness self-test: N passed, M failed`; exit 1 on any failure. ~20 min warm.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
stack=$(realpath "${1:-$root/examples/dkp.yaml}")
work=$(mktemp -d "${TMPDIR:-/tmp}/otelplan-live-selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
want() { [[ ,${LIVE_SELFTEST_ONLY:-1,2,3,4}, == *,$1,* ]]; }
say() { echo "  $*"; case $1 in ok) passed=$((passed + 1)) ;; *) failed=$((failed + 1)) ;; esac; }
py=${OTELPLAN_CHECKERS_VENV:-$HOME/.cache/otelplan-checkers/venv}/bin/python

expect() { # expect NAME REPORT REGEX...: the run failed and each REGEX matches a FAIL row
  local name=$1 report=$2 rc=$3
  shift 3
  if [[ $rc -eq 0 ]]; then say FAIL "$name: the harness exited 0"; return; fi
  [[ -s $report ]] || { say FAIL "$name: no report"; return; }
  for re in "$@"; do
    if "$py" - "$report" "$re" <<'PY'
import json, re, sys
rows = [r for t in json.load(open(sys.argv[1])) for r in t["rows"]]
hits = [r for r in rows if r[0] == "FAIL" and re.search(sys.argv[2], r[1] + " " + r[2])]
for r in hits[:1]:
    print(f"    FAIL {r[1]} — {r[2][:200]}")
sys.exit(0 if hits else 1)
PY
    then say ok "$name: reported FAIL matching /$re/"
    else say FAIL "$name: no FAIL row matching /$re/"; fi
  done
}

live() { # live KEY STACK ARGS...: run.sh on STACK into $work/KEY{,.json,.log}; its exit code in rc
  local key=$1 stack=$2
  shift 2
  rc=0
  "$here/run.sh" "$stack" "$@" --work "$work/$key" --report "$work/$key.json" >"$work/$key.log" 2>&1 || rc=$?
  tail -n 3 "$work/$key.log" | sed 's/^/    /'
}

if want 1; then
echo "== 1. a gateway whose exporters point one port off (topology D)"
LIVE_ARRIVAL_TIMEOUT=45 live port "$stack" --topology D --mutate wrong-exporter-port
expect "wrong exporter port" "$work/port.json" "$rc" "traces reach" "logs reach" "metrics arrive under service.name"
fi

if want 2; then
echo "== 2. persistent_queue: false under fault 2 (topology A)"
sed 's/persistent_queue: true/persistent_queue: false/' "$stack" >"$work/no-pq.yaml"
grep -q 'persistent_queue: false' "$work/no-pq.yaml" || { say FAIL "could not write a stack with persistent_queue: false"; }
live pq "$work/no-pq.yaml" --topology A --faults --only 1
expect "persistent_queue: false" "$work/pq.json" "$rc" "fault 2 gateway SIGKILL"
fi

if want 3; then
echo "== 3. a tail sampler that keeps three times its ratio (examples/sampling.yaml, topology D)"
live tail "$root/examples/sampling.yaml" --topology D --mutate tail-ratio-tripled
expect "tail ratio tripled" "$work/tail.json" "$rc" "other traces arrive near the ratio"
fi

if want 4; then
echo "== 4. fault 6 with a store that does not come back (examples/kafka-buffer.yaml, topology D)"
LIVE_SELFTEST_STORE_STAYS_DOWN=1 LIVE_BUFFER_OUTAGE_SECONDS=30 LIVE_BUFFER_AFTER_SECONDS=10 \
  live buffer "$root/examples/kafka-buffer.yaml" --topology D --faults --only 6
expect "store stays down" "$work/buffer.json" "$rc" "fault 6 buffer: store down" "consumer lag grew"
fi

echo "harness self-test: $passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]

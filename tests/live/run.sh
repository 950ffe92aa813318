#!/usr/bin/env bash
# The live harness: render a stack, run its compose project's services as processes (each in its
# own network namespace, with its files used verbatim) against real datastores and backends or
# stand-ins, and count what arrives. See tests/live/README.md.
#
#   tests/live/run.sh STACK [--topology A|B|C|D] [--faults] [--keep] [--work DIR] [--report FILE.json]
#   tests/live/run.sh ci          # what CI runs: examples/dkp.yaml in A-D (faults in A and D) and
#                                 # every other example whose targets include compose (faults
#                                 # for the Kafka buffer's, with a 2-minute steady outage; tail
#                                 # sampling with its checks; EDOT named, not run)
#
# Without --topology: every topology the stack renders. Needs root, iproute2, Go, Java, Maven,
# Python 3.11 and the package registries (cold); warm runs use the caches under
# ~/.cache/otelplan-live. The last line is `live: N passed, M failed`; exit 1 on any failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
[[ $# -ge 1 ]] || { sed -n '2,12p' "$0" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "live: needs root (network and mount namespaces)" >&2; exit 2; }
command -v ip >/dev/null || { echo "live: needs iproute2" >&2; exit 2; }

t0=$SECONDS
step() { printf '[live] %s\n' "$*" >&2; }

if [[ -n ${OTELPLAN_BIN:-} ]]; then
  otelplan=$OTELPLAN_BIN   # a prebuilt otelplan (development of the harness)
else
  step "otelplan: cargo build --release"
  (cd "$root" && cargo build --release --quiet) >&2
  otelplan="${CARGO_TARGET_DIR:-$root/target}/release/otelplan"
fi

venv="${OTELPLAN_CHECKERS_VENV:-$HOME/.cache/otelplan-checkers/venv}"
if [[ ! -x $venv/bin/docker-compose ]] && [[ -x $root/../shared/tools/setup-checkers ]]; then
  step "checkers' virtualenv (docker-compose, PyYAML)"
  "$root/../shared/tools/setup-checkers" >&2
fi
python=$venv/bin/python
[[ -x $python ]] || { echo "live: no Python with PyYAML at $venv (run shared/tools/setup-checkers)" >&2; exit 2; }
compose=$("$python" -c 'import os, sysconfig; print(os.path.join(sysconfig.get_path("platlib"), "compose", "docker-compose"))')
[[ -x $compose ]] || compose=$(command -v docker-compose || true)
[[ -n $compose ]] || { echo "live: no docker-compose binary (shared/tools/setup-checkers installs one)" >&2; exit 2; }

step "collector: tests/live/build.sh"
collector=$("$here/build.sh" | tail -n1)
step "programs: tests/live/tools/build-tools.sh"
tools=()
while IFS= read -r line; do
  [[ $line =~ ^[A-Z_0-9]+= ]] && tools+=(--tool "$(eval "printf '%s=%s' \"${line%%=*}\" ${line#*=}")")
done < <(OTELPLAN_LIVE_WITH_ES="${OTELPLAN_LIVE_WITH_ES:-1}" "$here/tools/build-tools.sh")
step "tools ready in $((SECONDS - t0)) s"
exec "$python" "$here/harness/live.py" --otelplan "$otelplan" --compose "$compose" --collector "$collector" \
  "${tools[@]}" "$@"

#!/usr/bin/env bash
# Validate every collector config of a rendered tree with the real collector:
#
#   tests/live/validate.sh TREE
#
# Runs `otelcol validate --config` on each config (compose and Kubernetes flavours), with the
# variables it references set to placeholders and its file_storage directories present as the
# deployment's volumes provide them, and fails when a config references a variable that the
# deployment files do not give the container running it. The collector is $OTELCOL, or the one
# tests/live/build.sh builds (cached). Last line: `otelcol validate: N passed, M failed`.
# Needs root (a private mount namespace per config) and Python with PyYAML.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -eq 1 ]] || { echo "usage: tests/live/validate.sh TREE" >&2; exit 2; }
otelcol="${OTELCOL:-$("$here/build.sh" | tail -n1)}"
python="${OTELPLAN_PYTHON:-}"
if [[ -z $python ]]; then
  for p in "${OTELPLAN_CHECKERS_VENV:-$HOME/.cache/otelplan-checkers/venv}/bin/python" python3; do
    if "$p" -c 'import yaml' 2>/dev/null; then python=$p; break; fi
  done
fi
[[ -n $python ]] || { echo "validate.sh: no Python with PyYAML (run ../shared/tools/setup-checkers)" >&2; exit 2; }
exec "$python" "$here/validate.py" "$1" "$otelcol"

#!/usr/bin/env bash
# Check a tree rendered with `collector.distribution: edot` with the shared artifact checkers.
#
# The checkers' collector bundle (../shared/otelcol) describes the contrib distribution and has
# no entry for Elastic's own components, so it reports the `elasticapm` processor and connector
# as unknown types. This script runs the checkers on a copy of the bundle with those two added,
# their facts taken from data/distributions/edot.yaml (type, module, stability) and no config
# schema: their type, id, pipeline membership and signals are checked, their settings are not.
# Every other component keeps the bundle's full checks (the bundle is at contrib 0.159.0, EDOT
# 9.5.2's components at 0.157.0).
#
# Usage, from the project root with shared/ beside it: tests/edot/check-artifacts.sh DIR
set -euo pipefail

dir=${1:?usage: tests/edot/check-artifacts.sh DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${OTELPLAN_SHARED:-$root/../shared}
bundle=$(mktemp -d)
trap 'rm -rf "$bundle"' EXIT
cp -R "$shared/otelcol/." "$bundle/"

python3 - "$root/data/distributions/edot.yaml" "$bundle/components.json" <<'PY'
import json, sys

# A tiny reader for the two entries we need (the table's format is fixed and flat), so the
# script needs nothing beyond the standard library.
table, out = sys.argv[1], sys.argv[2]
entries, cur = [], None
for line in open(table):
    s = line.strip()
    if s.startswith("- kind:"):
        cur = {"kind": s.split(":", 1)[1].strip()}
        entries.append(cur)
    elif cur is not None and ":" in s and not s.startswith("#"):
        key, value = s.split(":", 1)
        cur[key.strip()] = value.strip()
components = json.load(open(out))
for e in entries:
    if not e["kind"].startswith("elastic_apm_"):
        continue
    levels = dict(p.split(":") for p in e["stability"].strip("{} ").split(", "))
    levels = {k.strip(): v.strip() for k, v in levels.items()}
    if e["class"] == "connector":
        levels = {f"{k}_to_metrics": v for k, v in levels.items()}
    components[e["class"]][e["type"]] = {
        "metadata_source": "otelplan data/distributions/edot.yaml",
        "module": e["module"],
        "repo": "elastic",
        "schema": None,
        "stability": levels,
    }
json.dump(components, open(out, "w"), indent=1, sort_keys=True)
PY

OTELCOL_BUNDLE="$bundle" "$shared/tools/check-artifacts" "$dir" "${@:2}"

#!/usr/bin/env bash
# The capacity bench (benches/capacity.py): builds otelplan, the collector and the stand-ins,
# then measures in a private network namespace. Needs Go, Python 3 with PyYAML, unshare (root).
set -euo pipefail
exec python3 "$(dirname "$0")/capacity.py" "$@"

#!/usr/bin/env bash
# Runs the README's walkthrough verbatim, in an empty directory, with the built otelplan on PATH.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin_dir="${CARGO_TARGET_DIR:-$repo/target}/release"
[ -x "$bin_dir/otelplan" ] || (cd "$repo" && cargo build --release --locked)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -n '/<!-- walkthrough:start -->/,/<!-- walkthrough:end -->/p' "$repo/README.md" \
  | sed '1,2d;$d' | sed '$d' > "$work/walkthrough.sh"
[ -s "$work/walkthrough.sh" ] || { echo "walkthrough: no commands found in README.md"; exit 1; }
cd "$work"
PATH="$bin_dir:$PATH" bash -euxo pipefail "$work/walkthrough.sh"
echo "walkthrough: $(grep -c . walkthrough.sh) passed, 0 failed"

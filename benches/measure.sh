#!/usr/bin/env bash
# The README's performance figures, measured as whole processes: `otelplan render` of
# examples/dkp.yaml against `cp -r` of its own output tree, and of synthetic stacks of 100,
# 1,000 and 10,000 services (`cargo run --example synthetic-stack -- N`), timed with hyperfine
# and their peak memory taken from GNU time. Every run renders into a fresh directory.
#
#   benches/measure.sh [WORKDIR]
#
# WORKDIR (default: a new directory under /dev/shm, else under $TMPDIR) holds the stacks and
# the trees; a RAM-backed one leaves the disk out of the figures. Needs hyperfine and
# /usr/bin/time (Debian: `apt-get install hyperfine time`).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v hyperfine >/dev/null || { echo "hyperfine is required (apt-get install hyperfine)"; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is required (apt-get install time)"; exit 2; }

cargo build --release --locked --quiet --bin otelplan --example synthetic-stack
target="${CARGO_TARGET_DIR:-target}"
bin="$target/release/otelplan"
generate="$target/release/examples/synthetic-stack"

if [ $# -ge 1 ]; then
  work="$1"
  mkdir -p "$work"
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
  work=$(mktemp -d /dev/shm/otelplan-measure.XXXXXX)
else
  work=$(mktemp -d)
fi
echo "== working in $work ($(stat -f -c %T "$work") filesystem)"

echo "== machine"
echo "cpus: $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "kernel: $(uname -r); $("$bin" --version)"

cp examples/dkp.yaml "$work/dkp.yaml"
for n in 100 1000 10000; do
  "$generate" "$n" >"$work/s$n.yaml"
done
rm -rf "$work/dkp-tree"
"$bin" render "$work/dkp.yaml" -o "$work/dkp-tree" -q

# Mean seconds of a hyperfine JSON export.
mean() { grep -m1 '"mean"' "$1" | awk -F': ' '{ sub(/,$/, "", $2); print $2 }'; }

echo "== DKP: render vs cp -r of its own output tree ($(find "$work/dkp-tree" -type f | wc -l) files)"
hyperfine -N --warmup 10 --runs 100 --prepare "rm -rf $work/out" \
  --export-json "$work/dkp-render.json" -n "otelplan render dkp" "$bin render $work/dkp.yaml -o $work/out -q"
hyperfine -N --warmup 10 --runs 100 --prepare "rm -rf $work/out" \
  --export-json "$work/dkp-cp.json" -n "cp -r dkp tree" "cp -r $work/dkp-tree $work/out"

for n in 100 1000 10000; do
  runs=20
  [ "$n" -eq 10000 ] && runs=10
  echo "== $n services"
  hyperfine -N --warmup 2 --runs "$runs" --prepare "rm -rf $work/out" \
    --export-json "$work/s$n.json" -n "otelplan render $n services" "$bin render $work/s$n.yaml -o $work/out -q"
done

echo "== peak memory (maximum resident set size)"
for stack in dkp s100 s1000 s10000; do
  rm -rf "$work/out"
  /usr/bin/time -f "$stack: %M KiB, %e s" "$bin" render "$work/$stack.yaml" -o "$work/out" -q
done
rm -rf "$work/out"

echo "== against the targets"
awk -v render="$(mean "$work/dkp-render.json")" -v cp="$(mean "$work/dkp-cp.json")" \
  -v s1k="$(mean "$work/s1000.json")" -v s10k="$(mean "$work/s10000.json")" 'BEGIN {
  printf "DKP render / cp -r:        %.2fx (target <= 3x)\n", render / cp
  printf "1,000 services:            %.0f ms (target <= 150 ms)\n", s1k * 1000
  printf "10,000 / 1,000 services:   %.1fx (target <= 12x)\n", s10k / s1k
}'
echo "(peak memory of 1,000 services: target <= 65536 KiB, above)"

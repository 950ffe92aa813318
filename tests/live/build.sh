#!/usr/bin/env bash
# Build a collector from a builder manifest with the OpenTelemetry Collector Builder, and cache
# it under ~/.cache/otelplan-live/ keyed by what it builds (the manifest, Go's version, the
# builder's release). Prints the binary's path on its last line.
#
#   tests/live/build.sh                     # every component otelplan writes (tests/live/manifest.yaml)
#   tests/live/build.sh TREE/collector/builder-config.yaml
#
# Needs Go and a Go module proxy, nothing else. The builder is installed at the manifest's
# release (`dist.version`), as upstream requires the two to match.
#
# One step differs from a plain `builder --config`: the builder runs `go mod tidy`, which also
# loads the tests of every dependency, and the module proxy of our build machines refuses some
# test-only modules at the pinned release (e.g. go.opentelemetry.io/collector/service/telemetry/
# telemetrytest@v0.152.0, 403). So the builder only writes the sources (--skip-get-modules
# --skip-compilation); `go mod tidy -e` then records every module the collector's own packages
# import, and `go build` compiles them, with the flags the builder uses (-trimpath, CGO off).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
manifest=$(realpath "${1:-$here/manifest.yaml}")
cache="${OTELPLAN_LIVE_CACHE:-$HOME/.cache/otelplan-live}"
export GOMODCACHE="${GOMODCACHE:-$cache/gomod}"
export GOFLAGS="${GOFLAGS:--mod=mod}"
export CGO_ENABLED=0

field() { sed -n "s/^  $1: *\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$manifest" | head -n1; }
version=$(field version)
name=$(field name)
[[ -n $version && -n $name ]] || { echo "build.sh: $manifest has no dist.version or dist.name" >&2; exit 2; }
command -v go >/dev/null || { echo "build.sh: Go is required" >&2; exit 2; }

key=$( { cat "$manifest"; go version; echo "builder v$version"; } | sha256sum | cut -c1-16)
out="$cache/otelcol/$name-$version-$key"
if [[ -x $out/$name ]]; then
  echo "build.sh: cached ($out)" >&2
  echo "$out/$name"
  exit 0
fi

builder="$cache/bin/builder-v$version"
if [[ ! -x $builder ]]; then
  echo "build.sh: installing the builder v$version" >&2
  mkdir -p "$cache/bin"
  tmpbin=$(mktemp -d)
  GOBIN="$tmpbin" go install "go.opentelemetry.io/collector/cmd/builder@v$version" >&2
  mv "$tmpbin/builder" "$builder"
  rmdir "$tmpbin"
fi

work=$(mktemp -d "$cache/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS
# The manifest's output_path is relative to where the builder runs.
(cd "$work" && "$builder" --config "$manifest" --skip-get-modules --skip-compilation >builder.log 2>&1) || {
  cat "$work/builder.log" >&2
  exit 1
}
src=$(cd "$work" && realpath "$(field output_path)")
# tidy -e reports each refused test-only module and goes on; the build fails if the collector's
# own packages miss anything.
(cd "$src" && go mod tidy -e >"$work/tidy.log" 2>&1) || { cat "$work/tidy.log" >&2; exit 1; }
(cd "$src" && go build -trimpath -ldflags='-s -w' -o "$name" . >&2)
"$src/$name" --version >/dev/null
mkdir -p "$(dirname "$out")"
rm -rf "$out.tmp"
mkdir "$out.tmp"
mv "$src/$name" "$out.tmp/$name"
cp "$manifest" "$out.tmp/manifest.yaml"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "build.sh: built $name $version in $((SECONDS - start)) s" >&2
echo "$out/$name"

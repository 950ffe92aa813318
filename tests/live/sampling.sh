#!/usr/bin/env bash
# Tail sampling with the real collector: the sampler tier's `tail_sampling` processor exactly as
# otelplan renders it for examples/sampling.yaml, behind the gateway's `loadbalancing` exporter
# (its routing and retries as rendered; the resolver is `static` on two local ports instead of
# DNS, and no disk queue), with a known mix of traces sent over OTLP/HTTP by the OpenTelemetry
# Python SDK. It checks that every error trace and every slow trace arrives whole, that no trace
# is split between the two samplers, and that the other traces arrive near the ratio.
#
#   OTELCOL=$(tests/live/build.sh | tail -n1) tests/live/sampling.sh
#
# Needs the app virtualenv the live harness builds (tests/live/run.sh, cached under
# ~/.cache/otelplan-live/app-venv-*) and the checkers' virtualenv (../shared/tools/setup-checkers).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="${OTELPLAN_LIVE_CACHE:-$HOME/.cache/otelplan-live}"
otelcol="${OTELCOL:?set OTELCOL to a collector with tail_sampling and loadbalancing (tests/live/build.sh)}"
app_python=$(ls -d "$cache"/app-venv-*/bin/python | head -n1)
yaml_python="${OTELPLAN_CHECKERS_VENV:-$HOME/.cache/otelplan-checkers/venv}/bin/python"
bin="${OTELPLAN_BIN:-$root/target/debug/otelplan}"
[[ -x $bin ]] || (cd "$root" && cargo build --quiet)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" render "$root/examples/sampling.yaml" --topology D -o "$work/tree" >/dev/null 2>&1
# Ports: the front (gateway) takes OTLP/HTTP; the samplers OTLP/gRPC.
front=54318 s1=54401 s2=54402

"$yaml_python" - "$work" "$front" "$s1" "$s2" <<'EOF'
import sys, yaml
work, front, s1, s2 = sys.argv[1:]
tree = f"{work}/tree/collector"
gateway = yaml.safe_load(open(f"{tree}/gateway.yaml"))
sampler = yaml.safe_load(open(f"{tree}/sampler.yaml"))
lb = gateway["exporters"]["loadbalancing"]
lb["sending_queue"].pop("storage", None)
lb["resolver"] = {"static": {"hostnames": [f"127.0.0.1:{s1}", f"127.0.0.1:{s2}"]}}
def config(receiver, processors, exporters, health):
    return {
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health}"}},
        "receivers": {"otlp": {"protocols": receiver}},
        "processors": processors,
        "exporters": exporters,
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"metrics": {"level": "none"}},
            "pipelines": {"traces": {"receivers": ["otlp"], "processors": list(processors), "exporters": list(exporters)}},
        },
    }
yaml.safe_dump(config({"http": {"endpoint": f"127.0.0.1:{front}"}}, {}, {"loadbalancing": lb}, 54133),
               open(f"{work}/front.yaml", "w"))
for n, port in ((1, s1), (2, s2)):
    tail = {"tail_sampling": sampler["processors"]["tail_sampling"]}
    out = {"file": {"path": f"{work}/sampler{n}.json"}}
    yaml.safe_dump(config({"grpc": {"endpoint": f"127.0.0.1:{port}"}}, tail, out, 54133 + n),
                   open(f"{work}/sampler{n}.yaml", "w"))
print("tail_sampling as rendered:", yaml.safe_dump(sampler["processors"]["tail_sampling"]), sep="\n")
EOF

for c in sampler1 sampler2 front; do
  "$otelcol" --config="$work/$c.yaml" >"$work/$c.log" 2>&1 &
  pids+=($!)
done
for port in 54133 54134 54135; do
  for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.2; done
done

# A known mix: each trace is a root span and two children; errors have a child with status
# ERROR, slow traces last 800 ms (above the 500 ms threshold), the others 20 ms.
"$app_python" - "$front" "$work/sent.json" <<'EOF'
import json, random, sys, time
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.trace import Status, StatusCode
port, sent_path = sys.argv[1:]
provider = TracerProvider(resource=Resource.create({"service.name": "sampling-proof"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces"),
                                               max_queue_size=20000, max_export_batch_size=512))
tracer = provider.get_tracer("sampling-proof")
random.seed(7)
sent = {}
now = time.time_ns()
for i in range(3000):
    kind = "error" if i % 10 == 0 else "slow" if i % 10 == 1 else "rest"
    length = 800_000_000 if kind == "slow" else 20_000_000
    start = now + i * 1000
    root = tracer.start_span(f"{kind}-{i}", start_time=start)
    ctx = trace.set_span_in_context(root)
    for c in range(2):
        child = tracer.start_span(f"child-{c}", context=ctx, start_time=start + 1000)
        if kind == "error" and c == 1:
            child.set_status(Status(StatusCode.ERROR))
        child.end(end_time=start + length // 2)
    root.end(end_time=start + length)
    sent[format(root.get_span_context().trace_id, "032x")] = kind
provider.force_flush()
provider.shutdown()
json.dump(sent, open(sent_path, "w"))
print(f"sent {len(sent)} traces of 3 spans")
EOF

# The samplers decide 10 s after a trace's first span; leave room for the export.
sleep 20
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()

"$yaml_python" - "$work" <<'EOF'
import base64, json, sys
from collections import Counter, defaultdict
work = sys.argv[1]
sent = json.load(open(f"{work}/sent.json"))
spans = defaultdict(Counter)  # trace -> sampler -> spans
for n in (1, 2):
    try:
        lines = open(f"{work}/sampler{n}.json").read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        for rs in json.loads(line).get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    tid = s["traceId"]
                    if len(tid) != 32:
                        tid = base64.b64decode(tid).hex()
                    spans[tid][n] += 1
failures = []
split = [t for t, per in spans.items() if len(per) > 1]
if split:
    failures.append(f"{len(split)} traces split between samplers")
partial = [t for t, per in spans.items() if sum(per.values()) != 3]
if partial:
    failures.append(f"{len(partial)} traces arrived in part")
kinds = Counter(sent.values())
kept = Counter(sent[t] for t in spans if t in sent)
for kind in ("error", "slow"):
    if kept[kind] != kinds[kind]:
        failures.append(f"{kind}: {kept[kind]} of {kinds[kind]} kept, expected all")
rest_ratio = kept["rest"] / kinds["rest"]
# 2400 others at 0.1: 240 expected, standard deviation about 15; allow four of them.
if abs(kept["rest"] - kinds["rest"] * 0.1) > 4 * (kinds["rest"] * 0.1 * 0.9) ** 0.5:
    failures.append(f"rest: {kept['rest']} of {kinds['rest']} kept ({rest_ratio:.3f}), expected near 0.1")
per_sampler = Counter(n for per in spans.values() for n in per)
print(f"kept: error {kept['error']}/{kinds['error']}, slow {kept['slow']}/{kinds['slow']}, "
      f"rest {kept['rest']}/{kinds['rest']} ({rest_ratio:.3f}); traces per sampler {dict(sorted(per_sampler.items()))}")
for f in failures:
    print("FAIL:", f)
print("sampling proof:", "failed" if failures else "passed")
sys.exit(1 if failures else 0)
EOF

#!/usr/bin/env python3
"""Capacity bench: how much telemetry otelplan's generated gateway carries on one core.

For each topology (A, C, D), queue (persistent: file_storage; memory) and signal (traces, logs,
metrics, and the DKP mix), it renders the gateway with otelplan, runs the real collector on it
(tests/live/build.sh) pinned to one core with GOMAXPROCS=1, puts store stand-ins that accept at
full speed behind it (tests/live/standins), and offers open-loop OTLP load (`standins load`) at
rising rates. A rate is sustained when, for the whole step, nothing is refused, failed or late at
the client, the collector neither refuses nor fails to send, its queue ends the step under two of
its largest batches (it is not growing), and everything it accepted reaches the store once the
last partial batch flushes. The highest sustained rate (bisected) is the figure.

It also measures what an outage costs with the persistent queue: the queue's bytes and the disk it
takes per item, and how fast the gateway drains the backlog once the store is back.

Everything runs in a private network namespace (`unshare -n`), so the gateway keeps its own ports.
The only changes to the rendered config: the file_storage directory (a scratch directory), the
intake's address (127.0.0.1 instead of every address: the stores use 127.0.0.x with their usual
ports) and the collector's own metrics, read with a Prometheus pull reader on 127.0.0.1:8888
instead of pushed. The compose target's gateway is measured: the Kubernetes one adds
k8s_attributes, which needs an API server.

  benches/capacity.sh                 # measure, then compare with data/capacity.yaml (exit 1: moved)
  benches/capacity.sh --write         # measure and rewrite data/capacity.yaml
  benches/capacity.sh --quick         # one repeat, A only: a smoke run
  benches/capacity.sh --check-load    # CI: a stack with a declared `load`, rendered and sized by
                                      # otelplan, carries that load (scaled to one replica)
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "capacity.yaml"
SIGNALS = ["traces", "logs", "metrics"]
# The DKP mix (traces:logs:metrics items): per request a service span, two queries, a cache and
# a search call; two log records; three metric points.
MIX = "5:2:3"
# Loopback addresses of the stores, one per backend, on their usual ports.
STORES = {
    "jaeger": "127.0.0.2:4317",
    "prometheus": "127.0.0.3:9090",
    "loki": "127.0.0.4:3100",
    "apm_server": "127.0.0.5:8200",
    "elasticsearch": "127.0.0.6:9200",
}
METRICS_URL = "http://127.0.0.1:8888/metrics"
HEALTH_URL = "http://127.0.0.1:13133/"
STEP_SECONDS = 8
TWO_BATCHES = 2 * 3 * 1024 * 1024
COUNTER_SUFFIX = {"traces": "spans", "logs": "log_records", "metrics": "metric_points"}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def get(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def post(url):
    req = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=2) as r:
        return r.read()


# ---- building --------------------------------------------------------------------------------


def build():
    """otelplan, the collector and the stand-ins; each prints its path last."""
    sh("cargo", "build", "--release", "--locked", "--quiet", cwd=ROOT)
    otelplan = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "otelplan"
    otelcol = sh("bash", str(ROOT / "tests/live/build.sh")).strip().splitlines()[-1]
    standins = sh("bash", str(ROOT / "tests/live/standins/build.sh")).strip().splitlines()[-1]
    return str(otelplan), otelcol, standins


def stack_yaml(topology, persistent, load=None, memory_mib=None):
    backends = {name: {"endpoint": f"http://{addr}"} for name, addr in STORES.items()}
    stack = {
        "version": 1,
        "name": "bench",
        "environment": "production",
        "topology": topology,
        "targets": ["compose", "kubernetes"],
        "collector": {"persistent_queue": persistent},
        "backends": backends,
        "services": {"web": {"kind": "django"}},
    }
    if memory_mib:
        stack["collector"]["memory_limit_mib"] = memory_mib
    if load:
        stack["load"] = load
    return yaml.safe_dump(stack, sort_keys=False)


def render(otelplan, topology, persistent, work, load=None):
    """Render the bench stack; return (gateway config dict, the tree)."""
    stack = work / f"stack-{topology}-{persistent}.yaml"
    stack.write_text(stack_yaml(topology, persistent, load))
    tree = work / f"tree-{topology}-{persistent}"
    shutil.rmtree(tree, ignore_errors=True)
    subprocess.run([otelplan, "render", str(stack), "-o", str(tree)], check=True,
                   capture_output=True, text=True)
    config = yaml.safe_load((tree / "collector" / "gateway.yaml").read_text())
    return config, tree


def bench_config(config, storage):
    """The two changes the bench makes: scratch storage, pulled self-metrics."""
    config = json.loads(json.dumps(config))
    fs = config.get("extensions", {}).get("file_storage")
    if fs is not None:
        fs["directory"] = str(storage)
        fs.setdefault("compaction", {})["directory"] = str(storage)
    # The stores listen on 127.0.0.x with the backends' usual ports (Jaeger's 4317 among them),
    # so the gateway's intake binds loopback's first address instead of every address.
    for proto in config["receivers"]["otlp"]["protocols"].values():
        proto["endpoint"] = proto["endpoint"].replace("0.0.0.0:", "127.0.0.1:")
    config["service"]["telemetry"]["metrics"] = {
        "level": "detailed",
        "readers": [{"pull": {"exporter": {"prometheus": {"host": "127.0.0.1", "port": 8888,
                                                             "without_type_suffix": False}}}}],
    }
    return config


def largest_batch(config):
    """The largest batch any exporter sends, bytes: a queue under two of them is not growing."""
    sizes = [e.get("sending_queue", {}).get("batch", {}).get("max_size", 0)
             for e in config.get("exporters", {}).values()]
    return max([TWO_BATCHES // 2, *sizes])


def flush_seconds(config):
    """The longest batch flush timeout of the exporters, seconds."""
    out = 0.2
    for e in config.get("exporters", {}).values():
        t = str(e.get("sending_queue", {}).get("batch", {}).get("flush_timeout", "200ms"))
        out = max(out, float(t[:-2]) / 1000 if t.endswith("ms") else float(t.rstrip("s")))
    return out


def memory_limit(config):
    return config["processors"]["memory_limiter"]["limit_mib"]


# ---- processes -------------------------------------------------------------------------------


class Proc:
    def __init__(self, cmd, cpu, env=None, log_path=None):
        self.log = open(log_path, "w") if log_path else subprocess.DEVNULL
        self.p = subprocess.Popen(["taskset", "-c", str(cpu), *cmd], env=env, stdout=self.log,
                                  stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, grace=2):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()


def wait_for(url, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            get(url, 1)
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


class Stores:
    """The stand-ins a topology's gateway writes to, each counting what it accepted."""

    def __init__(self, standins, topology, cpu):
        self.standins, self.topology, self.cpu = standins, topology, cpu
        self.procs, self.stats = [], []

    def start(self):
        s = self.standins
        common = ["--max-ids", "1"]
        if self.topology == "A":
            self._run([s, "apm", "--listen", STORES["apm_server"], *common], STORES["apm_server"])
        elif self.topology == "C":
            self._run([s, "apm", "--listen", STORES["jaeger"], *common], STORES["jaeger"])
            self._run([s, "apm", "--listen", STORES["prometheus"], "--path-prefix", "/api/v1/otlp",
                       *common], STORES["prometheus"])
            self._run([s, "loki", "--listen", STORES["loki"], *common], STORES["loki"])
        else:
            admin = STORES["elasticsearch"].replace("9200", "9299")
            self._run([s, "es", "--listen", STORES["elasticsearch"], "--admin-listen", admin,
                       *common], admin)
        for url in self.stats:
            wait_for(url)

    def _run(self, cmd, admin):
        self.procs.append(Proc(cmd, self.cpu))
        self.stats.append(f"http://{admin}/_standin/stats?values=0")

    def stop(self):
        for p in self.procs:
            p.stop()
        self.procs, self.stats = [], []

    def received(self):
        total = {s: 0 for s in SIGNALS}
        for url in self.stats:
            stats = json.loads(get(url))
            for s in SIGNALS:
                total[s] += stats.get("signals", {}).get(s, {}).get("items", 0)
        return total


class Collector:
    def __init__(self, otelcol, config, work, cpu):
        self.storage = work / "storage"
        shutil.rmtree(self.storage, ignore_errors=True)
        self.storage.mkdir(parents=True)
        path = work / "gateway.yaml"
        path.write_text(yaml.safe_dump(bench_config(config, self.storage)))
        env = dict(os.environ, GOMAXPROCS="1", GOMEMLIMIT=f"{memory_limit(config)}MiB")
        self.proc = Proc([otelcol, "--config", str(path)], cpu, env, work / "collector.log")
        wait_for(HEALTH_URL)
        wait_for(METRICS_URL)

    def cpu_seconds(self):
        fields = Path(f"/proc/{self.pid()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def pid(self):
        # taskset execs the collector in place, so the child's pid is the collector's.
        return self.proc.p.pid

    def peak_rss_mib(self):
        for line in Path(f"/proc/{self.pid()}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def metrics(self):
        """Sums of the collector's own counters and gauges, by name."""
        out = {}
        for line in get(METRICS_URL).splitlines():
            if line.startswith("#") or not line.strip():
                continue
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([^\s]+)", line)
            if m:
                out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(3))
        return out

    def disk_bytes(self):
        return sum(f.stat().st_blocks * 512 for f in self.storage.rglob("*") if f.is_file())

    def stop(self):
        self.proc.stop()


def counter(metrics, prefix, signal):
    name = f"{prefix}_{COUNTER_SUFFIX[signal]}"
    return metrics.get(name + "_total", metrics.get(name, 0.0))


def totals(metrics, prefix, signals=SIGNALS):
    return sum(counter(metrics, prefix, s) for s in signals)


def offer(standins, protocol, signal, rate, seconds, cpu):
    endpoint = "127.0.0.1:4317" if protocol == "grpc" else "http://127.0.0.1:4318"
    out = subprocess.run(
        ["taskset", "-c", str(cpu), standins, "load", "--protocol", protocol, "--endpoint", endpoint,
         "--signal", signal, "--mix", MIX, "--rate", str(rate), "--duration", f"{seconds}s"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ---- one step: a fixed rate for STEP_SECONDS ---------------------------------------------------


def step(ctx, topology, persistent, signal, protocol, rate):
    config, _ = ctx.rendered[(topology, persistent)]
    stores = Stores(ctx.standins, topology, ctx.harness_cpu)
    stores.start()
    col = Collector(ctx.otelcol, config, ctx.work, ctx.collector_cpu)
    try:
        cpu0 = col.cpu_seconds()
        t0 = time.time()
        load = offer(ctx.standins, protocol, signal, rate, STEP_SECONDS, ctx.harness_cpu)
        elapsed = time.time() - t0
        cpu = (col.cpu_seconds() - cpu0) / elapsed
        m = col.metrics()
        queue = m.get("otelcol_exporter_queue_size", 0.0)
        accepted = totals(m, "otelcol_receiver_accepted")
        disk = col.disk_bytes()
        # Drain: what the gateway accepted reaches the store. A step that already failed at the
        # client or left more than two batches queued is not drained: it failed.
        limit = 2 * largest_batch(config)
        failed_already = (load["items_refused"] or load["items_failed"] or load["items_late"]
                          or queue > limit)
        # A partial batch waits for its flush timeout (10 s for the elasticsearch exporter).
        deadline = time.time() + (0 if failed_already else 10 + flush_seconds(config))
        while time.time() < deadline:
            m2 = col.metrics()
            if totals(m2, "otelcol_exporter_sent") >= accepted and m2.get("otelcol_exporter_queue_size", 0) == 0:
                break
            time.sleep(0.25)
        m2 = col.metrics()
        received = stores.received()
        rss = col.peak_rss_mib()
    finally:
        col.stop()
        stores.stop()
    offered = sum(load["items_accepted"].values()) + load["items_refused"] + load["items_failed"] + load["items_late"]
    bad = {
        "client_refused": load["items_refused"],
        "client_failed": load["items_failed"],
        "client_late": load["items_late"],
        "receiver_refused": totals(m2, "otelcol_receiver_refused"),
        "send_failed": totals(m2, "otelcol_exporter_send_failed"),
        "enqueue_failed": totals(m2, "otelcol_exporter_enqueue_failed"),
        "undelivered": max(0.0, accepted - totals(m2, "otelcol_exporter_sent")),
    }
    ok = all(v == 0 for v in bad.values()) and queue <= limit and offered > 0
    return {
        "rate": rate, "ok": ok, "cpu": round(cpu, 3), "rss_mib": round(rss, 1),
        "queue_bytes": int(queue), "disk_bytes": disk, "received": received,
        "latency_p99_ms": load["latency_p99_ms"], "bad": {k: v for k, v in bad.items() if v},
        "bytes_per_item": load["bytes_per_item"],
    }


def search(ctx, topology, persistent, signal, protocol, hint=None):
    """The highest sustained rate: rise until a step fails, then bisect."""
    label = f"{topology} {'persistent' if persistent else 'memory'} {signal} {protocol}"
    good, bad = None, None
    rate = int(hint * 0.85) if hint else 8000
    steps = []
    while bad is None:
        r = step(ctx, topology, persistent, signal, protocol, rate)
        steps.append(r)
        log(f"  {label}: {rate}/s {'ok' if r['ok'] else 'no'} cpu {r['cpu']} rss {r['rss_mib']} {r['bad']}")
        if r["ok"]:
            good, rate = r, int(rate * (1.25 if hint else 2))
            if rate > 2_000_000:
                break
        else:
            bad = r
            if good is None:
                if rate <= 500:
                    break
                rate = int(rate / 2)
                bad = None
    for _ in range(2 if hint else 3):
        if good is None or bad is None:
            break
        rate = (good["rate"] + bad["rate"]) // 2
        r = step(ctx, topology, persistent, signal, protocol, rate)
        steps.append(r)
        log(f"  {label}: {rate}/s {'ok' if r['ok'] else 'no'} cpu {r['cpu']} rss {r['rss_mib']} {r['bad']}")
        if r["ok"]:
            good = r
        else:
            bad = r
    bound = "cpu" if bad and bad["cpu"] >= 0.85 else "other"
    return {"sustained": good["rate"] if good else 0, "at": good, "first_refused": bad, "bound": bound}


# ---- backlog: an outage with the persistent queue ------------------------------------------------


def backlog(ctx, topology, signal, rate=5000, outage=30):
    config, _ = ctx.rendered[(topology, True)]
    col = Collector(ctx.otelcol, config, ctx.work, ctx.collector_cpu)
    stores = Stores(ctx.standins, topology, ctx.harness_cpu)
    try:
        load = offer(ctx.standins, "grpc", signal, rate, outage, ctx.harness_cpu)
        items = sum(load["items_accepted"].values())
        m = col.metrics()
        queue = m.get("otelcol_exporter_queue_size", 0.0)
        disk = col.disk_bytes()
        stores.start()
        t0 = time.time()
        first = None
        while time.time() - t0 < 180:
            m = col.metrics()
            sent = totals(m, "otelcol_exporter_sent")
            if first is None and sent > 0:
                first = time.time()
            if sent >= items and m.get("otelcol_exporter_queue_size", 0) == 0:
                break
            time.sleep(0.1)
        done = time.time()
        drained = totals(col.metrics(), "otelcol_exporter_sent") >= items
    finally:
        col.stop()
        stores.stop()
    drain_seconds = (done - first) if first else None
    return {
        "items": items,
        "queue_bytes_per_item": round(queue / items, 1) if items else None,
        "disk_bytes_per_item": round(disk / items, 1) if items else None,
        "drain_items_per_second": int(items / drain_seconds) if drained and drain_seconds else None,
        "drained": drained,
    }


# ---- the whole run -------------------------------------------------------------------------------


class Ctx:
    pass


def measure(args):
    ctx = Ctx()
    ctx.otelplan, ctx.otelcol, ctx.standins = args.otelplan, args.otelcol, args.standins
    ctx.work = Path(tempfile.mkdtemp(prefix="otelplan-capacity-"))
    ncpu = os.cpu_count() or 1
    ctx.collector_cpu, ctx.harness_cpu = ncpu - 1, 0
    topologies = ["A"] if args.quick else args.topologies.split(",")
    repeats = 1 if args.quick else args.repeats
    ctx.rendered = {(t, p): render(ctx.otelplan, t, p, ctx.work) for t in topologies for p in (True, False)}
    cases = []
    for t in topologies:
        for persistent in (True, False):
            for s in [*SIGNALS, "mixed"]:
                cases.append((t, persistent, s, "grpc"))
        cases.append((t, True, "mixed", "http"))
    runs = {c: [] for c in cases}
    first = {}
    outages = {(t, s): [] for t in topologies for s in SIGNALS}
    result = None
    # Each repeat measures every case, then the outages; a table is written after each, so an
    # interrupted run still leaves what it measured (with its repeat count).
    for rep in range(repeats):
        log(f"== repeat {rep + 1} of {repeats}")
        for c in cases:
            r = search(ctx, *c, hint=first.get(c))
            first.setdefault(c, r["sustained"] or None)
            runs[c].append(r)
        for t in topologies:
            for s in SIGNALS:
                log(f"== backlog {t} {s}")
                outages[(t, s)].append(backlog(ctx, t, s))
        result = summarise(args, topologies, runs, outages, rep + 1)
        if args.write and rep + 1 < repeats:
            write(result, partial=True)
    shutil.rmtree(ctx.work, ignore_errors=True)
    return result


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    med = statistics.median(values)
    return {"median": round(med, 3) if isinstance(med, float) else med,
            "min": min(values), "max": max(values)}


def machine():
    """The CPU model, core count and kernel: where a figure was measured."""
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    return f"{cpu_model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def summarise(args, topologies, runs, outages, repeats):
    table = {t: {"repeats": repeats, "date": datetime.date.today().isoformat(), "machine": machine()}
             for t in topologies}
    for (t, persistent, s, protocol), rs in runs.items():
        queue = "persistent" if persistent else "memory"
        key = s if protocol == "grpc" else f"{s}_http"
        entry = table.setdefault(t, {}).setdefault(queue, {})
        entry[key] = {
            "per_core": spread([r["sustained"] for r in rs]),
            "cpu": spread([r["at"]["cpu"] for r in rs if r["at"]]),
            "rss_mib": spread([r["at"]["rss_mib"] for r in rs if r["at"]]),
            "queue_bytes": spread([r["at"]["queue_bytes"] for r in rs if r["at"]]),
            "bound": sorted({r["bound"] for r in rs}),
        }
    for (t, s), rs in outages.items():
        entry = table[t].setdefault("outage", {})
        entry[s] = {
            "queue_bytes_per_item": spread([r["queue_bytes_per_item"] for r in rs]),
            "disk_bytes_per_item": spread([r["disk_bytes_per_item"] for r in rs]),
            "drain_per_core": spread([r["drain_items_per_second"] for r in rs]),
        }
    wire = {}
    for rs in runs.values():
        for r in rs:
            if r["at"]:
                wire.update(r["at"]["bytes_per_item"])
    load_avg = os.getloadavg()
    version = sh(args.otelcol, "--version").strip()
    return {
        "measured": {
            "date": datetime.date.today().isoformat(),
            "machine": machine(),
            "load_average_at_end": [round(x, 2) for x in load_avg],
            "collector": version,
            "command": "benches/capacity.sh --write" + (" --quick" if args.quick else "")
                       + (f" --topologies {args.topologies}" if args.topologies != "A,C,D" else ""),
            "repeats": repeats,
            "topologies_measured": topologies,
            "step_seconds": STEP_SECONDS,
            "payload_bytes_per_item": {s: wire[s] for s in SIGNALS if s in wire},
            "payload": "the Django-like items of tests/live/standins/internal/load (512 per request, "
                       f"uncompressed protobuf); mixed = traces:logs:metrics {MIX}",
        },
        "topologies": table,
    }


def compare(new, old, tolerance):
    moved = []
    for t, queues in new["topologies"].items():
        for q, signals in queues.items():
            for s, fig in signals.items():
                for key in ("per_core", "queue_bytes_per_item", "disk_bytes_per_item", "drain_per_core"):
                    if key not in fig or fig[key] is None:
                        continue
                    try:
                        before = old["topologies"][t][q][s][key]["median"]
                    except (KeyError, TypeError):
                        moved.append(f"{t} {q} {s} {key}: not in the committed table")
                        continue
                    now = fig[key]["median"]
                    if before and abs(now - before) / before > tolerance:
                        moved.append(f"{t} {q} {s} {key}: {before} -> {now}")
    return moved


# ---- CI: the sized deployment carries its declared load ------------------------------------------


def check_load(args):
    """Render a stack that declares a load; run one gateway replica at its share of that load
    (the declared peak over the autoscaler's minimum) and check nothing is refused or lost."""
    ctx = Ctx()
    ctx.otelplan, ctx.otelcol, ctx.standins = args.otelplan, args.otelcol, args.standins
    ctx.work = Path(tempfile.mkdtemp(prefix="otelplan-load-"))
    ctx.collector_cpu, ctx.harness_cpu = (os.cpu_count() or 1) - 1, 0
    declared = {"spans_per_second": 6000, "log_records_per_second": 2400, "metric_points_per_second": 3600,
                "outage_minutes": 30}
    failures = 0
    for t in ["A", "C", "D"]:
        config, tree = render(ctx.otelplan, t, True, ctx.work, load=declared)
        replicas = gateway_min_replicas(tree)
        ctx.rendered = {(t, True): (config, tree)}
        share = sum(v for k, v in declared.items() if k.endswith("_per_second")) / replicas
        r = step(ctx, t, True, "mixed", "grpc", int(share))
        log(f"-- {t}: {replicas} replicas, {int(share)} items/s each: {'ok' if r['ok'] else 'REFUSED'} "
            f"cpu {r['cpu']} rss {r['rss_mib']} MiB {r['bad']}")
        failures += 0 if r["ok"] else 1
    shutil.rmtree(ctx.work, ignore_errors=True)
    print(f"check-load: {3 - failures} passed, {failures} failed")
    return 1 if failures else 0


def gateway_min_replicas(tree):
    for doc in yaml.safe_load_all((tree / "kubernetes" / "gateway.yaml").read_text()):
        if doc and doc.get("kind") == "HorizontalPodAutoscaler":
            return doc["spec"]["minReplicas"]
    for doc in yaml.safe_load_all((tree / "kubernetes" / "gateway.yaml").read_text()):
        if doc and doc.get("kind") in ("StatefulSet", "Deployment"):
            return doc["spec"].get("replicas", 1)
    return 1


def write(result, partial=False):
    # Topologies not measured in this run keep their committed figures (and their own repeats).
    if DATA.exists():
        old = yaml.safe_load(DATA.read_text()) or {}
        old_repeats = (old.get("measured") or {}).get("repeats", 1)
        old_date = (old.get("measured") or {}).get("date")
        old_machine = (old.get("measured") or {}).get("machine")
        for t, figures in (old.get("topologies") or {}).items():
            figures.setdefault("repeats", old_repeats)
            figures.setdefault("date", old_date)
            figures.setdefault("machine", old_machine)
            result["topologies"].setdefault(t, figures)
        result["topologies"] = dict(sorted(result["topologies"].items()))
    header = ("# Measured by benches/capacity.sh (see its docstring); otelplan sizes gateways from\n"
              "# `per_core` (sustained items per second on one core) and `outage` (queue bytes per item).\n"
              "# Rewrite with `benches/capacity.sh --write`; never by hand.\n")
    DATA.write_text(header + yaml.safe_dump(result, sort_keys=False, width=100))
    log(f"wrote {DATA.relative_to(ROOT)}" + (" (so far)" if partial else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="rewrite data/capacity.yaml")
    ap.add_argument("--quick", action="store_true", help="topology A, one repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--topologies", default="A,C,D",
                    help="comma-separated; with --write, the others keep their committed figures")
    ap.add_argument("--tolerance", type=float, default=0.35, help="allowed relative change of a median")
    ap.add_argument("--check-load", action="store_true")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--otelplan"), ap.add_argument("--otelcol"), ap.add_argument("--standins")
    args = ap.parse_args()
    if not args.inner:
        otelplan, otelcol, standins = build()
        cmd = [sys.executable, __file__, "--inner", "--otelplan", otelplan, "--otelcol", otelcol,
               "--standins", standins, *sys.argv[1:]]
        return subprocess.call(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *cmd])
    if args.check_load:
        return check_load(args)
    result = measure(args)
    if args.write:
        write(result)
        return 0
    print(yaml.safe_dump(result, sort_keys=False, width=100))
    if DATA.exists():
        moved = compare(result, yaml.safe_load(DATA.read_text()), args.tolerance)
        if moved:
            print(f"capacity: {len(moved)} figures moved beyond {args.tolerance:.0%}:")
            print("\n".join("  " + m for m in moved))
            return 1
        print(f"capacity: every figure within {args.tolerance:.0%} of data/capacity.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What arrived at the final stores: one view over the stand-ins (their stats and JSONL dumps),
real Jaeger (its query API) and real Prometheus (its HTTP API).

Every view answers the same questions: which services sent which signals, how many items carry
each test id (per signal), what the items were called (span and metric names, log bodies), and,
where the store can tell, the resource attributes and log fields that arrived.
"""

import collections
import glob
import json
import os
import time
import urllib.parse

from util import get_json, http, log


class Arrivals:
    """Items seen at the stores, merged over stores and over a stand-in's restarts."""

    def __init__(self):
        self.by_service = collections.defaultdict(collections.Counter)  # service -> signal -> n
        self.ids = collections.defaultdict(collections.Counter)  # signal -> id -> n
        self.names = collections.defaultdict(collections.Counter)  # (service, signal) -> name -> n
        self.metric_points = collections.defaultdict(list)  # (service, metric) -> [arrival times]
        self.resource = collections.defaultdict(lambda: collections.defaultdict(set))  # service -> attr -> values
        self.log_fields = collections.defaultdict(collections.Counter)  # service -> field -> n with it set
        self.verifiable = set()  # "resource", "log_fields", "log_body"
        self.bodies = collections.defaultdict(list)  # service -> log bodies (cut)

    def add_item(self, it):
        sig = it.get("signal")
        svc = it.get("service") or "(none)"
        self.by_service[svc][sig] += 1
        if it.get("id"):
            self.ids[sig][it["id"]] += 1
        name = it.get("name") or ""
        self.names[(svc, sig)][name] += 1
        if sig == "metrics":
            self.metric_points[(svc, name)].append(it.get("at", ""))
        if sig == "logs":
            self.bodies[svc].append(name)
        # Fields a richer stand-in may record (see tests/live/README.md, "What the stand-ins lack").
        res = it.get("resource")
        if isinstance(res, dict):
            self.verifiable.add("resource")
            for k, v in res.items():
                self.resource[svc][k].add(str(v))
        if sig == "logs" and ("severity_number" in it or "time_unix_nano" in it):
            self.verifiable.add("log_fields")
            if it.get("severity_number"):
                self.log_fields[svc]["severity"] += 1
            if it.get("time_unix_nano"):
                self.log_fields[svc]["timestamp"] += 1
            self.log_fields[svc]["records"] += 1


class StandinStore:
    def __init__(self, dep, name, info):
        self.dep = dep
        self.name = name
        self.kind = info["kind"]
        self.admin_port = info.get("admin", info["port"])
        self.dump_dir = os.path.join(dep.work, "dumps", name)
        self.offsets = {}
        self.arrivals = Arrivals()

    def url(self, path):
        return f"http://{self.dep.addr(self.name)}:{self.admin_port}{path}"

    def stats(self, values=False):
        return get_json(self.url(f"/_standin/stats?values={1 if values else 0}"), timeout=15)

    def ready(self):
        s, _ = http("GET", self.url("/_standin/health"), timeout=3)
        return s == 200

    def rotate_dump(self):
        """After the stand-in stopped: keep its dump (a new process truncates the file)."""
        p = os.path.join(self.dump_dir, "items.jsonl")
        if os.path.exists(p):
            n = len(glob.glob(os.path.join(self.dump_dir, "items.*.jsonl")))
            os.rename(p, os.path.join(self.dump_dir, f"items.{n}.jsonl"))
            self.offsets[os.path.join(self.dump_dir, f"items.{n}.jsonl")] = self.offsets.pop(p, 0)

    def poll(self):
        """Read what the dump files gained since the last poll."""
        for p in sorted(glob.glob(os.path.join(self.dump_dir, "items*.jsonl"))):
            off = self.offsets.get(p, 0)
            try:
                with open(p, "rb") as f:
                    f.seek(off)
                    data = f.read()
            except OSError:
                continue
            end = data.rfind(b"\n") + 1
            for line in data[:end].splitlines():
                try:
                    self.arrivals.add_item(json.loads(line))
                except ValueError:
                    pass
            self.offsets[p] = off + end
        return self.arrivals


class JaegerStore:
    """Real Jaeger: services and spans through its query API (/api/services, /api/traces)."""

    def __init__(self, dep, name, info):
        self.dep = dep
        self.name = name
        self.kind = "jaeger"
        self.port = info["port"]
        self.arrivals = Arrivals()
        self.arrivals.verifiable.add("resource")

    def base(self):
        return f"http://{self.dep.addr(self.name)}:{self.port}"

    def ready(self):
        s, _ = http("GET", self.base() + "/api/services", timeout=3)
        return s == 200

    def poll(self):
        a = Arrivals()
        a.verifiable.add("resource")
        services = (get_json(self.base() + "/api/services", timeout=15) or {}).get("data") or []
        start = int((time.time() - 3600) * 1e6)
        for svc in services:
            if svc == "jaeger":
                continue
            q = urllib.parse.urlencode({"service": svc, "limit": 100000, "start": start,
                                        "end": int((time.time() + 60) * 1e6), "lookback": "custom"})
            data = get_json(f"{self.base()}/api/traces?{q}", timeout=60) or {}
            for tr in data.get("data") or []:
                procs = tr.get("processes") or {}
                for sp in tr.get("spans") or []:
                    proc = procs.get(sp.get("processID"), {})
                    psvc = proc.get("serviceName") or svc
                    if psvc != svc:
                        continue  # counted under its own service
                    tags = {t["key"]: t.get("value") for t in sp.get("tags") or []}
                    item = {"signal": "traces", "service": psvc, "id": tags.get("test.id"), "name": sp.get("operationName"),
                            "resource": {t["key"]: t.get("value") for t in proc.get("tags") or []}}
                    a.add_item(item)
        self.arrivals = a
        return a


class PrometheusStore:
    """Real Prometheus with its OTLP receiver: series per job (= service.name) and target_info."""

    def __init__(self, dep, name, info):
        self.dep = dep
        self.name = name
        self.kind = "prometheus"
        self.port = info["port"]
        self.arrivals = Arrivals()

    def base(self):
        return f"http://{self.dep.addr(self.name)}:{self.port}"

    def ready(self):
        s, _ = http("GET", self.base() + "/-/ready", timeout=3)
        return s == 200

    def query(self, q):
        d = get_json(f"{self.base()}/api/v1/query?{urllib.parse.urlencode({'query': q})}", timeout=30) or {}
        return (d.get("data") or {}).get("result") or []

    def poll(self):
        a = Arrivals()
        a.verifiable.add("resource")
        # Samples received per job over the last hour and per metric name.
        for r in self.query('count by (job, __name__) ({__name__!=""})'):
            m = r["metric"]
            job = m.get("job", "(none)")
            svc = job.split("/")[-1]
            a.by_service[svc]["metrics"] += int(float(r["value"][1]))
            a.names[(svc, "metrics")][m.get("__name__", "")] += int(float(r["value"][1]))
        for r in self.query("target_info"):
            m = r["metric"]
            svc = m.get("job", "(none)").split("/")[-1]
            for k, v in m.items():
                a.resource[svc][k].add(v)
            if m.get("instance"):
                a.resource[svc]["service.instance.id"].add(m["instance"])
            if m.get("deployment_environment_name"):
                a.resource[svc]["deployment.environment.name"].add(m["deployment_environment_name"])
        self.arrivals = a
        return a

    def duplicate_samples(self):
        """Samples Prometheus refused as duplicates or out of order (a series written twice)."""
        total = 0
        for q in ("prometheus_tsdb_out_of_order_samples_total",
                  "prometheus_target_scrapes_sample_duplicate_timestamp_total",
                  'prometheus_http_requests_total{handler=~".*otlp.*",code!~"2.."}'):
            for r in self.query(f"sum({q})"):
                total += int(float(r["value"][1]))
        return total


def make_store(dep, name, info):
    if info["kind"] in ("apm", "es", "loki"):
        return StandinStore(dep, name, info)
    if info["kind"] == "jaeger":
        return JaegerStore(dep, name, info)
    if info["kind"] == "prometheus":
        return PrometheusStore(dep, name, info)
    raise ValueError(info["kind"])


class Stores:
    """The final store of each signal in this topology."""

    def __init__(self, dep):
        self.dep = dep
        self.all = {n: make_store(dep, n, info) for n, info in dep.stores().items()}
        kinds = {s.kind: s for s in self.all.values()}
        self.for_signal = {}
        if "apm" in kinds:
            for sig in ("traces", "metrics", "logs"):
                self.for_signal[sig] = kinds["apm"]
        elif "jaeger" in kinds or "prometheus" in kinds or "loki" in kinds:
            for sig, k in (("traces", "jaeger"), ("metrics", "prometheus"), ("logs", "loki")):
                if k in kinds:
                    self.for_signal[sig] = kinds[k]
        elif "es" in kinds:
            for sig in ("traces", "metrics", "logs"):
                self.for_signal[sig] = kinds["es"]

    def ready(self):
        return all(s.ready() for s in self.all.values())

    def poll(self):
        """Arrivals per signal from that signal's store."""
        polled = {}
        out = {}
        for sig, st in self.for_signal.items():
            if st.name not in polled:
                polled[st.name] = st.poll()
            out[sig] = polled[st.name]
        return out

    def standins(self):
        return [s for s in self.all.values() if isinstance(s, StandinStore)]

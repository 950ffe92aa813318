"""OTLP/HTTP load generator of the fault tests: spans and log records with unique `test.id`
values, sent where the apps send (the endpoint and headers of a Django service's environment),
retrying retryable refusals as an OTLP exporter does (429, 502, 503, 504, connection errors;
Retry-After honoured), so that what is lost is lost by the pipeline.

Runs with the app's virtualenv (opentelemetry-proto). One JSON object on stdout:
{"sent_items", "accepted_items", "requests", "codes": {code: n}, "retries", "gave_up_items",
 "permanent_items", "seconds"}.

    python loadgen.py --endpoint http://gateway:4318 --signal spans|logs|metrics|both|all --prefix f1
                      --count 3000 [--batch 200] [--rate ITEMS_PER_S] [--duration S] [--attr-bytes N]
                      [--header K=V] [--service NAME] [--no-retry] [--concurrency N] [--deadline S]

`--signal all` adds metrics: one gauge data point per id (`live.loadgen.point`, the id in its
`test.id` attribute). With `--count`, the signals take turns, so `--rate` paces each alike.

`--mix N` sends a known mix of traces for tail sampling instead: N traces of `--spans` spans (a
root and its children), every span with `test.id` `PREFIX-s-KNNNNNN.J` (K: `e` error, `w` slow,
`r` the rest; NNNNNN the trace; J the span). Every tenth trace has a child with status ERROR, the
next one lasts `--slow-ms`, the others 20 ms. Span J of `--batch` traces makes one request, so
the spans of a trace reach the gateway in separate requests.
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

RETRYABLE = {429, 502, 503, 504}


def kv(k, v):
    return common_pb2.KeyValue(key=k, value=common_pb2.AnyValue(string_value=v))


def resource(service, env):
    return resource_pb2.Resource(attributes=[kv("service.name", service), kv("deployment.environment.name", env),
                                             kv("service.instance.id", f"loadgen-{os.getpid()}")])


def span_request(ids, service, env, pad):
    now = time.time_ns()
    spans = []
    trace_id = random.randbytes(16)
    for i in ids:
        attrs = [kv("test.id", i)] if i else []
        if pad:
            attrs.append(kv("db.statement", ("SELECT * FROM live_events WHERE note = '" + "x" * pad)[:pad] + "'"))
        spans.append(trace_pb2.Span(trace_id=trace_id, span_id=random.randbytes(8), name="loadgen-span",
                                    kind=trace_pb2.Span.SPAN_KIND_CLIENT, start_time_unix_nano=now - 1_000_000,
                                    end_time_unix_nano=now, attributes=attrs))
    req = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        resource=resource(service, env), scope_spans=[trace_pb2.ScopeSpans(
            scope=common_pb2.InstrumentationScope(name="otelplan-live-loadgen"), spans=spans)])])
    return "/v1/traces", req.SerializeToString()


def log_request(ids, service, env, pad):
    now = time.time_ns()
    records = []
    for i in ids:
        attrs = [kv("test.id", i)] if i else []
        body = f"loadgen record {i}" + (" " + "y" * pad if pad else "")
        records.append(logs_pb2.LogRecord(time_unix_nano=now, observed_time_unix_nano=now, severity_number=13,
                                          severity_text="WARN", body=common_pb2.AnyValue(string_value=body),
                                          attributes=attrs))
    req = logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        resource=resource(service, env), scope_logs=[logs_pb2.ScopeLogs(
            scope=common_pb2.InstrumentationScope(name="otelplan-live-loadgen"), log_records=records)])])
    return "/v1/logs", req.SerializeToString()


def metric_request(ids, service, env, pad):
    now = time.time_ns()
    points = []
    for k, i in enumerate(ids):
        attrs = [kv("test.id", i)] if i else [kv("point", str(k))]
        if pad:
            attrs.append(kv("note", "z" * pad))
        points.append(metrics_pb2.NumberDataPoint(time_unix_nano=now, start_time_unix_nano=now, as_int=k,
                                                  attributes=attrs))
    metric = metrics_pb2.Metric(name="live.loadgen.point", unit="1", gauge=metrics_pb2.Gauge(data_points=points))
    req = metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
        resource=resource(service, env), scope_metrics=[metrics_pb2.ScopeMetrics(
            scope=common_pb2.InstrumentationScope(name="otelplan-live-loadgen"), metrics=[metric])])])
    return "/v1/metrics", req.SerializeToString()


BUILDERS = {"spans": span_request, "logs": log_request, "metrics": metric_request}
TAGS = {"spans": "s", "logs": "l", "metrics": "m"}


def mix_kind(n):
    """The kind of trace n of a mix: e (an error span), w (slow), r (the rest)."""
    return "e" if n % 10 == 0 else "w" if n % 10 == 1 else "r"


def mix_requests(prefix, first, count, spans, slow_ms, service, env):
    """The requests of traces first..first+count-1: request j holds span j of each trace."""
    now = time.time_ns()
    traces = []
    for n in range(first, first + count):
        kind = mix_kind(n)
        length = slow_ms * 1_000_000 if kind == "w" else 20_000_000
        start = now - length - 1_000_000
        traces.append((n, kind, random.randbytes(16), random.randbytes(8), start, length))
    out = []
    for j in range(spans):
        batch = []
        for n, kind, tid, root_id, start, length in traces:
            sid = root_id if j == 0 else random.randbytes(8)
            sp = trace_pb2.Span(trace_id=tid, span_id=sid, name="mix-root" if j == 0 else f"mix-child-{j}",
                                kind=trace_pb2.Span.SPAN_KIND_SERVER if j == 0 else trace_pb2.Span.SPAN_KIND_INTERNAL,
                                start_time_unix_nano=start if j == 0 else start + 1000,
                                end_time_unix_nano=start + length if j == 0 else start + length // 2,
                                attributes=[kv("test.id", f"{prefix}-s-{kind}{n:06d}.{j}")])
            if j:
                sp.parent_span_id = root_id
            if kind == "e" and j == spans - 1:
                sp.status.code = trace_pb2.Status.STATUS_CODE_ERROR
                sp.status.message = "mix error"
            batch.append(sp)
        req = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
            resource=resource(service, env), scope_spans=[trace_pb2.ScopeSpans(
                scope=common_pb2.InstrumentationScope(name="otelplan-live-loadgen"), spans=batch)])])
        out.append(("/v1/traces", req.SerializeToString()))
    return out


class Sender:
    def __init__(self, endpoint, headers, retry, deadline):
        u = urllib.parse.urlparse(endpoint)
        self.host, self.port = u.hostname, u.port or 80
        self.base = u.path.rstrip("/")
        self.headers = {"Content-Type": "application/x-protobuf", **headers}
        self.retry = retry
        self.deadline = deadline
        self.lock = threading.Lock()
        self.codes = {}
        self.retries = 0
        self.requests = 0
        self.local = threading.local()
        self.latencies = []

    def conn(self):
        c = getattr(self.local, "c", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.local.c = c
        return c

    def count(self, code):
        with self.lock:
            self.codes[str(code)] = self.codes.get(str(code), 0) + 1
            self.requests += 1

    def send(self, path, body):
        """Returns 'ok', 'permanent' or 'gave_up'."""
        backoff = 1.0
        while True:
            code, retry_after = 0, None
            t0 = time.monotonic()
            try:
                c = self.conn()
                c.request("POST", self.base + path, body=body, headers=self.headers)
                r = c.getresponse()
                r.read()
                code = r.status
                retry_after = r.getheader("Retry-After")
            except (OSError, http.client.HTTPException):
                self.local.c = None
                code = "conn"
            with self.lock:
                self.latencies.append(time.monotonic() - t0)
            self.count(code)
            if code == 200:
                return "ok"
            if not self.retry or (code != "conn" and code not in RETRYABLE):
                return "permanent" if code != "conn" and code not in RETRYABLE else "gave_up"
            if time.monotonic() > self.deadline:
                return "gave_up"
            with self.lock:
                self.retries += 1
            try:
                wait = float(retry_after) if retry_after else backoff
            except ValueError:
                wait = backoff
            time.sleep(min(wait, 5.0))
            backoff = min(backoff * 2, 5.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--signal", default="both", choices=["spans", "logs", "metrics", "both", "all"])
    ap.add_argument("--prefix", default="")
    ap.add_argument("--count", type=int, default=0, help="items per signal (0: until --duration)")
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--rate", type=float, default=0, help="items per second per signal (0: as fast as possible)")
    ap.add_argument("--duration", type=float, default=0)
    ap.add_argument("--attr-bytes", type=int, default=0)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--service", default="lv-loadgen")
    ap.add_argument("--env", default="production")
    ap.add_argument("--no-retry", action="store_true")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--deadline", type=float, default=300)
    ap.add_argument("--reuse", action="store_true", help="send one prebuilt payload over and over (no ids)")
    ap.add_argument("--mix", type=int, default=0, help="send this many traces of a known mix (tail sampling)")
    ap.add_argument("--spans", type=int, default=3, help="spans per trace of the mix")
    ap.add_argument("--slow-ms", type=int, default=800, help="how long the mix's slow traces last")
    a = ap.parse_args()
    if a.mix:
        return send_mix(a)
    headers = dict(h.split("=", 1) for h in a.header)
    start = time.monotonic()
    sender = Sender(a.endpoint, headers, not a.no_retry, start + a.deadline)
    signals = {"both": ["spans", "logs"], "all": ["spans", "logs", "metrics"]}.get(a.signal, [a.signal])
    stats = {"sent_items": 0, "accepted_items": 0, "gave_up_items": 0, "permanent_items": 0}
    lock = threading.Lock()
    jobs = []
    if a.count:
        # The signals take turns, so that a paced sender sends each at the same steady rate.
        for k in range(0, a.count, a.batch):
            for sig in signals:
                ids = [f"{a.prefix}-{TAGS[sig]}-{x:06d}" for x in range(k, min(k + a.batch, a.count))]
                jobs.append((sig, ids))
    prebuilt = {}
    if a.reuse or not jobs:
        # A few payloads built once and reused (each with its own trace id), so sending is cheap.
        for sig in signals:
            prebuilt[sig] = [BUILDERS[sig]([""] * a.batch, a.service, a.env, a.attr_bytes) for _ in range(16)]
    job_lock = threading.Lock()
    job_iter = iter(jobs)
    interval = (a.batch / a.rate / len(signals)) if a.rate else 0
    next_at = [time.monotonic()]

    def pace():
        if not interval:
            return
        with job_lock:
            t = next_at[0]
            next_at[0] = max(t, time.monotonic() - 1.0) + interval
        d = t - time.monotonic()
        if d > 0:
            time.sleep(d)

    def worker(widx):
        k = 0
        while True:
            if jobs:
                with job_lock:
                    job = next(job_iter, None)
                if job is None:
                    return
                sig, ids = job
                path, body = BUILDERS[sig](ids, a.service, a.env, a.attr_bytes)
                nitems = len(ids)
            else:
                if time.monotonic() - start >= a.duration:
                    return
                sig = signals[(k + widx) % len(signals)]
                k += 1
                path, body = prebuilt[sig][k % len(prebuilt[sig])]
                nitems = a.batch
            pace()
            outcome = sender.send(path, body)
            with lock:
                stats["sent_items"] += nitems
                if outcome == "ok":
                    stats["accepted_items"] += nitems
                elif outcome == "permanent":
                    stats["permanent_items"] += nitems
                else:
                    stats["gave_up_items"] += nitems

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.deadline + 60)
    lat = sorted(sender.latencies) or [0]
    stats.update(requests=sender.requests, codes=sender.codes, retries=sender.retries,
                 seconds=round(time.monotonic() - start, 2), latency_max=round(lat[-1], 2),
                 latency_p99=round(lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0], 2))
    print(json.dumps(stats), flush=True)


def send_mix(a):
    """--mix: the known mix of traces, one chunk of --batch traces at a time per worker (its
    requests in order: span 0 of each trace, then span 1, ...)."""
    headers = dict(h.split("=", 1) for h in a.header)
    start = time.monotonic()
    sender = Sender(a.endpoint, headers, not a.no_retry, start + a.deadline)
    chunks = iter(range(0, a.mix, a.batch))
    lock = threading.Lock()
    stats = {"sent_items": 0, "accepted_items": 0, "gave_up_items": 0, "permanent_items": 0,
             "traces": {"e": 0, "w": 0, "r": 0}}
    for n in range(a.mix):
        stats["traces"][mix_kind(n)] += 1

    def worker():
        while True:
            with lock:
                first = next(chunks, None)
            if first is None:
                return
            count = min(a.batch, a.mix - first)
            for path, body in mix_requests(a.prefix, first, count, a.spans, a.slow_ms, a.service, a.env):
                outcome = sender.send(path, body)
                with lock:
                    stats["sent_items"] += count
                    key = {"ok": "accepted_items", "permanent": "permanent_items"}.get(outcome, "gave_up_items")
                    stats[key] += count

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.deadline + 60)
    stats.update(requests=sender.requests, codes=sender.codes, retries=sender.retries,
                 seconds=round(time.monotonic() - start, 2))
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    sys.exit(main())

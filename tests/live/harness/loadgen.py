"""OTLP/HTTP load generator of the fault tests: spans and log records with unique `test.id`
values, sent where the apps send (the endpoint and headers of a Django service's environment),
retrying retryable refusals as an OTLP exporter does (429, 502, 503, 504, connection errors;
Retry-After honoured), so that what is lost is lost by the pipeline.

Runs with the app's virtualenv (opentelemetry-proto). One JSON object on stdout:
{"sent_items", "accepted_items", "requests", "codes": {code: n}, "retries", "gave_up_items",
 "permanent_items", "seconds"}.

    python loadgen.py --endpoint http://gateway:4318 --signal spans|logs|both --prefix f1 --count 3000
                      [--batch 200] [--rate ITEMS_PER_S] [--duration S] [--attr-bytes N]
                      [--header K=V] [--service NAME] [--no-retry] [--concurrency N] [--deadline S]
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
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
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
    ap.add_argument("--signal", default="both", choices=["spans", "logs", "both"])
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
    a = ap.parse_args()
    headers = dict(h.split("=", 1) for h in a.header)
    start = time.monotonic()
    sender = Sender(a.endpoint, headers, not a.no_retry, start + a.deadline)
    signals = ["spans", "logs"] if a.signal == "both" else [a.signal]
    stats = {"sent_items": 0, "accepted_items": 0, "gave_up_items": 0, "permanent_items": 0}
    lock = threading.Lock()
    jobs = []
    for sig in signals:
        tag = "s" if sig == "spans" else "l"
        n = a.count
        if n:
            ids = [f"{a.prefix}-{tag}-{k:06d}" for k in range(n)]
            for k in range(0, n, a.batch):
                jobs.append((sig, ids[k:k + a.batch]))
    prebuilt = {}
    if a.reuse or not jobs:
        # A few payloads built once and reused (each with its own trace id), so sending is cheap.
        for sig in signals:
            prebuilt[sig] = [(span_request if sig == "spans" else log_request)([""] * a.batch, a.service, a.env,
                                                                               a.attr_bytes) for _ in range(16)]
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
                path, body = (span_request if sig == "spans" else log_request)(ids, a.service, a.env, a.attr_bytes)
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


if __name__ == "__main__":
    sys.exit(main())

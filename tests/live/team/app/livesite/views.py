"""The live test app's views.

GET /work/?id=ID: one request that touches every datastore the service is given (PostgreSQL,
Redis, Elasticsearch, Kafka, from LIVE_* variables), tags its server span with `test.id`, logs one
WARNING record carrying `test.id` and counts the request in a metric. The answer says what each
datastore call did, so the harness can tell a broken datastore from a broken pipeline, and whether
the SDK's sampler kept the request's trace (`sampled`).

For tail sampling, `&slow_ms=N` makes the request last at least N ms and `&fail=1` ends it with a
500 and an ERROR status on its server span.
"""

import logging
import os
import threading
import time
import traceback
from urllib.parse import urlparse

from django.http import JsonResponse
from opentelemetry import metrics, trace
from opentelemetry.trace import Status, StatusCode

log = logging.getLogger("livesite")
requests_counter = metrics.get_meter("livesite").create_counter("live.requests", unit="{request}")
_clients = {}
_lock = threading.Lock()
SERVICE = os.environ.get("LIVE_SERVICE", "app")
DRIVERS = [d.strip() for d in os.environ.get("OTELPLAN_INSTRUMENTATIONS", "").split(",")]


def _client(name, make):
    with _lock:
        if name not in _clients:
            _clients[name] = make()
        return _clients[name]


def _postgres(test_id):
    dsn = os.environ["LIVE_POSTGRES"]
    if "psycopg2" in DRIVERS or "psycopg" not in DRIVERS:
        import psycopg2 as driver
    else:
        import psycopg as driver
    conn = driver.connect(dsn, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT %s::text", (test_id,))
            got = cur.fetchone()[0]
        conn.commit()
    finally:
        conn.close()
    return f"{driver.__name__}:{got == test_id}"


def _redis(test_id):
    import redis

    client = _client("redis", lambda: redis.Redis.from_url(os.environ["LIVE_REDIS"], socket_timeout=5))
    client.set(f"live:{SERVICE}", test_id)
    return str(client.get(f"live:{SERVICE}") == test_id.encode())


def _search(test_id):
    from elasticsearch import Elasticsearch

    def make():
        url = os.environ["LIVE_SEARCH"]
        pw = os.environ.get("LIVE_SEARCH_PASSWORD")
        return Elasticsearch(url, basic_auth=("elastic", pw) if pw else None, request_timeout=10)

    client = _client("search", make)
    client.index(index="live-docs", id=test_id, document={"test_id": test_id, "service": SERVICE})
    return str(client.get(index="live-docs", id=test_id)["found"])


def _kafka(test_id):
    from kafka import KafkaProducer

    producer = _client("kafka", lambda: KafkaProducer(bootstrap_servers=os.environ["LIVE_KAFKA"],
                                                      request_timeout_ms=10000, max_block_ms=10000))
    producer.send("live-events", test_id.encode()).get(timeout=10)
    return "sent"


CALLS = [("postgres", "LIVE_POSTGRES", _postgres), ("redis", "LIVE_REDIS", _redis),
         ("search", "LIVE_SEARCH", _search), ("kafka", "LIVE_KAFKA", _kafka)]


def work(request):
    test_id = request.GET.get("id", "")
    trace.get_current_span().set_attribute("test.id", test_id)
    result = {"service": SERVICE, "pid": os.getpid(), "calls": {}}
    for name, var, call in CALLS:
        if not os.environ.get(var):
            continue
        try:
            result["calls"][name] = call(test_id)
        except Exception as e:  # noqa: BLE001 - reported to the harness, which decides
            result["calls"][name] = f"error: {type(e).__name__}: {e}"
            traceback.print_exc()
    log.warning("live request %s", test_id, extra={"test.id": test_id})
    requests_counter.add(1, {"live.service": SERVICE})
    span = trace.get_current_span()
    ctx = span.get_span_context()
    result["trace_id"] = format(ctx.trace_id, "032x")
    result["sampled"] = bool(ctx.trace_flags.sampled)
    slow_ms = int(request.GET.get("slow_ms") or 0)
    if slow_ms:
        time.sleep(slow_ms / 1000)
    if request.GET.get("fail"):
        span.set_status(Status(StatusCode.ERROR, "live test failure"))
        return JsonResponse(result, status=500)
    return JsonResponse(result)


def health(request):
    return JsonResponse({"ok": True, "service": SERVICE})

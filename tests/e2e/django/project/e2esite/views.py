"""The view of the e2e test: one log line, one metric, two Redis commands, and one call through each
other client library a service may instrument (both PostgreSQL drivers, requests, urllib3, HTTPX,
a Celery task sent). Which of them produce spans depends on the service's environment; the view
makes every call either way."""

import logging
import os

import httpx
import psycopg
import psycopg2
import redis
import requests
import urllib3
from celery import Celery
from django.http import JsonResponse
from opentelemetry import _logs, metrics, trace

import otel_setup

log = logging.getLogger("e2esite.views")
requests_counter = metrics.get_meter("e2esite").create_counter("e2e.requests", unit="{request}")

# Tasks go to kombu's in-process memory transport: no broker to run, and the test reads the
# message back to see the trace context it carries.
tasks = Celery("e2esite", broker="memory://", set_as_current=False)


@tasks.task(name="e2esite.add")
def add(x, y):
    return x + y


def hello(request):
    otel_setup.configure()  # more calls (after post_fork's and wsgi.py's): must change nothing
    otel_setup.configure()
    nonce = request.GET.get("nonce", "")
    log.info("e2e info line %s", nonce)  # below WARNING: not exported by default
    log.warning("e2e log line %s", nonce)
    requests_counter.add(1, {"e2e.nonce": nonce})
    client = redis.Redis.from_url(os.environ["E2E_REDIS_URL"])
    client.set("e2e", nonce)
    stored = client.get("e2e")
    from e2esite import wsgi

    return JsonResponse(
        {
            "pid": os.getpid(),
            "trace_id": format(trace.get_current_span().get_span_context().trace_id, "032x"),
            "redis": stored.decode() if stored else None,
            "postgres": _postgres(),
            "http": _http(nonce),
            "celery_traceparent": _celery(),
            "registry_ready_after_configure": wsgi.REGISTRY_READY_AFTER_CONFIGURE,
            "otel_log_handlers": _otel_log_handlers(),
            "span_processors": _count(trace.get_tracer_provider(), "_active_span_processor", "_span_processors"),
            "metric_readers": _count(metrics.get_meter_provider(), "_metric_readers"),
            "log_processors": _count(
                _logs.get_logger_provider(), "_multi_log_record_processor", "_log_record_processors"
            ),
        }
    )


def _postgres() -> list:
    """One query through each driver; each names its driver in the statement."""
    dsn = os.environ["E2E_PG_DSN"]
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT 'via-psycopg2' AS driver")
        first = cur.fetchone()[0]
    conn.close()
    with psycopg.connect(dsn) as conn:
        second = conn.execute("SELECT 'via-psycopg3' AS driver").fetchone()[0]
    return [first, second]


def _http(nonce: str) -> list:
    """One GET through each HTTP client, each to its own path on the sink."""
    base = os.environ["E2E_HTTP_BASE"]
    out = [requests.get(f"{base}/ping/requests?nonce={nonce}", timeout=10).text]
    pool = urllib3.PoolManager()
    out.append(pool.request("GET", f"{base}/ping/urllib3?nonce={nonce}", timeout=10).data.decode())
    out.append(httpx.get(f"{base}/ping/httpx?nonce={nonce}", timeout=10).text)
    return out


def _celery() -> str | None:
    """Send a task, then read its message back from the memory queue: the traceparent it carries."""
    with tasks.connection_for_write() as conn:
        queue = conn.SimpleQueue("celery")  # declared first, so the message is routed to it
        add.apply_async((1, 2), connection=conn)
        message = queue.get(timeout=5)
        message.ack()
        headers = message.headers or {}
        queue.close()
    return headers.get("traceparent")


def _otel_log_handlers() -> int:
    return sum(1 for h in logging.getLogger().handlers if type(h).__module__.startswith("opentelemetry"))


def _count(obj, *path: str) -> int:
    """Length of a private collection of the SDK (-1 when the SDK keeps it elsewhere)."""
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return -1
    return len(obj)

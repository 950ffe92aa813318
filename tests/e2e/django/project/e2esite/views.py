"""The view of the e2e test: one log line, one metric, two Redis commands."""

import logging
import os

import redis
from django.http import JsonResponse
from opentelemetry import _logs, metrics, trace

import otel_setup

log = logging.getLogger("e2esite.views")
requests_counter = metrics.get_meter("e2esite").create_counter("e2e.requests", unit="{request}")


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
            "registry_ready_after_configure": wsgi.REGISTRY_READY_AFTER_CONFIGURE,
            "otel_log_handlers": _otel_log_handlers(),
            "span_processors": _count(trace.get_tracer_provider(), "_active_span_processor", "_span_processors"),
            "metric_readers": _count(metrics.get_meter_provider(), "_metric_readers"),
            "log_processors": _count(
                _logs.get_logger_provider(), "_multi_log_record_processor", "_log_record_processors"
            ),
        }
    )


def _otel_log_handlers() -> int:
    return sum(1 for h in logging.getLogger().handlers if type(h).__module__.startswith("opentelemetry"))


def _count(obj, *path: str) -> int:
    """Length of a private collection of the SDK (-1 when the SDK keeps it elsewhere)."""
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return -1
    return len(obj)

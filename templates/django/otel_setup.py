"""OpenTelemetry for a Django service: traces, metrics and logs, configured from ``OTEL_*``.

Import it as the top-level module ``otel_setup`` and call ``configure()`` early in every entry
point: ``manage.py`` and ``wsgi.py`` before Django is set up, and a pre-forking server's worker
hook (``gunicorn.conf.py`` here). ``README.md`` beside this file has the lines to add.

``configure()`` is idempotent. The first call in a process builds one resource (``service.name``
and the rest from ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES``, plus a ``service.instance.id``
of this process) and the tracer, meter and logger providers that share it; later calls only
instrument what could not be instrumented before (Django, until ``DJANGO_SETTINGS_MODULE`` is set),
so nothing is ever set up twice and no span or log record is doubled. It never touches Django's app
registry: the Django instrumentation only reads ``settings.MIDDLEWARE``.

Read from the environment (otelplan writes these into ``instrumentation/<service>.env``):

- ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``: the resource.
- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (base URL), ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf``),
  ``OTEL_EXPORTER_OTLP_HEADERS`` and the other ``OTEL_EXPORTER_OTLP_*`` settings: read by the
  exporters themselves.
- ``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER``, ``OTEL_LOGS_EXPORTER``: ``otlp``,
  ``console`` or ``none`` (a comma list is allowed).
- ``OTELPLAN_INSTRUMENTATIONS``: the client libraries the service lists, comma-separated, out of
  ``psycopg2``, ``psycopg``, ``redis``, ``elasticsearch``, ``kafka-python``, ``confluent-kafka``,
  ``celery``, ``requests``, ``urllib3``, ``httpx``. Each is instrumented; one that cannot be
  imported here is skipped with a warning, since its calls would go untraced.
- ``OTELPLAN_INSTRUMENTATION_CANDIDATES``: for a service that lists none, every library it may
  use; each is instrumented when it can be imported and skipped quietly when it cannot.
- ``OTEL_PYTHON_LOG_HANDLER_LEVEL``: the lowest level exported as a log record (default
  ``warning``); ``OTEL_PYTHON_LOG_CORRELATION``: add trace ids to the log format.
- ``OTEL_SDK_DISABLED=true``: do nothing at all.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import logging
import os
import threading
import uuid

from opentelemetry import _logs, metrics, trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.logging import LoggingInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

__all__ = ["configure", "shutdown"]

_log = logging.getLogger("otel_setup")

# The variables naming client libraries: listed ones (a missing one is worth a warning), then
# candidates (instrumented when present).
_LISTED_ENV = "OTELPLAN_INSTRUMENTATIONS"
_CANDIDATES_ENV = "OTELPLAN_INSTRUMENTATION_CANDIDATES"

# Client library name -> (client module that must be importable, instrumentation module,
# instrumentor class).
_CLIENTS = {
    "psycopg2": ("psycopg2", "opentelemetry.instrumentation.psycopg2", "Psycopg2Instrumentor"),
    "psycopg": ("psycopg", "opentelemetry.instrumentation.psycopg", "PsycopgInstrumentor"),
    "redis": ("redis", "opentelemetry.instrumentation.redis", "RedisInstrumentor"),
    "kafka-python": ("kafka", "opentelemetry.instrumentation.kafka", "KafkaInstrumentor"),
    "confluent-kafka": (
        "confluent_kafka",
        "opentelemetry.instrumentation.confluent_kafka",
        "ConfluentKafkaInstrumentor",
    ),
    "celery": ("celery", "opentelemetry.instrumentation.celery", "CeleryInstrumentor"),
    "requests": ("requests", "opentelemetry.instrumentation.requests", "RequestsInstrumentor"),
    "urllib3": ("urllib3", "opentelemetry.instrumentation.urllib3", "URLLib3Instrumentor"),
    "httpx": ("httpx", "opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
}

# Client libraries that trace themselves through opentelemetry-api once a tracer provider is set,
# by name -> client module: elasticsearch-py 8.13 and later (the old contrib instrumentation must
# not be installed with it).
_NATIVE = {"elasticsearch": "elasticsearch"}

# Set by gunicorn.conf.py in the arbiter: that process only instruments (through the API's proxy
# tracers and meters); providers, exporters and their threads start in each worker after the fork.
_PREFORK_PARENT_ENV = "OTELPLAN_PREFORK_PARENT_PID"


class _State:
    """What this process has set up; guarded by ``_lock``."""

    def __init__(self) -> None:
        self.providers_ready = False
        self.providers: list[object] = []
        self.done: set[str] = set()
        self.shut_down = False


_lock = threading.Lock()
_state = _State()


def configure() -> None:
    """Set up OpenTelemetry for this process from the environment; safe to call any number of times."""
    if _env("OTEL_SDK_DISABLED").lower() == "true":
        return
    with _lock:
        if _state.shut_down:
            return
        if not _is_prefork_parent():
            _setup_providers()
        _instrument_django()
        for variable in (_LISTED_ENV, _CANDIDATES_ENV):
            for name in _names(variable):
                _instrument_client(name, variable)


def shutdown() -> None:
    """Flush and stop every provider ``configure()`` created; later calls do nothing."""
    with _lock:
        if _state.shut_down or not _state.providers:
            return
        _state.shut_down = True
        providers, _state.providers = _state.providers, []
    # Detach the log handler first: records logged while exiting must not reach a stopped provider.
    instrumentor = LoggingInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    for provider in providers:
        try:
            provider.shutdown()
        except Exception:  # exiting: report it and keep flushing the others
            _log.warning("flushing %s failed", type(provider).__name__, exc_info=True)


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _is_prefork_parent() -> bool:
    return _env(_PREFORK_PARENT_ENV) == str(os.getpid())


def _setup_providers() -> None:
    if _state.providers_ready:
        # Set up here, or in the parent before a fork: the SDK restarts its export threads in the
        # child and gives it a service.instance.id of its own.
        return
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        _log.warning("OpenTelemetry is already configured in this process; otel_setup only instruments")
        _state.providers_ready = True
        return
    resource = _resource()
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    for exporter in _exporters("TRACES"):
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    readers = [PeriodicExportingMetricReader(exporter) for exporter in _exporters("METRICS")]
    meter_provider = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    log_exporters = _exporters("LOGS")
    for exporter in log_exporters:
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    _logs.set_logger_provider(logger_provider)
    _state.providers = [tracer_provider, logger_provider, meter_provider]
    _state.providers_ready = True
    atexit.register(shutdown)
    _instrument_logging(export=bool(log_exporters))


def _resource() -> Resource:
    """One resource for all three signals, with this process's ``service.instance.id``."""
    resource = Resource.create()
    if "service.instance.id" not in resource.attributes:
        resource = resource.merge(Resource({"service.instance.id": str(uuid.uuid4())}))
    return resource


def _exporters(signal: str) -> list[object]:
    """The exporters ``OTEL_<signal>_EXPORTER`` names (default ``otlp``)."""
    exporters = []
    for name in _env(f"OTEL_{signal}_EXPORTER", "otlp").lower().split(","):
        name = name.strip()
        if name == "otlp":
            exporters.extend(_otlp_exporter(signal))
        elif name == "console":
            exporters.append(_CONSOLE[signal]())
        elif name not in ("none", ""):
            _log.warning("OTEL_%s_EXPORTER: unknown exporter %r ignored", signal, name)
    return exporters


_CONSOLE = {"TRACES": ConsoleSpanExporter, "METRICS": ConsoleMetricExporter, "LOGS": ConsoleLogRecordExporter}
_OTLP = {"TRACES": OTLPSpanExporter, "METRICS": OTLPMetricExporter, "LOGS": OTLPLogExporter}


def _otlp_exporter(signal: str) -> list[object]:
    protocol = _env(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") or _env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol != "http/protobuf":
        _log.error(
            "OTLP protocol %r is not supported here (use http/protobuf): %s not exported", protocol, signal.lower()
        )
        return []
    # The exporter reads its endpoint (the base URL + /v1/<signal>), headers, timeout and
    # compression from OTEL_EXPORTER_OTLP_* itself.
    return [_OTLP[signal]()]


def _instrument_logging(export: bool) -> None:
    """Export log records through the logging instrumentation's handler on the root logger."""
    instrumentor = LoggingInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        return
    options: dict[str, object] = {"enable_log_auto_instrumentation": export}
    if not _env("OTEL_PYTHON_LOG_HANDLER_LEVEL"):
        # Without a level the handler takes whatever reaches the root logger, INFO included once
        # OTEL_PYTHON_LOG_CORRELATION has called basicConfig(level=INFO): default to WARNING.
        options["log_handler_level"] = logging.WARNING
    instrumentor.instrument(**options)


def _instrument_django() -> None:
    if "django" in _state.done or importlib.util.find_spec("django") is None:
        return
    if not _env("DJANGO_SETTINGS_MODULE"):
        # The instrumentation reads settings.MIDDLEWARE (and would configure empty settings without
        # this variable): wait for a later call, after manage.py or wsgi.py has set it.
        _log.debug("DJANGO_SETTINGS_MODULE is not set yet; Django is instrumented by a later configure()")
        return
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    instrumentor = DjangoInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
    _state.done.add("django")


def _names(variable: str) -> list[str]:
    return [n.strip() for n in _env(variable).split(",") if n.strip()]


def _instrument_client(name: str, variable: str) -> None:
    """Instrument one client library; ``variable`` says whether the service listed it."""
    if name in _state.done:
        return
    _state.done.add(name)
    spec = _CLIENTS.get(name)
    client = spec[0] if spec else _NATIVE.get(name)
    if client is None:
        _log.warning("%s: unknown client library %r ignored", variable, name)
        return
    if importlib.util.find_spec(client) is None:
        if variable == _LISTED_ENV:
            _log.warning("%s lists %s, but %r cannot be imported: its calls are not traced", variable, name, client)
        else:
            _log.debug("%s is not installed here; not instrumented", client)
        return
    if spec is None:
        return  # it traces itself
    _, module, cls = spec
    try:
        instrumentor = getattr(importlib.import_module(module), cls)()
    except ImportError:
        _log.warning("the OpenTelemetry instrumentation for %s is not installed (see requirements-otel.txt)", name)
        return
    if instrumentor.is_instrumented_by_opentelemetry:
        return
    instrumentor.instrument()
    if not instrumentor.is_instrumented_by_opentelemetry:
        # The instrumentor has logged why (a release of the library it does not support).
        _log.warning("%s is installed but could not be instrumented: its calls are not traced", name)

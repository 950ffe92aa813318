"""Gunicorn settings for a Django service instrumented by ``otel_setup``.

Use it with ``gunicorn -c gunicorn.conf.py yourproject.wsgi`` (or merge the hooks into your own
configuration file); ``otel_setup.py`` must be importable (on ``PYTHONPATH`` or beside
``manage.py``). It is safe with and without ``--preload``:

- the arbiter (this process) only instruments: exporters and their background threads would not
  survive ``fork()``, and every worker needs its own ``service.instance.id``;
- each worker sets up its providers in ``post_fork``, before it loads the application;
- each worker flushes what it still holds when it exits.
"""

import os

# Tells otel_setup.configure() which process is the arbiter; workers have other process ids.
os.environ["OTELPLAN_PREFORK_PARENT_PID"] = str(os.getpid())


def post_fork(server, worker):
    """Set up OpenTelemetry in the new worker, before it imports the application."""
    import otel_setup  # imported here: the worker's sys.path includes --chdir

    otel_setup.configure()


def worker_exit(server, worker):
    """Flush spans, metrics and log records still buffered in the exiting worker."""
    import otel_setup

    otel_setup.shutdown()

"""WSGI entry point, wired as the tree's instrumentation/django/README.md says."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livesite.settings")

import otel_setup  # noqa: E402

otel_setup.configure()

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

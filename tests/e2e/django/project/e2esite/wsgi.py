"""WSGI entry point, wired as otel_setup's README says."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "e2esite.settings")

import otel_setup  # noqa: E402

otel_setup.configure()

from django.apps import apps  # noqa: E402

# configure() must leave the app registry alone: it is populated only by get_wsgi_application().
REGISTRY_READY_AFTER_CONFIGURE = apps.ready

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

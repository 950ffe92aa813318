"""Settings of the live test app: no ORM database (the view uses the client libraries directly,
so each one's own instrumentation makes the client spans), logging configured by Django."""

SECRET_KEY = "live-test-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "livesite.urls"
INSTALLED_APPS = ["django.contrib.contenttypes"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {}
USE_TZ = True
TIME_ZONE = "UTC"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"kafka": {"level": "WARNING"}, "elastic_transport": {"level": "WARNING"}},
}

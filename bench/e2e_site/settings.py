"""Settings of the measured site. The cache under test comes from the environment:

  E2E_CACHE   JSON of the "default" cache's settings (BACKEND, LOCATION, OPTIONS, KEY_PREFIX),
              written by bench/e2e.py for each backend it compares.
"""
import json
import os

SECRET_KEY = "e2e-bench-only-not-secret-4b7f2d19c0a8"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
ROOT_URLCONF = "e2e_site.urls"
WSGI_APPLICATION = "e2e_site.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}

CACHES = {"default": json.loads(os.environ["E2E_CACHE"])}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_CACHE_ALIAS = "default"

USE_TZ = True
TIME_ZONE = "UTC"

# A failing request logs its traceback to stderr, which gunicorn's log file collects.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}

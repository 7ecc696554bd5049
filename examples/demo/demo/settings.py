"""Settings for the redis-cache-go demo: a database-free Django site whose only store is the cache.

Environment:
  REDIS_LOCATION      host:port of the Redis server (default 127.0.0.1:6379)
  DJANGO_SECRET_KEY   optional; a fixed throw-away key is used otherwise (demo only)
  DJANGO_DEBUG        "1" to turn DEBUG on (off by default)
  REDIS_FORK_FALLBACK "1" for OPTIONS FORK_FALLBACK (serve through redis-py in a process forked after
                      the cache was used, e.g. gunicorn --preload; see the README)
"""
import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-secret-7d1f0c9e2b5a4f3e8c6d")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = ["shop"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"

# No database at all: every piece of state this site keeps lives in the cache.
DATABASES = {}

CACHES = {
    "default": {
        "BACKEND": "redis_cache_go.RedisCache",
        "LOCATION": os.environ.get("REDIS_LOCATION", "127.0.0.1:6379"),
        "KEY_PREFIX": "demo",
        "TIMEOUT": 300,
        "OPTIONS": {"DB": 0, "FORK_FALLBACK": os.environ.get("REDIS_FORK_FALLBACK") == "1"},
    }
}

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

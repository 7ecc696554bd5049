"""Django settings for Django's own cache tests (tests/cache/ of the pinned Django's sdist) run
against redis_cache_go by run.py. ``cache`` is that extracted test package: its Poll model needs a
database, and its tests name ``cache.tests.custom_key_func``. The caches themselves are set by the
test class (test_redis_cache_go.py), as Django's own RedisCacheTests sets them."""
from __future__ import annotations

SECRET_KEY = "django-cache-suite"  # tests only
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
INSTALLED_APPS = ["django.contrib.contenttypes", "cache"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

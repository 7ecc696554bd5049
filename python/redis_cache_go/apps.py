"""``redis_cache_go`` as an optional ``INSTALLED_APPS`` entry.

Adding ``"redis_cache_go"`` to ``INSTALLED_APPS`` is not needed for the cache backend itself; it adds
the system checks of :mod:`redis_cache_go.checks` (``manage.py check`` reports a misconfigured
``CACHES`` entry with an id such as ``redis_cache_go.E001``) and the ``manage.py redis_cache``
command. Importing this module loads nothing native and opens no connection.
"""
from __future__ import annotations

from django.apps import AppConfig


class RedisCacheGoConfig(AppConfig):
    name = "redis_cache_go"
    verbose_name = "redis-cache-go"

    def ready(self) -> None:
        from redis_cache_go import checks

        checks.register()

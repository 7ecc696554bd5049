"""gunicorn config for test_prefork.py: the master uses the cache before forking its workers
(with --preload the Django app, and so the cache backend, is already loaded in the master)."""


def when_ready(server):
    from django.core.cache import cache

    cache.set("touched-in-master", 1)
    assert cache.get("touched-in-master") == 1

"""WSGI entry point for gunicorn (imported by each worker after the fork, as no --preload is
used). Before serving, each worker stores what the page reads: the fragments, the get_many items,
the counter and the session under the fixed key. With a shared cache the workers write the same
values; with LocMemCache every worker needs its own copy."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "e2e_site.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()


def _fill() -> None:
    from importlib import import_module

    from django.conf import settings
    from django.core.cache import cache

    from .workload import COUNTER_KEY, FRAGMENT_KEYS, MANY_KEYS, SESSION_KEY, fragment, item

    cache.set_many({key: fragment(i) for i, key in enumerate(FRAGMENT_KEYS)}, timeout=None)
    cache.set_many({key: item(i) for i, key in enumerate(MANY_KEYS)}, timeout=None)
    cache.add(COUNTER_KEY, 0, timeout=None)
    # The session backend stores the session's dict under its cache_key; written directly, since
    # SessionStore.save() of a key that is not stored yet would make a new random key instead.
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=SESSION_KEY)
    cache.set(store.cache_key, {"views": 0}, settings.SESSION_COOKIE_AGE)


_fill()

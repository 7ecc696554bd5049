"""WSGI module for the uWSGI tests: the demo app, with the cache used when the module is loaded.
Without lazy-apps uWSGI loads it in the master and then forks the workers (like gunicorn --preload);
with lazy-apps each worker loads it after the fork."""
from demo.wsgi import application  # noqa: F401  (the demo's app)
from django.core.cache import cache

cache.set("touched-at-load", 1)

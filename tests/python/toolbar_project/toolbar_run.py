"""Run one request through django-debug-toolbar's CachePanel with a redis-cache-go cache and print
what the view saw and what the panel recorded, as JSON (driven by tests/python/test_debug_toolbar.py).
Usage: toolbar_run.py HOST:PORT"""
import json
import re
import sys

import django
from django.conf import settings
from django.http import HttpResponse
from django.urls import path

settings.configure(
    DEBUG=True, SECRET_KEY="toolbar-test", USE_TZ=True, ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.staticfiles", "debug_toolbar", "redis_cache_go"],
    MIDDLEWARE=["debug_toolbar.middleware.DebugToolbarMiddleware"],
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
    STATIC_URL="/static/", INTERNAL_IPS=["127.0.0.1"],
    DEBUG_TOOLBAR_CONFIG={"IS_RUNNING_TESTS": False, "SHOW_TOOLBAR_CALLBACK": lambda request: True},
    DEBUG_TOOLBAR_PANELS=["debug_toolbar.panels.cache.CachePanel"],
    CACHES={"default": {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": sys.argv[1],
                        "KEY_PREFIX": "ddt", "OPTIONS": {"DB": 0}}},
)
django.setup()

from debug_toolbar.toolbar import DebugToolbar, debug_toolbar_urls  # noqa: E402
from django.core.cache import cache  # noqa: E402


def view(request):
    cache.set("a", {"n": 1}, 30)
    got = cache.get("a")
    missing = cache.get("nope", "default")
    many = cache.get_many(["a", "nope"])
    computed = cache.get_or_set("c", lambda: 3, 30, lock_timeout=5)  # our extra keyword passes through
    seen = {"get": got, "missing": missing, "many": many, "computed": computed}
    return HttpResponse(f"<html><body><pre id='seen'>{json.dumps(seen)}</pre></body></html>")


urlpatterns = [path("view/", view), *debug_toolbar_urls()]

from django.test import Client  # noqa: E402

response = Client().get("/view/")
html = response.content.decode()
seen = json.loads(re.search(r"<pre id='seen'>(.*?)</pre>", html).group(1))
request_id = re.search(r'data-request-id="(\w+)"', html)
stats = {}
if request_id:
    toolbar = DebugToolbar.fetch(request_id.group(1))
    stats = toolbar.get_panel_by_id("CachePanel").get_stats() if toolbar else {}
print(json.dumps({
    "status": response.status_code,
    "seen": seen,
    "toolbar_in_page": "djDebug" in html,
    "calls": [c["name"] for c in stats.get("calls", [])],
    "backends": sorted({c["backend"] for c in stats.get("calls", [])}),
    "hits": stats.get("hits"), "misses": stats.get("misses"),
}))

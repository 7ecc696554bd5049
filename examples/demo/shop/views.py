"""Views that use nothing but Django's standard cache API (django.core.cache.cache).

Every response is JSON so that people and scripts (examples/run_demo.py) can read it.
"""
from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone

from django.conf import settings
from django.core.cache import cache, caches
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import cache_page
from django.views.decorators.http import require_GET, require_POST

VISITS_KEY = "visits"
PRIMES_LIMIT_MAX = 2_000_000

# A pretend product table. Looking a row up is "slow", so rows are kept in the cache.
CATALOGUE = {
    "teapot": {"name": "Cast-iron teapot", "cents": 4599, "tags": ["kitchen", "tea"]},
    "kettle": {"name": "Whistling kettle", "cents": 2899, "tags": ["kitchen"]},
    "mug": {"name": "Stoneware mug", "cents": 1250, "tags": ["tea", "coffee"]},
}


def _price_key(sku: str) -> str:
    return f"price:{sku}"


@require_GET
def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "endpoints": {
                "GET /counter/": "page-view counter (incr, add on first visit)",
                "POST /counter/reset/": "delete the counter",
                "GET /primes/<limit>/": "prime count, computed once then cached (get_or_set)",
                "GET /prices/": "catalogue rows through get_many/set_many",
                "POST /prices/forget/": "delete_many of the catalogue rows",
                "GET /banner/": "whole response cached for 30 s (cache_page)",
                "GET /info/": "which backend is configured and what it holds",
            }
        }
    )


@require_GET
def counter(request: HttpRequest) -> JsonResponse:
    """Count visits with an atomic server-side increment."""
    try:
        visits = cache.incr(VISITS_KEY)
    except ValueError:
        # No counter yet (first visit, or it was deleted or evicted). add() only
        # writes when the key is absent, so two first visitors cannot both reset it.
        if cache.add(VISITS_KEY, 1, timeout=None):
            visits = 1
        else:
            visits = cache.incr(VISITS_KEY)
    return JsonResponse({"visits": visits})


@require_POST
def reset_counter(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"deleted": bool(cache.delete(VISITS_KEY))})


def _count_primes(limit: int) -> dict:
    """Sieve of Eratosthenes: the "expensive" computation worth caching."""
    if limit < 2:
        return {"count": 0, "largest": None}
    sieve = bytearray([1]) * (limit + 1)
    sieve[0] = sieve[1] = 0
    p = 2
    while p * p <= limit:
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, limit + 1, p)))
        p += 1
    return {"count": sieve.count(1), "largest": sieve.rfind(1)}


@require_GET
def primes(request: HttpRequest, limit: int) -> JsonResponse:
    if limit > PRIMES_LIMIT_MAX:
        return JsonResponse({"error": f"limit must be at most {PRIMES_LIMIT_MAX}"}, status=400)
    computed = False

    def compute() -> dict:
        nonlocal computed
        computed = True
        started = time.perf_counter()
        result = _count_primes(limit)
        result["compute_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return result

    result = cache.get_or_set(f"primes:{limit}", compute, timeout=600)
    return JsonResponse({"limit": limit, **result, "computed_now": computed})


@require_GET
def prices(request: HttpRequest) -> JsonResponse:
    """Fetch all rows in one get_many; look up only the misses and store them with one set_many."""
    keys = {_price_key(sku): sku for sku in CATALOGUE}
    found = cache.get_many(keys)
    rows = {keys[k]: v for k, v in found.items()}
    missing = {k: CATALOGUE[sku] for k, sku in keys.items() if k not in found}
    not_stored = cache.set_many(missing, timeout=120) if missing else []
    rows.update({keys[k]: v for k, v in missing.items()})
    return JsonResponse(
        {
            "prices": {sku: rows[sku] for sku in sorted(rows)},
            "from_cache": sorted(keys[k] for k in found),
            "looked_up": sorted(keys[k] for k in missing),
            "not_stored": sorted(keys[k] for k in not_stored),
        }
    )


@require_POST
def forget_prices(request: HttpRequest) -> JsonResponse:
    keys = [_price_key(sku) for sku in CATALOGUE]
    cache.delete_many(keys)
    return JsonResponse({"forgotten": sorted(CATALOGUE)})


@require_GET
@cache_page(30)
def banner(request: HttpRequest) -> JsonResponse:
    """The whole response is cached: a second request within 30 s gets the same token."""
    return JsonResponse(
        {
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "token": secrets.token_hex(8),
        }
    )


@require_GET
def info(request: HttpRequest) -> JsonResponse:
    backend = type(caches["default"])
    return JsonResponse(
        {
            "backend": f"{backend.__module__}.{backend.__qualname__}",
            "configured_backend": settings.CACHES["default"]["BACKEND"],
            "location": settings.CACHES["default"]["LOCATION"],
            "key_prefix": cache.key_prefix,
            "version": cache.version,
            "default_timeout": cache.default_timeout,
            "visits_key": cache.make_key(VISITS_KEY),
            "has_visits": cache.has_key(VISITS_KEY),
            "visits": cache.get(VISITS_KEY),
        }
    )

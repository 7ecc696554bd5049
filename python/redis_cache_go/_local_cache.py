"""OPTIONS['LOCAL_CACHE']: the near-cache (an in-process cache inside Go, kept correct by Redis'
client-side caching invalidations; see core/nearcache and the README).

``{"MAX_ENTRIES": 10000, "MAX_BYTES": 67108864, "TTL": 60}`` — each sub-key optional; an omitted
one takes the default shown (applied in Go, core/nearcache.Options). ``None`` means no near-cache.
It works on one server, on several LOCATIONs (ring, copy, primary/replica) and on a Redis Cluster, with
one tracking connection per server reads go to; behind Sentinel it is refused.
"""
from __future__ import annotations

import difflib
import math
from typing import Any, Callable

from django.core.exceptions import ImproperlyConfigured

from redis_cache_go.exceptions import setting_error as _bad

KEY = "LOCAL_CACHE"
SUBKEYS = ("MAX_BYTES", "MAX_ENTRIES", "TTL")  # defaults: core/nearcache.Options (applied in Go)
MAX_TTL = 10 * 365 * 24 * 3600  # seconds; longer would overflow nothing but serves no purpose
MAX_INT = 2**62


def parse(options: dict[str, Any]) -> dict[str, Any] | None:
    """The document's "local_cache" object (without "prefix"), or None when it is off."""
    value = options.get(KEY)
    if value is None:
        return None
    what = f"OPTIONS[{KEY!r}]"
    if not isinstance(value, dict):
        raise _bad(what, value, "must be a dict with MAX_ENTRIES, MAX_BYTES and/or TTL, or None")
    doc: dict[str, Any] = {}
    for key, v in value.items():
        sub = f"{what}[{key!r}]"
        if key in ("MAX_ENTRIES", "MAX_BYTES"):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= MAX_INT:
                raise _bad(sub, v, "must be a positive integer")
            doc[key.lower()] = v
        elif key == "TTL":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v <= MAX_TTL:
                raise _bad(sub, v, f"must be a positive number of seconds (at most {MAX_TTL})")
            doc["ttl"] = float(v)
        else:
            hint = difflib.get_close_matches(str(key), SUBKEYS, n=1)
            why = f"unknown sub-key (did you mean {hint[0]!r}?)" if hint else f"unknown sub-key (known: {', '.join(SUBKEYS)})"
            raise _bad(sub, v, why)
    return doc


def refuse_layout(describe: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"redis_cache_go: OPTIONS[{KEY!r}] is not supported behind Sentinel ({describe}): the near-cache "
        "tracks invalidations on each server it reads from, and a Sentinel failover moves the primary under it; "
        "use it with one server, several LOCATIONs (ring, copy, primary/replica) or CLUSTER, or drop LOCAL_CACHE"
    )


def tracked_prefix(key_func: Callable[[str, str, int], str], key_prefix: str) -> str:
    """The key space the near-cache tracks (BCAST PREFIX): the common start of two keys made with
    different keys and versions ("mysite:" for Django's default key function); "" = every key.
    Keys outside it are never cached, so a KEY_FUNCTION that breaks the guess costs hits, not
    correctness."""
    a, b = key_func("\x00a", key_prefix, 1), key_func("\x00b", key_prefix, 2)
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]

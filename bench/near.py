#!/usr/bin/env python3
"""Near-cache micro-benchmark (the near-cache bar, >= 10x the best peer's get): hot-key ``cache.get`` through the Django API.

Backends, each on its own KEY_PREFIX of one throw-away redis-server:
  django        Django's built-in RedisCache (redis-py + hiredis)
  django_redis  django-redis DefaultClient with the hiredis parser
  ours          redis_cache_go.RedisCache
  ours_local    redis_cache_go.RedisCache with OPTIONS["LOCAL_CACHE"]

Rounds are interleaved (the backend order rotates every round) and every backend gets the same
time budget per round; medians and the spread (min-max over rounds) of ops/s are printed, then
ours_local / best peer. By default this process (and so the Go runtime's threads) and the
redis-server are pinned to one CPU (--cpu, design.md: loopback across the two vCPUs costs ~50 us);
--no-pin runs unpinned.

    PYTHONPATH=python:tests/harness .venv/bin/python bench/near.py [--rounds 7] [--budget 0.3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (os.path.join(REPO, "python"), os.path.join(REPO, "tests", "harness")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from redisproc import RedisServer  # noqa: E402

VALUE = {"user": 42, "name": "ann", "roles": ["a", "b"], "score": 3.5}


def backends(srv: RedisServer) -> dict[str, tuple[str, str, dict]]:
    return {
        "django": ("django.core.cache.backends.redis.RedisCache", srv.url, {"KEY_PREFIX": "bd"}),
        "django_redis": ("django_redis.cache.RedisCache", srv.url, {"KEY_PREFIX": "br", "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "PARSER_CLASS": "redis.connection._HiredisParser"}}),
        "ours": ("redis_cache_go.RedisCache", srv.location, {"KEY_PREFIX": "bo", "OPTIONS": {"DB": 0}}),
        "ours_local": ("redis_cache_go.RedisCache", srv.location, {"KEY_PREFIX": "bl", "OPTIONS": {
            "DB": 0, "LOCAL_CACHE": {"MAX_ENTRIES": 10000}}}),
    }


def run(cache, budget_s: float) -> float:
    get = cache.get
    n = 0
    end = time.perf_counter() + budget_s
    start = time.perf_counter()
    while True:
        for _ in range(200):
            get("hot")
        n += 200
        now = time.perf_counter()
        if now >= end:
            return n / (now - start)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--budget", type=float, default=0.3, help="seconds per backend per round")
    ap.add_argument("--cpu", type=int, default=1)
    ap.add_argument("--no-pin", action="store_true")
    args = ap.parse_args()
    pinned = not args.no_pin and hasattr(os, "sched_setaffinity") and args.cpu in os.sched_getaffinity(0)
    if pinned:
        os.sched_setaffinity(0, {args.cpu})  # before Go starts: its threads inherit it

    import django
    from django.conf import settings

    settings.configure(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
    django.setup()
    from django.utils.module_loading import import_string

    with RedisServer() as srv:
        if pinned:
            os.sched_setaffinity(srv.proc.pid, {args.cpu})
        caches = {}
        for name, (backend, location, params) in backends(srv).items():
            caches[name] = c = import_string(backend)(location, params)
            c.set("hot", VALUE, None)
            if c.get("hot") != VALUE:
                raise SystemExit(f"{name}: hot key did not read back")
        local = caches["ours_local"]
        deadline = time.monotonic() + 10
        while not local.local_cache_stats()["tracking"]:
            if time.monotonic() > deadline:
                raise SystemExit("ours_local: invalidation tracking not confirmed within 10 s")
            local.get("hot")
        local.get("hot")
        names = list(caches)
        results: dict[str, list[float]] = {n: [] for n in names}
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                results[n].append(run(caches[n], args.budget))
        stats = local.local_cache_stats()
        print(f"hot-key get of a small dict, {args.rounds} interleaved rounds x {args.budget}s, "
              + (f"client and redis-server pinned to CPU {args.cpu}" if pinned else "unpinned"))
        med = {n: statistics.median(v) for n, v in results.items()}
        for n in names:
            v = results[n]
            print(f"  {n:13s} {med[n]:>11,.0f} ops/s  (min {min(v):,.0f}, max {max(v):,.0f})")
        best = max(("django", "django_redis"), key=lambda n: med[n])
        print(f"  ours_local / best peer ({best}): {med['ours_local'] / med[best]:.1f}x")
        print(f"  ours_local / ours: {med['ours_local'] / med['ours']:.1f}x")
        print(f"  near-cache: hits={stats['hits']} misses={stats['misses']} entries={stats['entries']} bytes={stats['bytes']}")
        for c in caches.values():
            getattr(c, "disconnect", c.close)()
    return 0


if __name__ == "__main__":
    sys.exit(main())

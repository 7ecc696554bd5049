#!/usr/bin/env python3
"""The e2e page's cache calls in one process, without gunicorn or HTTP: pages/s per backend with
1, 2 and 4 threads each running the page in a loop (bench/e2e_site: the session get and set, 10
fragment gets of 2-20 KB, a get_many of 20, an incr). It separates the cache calls' own cost and
how it scales with threads from what gunicorn, ab and the HTTP connection add (bench/e2e.py).

Backends: ours, django-redis (hiredis parser when installed), and the minimal pure-Python socket
backend bench/e2e_site/barecache.py. One throw-away redis-server on a free loopback port; rounds
interleave the backends; medians of pages/s. Unpinned.

    .venv/bin/python bench/page_threads.py [--threads 1,2,4] [--rounds 5] [--seconds 1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (os.path.join(REPO, "python"), os.path.join(REPO, "tests", "harness"), HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

from machine import cpu_model  # noqa: E402
from redisproc import RedisServer  # noqa: E402
from e2e_site.workload import COUNTER_KEY, FRAGMENT_KEYS, MANY_KEYS, SESSION_KEY, fragment, item  # noqa: E402

SESSION = {"views": 1, "_auth_user_id": "1", "blob": "x" * 200}
SESSION_CACHE_KEY = "django.contrib.sessions.cache" + SESSION_KEY


def page(c) -> None:  # type: ignore[no-untyped-def]
    c.get(SESSION_CACHE_KEY)
    c.set(SESSION_CACHE_KEY, SESSION, 1209600)
    for k in FRAGMENT_KEYS:
        if c.get(k) is None:
            raise RuntimeError(f"fragment {k} missing")
    if len(c.get_many(MANY_KEYS)) != len(MANY_KEYS):
        raise RuntimeError("get_many short")
    c.incr(COUNTER_KEY)


def pages_per_second(cache, threads: int, seconds: float) -> float:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    counts = [0] * threads

    def work(i: int) -> None:
        n = 0
        while not stop.is_set():
            page(cache)
            n += 1
        counts[i] = n

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1,2,4")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args()
    with RedisServer() as srv:
        backends = {
            "ours": {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": srv.location, "KEY_PREFIX": "o"},
            "django_redis": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": srv.url, "KEY_PREFIX": "d"},
            "bare": {"BACKEND": "e2e_site.barecache.BareSocketCache", "LOCATION": srv.location, "KEY_PREFIX": "b"},
        }
        settings.configure(CACHES=backends)
        django.setup()
        from django.core.cache import caches

        for name in backends:
            c = caches[name]
            c.set_many({k: fragment(i) for i, k in enumerate(FRAGMENT_KEYS)}, None)
            c.set_many({k: item(i) for i, k in enumerate(MANY_KEYS)}, None)
            c.set(COUNTER_KEY, 0, None)
            c.set(SESSION_CACHE_KEY, SESSION, None)
        print(f"bench/page_threads.py: {cpu_model()}, {os.cpu_count()} CPUs, unpinned; load {os.getloadavg()}")
        for threads in (int(t) for t in args.threads.split(",")):
            got: dict[str, list[float]] = {n: [] for n in backends}
            for _ in range(args.rounds):
                for name in backends:
                    got[name].append(pages_per_second(caches[name], threads, args.seconds))
            line = "  ".join(f"{n} {statistics.median(v):7,.0f}" for n, v in got.items())
            print(f"{threads} thread(s), pages/s (median of {args.rounds}): {line}")


if __name__ == "__main__":
    main()

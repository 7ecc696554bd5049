#!/usr/bin/env python3
"""How should an ``aget`` reach Go? Interleaved measurement of the candidate designs.

Designs (all on the same ``redis_cache_go.RedisCache`` instance, so only the async hand-off differs):
  native        our a* methods: submit to Go (a goroutine per call), completions queued in Go,
                the loop woken through an eventfd (capi "Asynchronous calls")
  executor64    a dedicated ThreadPoolExecutor of 64 threads running the sync ``get``
  default_pool  ``sync_to_async(get, thread_sensitive=False)``: the loop's default executor
                (min(32, CPUs + 4) threads) -- what the backend did before native async
  django_wrap   Django's default ``BaseCache.aget``: ``sync_to_async(get)``, thread-sensitive,
                i.e. one thread for everything
  django_redis  Django's own RedisCache (redis-py) through its default wrapper, for reference

Workloads: ``single`` (one await at a time: latency of one aget), ``gather100`` (100 concurrent
agets against the server directly) and ``gather100_1ms`` (the same through a proxy that adds 1 ms
per chunk in each direction, tests/harness/delayproxy.py). Rounds rotate the order of the designs.
Run: PYTHONPATH=python:tests/harness .venv/bin/python bench/async_bench.py [--rounds N]
Unpinned: the point is how calls overlap across threads and the loop, not single-core latency.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import statistics
import sys
import time
from typing import Any, Awaitable, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (os.path.join(REPO, "python"), os.path.join(REPO, "tests", "harness")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
    django.setup()

from asgiref.sync import sync_to_async  # noqa: E402
from django.core.cache.backends.base import BaseCache  # noqa: E402

from delayproxy import DelayProxy  # noqa: E402
from redisproc import RedisServer  # noqa: E402

Getter = Callable[[str], Awaitable[Any]]


def designs(ours: Any, theirs: Any, pool: concurrent.futures.ThreadPoolExecutor) -> dict[str, Getter]:
    def executor64(key: str) -> Awaitable[Any]:
        return asyncio.get_running_loop().run_in_executor(pool, ours.get, key)

    default_pool = sync_to_async(ours.get, thread_sensitive=False)
    return {
        "native": ours.aget,
        "executor64": executor64,
        "default_pool": default_pool,
        "django_wrap": lambda key: BaseCache.aget(ours, key),
        "django_redis": theirs.aget,
    }


async def single(get: Getter, budget_s: float) -> float:
    """Median microseconds of one awaited aget."""
    times = []
    stop = time.perf_counter() + budget_s
    while time.perf_counter() < stop:
        t = time.perf_counter_ns()
        await get("k0")
        times.append(time.perf_counter_ns() - t)
    return statistics.median(times) / 1e3


async def gather100(get: Getter, budget_s: float) -> float:
    """Median milliseconds of 100 concurrent agets."""
    times = []
    stop = time.perf_counter() + budget_s
    while time.perf_counter() < stop or len(times) < 3:
        t = time.perf_counter_ns()
        got = await asyncio.gather(*(get(f"k{i}") for i in range(100)))
        times.append(time.perf_counter_ns() - t)
        assert got == list(range(100)), got[:3]
    return statistics.median(times) / 1e6


def make(location: str) -> tuple[Any, Any]:
    from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

    import redis_cache_go

    ours = redis_cache_go.RedisCache(location, {"OPTIONS": {"DB": 0}})
    theirs = DjangoRedisCache(f"redis://{location}/0", {})
    return ours, theirs


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--budget", type=float, default=0.3, help="seconds per design, workload and round")
    args = ap.parse_args()
    server = RedisServer().start()
    host, port = server.location.rsplit(":", 1)
    proxy = DelayProxy(host, int(port), delay=0.001).start()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=64)
    try:
        direct = make(server.location)
        slow = make(proxy.location)
        direct[0].set_many({f"k{i}": i for i in range(100)})
        workloads: list[tuple[str, Callable[[Getter, float], Awaitable[float]], dict[str, Getter]]] = [
            ("single (us/call)", single, designs(*direct, pool)),
            ("gather100 (ms)", gather100, designs(*direct, pool)),
            ("gather100_1ms (ms)", gather100, designs(*slow, pool)),
        ]
        results: dict[str, dict[str, list[float]]] = {w: {} for w, _, _ in workloads}

        async def run() -> None:
            for _, fn, ds in workloads:  # warm-up: connections, threads, the Go runtime
                for get in ds.values():
                    await fn(get, 0.05)
            for r in range(args.rounds):
                for wname, fn, ds in workloads:
                    names = list(ds)
                    names = names[r % len(names):] + names[:r % len(names)]
                    for name in names:
                        results[wname].setdefault(name, []).append(await fn(ds[name], args.budget))

        asyncio.run(run())
        print(f"async designs, {args.rounds} interleaved rounds, unpinned, {os.cpu_count()} CPUs; medians over rounds")
        for wname, per in results.items():
            base = statistics.median(per["native"])
            print(f"\n{wname}")
            for name, vals in per.items():
                m = statistics.median(vals)
                extra = f"  {100 / m * 1e3:9.0f} agets/s" if "gather" in wname else ""
                print(f"  {name:13s} {m:9.2f}  x{m / base:5.2f} of native{extra}")
        return 0
    finally:
        pool.shutdown()
        proxy.stop()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Raw access: what the redis-py client that ``cache.get_client()`` returns costs,
against the Go path the cache already has for raw commands (``cache.execute_command``).

The question it answers: should raw access return redis-py clients or an object over the Go core?
Rows, each the median of interleaved rounds on one throw-away redis-server:
  hget            one HGET: redis-py client vs cache.execute_command (Go)
  pipeline_100    100 INCRs: one redis-py pipeline vs 100 execute_command calls (an object over the
                  Go core would need its own pipelining to do better)
  script          a registered Lua script (EVALSHA): redis-py vs execute_command("EVALSHA", ...)

    PYTHONPATH=python:tests/harness .venv/bin/python bench/raw_access.py [--rounds 5] [--budget 0.3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (os.path.join(REPO, "python"), os.path.join(REPO, "tests", "harness")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from redisproc import RedisServer  # noqa: E402
from machine import cpu_model  # noqa: E402


def rate(fn: Callable[[], Any], budget: float) -> float:
    """Calls of ``fn`` per second over ``budget`` seconds."""
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < budget:
        fn()
        n += 1
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.3)
    args = parser.parse_args()

    import django
    from django.conf import settings

    settings.configure()
    django.setup()
    import redis_cache_go

    srv = RedisServer().start()
    try:
        cache = redis_cache_go.RedisCache(srv.location, {"OPTIONS": {"DB": 0}})
        raw = cache.get_client()
        raw.hset("h", "f", "v")
        script = raw.register_script("return redis.call('INCR', KEYS[1])")
        script(keys=["s"])  # loaded: both sides run EVALSHA

        def pipeline_py() -> None:
            with raw.pipeline(transaction=False) as pipe:
                for _ in range(100):
                    pipe.incr("n")
                pipe.execute()

        def pipeline_go() -> None:
            for _ in range(100):
                cache.execute_command("INCR", "n")

        rows: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
            "hget": (lambda: raw.hget("h", "f"), lambda: cache.execute_command("HGET", "h", "f")),
            "pipeline_100": (pipeline_py, pipeline_go),
            "script": (lambda: script(keys=["s"]), lambda: cache.execute_command("EVALSHA", script.sha, 1, "s")),
        }
        results: dict[str, dict[str, list[float]]] = {name: {"redis-py": [], "go": []} for name in rows}
        for r in range(args.rounds):
            for name, (py, go) in rows.items():
                pair = [("redis-py", py), ("go", go)]
                for side, fn in pair if r % 2 == 0 else reversed(pair):
                    results[name][side].append(rate(fn, args.budget))
        load = os.getloadavg()[0]
        print(f"raw access, {args.rounds} rounds x {args.budget}s, load {load:.2f}, {cpu_model()}")
        print(f"{'row':<14}{'redis-py ops/s':>16}{'go ops/s':>12}{'redis-py/go':>13}")
        for name, sides in results.items():
            py, go = statistics.median(sides["redis-py"]), statistics.median(sides["go"])
            print(f"{name:<14}{py:>16,.0f}{go:>12,.0f}{py / go:>12.2f}x")
        cache.disconnect()
    finally:
        srv.stop()


if __name__ == "__main__":
    main()

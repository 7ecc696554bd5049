"""The 3-server section of the bench: get_many / set_many of 100 keys over three redis-servers.

ours (redis_cache_go.ShardedRedisCache) vs django-redis' ShardClient vs django-redis-cache 3.0.1's
ShardedRedisCache, interleaved in the same run (rounds rotate the starting backend, as bench.py
does). Run by bench.py after the one-server table; on its own:
    PYTHONPATH=python:tests/harness .venv/bin/python bench/bench.py --shard-only
"""
from __future__ import annotations

import gc
import warnings
import statistics
import time
from typing import Any, Callable

from redisproc import RedisServer

pc = time.perf_counter_ns
VALUE = bytes(range(100))
NBATCH = 16

BACKENDS: dict[str, dict[str, Any]] = {
    "ours": {
        "label": "redis_cache_go ShardedRedisCache",
        "BACKEND": "redis_cache_go.ShardedRedisCache",
        "location": lambda servers: [s.location for s in servers],
        "OPTIONS": {"DB": 0},
        "KEY_PREFIX": "so",
    },
    "django_redis_shard": {
        "label": "django-redis ShardClient",
        "BACKEND": "django_redis.cache.RedisCache",
        "location": lambda servers: [s.url for s in servers],
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient",
                    "PARSER_CLASS": "redis.connection._HiredisParser"},
        "KEY_PREFIX": "sr",
    },
    "seed_sharded": {
        "label": "django-redis-cache 3.0.1 ShardedRedisCache",
        "BACKEND": "redis_cache.ShardedRedisCache",
        "location": lambda servers: [s.location for s in servers],
        "OPTIONS": {"DB": 0},
        "KEY_PREFIX": "ss",
    },
}
PEERS = ("django_redis_shard", "seed_sharded")


def _workloads() -> dict[str, tuple[str, Callable[[Any], Callable[[int], Any]], Callable[[Any], None]]]:
    get_batches = [[f"gm:{b}:{i}" for i in range(100)] for b in range(NBATCH)]
    set_batches = [{f"sm:{b}:{i}": VALUE for i in range(100)} for b in range(NBATCH)]

    def prep_get(c: Any) -> Callable[[int], Any]:
        for b in get_batches:
            c.set_many({k: VALUE for k in b})
        gm = c.get_many
        return lambda i: gm(get_batches[i % NBATCH])

    def check_get(c: Any) -> None:
        got = c.get_many(get_batches[0])
        if len(got) != 100 or any(v != VALUE for v in got.values()):
            raise AssertionError(f"get_many returned {len(got)} of 100 keys")

    def prep_set(c: Any) -> Callable[[int], Any]:
        sm = c.set_many
        return lambda i: sm(set_batches[i % NBATCH])

    def check_set(c: Any) -> None:
        c.set_many(set_batches[0])
        if len(c.get_many(list(set_batches[0]))) != 100:
            raise AssertionError("set_many did not store all 100 keys")

    return {
        "shard3_get_many_100": ("get_many of 100 stored keys over 3 servers (1 op = 1 call)", prep_get, check_get),
        "shard3_set_many_100": ("set_many of 100 keys over 3 servers (1 op = 1 call)", prep_set, check_set),
    }


def _open(name: str, servers: list[RedisServer]) -> Any:
    from django.utils.module_loading import import_string

    b = BACKENDS[name]
    params = {"OPTIONS": dict(b["OPTIONS"]), "KEY_PREFIX": b["KEY_PREFIX"]}
    cache = import_string(b["BACKEND"])(b["location"](servers), params)
    cache.set("bench:ping", b"pong")
    if cache.get("bench:ping") != b"pong":
        raise AssertionError("set/get of b'pong' did not round-trip")
    return cache


def _loop(op: Callable[[int], Any], budget_ns: int, lat: list[int]) -> tuple[int, int]:
    i = 0
    start = t = pc()
    deadline = start + budget_ns
    while t < deadline:
        a = pc()
        op(i)
        t = pc()
        lat.append(t - a)
        i += 1
    return i, t - start


def run(rounds: int, round_ms: float, warmup_ms: float) -> dict[str, Any]:
    """Start three servers, measure, print a table, and return the results for results.json."""
    # django-redis' ShardClient warns on every get_many/set_many (it passes client= to itself)
    warnings.filterwarnings("ignore", message=r".* on sharded client should not specify client", category=UserWarning)
    servers = [RedisServer().start() for _ in range(3)]
    out: dict[str, Any] = {"servers": [s.location for s in servers], "pinning": "unpinned (3 servers, fan-out)",
                           "results": {}, "unavailable": {}}
    try:
        print(f"\n3-server section: {', '.join(s.location for s in servers)}; client and servers unpinned; "
              f"{rounds} rounds x {round_ms:g} ms per backend")
        caches: dict[str, Any] = {}
        for n in BACKENDS:
            try:
                caches[n] = _open(n, servers)
            except Exception as e:  # reported, the others still run
                out["unavailable"][n] = f"{type(e).__name__}: {e}"
                print(f"  ! {BACKENDS[n]['label']} cannot run: {type(e).__name__}: {e}")
        names = list(caches)
        for wl, (what, prep, check) in _workloads().items():
            for s in servers:
                s.command("FLUSHALL")
            ops = {}
            for n in names:
                ops[n] = prep(caches[n])
                check(caches[n])
                _loop(ops[n], int(warmup_ms * 1e6), [])
            per: dict[str, list[float]] = {n: [] for n in names}
            lat: dict[str, list[int]] = {n: [] for n in names}
            for r in range(rounds):
                k = r % len(names)
                for n in names[k:] + names[:k]:
                    gc.collect()
                    count, elapsed = _loop(ops[n], int(round_ms * 1e6), lat[n])
                    per[n].append(count * 1e9 / elapsed)
            res: dict[str, Any] = {}
            for n in names:
                ls = sorted(lat[n])
                res[n] = {"ops_per_s_median": statistics.median(per[n]), "ops_per_s_rounds": [round(x, 1) for x in per[n]],
                          "p50_us": ls[len(ls) // 2] / 1000, "p99_us": ls[min(len(ls) - 1, int(len(ls) * 0.99))] / 1000}
            ours = res.get("ours", {}).get("ops_per_s_median")
            res["_ratios"] = {p: round(ours / res[p]["ops_per_s_median"], 2) for p in PEERS if ours and p in res}
            out["results"][wl] = res
            print(f"{wl:<22} {what}")
            for n in names:
                row = res[n]
                ratio = f"   ours = {res['_ratios'][n]:.2f}x this" if n in res["_ratios"] else ""
                print(f"    {BACKENDS[n]['label']:<44} {row['ops_per_s_median']:>9,.0f} calls/s  "
                      f"p50 {row['p50_us']:>8,.1f} µs  p99 {row['p99_us']:>8,.1f} µs{ratio}")
        for c in caches.values():
            for closer in ("disconnect", "close"):
                if hasattr(c, closer):
                    getattr(c, closer)()
                    break
    finally:
        for s in servers:
            s.stop()
    return out

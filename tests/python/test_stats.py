"""cache.stats(): per-server counters kept in Go (core/stats), read through rcg_cache_stats.

Counters are shared by every cache instance of one configuration in the process and only grow, so
each test compares a snapshot taken before its calls with one taken after.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from redis_cache_go import RedisCache, ShardedRedisCache
from redis_cache_go import exceptions as exc
from redisproc import RedisServer


def diff(before: list[dict[str, Any]], after: list[dict[str, Any]], i: int = 0) -> dict[str, int]:
    """Counter deltas of server i between two stats() snapshots."""
    b, a = before[i], after[i]
    out = {k: a[k] - b[k] for k in ("commands", "hits", "misses", "errors")}
    out.update({f"calls.{k}": a["calls"][k] - b["calls"][k] for k in a["calls"]})
    out.update({f"errors.{k}": a["errors_by_kind"][k] - b["errors_by_kind"][k] for k in a["errors_by_kind"]})
    out["latency.count"] = a["latency_us"]["count"] - b["latency_us"]["count"]
    return out


def test_shape_before_any_call(make_cache: Any) -> None:
    cache = make_cache(options={"DB": 0, "SOCKET_TIMEOUT": 4.25})  # a configuration no other test uses
    stats = cache.stats()
    assert len(stats) == 1
    s = stats[0]
    assert s["server"].startswith("redis 127.0.0.1:") and s["server"].endswith(" db 0")
    assert s["commands"] == s["hits"] == s["misses"] == s["errors"] == 0
    assert set(s["calls"]) == {"get", "set", "delete", "get_many", "pipeline", "scan", "script", "other"}
    assert set(s["errors_by_kind"]) == {"connection", "timeout", "auth", "server", "other"}
    assert set(s["latency_us"]) == {"count", "mean", "p50", "p90", "p99", "p999", "max"}
    assert set(s["pool"]) == {"hits", "misses", "timeouts", "waits", "total_conns", "idle_conns", "stale_conns"}


def test_hits_misses_and_calls(make_cache: Any) -> None:
    cache = make_cache()
    cache.set("a", 1)
    before = cache.stats()
    assert cache.get("a") == 1
    assert cache.get("missing") is None
    assert cache.get("missing2", "d") == "d"
    assert cache.get_many(["a", "x", "y", "a"]) == {"a": 1}
    cache.set("b", 2)
    cache.set_many({"c": 3, "d": 4})
    cache.delete("b")
    assert cache.has_key("c")  # EXISTS: not a lookup
    d = diff(before, cache.stats())
    assert (d["hits"], d["misses"]) == (2, 4), d  # get_many dedups its keys: a hit; x, y missed
    assert d["calls.get"] == 3 and d["calls.get_many"] == 1 and d["calls.set"] == 1 and d["calls.delete"] == 1
    assert d["calls.pipeline"] == 1 and d["calls.other"] == 1  # set_many, exists
    assert d["errors"] == 0 and d["commands"] == d["latency.count"] == 8


def test_get_or_set_counts_one_lookup_per_call(make_cache: Any) -> None:
    cache = make_cache()
    before = cache.stats()
    assert cache.get_or_set("g", lambda: 5, timeout=60) == 5
    assert cache.get_or_set("g", lambda: 6, timeout=60) == 5
    d = diff(before, cache.stats())
    assert (d["hits"], d["misses"]) == (1, 1), d


def test_per_server_counts_in_a_sharded_cache(redis_server: Any) -> None:
    loc = [f"redis://127.0.0.1:{redis_server.port}/{db}" for db in (3, 4)]
    cache = ShardedRedisCache(loc, {})
    try:
        keys = [f"k{i}" for i in range(40)]
        owner = [cache.server_index(cache.make_key(k)) for k in keys]
        assert set(owner) == {0, 1}
        before = cache.stats()
        cache.set_many({k: 1 for k in keys[:20]})
        for k in keys:
            cache.get(k)
        after = cache.stats()
        assert [s["server"] for s in after] == [f"redis 127.0.0.1:{redis_server.port} db {db}" for db in (3, 4)]
        for i in (0, 1):
            d = diff(before, after, i)
            mine = [k for k, o in zip(keys, owner) if o == i]
            assert d["hits"] == sum(1 for k in mine if k in keys[:20]), (i, d)
            assert d["misses"] == sum(1 for k in mine if k not in keys[:20]), (i, d)
            assert d["calls.get"] == len(mine)
            assert after[i]["pool"]["total_conns"] >= 1
    finally:
        cache.clear()
        cache.disconnect()


def test_errors_from_a_stopped_server_and_a_timeout(silent_location: str) -> None:
    server = RedisServer().start()
    try:
        cache = RedisCache(f"127.0.0.1:{server.port}", {"OPTIONS": {"DB": 0, "CIRCUIT_BREAKER_FAILURES": 3}})
        cache.set("k", 1)
        assert cache.get("k") == 1
    finally:
        server.stop()
    before = cache.stats()
    for _ in range(6):
        with pytest.raises(exc.ConnectionError):
            cache.get("k")
    d = diff(before, cache.stats())
    assert d["errors"] == d["errors.connection"] == 6, d  # after 3 the breaker fails them at once: still errors
    assert d["hits"] == d["misses"] == 0 and d["calls.get"] == 6
    cache.disconnect()

    slow = RedisCache(silent_location, {"OPTIONS": {"DB": 0, "SOCKET_TIMEOUT": 0.2, "SOCKET_CONNECT_TIMEOUT": 1}})
    before = slow.stats()
    with pytest.raises(exc.TimeoutError):
        slow.get("k")
    d = diff(before, slow.stats())
    assert d["errors"] == d["errors.timeout"] == 1, d
    slow.disconnect()


def test_server_errors_are_counted(make_cache: Any) -> None:
    cache = make_cache()
    cache.set("text", "not a number")
    before = cache.stats()
    with pytest.raises(exc.ServerError):
        cache.execute_command("INCR", cache.make_key("text"))
    d = diff(before, cache.stats())
    assert d["errors"] == d["errors.server"] == 1, d


def test_threads_share_one_set_of_counters(redis_server: Any) -> None:
    """Django builds one cache instance per thread; stats() answers for the process."""
    params = {"OPTIONS": {"DB": 0, "SOCKET_TIMEOUT": 3.75}}
    main = RedisCache(redis_server.location, params)
    before = main.stats()
    instances: list[RedisCache] = []

    def work() -> None:
        cache = RedisCache(redis_server.location, params)
        instances.append(cache)
        for _ in range(10):
            cache.get("nothing")

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = main.stats()
    assert after[0]["misses"] - before[0]["misses"] == 30
    assert 1 <= after[0]["pool"]["total_conns"] <= 2  # the instances share one handle's connections
    for cache in instances:
        cache.disconnect()
    assert main.stats()[0]["misses"] == after[0]["misses"]  # counters outlive the clients
    main.disconnect()


def test_percentiles_are_ordered_and_see_slow_commands(make_cache: Any, raw: Any) -> None:
    """Checked against what bounds each latency, not against the clock: Go times a command inside
    the Python call that runs it (no more than the call's own time) and around the server's work
    (no less than what Redis reports for it), so a loaded machine moves both sides alike."""
    cache = make_cache(options={"DB": 0, "SOCKET_TIMEOUT": 9.5})  # its own counters
    walls: list[float] = []  # µs, each Python call that ran one command

    def timed(call: Any) -> None:
        start = time.perf_counter()
        call()
        walls.append((time.perf_counter() - start) * 1e6)

    timed(lambda: cache.set("k", 1))
    for _ in range(200):
        timed(lambda: cache.get("k"))
    busy = "local i = 0 while i < 3000000 do i = i + 1 end return 1"
    calls_before, usec_before = _eval_stats(raw)
    for _ in range(4):
        timed(lambda: cache.execute_command("EVAL", busy, 0))
    calls_after, usec_after = _eval_stats(raw)
    assert calls_after - calls_before == 4
    server_us = (usec_after - usec_before) / 4  # Redis' own time per run of the busy script
    lat = cache.stats()[0]["latency_us"]
    assert lat["count"] == 205 == len(walls)
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]
    assert lat["max"] <= max(walls)  # Go measures inside the Python call ...
    assert lat["max"] >= server_us  # ... and sees the slow script
    # The median is a GET's: no more than the median call, plus the histogram's bucket width (a
    # percentile is its bucket's upper bound: at most 12.5 % or 1 µs above the value).
    assert lat["p50"] <= sorted(walls)[102] * 1.125 + 1, lat


def _eval_stats(raw: Any) -> tuple[int, int]:
    """(calls, total µs) of EVAL on the server, from INFO commandstats."""
    import re

    m = re.search(rb"^cmdstat_eval:calls=(\d+),usec=(\d+)", raw.command("INFO", "commandstats"), re.M)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def test_prometheus_collector(redis_server: Any) -> None:
    from django.test import override_settings
    from prometheus_client import CollectorRegistry, generate_latest

    from redis_cache_go import prometheus

    conf = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "pc": {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": redis_server.location,
               "OPTIONS": {"DB": 0, "SOCKET_TIMEOUT": 2.125}},
    }
    registry = CollectorRegistry()
    with override_settings(CACHES=conf):
        from django.core.cache import caches

        collector = prometheus.register(registry)
        labels = {"alias": "pc", "server": f"redis {redis_server.location} db 0"}
        before_hits = registry.get_sample_value("redis_cache_go_hits_total", labels) or 0.0
        cache = caches["pc"]  # this thread's instance: the collector's own one shares its counters
        cache.set("k", 1)
        cache.get("k")
        cache.get("nope")
        assert registry.get_sample_value("redis_cache_go_hits_total", labels) == before_hits + 1
        assert registry.get_sample_value("redis_cache_go_misses_total", labels) >= 1
        assert registry.get_sample_value("redis_cache_go_commands_total", {**labels, "op": "get"}) >= 2
        assert registry.get_sample_value("redis_cache_go_errors_total", {**labels, "kind": "timeout"}) == 0
        count = registry.get_sample_value("redis_cache_go_command_latency_seconds_count", labels)
        p50 = registry.get_sample_value("redis_cache_go_command_latency_seconds", {**labels, "quantile": "0.5"})
        p99 = registry.get_sample_value("redis_cache_go_command_latency_seconds", {**labels, "quantile": "0.99"})
        assert count >= 3 and 0 < p50 <= p99 < 5
        assert registry.get_sample_value("redis_cache_go_pool_connections", {**labels, "state": "total"}) >= 1
        text = generate_latest(registry).decode()
        assert 'redis_cache_go_command_latency_seconds{alias="pc",quantile="0.99"' in text or "quantile=\"0.99\"" in text
        assert "alias=\"default\"" not in text  # a locmem alias is skipped
        cache.disconnect()
        collector._caches["pc"].disconnect()


def test_prometheus_module_imports_nothing() -> None:
    import subprocess
    import sys

    code = ("import sys, redis_cache_go.prometheus as p; p.Collector(); "
            "assert 'prometheus_client' not in sys.modules; import redis_cache_go._native as n; "
            "assert n._lib is None; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr

"""The near-cache (OPTIONS['LOCAL_CACHE']) through the Django API, against real
redis-servers, on every layout it supports (one server, a ring of 3, a primary with 2 replicas, a
6-node Redis Cluster; tests/harness/near_layouts.py): hits served from process memory, never stale once Redis' invalidation arrived
(writes from the real redis-cli binary and from another client), bounded memory, TTLs (local and
Redis'), invalidation-connection loss, FLUSHALL, and our own writes invalidating at once.

Each behaviour test runs once per layout; the layout fixture gives the server-side helpers (the
key's owner for redis-cli and other clients, every node for FLUSHALL, CLIENT KILL and counters).
Synchronisation is by polling with deadlines; no sleeps.
"""
from __future__ import annotations

import pickle
import shutil
import subprocess
import threading
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from near_layouts import LAYOUTS, start_layout
from redis_cache_go import RedisCache, RedisCopyCache, ShardedRedisCache

DEADLINE = 30.0  # bounds a failing wait only: a condition that holds ends it at once


def _redis_cli() -> str:
    path = shutil.which("redis-cli")
    if path is None:
        pytest.fail("redis-cli is not installed; run `make setup` (apt-get install redis-tools)")
    return path


def wait_for(what: str, cond) -> None:
    end = time.monotonic() + DEADLINE
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")


def echoed(cache, write, keys: int = 1) -> None:
    """Run our own write of `keys` keys and wait for Redis' push about it: the write forgets the
    keys locally (+1 invalidation each) and the push does again (+1 each). A fill made before the
    push arrives is dropped by it, so a test that counts hits afterwards waits for the push first."""
    before = cache.local_cache_stats()["invalidations"]
    write()
    wait_for("the write's own invalidation push", lambda: cache.local_cache_stats()["invalidations"] >= before + 2 * keys)


def tracking(cache) -> dict:
    """Warm the cache until its invalidation connection is confirmed; returns the stats."""
    wait_for("tracking confirmed", lambda: cache.get("__warm__") is None and cache.local_cache_stats()["tracking"] == 1)
    return cache.local_cache_stats()


def cached(cache, key) -> None:
    """get(key) until the near-cache holds it (a fill raced by the push of the write that made the
    value is dropped, by design)."""
    def hit() -> bool:
        cache.get(key)
        before = cache.local_cache_stats()["hits"]
        cache.get(key)
        return cache.local_cache_stats()["hits"] > before
    wait_for(f"{key!r} cached", hit)


@pytest.fixture(scope="module", params=LAYOUTS)
def near(request):
    """The layout under test (one Cluster per module: its start-up takes seconds)."""
    layout = start_layout(request.param, lambda: request.getfixturevalue("redis_server"))
    try:
        yield layout
    finally:
        layout.stop()


@pytest.fixture
def local(near):
    yield lambda local_cache=None, **params: near.make({"LOCAL_CACHE": local_cache or {}}, **params)
    near.stop_caches()


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("value, needle", [
    ({"MAX_ENTRIE": 5}, "'MAX_ENTRIE'"),
    ({"SIZE": 5}, "'SIZE'"),
    ({"MAX_ENTRIES": 0}, "'MAX_ENTRIES'"),
    ({"MAX_ENTRIES": -1}, "'MAX_ENTRIES'"),
    ({"MAX_ENTRIES": 1.5}, "'MAX_ENTRIES'"),
    ({"MAX_ENTRIES": "10"}, "'MAX_ENTRIES'"),
    ({"MAX_ENTRIES": True}, "'MAX_ENTRIES'"),
    ({"MAX_BYTES": 0}, "'MAX_BYTES'"),
    ({"MAX_BYTES": None}, "'MAX_BYTES'"),
    ({"TTL": 0}, "'TTL'"),
    ({"TTL": -3}, "'TTL'"),
    ({"TTL": float("nan")}, "'TTL'"),
    ({"TTL": float("inf")}, "'TTL'"),
    ({"TTL": "60"}, "'TTL'"),
    ({"TTL": False}, "'TTL'"),
    (True, "'LOCAL_CACHE'"),
    ([1, 2], "'LOCAL_CACHE'"),
])
def test_bad_local_cache_settings_name_the_key(value, needle):
    with pytest.raises(ImproperlyConfigured, match=needle):
        RedisCache("127.0.0.1:6379", {"OPTIONS": {"LOCAL_CACHE": value}})


def test_good_local_cache_settings():
    for value in ({}, {"MAX_ENTRIES": 5}, {"MAX_BYTES": 1 << 20, "TTL": 0.5}, {"TTL": 3}, None):
        RedisCache("127.0.0.1:6379", {"OPTIONS": {"LOCAL_CACHE": value}})


@pytest.mark.parametrize("backend, location, options", [
    (RedisCache, ["127.0.0.1:6379", "127.0.0.1:6380"], {}),
    (ShardedRedisCache, ["127.0.0.1:6379", "127.0.0.1:6380"], {}),
    (ShardedRedisCache, ["127.0.0.1:6379", "127.0.0.1:6380"], {"WEIGHTS": {"127.0.0.1:6379": 2}}),
    (RedisCopyCache, ["127.0.0.1:6379", "127.0.0.1:6380"], {}),
    (RedisCache, "127.0.0.1:6379", {"CLUSTER": True}),
    (RedisCache, "127.0.0.1:6379", {"CLUSTER": True, "READ_FROM_REPLICAS": True}),
])
def test_local_cache_accepted_on_every_layout_but_sentinel(backend, location, options):
    backend(location, {"OPTIONS": {**options, "LOCAL_CACHE": {}}})


@pytest.mark.parametrize("options", [
    {"SENTINELS": ["127.0.0.1:26379"], "SENTINEL_SERVICE": "m"},
    {"SENTINELS": ["127.0.0.1:26379"], "SENTINEL_SERVICE": "m", "READ_FROM_REPLICAS": True},
])
def test_local_cache_refused_behind_sentinel(options):
    with pytest.raises(ImproperlyConfigured, match="LOCAL_CACHE.*not supported behind Sentinel"):
        RedisCache("127.0.0.1:6379", {"OPTIONS": {**options, "LOCAL_CACHE": {}}})


def test_stats_none_without_local_cache(make_cache):
    assert make_cache().local_cache_stats() is None


# --------------------------------------------------------------------------- behaviour


def test_hits_come_from_memory_and_are_fresh_objects(local, near):
    cache = local(KEY_PREFIX="app")
    tracking(cache)
    echoed(cache, lambda: cache.set("k", {"list": [1, 2]}))
    cached(cache, "k")
    calls = near.get_calls()
    before = cache.local_cache_stats()["hits"]
    a = cache.get("k")
    a["list"].append(3)  # the caller owns its object
    b = cache.get("k")
    assert b == {"list": [1, 2]} and a is not b
    assert cache.local_cache_stats()["hits"] == before + 2
    calls_after = near.get_calls()
    assert calls_after == calls, "a near-cache hit reached Redis"


def _assert_never_older(cache, key: str, write, rounds: int) -> int:
    """write(n) stores n under the cache key by some other client and returns once acknowledged;
    then poll cache.get until n shows (deadline), and check no older value appears after it."""
    stale_served = 0
    for n in range(1, rounds + 1):
        write(n)
        seen = False
        end = time.monotonic() + DEADLINE
        reads = 0
        while not seen or reads < 20:
            got = cache.get(key)
            if got == n:
                seen = True
                reads += 1
            elif seen:
                pytest.fail(f"round {n}: got {got!r} after {n} was observed")
            else:
                assert got == n - 1, f"round {n}: got {got!r}; want {n} or {n - 1}"
                stale_served += 1
            if time.monotonic() > end:
                pytest.fail(f"round {n}: {n} never observed (last {got!r})")
    return stale_served


def test_write_from_redis_cli_is_never_served_stale(local, near):
    cache = local(KEY_PREFIX="app")
    tracking(cache)
    key = cache.make_key("counter")
    near.cli(key, "SET", key, "0")
    cached(cache, "counter")
    before = cache.local_cache_stats()

    _assert_never_older(cache, "counter", lambda n: near.cli(key, "SET", key, str(n)), rounds=60)

    after = cache.local_cache_stats()
    assert after["hits"] > before["hits"], "the near-cache served nothing: the test proved nothing"
    assert after["invalidations"] >= before["invalidations"] + 60


def test_write_from_another_client_is_never_served_stale(local, near):
    import redis

    cache = local(KEY_PREFIX="app")
    tracking(cache)
    key = cache.make_key("obj")
    other = near.writer(key)
    try:
        other.set(key, pickle.dumps(0))
        cached(cache, "obj")
        before = cache.local_cache_stats()["hits"]
        _assert_never_older(cache, "obj", lambda n: other.set(key, pickle.dumps(n)), rounds=500)
        assert cache.local_cache_stats()["hits"] > before
    finally:
        other.close()


def test_concurrent_writer_reader_monotonic(local, near):
    """A writer process bumps the value as fast as it can; one reader thread never goes back."""
    cache = local(KEY_PREFIX="app")
    tracking(cache)
    key = cache.make_key("seq")
    near.cli(key, "SET", key, "0")
    script = "\n".join(f"SET {key} {n}" for n in range(1, 2001))
    owner = near.owner(key)
    writer = subprocess.Popen([_redis_cli(), "-h", owner.host, "-p", str(owner.port)],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    last = 0
    hits_before = cache.local_cache_stats()["hits"]
    try:
        writer.stdin.write(script.encode() + b"\n")
        writer.stdin.close()
        end = time.monotonic() + DEADLINE
        while last < 2000:
            got = cache.get("seq")
            assert got >= last, f"read {got} after {last}"
            last = got
            assert time.monotonic() < end, f"stuck at {last}"
    finally:
        writer.wait(timeout=DEADLINE)
    assert cache.local_cache_stats()["hits"] > hits_before


def test_memory_stays_under_max_bytes(local):
    max_bytes = 64 * 1024
    cache = local({"MAX_BYTES": max_bytes, "MAX_ENTRIES": 100_000}, KEY_PREFIX="app")
    tracking(cache)
    value = "x" * 1000
    peak = 0
    for i in range(1000):  # ~1 MB of values, 16x the bound
        cache.set(f"k{i}", value)
        cache.get(f"k{i}")
        cache.get(f"k{i}")
        st = cache.local_cache_stats()
        peak = max(peak, st["bytes"])
        assert st["bytes"] <= max_bytes, st
    st = cache.local_cache_stats()
    assert st["evictions"] > 0 and st["entries"] > 0
    assert peak > max_bytes // 2, f"peak {peak}: the cache never filled"


def test_max_entries(local):
    cache = local({"MAX_ENTRIES": 10}, KEY_PREFIX="app")
    tracking(cache)
    for i in range(50):
        cache.set(f"k{i}", i)
        cache.get(f"k{i}")
        assert cache.local_cache_stats()["entries"] <= 10


def test_local_ttl_expires_entries(local):
    ttl = 0.2
    cache = local({"TTL": ttl}, KEY_PREFIX="app")
    tracking(cache)
    # no Redis expiry: only the local TTL ends the entry; the set's own push must not land after
    # the fill below and end the entry early
    echoed(cache, lambda: cache.set("k", "v", None))
    cached(cache, "k")
    start = time.monotonic()  # the entry was filled before this
    expired = cache.local_cache_stats()["expired"]
    hits = 0
    end = time.monotonic() + DEADLINE
    while True:
        read_start = time.monotonic()
        before = cache.local_cache_stats()["hits"]
        assert cache.get("k") == "v"
        if cache.local_cache_stats()["hits"] == before:  # a miss: the entry expired, and is filled again
            if hits:
                break
            # A pause (a loaded machine) outlasted the TTL before the first read: the miss just
            # filled the entry anew, so the round starts over from here.
            start, expired = time.monotonic(), cache.local_cache_stats()["expired"]
            assert time.monotonic() < end, "no round was read within the local TTL"
            continue
        hits += 1
        assert read_start - start <= ttl, f"served from memory {read_start - start:.3f}s after a {ttl}s TTL"
    assert cache.local_cache_stats()["expired"] == expired + 1


def test_redis_expiry_is_respected(local):
    cache = local({"TTL": 60}, KEY_PREFIX="app")
    tracking(cache)
    end = time.monotonic() + DEADLINE
    while True:  # a round that a pause (a loaded machine) stretched past the 0.3 s is run again
        cache.set("short", "v", 0.3)
        set_done = time.monotonic()
        if _cached_before_expiry(cache, "short"):
            break
        assert time.monotonic() < end, "'short' was never cached before Redis expired it"
    while True:
        read_start = time.monotonic()
        got = cache.get("short")
        if got is None:
            break
        # Redis counts whole milliseconds: it serves a key up to 1 ms past its PX.
        assert read_start - set_done <= 0.301, f"served {read_start - set_done:.4f}s after a 0.3s timeout"
        assert read_start - set_done < DEADLINE


def _cached_before_expiry(cache, key) -> bool:
    """get(key) until the near-cache serves it (True) or Redis has expired it (False)."""
    while cache.get(key) is not None:
        before = cache.local_cache_stats()["hits"]
        if cache.get(key) is not None and cache.local_cache_stats()["hits"] > before:
            return True
    return False


def test_killing_the_invalidation_connection(local, near):
    cache = local(KEY_PREFIX="app")
    st = tracking(cache)
    key = cache.make_key("k")
    near.cli(key, "SET", key, "1")
    cached(cache, "k")
    old_id = cache.local_cache_stats()["tracking_id"]
    assert old_id > 0
    assert near.kill_tracking() >= 1  # every tracking connection of the layout (one per server)
    near.cli(key, "SET", key, "2")  # its invalidation is lost with the connection
    wait_for("2 observed", lambda: cache.get("k") == 2)
    for _ in range(200):
        assert cache.get("k") == 2
    wait_for("tracking re-established", lambda: cache.get("x") is None and (
        (s := cache.local_cache_stats())["tracking"] == 1 and s["tracking_id"] not in (0, old_id)))
    assert cache.local_cache_stats()["connects"] >= st["connects"] + 1
    near.cli(key, "SET", key, "0")
    wait_for("0 observed after reconnect", lambda: cache.get("k") == 0)
    cached(cache, "k")
    hits = cache.local_cache_stats()["hits"]
    _assert_never_older(cache, "k", lambda n: near.cli(key, "SET", key, str(n)), rounds=20)
    assert cache.local_cache_stats()["hits"] > hits


def test_flushall_from_redis_cli_empties_it(local, near):
    cache = local(KEY_PREFIX="app")
    tracking(cache)
    cache.set("k", 1)
    cached(cache, "k")
    near.flushall()
    wait_for("k gone", lambda: cache.get("k") is None)
    assert cache.local_cache_stats()["entries"] == 0


@pytest.mark.parametrize("write, expect", [
    (lambda c: c.set("k", 2), 2),
    (lambda c: c.delete("k"), None),
    (lambda c: c.incr("k"), 2),
    (lambda c: c.decr("k"), 0),
    (lambda c: c.set_many({"k": 5, "other": 1}), 5),
    (lambda c: c.delete_many(["k", "other"]), None),
    (lambda c: c.touch("k", 0), None),
    (lambda c: c.set("k", 2, timeout=0), None),
    (lambda c: c.incr_version("k"), None),
    (lambda c: c.delete_pattern("k*"), None),
    (lambda c: c.clear(), None),
    (lambda c: c.expire("k", 0), None),
    (lambda c: c.execute_command("SET", c.make_key("k"), "7"), 7),
    (lambda c: c.execute_command("DEL", c.make_key("k")), None),
])
def test_own_writes_invalidate_at_once(local, write, expect):
    cache = local(KEY_PREFIX="app")
    tracking(cache)
    cache.set("k", 1)
    cached(cache, "k")
    write(cache)
    assert cache.get("k") == expect  # no wait: the write forgot the key before returning


def test_get_many_uses_the_near_cache(local, near):
    cache = local(KEY_PREFIX="app")
    tracking(cache)
    data = {f"k{i}": i for i in range(20)}
    echoed(cache, lambda: cache.set_many(data), keys=20)
    wait_for("all cached", lambda: cache.get_many(list(data)) == data and cache.local_cache_stats()["entries"] == 20)
    before = cache.local_cache_stats()["hits"]
    assert cache.get_many(list(data) + ["missing"]) == data
    assert cache.local_cache_stats()["hits"] == before + 20
    near.cli(cache.make_key("k3"), "SET", cache.make_key("k3"), "333")
    wait_for("k3 updated", lambda: cache.get_many(["k3"]) == {"k3": 333})


def test_disconnect_flushes_and_reconnects(local):
    cache = local(KEY_PREFIX="app")
    tracking(cache)
    cache.set("k", 1)
    cached(cache, "k")
    cache.disconnect()
    st = cache.local_cache_stats()  # a new handle: an empty near-cache
    assert st["entries"] == 0 and st["hits"] == 0
    assert cache.get("k") == 1


def test_threads_share_one_near_cache(local, near):
    cache = local(KEY_PREFIX="app")
    tracking(cache)
    cache.set("k", 0)
    cached(cache, "k")
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            v = cache.get("k")
            if not isinstance(v, int):
                errors.append(repr(v))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for n in range(1, 30):
            near.cli(cache.make_key("k"), "SET", cache.make_key("k"), str(n))
            wait_for(f"{n} observed", lambda: cache.get("k") == n)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors


def test_serves_nothing_without_tracking(local, near):
    """A user whose ACL forbids CLIENT can read and write, but tracking never confirms: every get
    goes to Redis (nothing is served from memory), so redis-cli's writes show at once."""
    user, password = "nocli", "nocli-pw"
    near.cli_all("ACL", "SETUSER", user, "on", f">{password}", "~*", "&*", "+@all", "-client", "-hello")
    try:
        cache = near.make({"LOCAL_CACHE": {}}, auth=f"{user}:{password}@", KEY_PREFIX="app")
        key = cache.make_key("k")
        cache.set("k", 0)
        wait_for("two failed tracking attempts", lambda: cache.get("k") is not None and cache.local_cache_stats()["failures"] >= 2)
        for n in range(1, 30):
            near.cli(key, "SET", key, str(n))
            assert cache.get("k") == n  # no polling: nothing can be cached
        st = cache.local_cache_stats()
        assert st["tracking"] == 0 and st["hits"] == 0 and st["entries"] == 0 and st["connects"] == 0
    finally:
        near.cli_all("ACL", "DELUSER", user)


def test_closing_stops_the_tracking_connections(local, near):
    """disconnect() ends each near-cache's tracking connection and goroutines: none pile up."""
    from redis_cache_go import _native

    tracking_clients = near.tracking_clients  # connections with CLIENT LIST flags "t", on every node

    near.make().get("x")  # load the library
    baseline = _native.stats()["goroutines"]
    caches = [near.make({"LOCAL_CACHE": {}}, KEY_PREFIX=f"c{i}") for i in range(10)]
    for c in caches:
        tracking(c)
    assert tracking_clients() >= 10
    for c in caches:
        c.disconnect()
    wait_for("tracking connections closed", lambda: tracking_clients() == 0)
    wait_for("goroutines back to the baseline", lambda: _native.stats()["goroutines"] <= baseline + 2)


def test_async_calls_use_the_near_cache(local, near):
    import asyncio

    cache = local(KEY_PREFIX="app")
    tracking(cache)
    echoed(cache, lambda: cache.set("k", 1))
    cached(cache, "k")

    async def run() -> None:
        before = cache.local_cache_stats()["hits"]
        assert await cache.aget("k") == 1
        assert cache.local_cache_stats()["hits"] == before + 1
        await cache.aset("k", 2)
        assert await cache.aget("k") == 2  # the async write forgot the key at once
        assert cache.get("k") == 2
        await cache.aset_many({"k": 3})
        assert await cache.aget_many(["k"]) == {"k": 3}
        await cache.adelete("k")
        assert await cache.aget("k") is None
        near.cli(cache.make_key("k"), "SET", cache.make_key("k"), "4")
        end = time.monotonic() + DEADLINE
        while await cache.aget("k") != 4:
            assert time.monotonic() < end, "redis-cli's write never reached aget"

    asyncio.run(run())

"""The seed's small behaviours that code relies on: ``set()`` returns a bool, a cache
object pickles (and its copy works in another process), the seed's positional ``get_or_set``
arguments work or fail loudly, and raw access under Sentinel."""
from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import queue
from typing import Any, Callable

import pytest
import redis
from redisproc import RedisServer
from topology import RedisCluster, SentinelDeployment

import redis_cache_go


@pytest.fixture(scope="module")
def second():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster():
    c = RedisCluster().start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def sentinels():
    dep = SentinelDeployment().start()
    yield dep
    dep.stop()


def layouts(redis_server: RedisServer, second: RedisServer, cluster: RedisCluster, sentinels: SentinelDeployment,
            dead: str) -> dict[str, Callable[[], Any]]:
    a, b = redis_server.location, second.location
    sentinel = {"SENTINELS": sentinels.sentinel_addrs, "SENTINEL_SERVICE": sentinels.service}
    return {
        "one-server": lambda: redis_cache_go.RedisCache(a, {"OPTIONS": {"DB": 0}, "KEY_PREFIX": "p"}),
        "unix-socket": lambda: redis_cache_go.RedisCache(redis_server.unix_socket, {"OPTIONS": {"DB": 0}}),
        # the "replica" is the primary again, through its unix socket: reads see the writes at once
        "primary-replica": lambda: redis_cache_go.RedisCache([a, redis_server.unix_socket], {"OPTIONS": {"DB": 0, "MASTER_CACHE": a}}),
        "ring": lambda: redis_cache_go.ShardedRedisCache([a, b], {"OPTIONS": {"DB": 0}}),
        "copy": lambda: redis_cache_go.RedisCopyCache([a, b], {"OPTIONS": {"DB": 0}}),
        "cluster": lambda: redis_cache_go.RedisCache(cluster.location, {"OPTIONS": {"CLUSTER": True}}),
        "sentinel": lambda: redis_cache_go.RedisCache("redis://ignored/0", {"OPTIONS": sentinel}),
        "compressed": lambda: redis_cache_go.RedisCache(a, {"OPTIONS": {"DB": 0, "COMPRESSOR": "zstd", "COMPRESS_MIN_LEN": 1}}),
        "near-cache": lambda: redis_cache_go.RedisCache(a, {"OPTIONS": {"DB": 0, "LOCAL_CACHE": {}}}),
        "fork-fallback": lambda: redis_cache_go.RedisCache(a, {"OPTIONS": {"DB": 0, "FORK_FALLBACK": True}}),
        "fail-open": lambda: redis_cache_go.RedisCache(a, {"OPTIONS": {"DB": 0, "IGNORE_EXCEPTIONS": True}}),
        "django-redis-settings": lambda: redis_cache_go.RedisCache(f"redis://{a}/0", {"OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient", "CONNECTION_POOL_KWARGS": {"max_connections": 20}}}),
        "dummy": lambda: redis_cache_go.RedisDummyCache(a, {}),
    }


def test_every_layout_pickles_and_the_copies_work_here_and_in_a_spawned_process(
        redis_server, second, cluster, sentinels, dead_location):
    built = {name: make() for name, make in layouts(redis_server, second, cluster, sentinels, dead_location).items()}
    copies = []
    try:
        for name, cache in built.items():
            cache.set(f"from-parent:{name}", name)  # used (connected) before it is pickled
            if name != "dummy":
                cache.get_client(f"from-parent:{name}").ping()  # raw clients made too
            copy = pickle.loads(pickle.dumps(cache))
            copies.append(copy)
            assert type(copy) is type(cache), name
            assert name == "dummy" or repr(copy) == repr(cache), name
            expected = None if name == "dummy" else name
            assert copy.get(f"from-parent:{name}") == expected, name
            assert copy.key_prefix == cache.key_prefix and copy.default_timeout == cache.default_timeout
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        child = context.Process(target=__import__("spawned").use_caches, args=(list(built.items()), results))
        child.start()
        got = None
        while got is None and (child.is_alive() or not results.empty()):
            try:
                got = results.get(timeout=0.5)
            except queue.Empty:
                pass
        child.join(timeout=60)
        assert child.exitcode == 0
        assert got == {name: (None if name == "dummy" else name) for name in built}
        for name, cache in built.items():
            assert cache.get(f"from-child:{name}") == (None if name == "dummy" else name), name
    finally:
        for cache in [*built.values(), *copies]:
            disconnect = getattr(cache, "disconnect", None)
            if disconnect is not None:
                disconnect()


def test_pickling_keeps_the_settings_only(redis_server):
    cache = redis_cache_go.RedisCache(redis_server.location, {"OPTIONS": {"DB": 0, "PASSWORD": "not-in-the-pickle"}})
    state = cache.__getstate__()
    assert state == {"server": redis_server.location, "params": {"OPTIONS": {"DB": 0, "PASSWORD": "not-in-the-pickle"}}}
    assert len(pickle.dumps(cache)) < 1000  # no client, pool, thread lock or native handle


# -------------------------------------------------------------------------- set() returns a bool


def test_set_returns_true_when_stored_and_false_when_not(make_cache, raw):
    import redis_cache

    cache = make_cache()
    assert cache.set("a", 1) is True
    assert cache.set("b", "x", None) is True and raw.command("TTL", ":1:b") == -1
    assert cache.set("a", 2, 0) is False and cache.get("a") is None  # deleted, not stored
    assert cache.set("a", 2, -1) is False
    assert cache.add("c", 1) is True and cache.add("c", 2) is False
    assert cache.touch("c", 10) is True and cache.touch("missing", 10) is False
    assert asyncio.run(cache.aset("d", 1)) is True and asyncio.run(cache.aset("d", 1, 0)) is False
    seed = redis_cache.RedisCache(raw.location, {"OPTIONS": {"DB": 0}})
    assert seed.set("seed", 1) is True  # what code written for the seed tests


def test_set_in_fail_open_returns_false(make_cache, dead_location):
    cache = make_cache(dead_location, {"IGNORE_EXCEPTIONS": True, "LOG_IGNORED_EXCEPTIONS": False,
                                       "SOCKET_CONNECT_TIMEOUT": 0.5})
    assert cache.set("a", 1) is False
    assert asyncio.run(cache.aset("a", 1)) is False


# -------------------------------------------------------------------------- the seed's get_or_set


def test_the_seeds_positional_lock_and_stale_timeouts_work(make_cache, raw):
    import redis_cache

    cache = make_cache()
    seed = redis_cache.RedisCache(raw.location, {"OPTIONS": {"DB": 0}})
    assert seed.get_or_set("s", lambda: 1, 60, 10, 300) == 1
    assert cache.get_or_set("o", lambda: 1, 60, 10, 300) == 1
    # the stale window is the fifth argument: the value lives timeout + stale_cache_timeout, as the seed's
    assert 359_000 < raw.command("PTTL", ":1:o") <= 360_000
    assert abs(raw.command("PTTL", ":1:o") - raw.command("PTTL", ":1:s")) < 2_000
    assert cache.get("o") == 1 and cache.get("o", version=10) is None  # 10 was not taken for a version


@pytest.mark.parametrize("backend", ["RedisCache", "RedisDummyCache"])
def test_a_lone_fourth_positional_argument_fails_naming_both_readings(make_cache, redis_server, backend):
    cache = make_cache() if backend == "RedisCache" else redis_cache_go.RedisDummyCache("", {})
    with pytest.raises(TypeError, match=r"ambiguous.*version=10 or lock_timeout=10"):
        cache.get_or_set("k", 1, 60, 10)
    assert cache.get_or_set("k", 1, 60, None) == 1  # None means the default either way
    assert cache.get_or_set("v", 2, 60, version=3) == 2
    with pytest.raises(TypeError, match="multiple values for argument 'version'"):
        cache.get_or_set("k", 1, 60, 2, version=2)
    with pytest.raises(TypeError, match="at most 5 positional"):
        cache.get_or_set("k", 1, 60, 2, 3, 4)
    if backend == "RedisCache":
        assert cache.get("v", version=3) == 2 and cache.get("k") == 1
        with pytest.raises(TypeError, match="ambiguous"):
            asyncio.run(cache.aget_or_set("k", 1, 60, 10))
        assert asyncio.run(cache.aget_or_set("w", 5, 60, 10, 300)) == 5


# -------------------------------------------------------------------------- Sentinel


def test_raw_access_under_sentinel_reaches_the_primary(sentinels):
    from test_raw_access import exercise

    cache = redis_cache_go.RedisCache("redis://ignored/0", {"OPTIONS": {
        "SENTINELS": sentinels.sentinel_addrs, "SENTINEL_SERVICE": sentinels.service}})
    try:
        sentinels.primary.command("FLUSHALL")
        client = cache.get_client("k", write=True)
        assert isinstance(client, redis.Redis) and client is cache.get_master_client()
        exercise(client, "sentinel")
        assert sentinels.primary.command("EXISTS", "{sentinel}:hash") == 1
        assert cache.get_client("k") is client  # reads too: READ_FROM_REPLICAS is off
    finally:
        cache.disconnect()

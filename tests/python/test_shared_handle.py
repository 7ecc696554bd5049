"""Every cache object of one configuration in a process shares one Go handle: its connections,
its near-cache (and tracking connection) and its counters.

Django keeps one cache object per thread (and per asyncio task, asgiref's Local): without the
sharing, a threaded site opened the connections of a cache once per thread, and a near-cache
with its own tracking connection per thread."""
from __future__ import annotations

import asyncio
import gc
import threading

from django.core.cache import CacheHandler

from redis_cache_go import RedisCache, _native


def _ours(raw, before: set[int], name: str | None = None) -> set[int]:
    """Connection ids opened since ``before`` (named ``name`` when given), from CLIENT LIST."""
    ids = set()
    for line in raw.command("CLIENT", "LIST").decode().splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if int(fields["id"]) not in before and (name is None or fields.get("name") == name):
            ids.add(int(fields["id"]))
    return ids


def _ids(raw) -> set[int]:
    return _ours(raw, set())


def _in_threads(n: int, fn) -> list:
    results: list = [None] * n
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_django_per_thread_objects_share_connections(redis_server, raw):
    settings = {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": redis_server.location,
                "KEY_PREFIX": "shared-threads", "OPTIONS": {"DB": 0, "SOCKET_TIMEOUT": 7.1}}
    handler = CacheHandler({"default": settings})
    before = _ids(raw)

    def work(i: int) -> int:
        cache = handler["default"]  # Django's per-thread object
        for j in range(200):
            cache.set(f"t{i}-{j}", j)
            assert cache.get(f"t{i}-{j}") == j
        return cache  # alive until counted (a collected object closed its handle)

    objects = _in_threads(8, work)
    try:
        assert len({id(o) for o in objects}) == 8  # Django did give each thread its own object
        assert 1 <= len(_ours(raw, before)) <= 2  # and they shared one handle's connections
    finally:
        handler["default"].disconnect()


def test_objects_of_one_configuration_share_counters_and_near_cache(make_cache, raw, wait_until):
    options = {"DB": 0, "LOCAL_CACHE": {}, "SOCKET_TIMEOUT": 8.1}
    a, b = make_cache(options=options, KEY_PREFIX="shared-near"), make_cache(options=options, KEY_PREFIX="shared-near")
    a.set("k", "v")
    a.get("k")  # starts the tracking connection
    wait_until(lambda: b.local_cache_stats()["tracking"], message="tracking confirmed (seen through b)")
    assert a.get("k") == "v"  # a miss, then kept in the near-cache
    before_hits = b.local_cache_stats()["hits"]
    assert b.get("k") == "v"  # served by the same near-cache
    assert b.local_cache_stats()["hits"] == before_hits + 1
    assert a.local_cache_stats() == b.local_cache_stats()
    assert a.local_cache_stats()["tracking_id"] != 0  # one tracking connection for both


def test_a_different_configuration_has_its_own_handle(make_cache):
    a = make_cache(options={"DB": 0, "SOCKET_TIMEOUT": 9.1})
    b = make_cache(options={"DB": 0, "SOCKET_TIMEOUT": 9.25})
    a.set("own", 1)
    b.set("own", 2)  # same key space: only the handles differ
    assert a._client._handle and b._client._handle and a._client._handle != b._client._handle


def test_disconnect_of_one_object_reconnects_the_others(make_cache, raw):
    options = {"DB": 0, "SOCKET_TIMEOUT": 11.1}
    a, b = make_cache(options=options), make_cache(options=options)
    a.set("d", 1)
    first = a._client._handle
    assert b._client._handle == first
    a.disconnect()
    assert b.get("d") == 1  # b's next call runs on a new handle
    assert b._client._handle not in (0, first)
    assert a._client._handle == b._client._handle
    assert a.get("d") == 1


def test_async_objects_of_one_configuration_share_connections(redis_server, raw):
    settings = {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": redis_server.location,
                "KEY_PREFIX": "shared-tasks", "OPTIONS": {"DB": 0, "SOCKET_TIMEOUT": 12.1}}
    handler = CacheHandler({"default": settings})
    before = _ids(raw)

    async def request(i: int) -> RedisCache:
        cache = handler["default"]  # per task: asgiref's Local copies the context per task
        await cache.aset(f"a{i}", i)
        assert await cache.aget(f"a{i}") == i
        return cache  # alive until counted

    async def main() -> list[RedisCache]:
        return await asyncio.gather(*(request(i) for i in range(50)))

    objects = asyncio.run(main())
    try:
        assert len({id(o) for o in objects}) > 1  # several objects (one per task)…
        assert 1 <= len(_ours(raw, before)) <= 2  # …one handle's connections
    finally:
        RedisCache(redis_server.location, {"KEY_PREFIX": "shared-tasks", "OPTIONS": {"DB": 0, "SOCKET_TIMEOUT": 12.1}}).disconnect()


def test_unused_handles_close_beyond_the_idle_allowance(redis_server, raw, wait_until):
    """A handle whose objects are all gone stays open for reuse (an ASGI site's per-request objects
    come and go) while at most _IDLE_KEPT others are idle; beyond that it closes."""
    before = _ids(raw)
    cache = RedisCache(redis_server.location, {"OPTIONS": {"DB": 0, "SOCKET_TIMEOUT": 13.1}})
    cache.set("idle", 1)
    handle = cache._client._handle
    conns = _ours(raw, before)
    assert conns
    del cache
    gc.collect()
    again = RedisCache(redis_server.location, {"OPTIONS": {"DB": 0, "SOCKET_TIMEOUT": 13.1}})
    assert again.get("idle") == 1
    assert again._client._handle == handle  # reused while idle, no new connection
    del again
    gc.collect()
    for i in range(_native._IDLE_KEPT + 1):  # other configurations going idle push it out
        other = RedisCache(redis_server.location, {"OPTIONS": {"DB": 0, "SOCKET_TIMEOUT": 30.1 + i}})
        other.set("x", i)
        other.disconnect()
        del other
        gc.collect()
    wait_until(lambda: not conns & _ids(raw), message="the idle handle's connections closed")

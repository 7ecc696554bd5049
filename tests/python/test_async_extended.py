"""The async extended API (attl, apttl, aexpire…, apersist, adelete_pattern, aiter_keys/akeys,
alock) against real redis-servers: the same answers, keys, versions, TTL checks and errors as the
sync twins (tests/python/test_extended.py), native (each Redis call submitted to Go from the loop,
no worker thread), many awaits in flight at once, fail-open, the fork fallback and the multi-server
layouts.

Overlap is counted, not timed, as in test_async_native.py: through the ``proxy`` fixture
(tests/harness/delayproxy.py), which holds requests until N of them are in flight at once.
"""
from __future__ import annotations

import asyncio
import math
import time

import pytest

import redis_cache_go
from expiry import ttl_window
from forked import call_in_forked_child
from redisproc import RedisServer

N = 40  # awaits in flight at once in the overlap tests
# Requests held at the proxy must not run into the default 5 s timeouts (and the circuit breaker);
# go-redis' pool (the path of these commands) must have a connection for each of the N at once.
PATIENT = {"DB": 0, "SOCKET_TIMEOUT": 60, "SOCKET_CONNECT_TIMEOUT": 60,
           "CONNECTION_POOL_CLASS_KWARGS": {"max_connections": N}}
QUIET_FAIL_OPEN = {"DB": 0, "IGNORE_EXCEPTIONS": True, "LOG_IGNORED_EXCEPTIONS": False}


def run(coro):
    return asyncio.run(coro)


async def gather(*aws):
    return await asyncio.gather(*aws)


@pytest.fixture(params=["no prefix", "prefix"])
def pcache(request, make_cache):
    """The backend with and without a KEY_PREFIX (made keys ':1:k' or 'pre:1:k')."""
    if request.param == "prefix":
        return make_cache(KEY_PREFIX="pre")
    return make_cache()


@pytest.fixture
def three():
    servers = [RedisServer().start() for _ in range(3)]
    yield servers
    for s in servers:
        s.stop()


def native_pending():
    """Tickets awaiting a completion on the running loop (_native_async.pending)."""
    from redis_cache_go import _native_async

    return _native_async.pending()


def in_flight_at_once(proxy, n, make_awaitables):
    """Run the awaitables ``make_awaitables()`` makes concurrently while the proxy holds requests
    until ``n`` are in flight at once; their results, and the peak the proxy saw."""
    proxy.hold(until=n)
    proxy.reset_peak()
    try:
        results = run(gather(*make_awaitables()))
    finally:
        proxy.release()
    return results, proxy.peak()


# --------------------------------------------------------------------------- attl / apttl


def test_attl_and_apttl_answer_as_ttl_and_pttl(pcache, raw):
    pcache.set("forever", 1, timeout=None)
    pcache.set("soon", 1, timeout=100)
    pcache.set("half", 1, timeout=0.5)

    async def scenario():
        return (await pcache.attl("missing"), await pcache.apttl("missing"), await pcache.attl("forever"),
                await pcache.apttl("forever"), await pcache.attl("soon"), await pcache.apttl("soon"),
                await pcache.attl("half"))

    missing, pmissing, forever, pforever, soon, psoon, half = run(scenario())
    assert (missing, pmissing, forever, pforever, soon, half) == (0, 0, None, None, 100, 1)
    assert 99_000 < psoon <= 100_000
    assert (pcache.ttl("missing"), pcache.ttl("forever"), pcache.ttl("soon")) == (missing, forever, soon)


def test_attl_uses_the_version_and_validates_the_key(pcache):
    pcache.set("k", 1, timeout=50, version=2)
    assert run(pcache.attl("k")) == 0
    assert run(pcache.attl("k", version=2)) == 50
    assert 49_000 < run(pcache.apttl("k", version=2)) <= 50_000
    with pytest.warns(Warning):  # Django's memcached key warning, as ttl() gives it
        run(pcache.attl("a key with spaces"))


def test_apttl_counts_down_a_fractional_timeout(cache):
    window = ttl_window(2500)
    cache.set("k", 1, timeout=2.5)
    window.check(run(cache.apttl("k")))


def test_many_apttl_in_flight_at_once(make_cache, proxy):
    cache = make_cache(location=proxy.location, options=PATIENT)
    for i in range(N):
        cache.set(f"k{i}", i, timeout=100 + i)
    results, peak = in_flight_at_once(proxy, N, lambda: [cache.attl(f"k{i}") for i in range(N)])
    assert results == [100 + i for i in range(N)]
    assert peak == N


# --------------------------------------------------------------------------- errors, fail-open, fork


def test_errors_have_the_sync_classes(make_cache, dead_location, errors):
    cache = make_cache(location=dead_location)
    for sync, coro in _every_call(cache):
        with pytest.raises(errors.ConnectionError) as sync_info:
            sync()
        with pytest.raises(errors.ConnectionError) as async_info:
            run(coro())
        assert dead_location in str(async_info.value)
        assert str(async_info.value).split(":")[0] == str(sync_info.value).split(":")[0]


def test_fail_open_answers_as_the_sync_calls(make_cache, dead_location):
    cache = make_cache(location=dead_location, options=QUIET_FAIL_OPEN)
    for sync, coro in _every_call(cache, fail_open=True):
        assert run(coro()) == sync()


def _every_call(cache, fail_open=False):
    """(sync call, the async twin's coroutine function) for each new operation that talks to Redis
    in one call; with ``fail_open``, only those fail-open covers (as it covers their sync twins)."""
    return [
        (lambda: cache.ttl("k"), lambda: cache.attl("k")),
        (lambda: cache.pttl("k"), lambda: cache.apttl("k")),
    ]


def test_in_a_forked_child_they_fail_fast(make_cache):
    cache = make_cache()
    run(cache.aset("k", 1))  # the library, the Go runtime and a completion queue exist

    def child():
        run(cache.attl("k"))

    outcome = call_in_forked_child(child)
    assert not outcome.hung, "the forked child hung in an async call"
    assert outcome.error == "ForkedProcessError", outcome.message
    assert run(cache.attl("k")) == 300  # the parent keeps working


def test_in_a_forked_child_with_fork_fallback_they_serve_as_the_sync_calls(make_cache, raw):
    cache = make_cache(options={"DB": 0, "FORK_FALLBACK": True})
    run(cache.aset("k", 1, timeout=100))
    run(cache.aset("forever", 1, timeout=None))

    def child():
        async def scenario():
            got = await gather(cache.attl("k"), cache.apttl("forever"), cache.attl("missing"))
            assert got == [100, None, 0], got

        run(scenario())

    outcome = call_in_forked_child(child)
    assert not outcome.hung
    assert outcome.error == "", outcome.message


# --------------------------------------------------------------------------- native, not threaded


def test_they_are_submitted_to_go_from_the_loop(cache):
    """Each call is a ticket pending on this loop after one step, not a worker thread's job."""
    cache.set("k", 1, timeout=100)

    async def scenario():
        tasks = [asyncio.ensure_future(aw) for aw in _native_calls(cache)]
        await asyncio.sleep(0)  # one step: each task submits its operation
        submitted = native_pending()
        await asyncio.gather(*tasks)
        return submitted, len(tasks), native_pending()

    submitted, count, left = run(scenario())
    assert submitted == count and left == 0


def _native_calls(cache):
    """One awaitable per new operation whose first step submits exactly one native call."""
    return [cache.attl("k"), cache.apttl("k")]


# --------------------------------------------------------------------------- several servers


@pytest.mark.parametrize("backend", ["ShardedRedisCache", "RedisCopyCache", "RedisCache"])
def test_on_three_servers_as_the_sync_calls(three, backend):
    cache = getattr(redis_cache_go, backend)([s.location for s in three], {"OPTIONS": {"DB": 0}, "KEY_PREFIX": "x"})
    try:
        cache.set_many({f"k{i}": i for i in range(60)}, timeout=100)
        cache.set("p", 1, timeout=None)
        _on_three_servers(cache, backend, three)
    finally:
        cache.disconnect()


def _on_three_servers(cache, backend, three):
    async def ttls():
        return await gather(*(cache.attl(f"k{i}") for i in range(60)), cache.attl("p"), cache.attl("none"))

    if backend != "RedisCache":  # primary/replica without replication here: reads of a replica miss
        assert run(ttls()) == [100] * 60 + [None, 0]

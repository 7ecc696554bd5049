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
import os
import time

import pytest

import redis_cache_go
from expiry import ttl_window
from forked import call_in_forked_child

N = 40  # awaits in flight at once in the overlap tests
# Requests held at the proxy must not run into the default 5 s timeouts (and the circuit breaker);
# go-redis' pool (the path of these commands) must have a connection for each of the N at once.
PATIENT = {"DB": 0, "SOCKET_TIMEOUT": 60, "SOCKET_CONNECT_TIMEOUT": 60,
           "CONNECTION_POOL_CLASS_KWARGS": {"max_connections": N}}
QUIET_FAIL_OPEN = {"DB": 0, "IGNORE_EXCEPTIONS": True, "LOG_IGNORED_EXCEPTIONS": False}


# Tests that count commands on the one server (INFO commandstats), or use the fork fallback, which
# serves one server: skipped in the RCG_TEST_DEPLOYMENT=cluster|sentinel runs (conftest.py).
one_server = pytest.mark.skipif(bool(os.environ.get("RCG_TEST_DEPLOYMENT")),
                                reason="counts commands on, or falls back to, the one session server")


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


def native_pending():
    """Tickets awaiting a completion on the running loop (_native_async.pending)."""
    from redis_cache_go import _native_async

    return _native_async.pending()


def in_flight_at_once(proxy, n, make_awaitables):
    """Run the awaitables ``make_awaitables()`` makes concurrently while the proxy holds requests
    until ``n`` commands are in flight at once; their results, and the most commands the proxy saw
    in flight at once (on separate connections, or pipelined on a shared one). A new connection's
    handshake (HELLO, SELECT ...) counts too, so overlapping calls show at least ``n``; calls that
    queued one behind the other would show a handful."""
    proxy.hold(until=n)
    proxy.reset_peak()
    try:
        results = run(gather(*make_awaitables()))
    finally:
        proxy.release()
    return results, proxy.command_peak()


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
    assert peak >= N


# --------------------------------------------------------------------------- aexpire family, apersist


def test_aexpire_and_apexpire(pcache, raw):
    async def scenario():
        assert await pcache.aexpire("missing", 10) is False and await pcache.apexpire("missing", 10) is False
        await pcache.aset("k", 1, timeout=None)
        assert await pcache.aexpire("k", 10) is True and await pcache.attl("k") == 10
        window = ttl_window(2500)
        assert await pcache.apexpire("k", 2500) is True
        window.check(await pcache.apttl("k"))
        assert await pcache.aexpire("k", 0.25) is True and 0 < raw.command("PTTL", pcache.make_key("k")) <= 250
        assert await pcache.aexpire("k", 0) is True  # <= 0 deletes, as Redis does
        assert raw.command("EXISTS", pcache.make_key("k")) == 0
        await pcache.aset("n", 1, timeout=None)
        assert await pcache.apexpire("n", -5) is True and await pcache.aget("n") is None

    run(scenario())


def test_aexpire_at_and_apexpire_at(pcache):
    from datetime import datetime, timedelta, timezone

    async def scenario():
        assert await pcache.aexpire_at("missing", time.time() + 10) is False
        await pcache.aset("k", 1, timeout=None)
        assert await pcache.aexpire_at("k", datetime.now(timezone.utc) + timedelta(seconds=30)) is True
        assert 29 <= await pcache.attl("k") <= 30
        assert await pcache.aexpire_at("k", time.time() + 60) is True and 59 <= await pcache.attl("k") <= 60
        assert await pcache.apexpire_at("k", int(time.time() * 1000) + 5000) is True
        assert 4000 < await pcache.apttl("k") <= 5000
        assert await pcache.aexpire_at("k", time.time() - 1) is True  # in the past: deleted
        assert await pcache.aget("k") is None

    run(scenario())


def test_apersist_and_versions(pcache):
    async def scenario():
        assert await pcache.apersist("missing") is False
        await pcache.aset("k", 1, timeout=10)
        assert await pcache.apersist("k") is True and await pcache.attl("k") is None
        assert await pcache.apersist("k") is True  # already without expiry: still True (it exists)
        await pcache.aset("v", 1, timeout=10, version=3)
        assert await pcache.apersist("v") is False and await pcache.apersist("v", version=3) is True
        assert await pcache.aexpire("v", 20) is False and await pcache.aexpire("v", 20, version=3) is True
        assert pcache.ttl("v", version=3) == 20

    run(scenario())


@pytest.mark.parametrize("call", [
    lambda c: c.aexpire("k", float("inf")),
    lambda c: c.apexpire("k", 10**30),
    lambda c: c.aexpire_at("k", float("nan")),
    lambda c: c.apexpire_at("k", float("inf")),
], ids=["aexpire inf", "apexpire 10**30", "aexpire_at nan", "apexpire_at inf"])
def test_expire_arguments_are_checked_before_anything_is_sent(cache, raw, call):
    """As the sync calls: ValueError, and the key keeps its value and expiry (the bounds of every
    timeout, MAX_TTL_MS, are in test_ttl_bounds.py for these paths too)."""
    cache.set("k", "v", timeout=None)
    with pytest.raises(ValueError):
        run(call(cache))
    assert cache.get("k") == "v" and raw.command("PTTL", ":1:k") == -1


def test_many_aexpire_and_apersist_in_flight_at_once(make_cache, proxy):
    cache = make_cache(location=proxy.location, options=PATIENT)
    cache.set_many({f"k{i}": i for i in range(N)}, timeout=None)
    results, peak = in_flight_at_once(proxy, N, lambda: [cache.aexpire(f"k{i}", 100 + i) for i in range(N)])
    assert results == [True] * N and peak >= N
    assert [cache.ttl(f"k{i}") for i in range(N)] == [100 + i for i in range(N)]
    results, peak = in_flight_at_once(proxy, N, lambda: [cache.apersist(f"k{i}") for i in range(N)])
    assert results == [True] * N and peak >= N
    assert {cache.ttl(f"k{i}") for i in range(N)} == {None}


# --------------------------------------------------------------------------- adelete_pattern


def test_adelete_pattern_in_the_django_key_space(pcache, raw):
    pcache.set_many({"user:1": 1, "user:2": 2, "group:1": 3})
    pcache.set("user:3", 4, version=2)
    raw.command("SET", "user:9", "foreign")  # not this cache's key space
    assert run(pcache.adelete_pattern("user:*", itersize=1)) == 2
    assert pcache.keys("*") == ["group:1"] and pcache.get("user:3", version=2) == 4
    assert raw.command("GET", "user:9") == b"foreign"
    assert run(pcache.adelete_pattern("none:*")) == 0
    assert run(pcache.adelete_pattern("user:*", version=2)) == 1 and pcache.get("user:3", version=2) is None


def test_adelete_pattern_matches_glob_characters_of_the_prefix_literally(make_cache, raw):
    cache = make_cache(KEY_PREFIX="a[1]*")
    cache.set("k", 1)
    raw.command("SET", "a1x:1:k", "not ours")
    assert run(cache.adelete_pattern("*")) == 1 and raw.command("GET", "a1x:1:k") == b"not ours"


def custom_key(key, key_prefix, version):
    return f"{key_prefix}|{version}|{key}"


def test_adelete_pattern_with_a_custom_key_function(make_cache):
    cache = make_cache(KEY_PREFIX="c", KEY_FUNCTION=f"{__name__}.custom_key")
    cache.set("a1", 1)
    cache.set("a2", 2, version=2)
    assert run(cache.adelete_pattern("a*", version=2)) == 1 and cache.get("a1") == 1


@one_server
def test_adelete_pattern_deletes_in_batches_of_itersize(cache, raw):
    cache.set_many({f"del:{i}": i for i in range(2500)})
    cache.set_many({f"keep:{i}": i for i in range(100)})
    raw.command("CONFIG", "RESETSTAT")
    assert run(cache.adelete_pattern("del:*", itersize=500)) == 2500
    assert cache.keys("del:*") == [] and len(cache.keys("keep:*")) == 100
    stats = raw.command("INFO", "commandstats").decode()
    assert "cmdstat_unlink:calls=" in stats and "cmdstat_keys:" not in stats


def test_many_adelete_pattern_at_once(make_cache, proxy):
    """N walks in flight at once (the first SCAN of each held at the proxy together), each deleting
    its own keys; and overlapping patterns count every key once between them."""
    cache = make_cache(location=proxy.location, options=PATIENT)
    cache.set_many({f"g{i}:{j}": j for i in range(N) for j in range(5)})
    results, peak = in_flight_at_once(proxy, N, lambda: [cache.adelete_pattern(f"g{i}:*") for i in range(N)])
    assert results == [5] * N and peak >= N
    assert cache.keys("*") == []
    cache.set_many({f"o:{j}": j for j in range(300)})
    results = run(gather(*(cache.adelete_pattern("o:*", itersize=7) for _ in range(8))))
    assert sum(results) == 300 and cache.keys("*") == []


# --------------------------------------------------------------------------- aiter_keys / akeys


async def alist(aiterator):
    return [item async for item in aiterator]


def test_aiter_keys_and_akeys_in_the_django_key_space(pcache, raw):
    pcache.set_many({"user:1": 1, "user:2": 2, "group:1": 3})
    pcache.set("user:3", 4, version=2)
    raw.command("SET", "user:9", "foreign")  # not this cache's key space

    async def scenario():
        return (sorted(await pcache.akeys("user:*")), sorted(await alist(pcache.aiter_keys("user:*", itersize=1))),
                await pcache.akeys("user:*", version=2), await alist(pcache.aiter_keys("user:*", version=2)),
                await pcache.akeys("nothing*"), sorted(await pcache.akeys("*")))

    got = run(scenario())
    assert got == (["user:1", "user:2"], ["user:1", "user:2"], ["user:3"], ["user:3"], [], ["group:1", "user:1", "user:2"])
    assert sorted(pcache.keys("*")) == got[-1]


@one_server
def test_aiter_keys_is_an_async_iterator_one_scan_step_per_await(cache, raw):
    """Each step is one native SCAN (a ticket on the loop, not a thread); leaving the loop early sends
    no more SCANs."""
    cache.set_many({f"k{i}": i for i in range(50)})
    raw.command("CONFIG", "RESETSTAT")

    async def scenario():
        it = cache.aiter_keys("k*", itersize=5)
        assert not asyncio.iscoroutine(it) and hasattr(it, "__anext__")
        task = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(0)  # one step: the first SCAN is submitted
        pending = native_pending()
        first = await task
        seen = [first]
        async for key in it:
            seen.append(key)
            if len(seen) == 12:
                break
        await it.aclose()
        return pending, seen

    pending, seen = run(scenario())
    assert pending == 1 and len(set(seen)) == 12 and all(k.startswith("k") for k in seen)
    scans = int(raw.command("INFO", "commandstats").decode().split("cmdstat_scan:calls=")[1].split(",")[0])
    assert scans < 10  # 50 keys in steps of ~5 would take 10 or more to the end


def test_aiter_keys_with_a_custom_key_function_yields_the_made_keys(make_cache):
    cache = make_cache(KEY_PREFIX="c", KEY_FUNCTION=f"{__name__}.custom_key")
    cache.set("a1", 1)
    cache.set("a2", 2, version=2)
    assert run(cache.akeys("a*")) == ["c|1|a1"] == cache.keys("a*")


def test_aiter_keys_many_walks_in_flight_at_once(make_cache, proxy):
    cache = make_cache(location=proxy.location, options=PATIENT)
    cache.set_many({f"g{i}:{j}": j for i in range(N) for j in range(3)})
    results, peak = in_flight_at_once(proxy, N, lambda: [cache.akeys(f"g{i}:*") for i in range(N)])
    assert [sorted(r) for r in results] == [[f"g{i}:{j}" for j in range(3)] for i in range(N)]
    assert peak >= N

    async def interleaved():  # many iterators stepped in turn on one loop
        its = [cache.aiter_keys(f"g{i}:*", itersize=1) for i in range(N)]
        found = [[] for _ in range(N)]
        while its:
            steps = await asyncio.gather(*(it.__anext__() for it in its), return_exceptions=True)
            keep = []
            for i, (it, step) in enumerate(zip(its, steps)):
                if isinstance(step, StopAsyncIteration):
                    continue
                found[int(step.split(":")[0][1:])].append(step)
                keep.append(it)
            its = keep
        return [sorted(f) for f in found]

    assert run(interleaved()) == [[f"g{i}:{j}" for j in range(3)] for i in range(N)]


# --------------------------------------------------------------------------- alock


def set_calls(raw) -> int:
    """SET commands the server has run (a lock attempt is a SET NX)."""
    stats = raw.command("INFO", "commandstats").decode()
    return int(stats.split("cmdstat_set:calls=")[1].split(",")[0]) if "cmdstat_set:" in stats else 0


def test_alock_async_with_token_and_release(cache, raw):
    async def scenario():
        lock = cache.alock("job", timeout=5)
        assert lock.token is None and not await lock.owned()
        async with lock as held:
            assert held is lock
            token = raw.command("GET", "job")
            assert len(token) == 32 and lock.token == token
            assert 4000 < raw.command("PTTL", "job") <= 5000
            assert await lock.locked() and await lock.owned()
            assert await cache.alock("job").acquire(blocking=False) is False
            assert cache.lock("job").acquire(blocking=False) is False  # one lock, sync or async
        assert raw.command("EXISTS", "job") == 0 and not await lock.locked() and lock.token is None

    run(scenario())


def test_alock_and_lock_exclude_each_other(cache, raw):
    sync_lock = cache.lock("shared", timeout=5)
    assert sync_lock.acquire()

    async def scenario():
        alock = cache.alock("shared", timeout=5)
        assert await alock.acquire(blocking=False) is False and await alock.locked()
        sync_lock.release()
        assert await alock.acquire(blocking=False) is True
        assert cache.lock("shared").locked() and not cache.lock("shared").acquire(blocking=False)
        await alock.release()

    run(scenario())


def test_alock_release_never_deletes_someone_elses_lock(cache, raw, errors):
    from redis_cache_go.exceptions import LockError, LockNotOwnedError

    async def scenario():
        lock = cache.alock("job", timeout=5)
        assert await lock.acquire()
        raw.command("SET", "job", "someone-else")  # ours expired and another owner took it
        with pytest.raises(LockNotOwnedError):
            await lock.release()
        assert raw.command("GET", "job") == b"someone-else"
        with pytest.raises(LockError):
            await cache.alock("free").release()
        with pytest.raises(LockError):
            await cache.alock("free", timeout=1).extend(1)
        with pytest.raises(LockError):
            await cache.alock("free", timeout=1).reacquire()
        other = cache.alock("job", timeout=5)
        other.token = b"not-the-token"
        with pytest.raises(LockNotOwnedError):
            await other.extend(1)
        with pytest.raises(LockNotOwnedError):
            await other.reacquire()
        assert not await other.owned()

    run(scenario())


def test_alock_extend_reacquire_and_no_timeout(cache, raw):
    from redis_cache_go.exceptions import LockError

    async def scenario():
        lock = cache.alock("job", timeout=2)
        assert await lock.acquire()
        assert await lock.extend(10) and 11_000 < raw.command("PTTL", "job") <= 12_000
        assert await lock.extend(3, replace_ttl=True) and 2000 < raw.command("PTTL", "job") <= 3000
        assert await lock.reacquire() and 1000 < raw.command("PTTL", "job") <= 2000
        await lock.release()
        forever = cache.alock("forever")
        assert await forever.acquire() and raw.command("PTTL", "forever") == -1
        with pytest.raises(LockError):
            await forever.extend(1)
        with pytest.raises(LockError):
            await forever.reacquire()
        assert await forever.owned() and raw.command("PTTL", "forever") == -1
        await forever.release()

    run(scenario())


@pytest.mark.parametrize("kwargs", [
    {"timeout": -1}, {"timeout": float("inf")}, {"timeout": "10"}, {"timeout": 10**17},
    {"sleep": -0.1}, {"blocking_timeout": float("nan")},
])
def test_alock_arguments_are_checked_as_locks_are(cache, raw, kwargs):
    """The same ValueError as cache.lock's, before anything is sent."""
    try:
        cache.lock("k", **kwargs).acquire()
    except ValueError as e:
        want = str(e)
    else:
        raise AssertionError("the sync lock took it")
    raw.command("DEL", "k")
    with pytest.raises(ValueError) as info:
        run(cache.alock("k", **kwargs).acquire())
    assert str(info.value) == want and raw.command("EXISTS", "k") == 0


@one_server
def test_alock_blocking_waits_on_the_loop_and_blocking_timeout_bounds_it(cache, raw):
    from redis_cache_go.exceptions import LockError

    async def scenario():
        holder = cache.alock("job", timeout=10)
        assert await holder.acquire()
        began, tried = time.monotonic(), set_calls(raw)
        assert await cache.alock("job", sleep=0.01, blocking_timeout=0.2).acquire() is False
        # a duration: the wait cannot end sooner; it tried at least once, and at most once per
        # sleep within it (fewer on a loaded machine, never more)
        assert time.monotonic() - began > 0.15
        assert 1 <= set_calls(raw) - tried <= 0.2 / 0.01 + 1
        with pytest.raises(LockError):
            async with cache.alock("job", blocking_timeout=0.05):
                pass
        assert await cache.alock("job", blocking_timeout=0).acquire() is False  # 0: one more try, no wait
        # the waiter waits on this loop: the loop keeps serving (the holder releases from it)
        tried = set_calls(raw)
        waiter = asyncio.ensure_future(cache.alock("job", sleep=0.01).acquire())
        deadline = time.monotonic() + 30  # bounds a failure only
        while set_calls(raw) <= tried and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert not waiter.done()
        await cache.aset("meanwhile", 1)
        await holder.release()
        assert await waiter is True

    run(scenario())


def test_many_alocks_contend_and_exclude_each_other(cache):
    """N tasks take one lock in turn (async with, blocking): never two inside at once."""
    inside, most, order = 0, 0, []

    async def worker(i):
        nonlocal inside, most
        async with cache.alock("crit", timeout=10, sleep=0.005):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.001)  # give the others a chance to get in (they must not)
            order.append(i)
            inside -= 1

    run(gather(*(worker(i) for i in range(N))))
    assert most == 1 and sorted(order) == list(range(N))
    assert cache.ttl("crit") == 0 and not cache.lock("crit").locked()


def test_many_alock_calls_in_flight_at_once(make_cache, proxy):
    cache = make_cache(location=proxy.location, options=PATIENT)
    locks = [cache.alock(f"L{i}", timeout=30) for i in range(N)]
    results, peak = in_flight_at_once(proxy, N, lambda: [lock.acquire(blocking=False) for lock in locks])
    assert results == [True] * N and peak >= N
    results, peak = in_flight_at_once(proxy, N, lambda: [lock.extend(5) for lock in locks])
    assert results == [True] * N and peak >= N
    results, peak = in_flight_at_once(proxy, N, lambda: [lock.locked() for lock in locks])
    assert results == [True] * N and peak >= N
    results, peak = in_flight_at_once(proxy, N, lambda: [lock.release() for lock in locks])
    assert results == [None] * N and peak >= N
    assert cache.keys("*") == [] and not any(cache.lock(f"L{i}").locked() for i in range(N))


def test_a_cancelled_blocking_alock_stops_trying(cache, raw, wait_until):
    """asyncio.wait_for around a blocking acquire: at its deadline no attempt is left running, in
    Go or on the loop, and the waiter never takes the lock later."""
    from redis_cache_go import _native_async

    holder = cache.lock("job", timeout=30)
    assert holder.acquire()

    async def scenario():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(cache.alock("job", timeout=30, sleep=0.01).acquire(), 0.2)
        while native_pending():
            await asyncio.sleep(0.01)

    run(scenario())
    wait_until(lambda: _native_async.stats()["inflight"] == 0, message="attempts in flight in Go")
    tried = set_calls(raw)
    holder.release()
    time.sleep(0.1)  # ten of the waiter's sleeps: it would have tried, and taken the free lock
    assert set_calls(raw) == tried and raw.command("EXISTS", "job") == 0


def test_a_lock_taken_by_an_attempt_whose_task_was_cancelled_is_released(make_cache, proxy, raw, wait_until):
    """The attempt is held at the proxy when its task is cancelled; it then takes the (free) lock
    in Redis, and that lock is released when the attempt's answer arrives: it does not stay held
    (here: forever, no timeout)."""
    cache = make_cache(location=proxy.location, options=PATIENT)
    run(cache.aset("warm", 1))  # a connection exists: the attempt is the one request held

    async def scenario():
        proxy.hold()
        task = asyncio.ensure_future(cache.alock("job").acquire())
        while proxy.in_flight() < 1:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        proxy.release()
        deadline = time.monotonic() + 30  # bounds a failure only
        # the attempt's answer arrives, the release is sent and answered
        while (native_pending() or raw.command("EXISTS", "job")) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    run(scenario())
    assert raw.command("EXISTS", "job") == 0, "the cancelled attempt's lock is still held"
    assert run(cache.alock("job").acquire(blocking=False)) is True


def test_alock_lives_on_the_keys_shard(three):
    cache = redis_cache_go.ShardedRedisCache([s.location for s in three], {"OPTIONS": {"DB": 0}})
    try:
        async def scenario():
            for name in ("a", "b", "c", "d", "e", "f"):
                async with cache.alock(name, timeout=5) as lock:
                    holder = cache.server_index(name)
                    assert [s.command("EXISTS", name) for s in three] == [int(i == holder) for i in range(3)]
                    assert await lock.locked() and await lock.owned()
                    assert not await cache.alock(name).acquire(blocking=False)
                    assert not cache.lock(name).acquire(blocking=False)

        run(scenario())
        assert sum(s.command("DBSIZE") for s in three) == 0
    finally:
        cache.disconnect()


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
    """(sync call, the async twin's coroutine function) for each new operation that talks to Redis;
    with ``fail_open``, only those fail-open covers (as it covers their sync twins)."""
    uncovered = [
        (lambda: list(cache.iter_keys("k*")), lambda: alist(cache.aiter_keys("k*"))),
        (lambda: cache.lock("L").acquire(blocking=False), lambda: cache.alock("L").acquire(blocking=False)),
        (lambda: cache.lock("L").locked(), lambda: cache.alock("L").locked()),
        (lambda: cache.lock("L", sleep=0.01).acquire(blocking_timeout=0.05),
         lambda: cache.alock("L", sleep=0.01).acquire(blocking_timeout=0.05)),
    ]
    return ([] if fail_open else uncovered) + [
        (lambda: cache.ttl("k"), lambda: cache.attl("k")),
        (lambda: cache.pttl("k"), lambda: cache.apttl("k")),
        (lambda: cache.expire("k", 5), lambda: cache.aexpire("k", 5)),
        (lambda: cache.pexpire("k", 5), lambda: cache.apexpire("k", 5)),
        (lambda: cache.expire_at("k", time.time() + 5), lambda: cache.aexpire_at("k", time.time() + 5)),
        (lambda: cache.pexpire_at("k", 10**13), lambda: cache.apexpire_at("k", 10**13)),
        (lambda: cache.persist("k"), lambda: cache.apersist("k")),
        (lambda: cache.delete_pattern("k*"), lambda: cache.adelete_pattern("k*")),
        (lambda: cache.keys("k*"), lambda: cache.akeys("k*")),
    ]


def test_in_a_forked_child_they_fail_fast(make_cache):
    cache = make_cache()
    run(cache.aset("k", 1))  # the library, the Go runtime and a completion queue exist

    def child():
        for _, coro in _every_call(cache):
            try:
                run(coro())
            except Exception as e:  # noqa: BLE001 - checked below
                assert type(e).__name__ == "ForkedProcessError" and "--preload" in str(e), (coro, e)
            else:
                raise AssertionError(f"{coro} did not raise")
        run(cache.attl("k"))

    outcome = call_in_forked_child(child)
    assert not outcome.hung, "the forked child hung in an async call"
    assert outcome.error == "ForkedProcessError", outcome.message
    assert run(cache.attl("k")) == 300  # the parent keeps working


@one_server
def test_in_a_forked_child_with_fork_fallback_the_unserved_ones_refuse_as_the_sync_calls(make_cache):
    """The fallback serves no key walk and no lock: the async twins raise what the sync calls
    raise there, ForkedProcessError naming the call (each pair on caches of its own, both making
    the process's first call)."""
    cache = make_cache(options={"DB": 0, "FORK_FALLBACK": True})
    run(cache.aset("k", 1))

    def child():
        for pick in range(len(_unserved_by_the_fallback(cache))):
            sync, _ = _unserved_by_the_fallback(type(cache)(*cache._init_args))[pick]
            _, coro = _unserved_by_the_fallback(type(cache)(*cache._init_args))[pick]
            try:
                sync()
            except Exception as e:  # noqa: BLE001 - compared below
                want = (type(e).__name__, str(e))
            else:
                raise AssertionError(f"{sync} served")
            try:
                run(coro())
            except Exception as e:  # noqa: BLE001 - compared below
                assert (type(e).__name__, str(e)) == want, ((type(e).__name__, str(e)), want)
            else:
                raise AssertionError(f"{coro} served")
            assert want[0] == "ForkedProcessError" and "not available through FORK_FALLBACK" in want[1], want
        raise RuntimeError("all refused")

    outcome = call_in_forked_child(child)
    assert not outcome.hung
    assert (outcome.error, outcome.message) == ("RuntimeError", "all refused"), outcome.message


@one_server
def test_in_a_forked_child_with_fork_fallback_the_unserved_ones_keep_refusing(make_cache):
    cache = make_cache(options={"DB": 0, "FORK_FALLBACK": True})
    run(cache.aset("k", 1))

    def child():
        run(cache.aget("k"))  # switches this process's cache to the fallback
        for sync, coro in _unserved_by_the_fallback(cache):
            for call in (sync, lambda: run(coro())):
                try:
                    call()
                except Exception as e:  # noqa: BLE001 - compared below
                    assert type(e).__name__ == "ForkedProcessError", (type(e).__name__, str(e))

    outcome = call_in_forked_child(child)
    assert not outcome.hung
    assert outcome.error == "", outcome.message


def _unserved_by_the_fallback(cache):
    return [
        (lambda: cache.delete_pattern("k*"), lambda: cache.adelete_pattern("k*")),
        (lambda: cache.keys("k*"), lambda: cache.akeys("k*")),
        (lambda: list(cache.iter_keys("k*")), lambda: alist(cache.aiter_keys("k*"))),
        (lambda: cache.lock("L").acquire(blocking=False), lambda: cache.alock("L").acquire(blocking=False)),
        (lambda: cache.lock("L").locked(), lambda: cache.alock("L").locked()),
        (lambda: cache.execute_command("GET", "k"), lambda: cache.aexecute_command("GET", "k")),
    ]


@one_server
def test_in_a_forked_child_with_fork_fallback_they_serve_as_the_sync_calls(make_cache, raw):
    cache = make_cache(options={"DB": 0, "FORK_FALLBACK": True})
    run(cache.aset("k", 1, timeout=100))
    run(cache.aset("forever", 1, timeout=None))

    def child():
        async def scenario():
            got = await gather(cache.attl("k"), cache.apttl("forever"), cache.attl("missing"))
            assert got == [100, None, 0], got
            assert await cache.aexpire("k", 50) is True and await cache.attl("k") == 50
            assert await cache.apexpire("k", 40_000) is True and await cache.attl("k") == 40
            assert await cache.aexpire_at("k", time.time() + 30.5) is True and await cache.attl("k") in (30, 31)
            assert await cache.apexpire_at("k", int(time.time() * 1000) + 20_000) is True
            assert 19 <= await cache.attl("k") <= 20
            assert await cache.apersist("k") is True and await cache.attl("k") is None
            assert await cache.aexpire("missing", 5) is False and await cache.apersist("missing") is False
            assert cache._client._fallback is not None, "the fallback served the calls"

        run(scenario())

    outcome = call_in_forked_child(child)
    assert not outcome.hung
    assert outcome.error == "", outcome.message
    assert raw.command("PTTL", ":1:k") == -1  # the child's apersist


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
    return [cache.attl("k"), cache.apttl("k"), cache.aexpire("k", 100), cache.apexpire("k", 100_000),
            cache.aexpire_at("k", time.time() + 100), cache.apexpire_at("k", 10**13), cache.apersist("k"),
            cache.adelete_pattern("nothing:*"), cache.akeys("k*"), alist(cache.aiter_keys("k*")),
            cache.alock("L").locked(), cache.alock("L2", timeout=5).acquire()]


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

    async def expiries():
        return await gather(*(cache.aexpire(f"k{i}", 50) for i in range(30)),
                            *(cache.apersist(f"k{i}") for i in range(30, 60)), cache.aexpire("none", 5))

    assert run(expiries()) == [True] * 60 + [False]
    assert [cache.ttl(f"k{i}") for i in (0, 29, 30, 59)] == ([50, 50, None, None] if backend != "RedisCache" else [0] * 4)
    for s in three:  # every server that holds a key has its new expiry (all three in copy mode)
        held = [i for i in range(60) if s.command("EXISTS", f"x:1:k{i}")]
        assert all(s.command("PTTL", f"x:1:k{i}") == -1 for i in held if i >= 30)
        assert all(0 < s.command("PTTL", f"x:1:k{i}") <= 50_000 for i in held if i < 30)
        if backend == "RedisCopyCache" or (backend == "RedisCache" and s is three[0]):
            assert len(held) == 60

    # every server in ring mode, the first in copy mode, the primary with replicas: as keys()
    assert sorted(run(cache.akeys("k*"))) == sorted(cache.keys("k*")) == sorted(f"k{i}" for i in range(60))
    assert sorted(run(alist(cache.aiter_keys("k*", itersize=2)))) == sorted(f"k{i}" for i in range(60))
    # copy mode counts the first server's deletions (every server deletes its copies)
    assert run(cache.adelete_pattern("k1*")) == 11
    assert len(run(cache.akeys("k*"))) == 49
    assert sum(s.command("DBSIZE") for s in three) == (3 * 50 if backend == "RedisCopyCache" else 50)
    assert run(cache.adelete_pattern("k*", itersize=3)) == 49

    async def locks():  # on the key's server in ring mode, on the first server otherwise
        async with cache.alock("L", timeout=5) as lock:
            where = [s.command("EXISTS", "L") for s in three]
            return where, await lock.locked(), await cache.alock("L").acquire(blocking=False)

    where, locked, again = run(locks())
    assert locked and not again
    owner = cache.server_index("L") if backend == "ShardedRedisCache" else 0
    assert where == [int(i == owner) for i in range(3)]
    assert sum(s.command("DBSIZE") for s in three) == (3 if backend == "RedisCopyCache" else 1)  # "p" is left


# --------------------------------------------------------------------------- aexecute_command


@pytest.mark.parametrize("backend", ["ShardedRedisCache", "RedisCopyCache"])
def test_aexecute_command_routes_as_execute_command(three, backend):
    cls = getattr(redis_cache_go, backend)
    cache = cls([s.location for s in three], {"OPTIONS": {"DB": 0}, "KEY_PREFIX": "p"})
    try:
        written = run(cache.aexecute_command("HSET", "user:1", "name", "ann"))
        assert run(cache.aexecute_command("HGET", "user:1", "name")) == b"ann"
        assert run(cache.aexecute_command("GET", "nothing")) is None
        holder = cache.server_index("user:1")
        if backend == "RedisCopyCache":  # a write runs on every server: one reply each
            assert written == [1, 1, 1]
            assert [s.command("HGET", "user:1", "name") for s in three] == [b"ann"] * 3
        else:
            assert written == 1
            assert [s.command("EXISTS", "user:1") for s in three] == [int(i == holder) for i in range(3)]
        with pytest.raises(redis_cache_go.exceptions.ServerError, match="WRONGTYPE"):
            run(cache.aexecute_command("LPUSH", "user:1", "x"))
    finally:
        cache.disconnect()


def test_many_aexecute_command_in_flight_at_once(make_cache, proxy):
    cache = make_cache(location=proxy.location, options=PATIENT)
    results, peak = in_flight_at_once(proxy, N, lambda: [cache.aexecute_command("SET", f"raw{i}", i) for i in range(N)])
    assert results == [b"OK"] * N and peak >= N
    assert [cache.execute_command("GET", f"raw{i}") for i in range(N)] == [str(i).encode() for i in range(N)]


# --------------------------------------------------------------------------- the twins, RedisDummyCache

TWINS = ["ttl", "pttl", "expire", "pexpire", "expire_at", "pexpire_at", "persist", "delete_pattern", "iter_keys",
         "keys", "lock"]
NATIVE_ONLY_TWINS = ["execute_command"]  # RedisDummyCache has no raw commands


@pytest.mark.parametrize("backend", ["RedisCache", "ShardedRedisCache", "RedisCopyCache", "RedisDummyCache"])
def test_every_extended_method_has_an_async_twin_with_its_signature(backend):
    import inspect

    cls = getattr(redis_cache_go, backend)
    for name in TWINS + (NATIVE_ONLY_TWINS if backend != "RedisDummyCache" else []):
        sync, twin = getattr(cls, name), getattr(cls, "a" + name)
        assert inspect.signature(twin).parameters.keys() == inspect.signature(sync).parameters.keys(), name
        defaults = [p.default for p in inspect.signature(twin).parameters.values()]
        assert defaults == [p.default for p in inspect.signature(sync).parameters.values()], name
        if name == "iter_keys":
            assert inspect.isasyncgenfunction(twin), name
        elif name != "lock":
            assert inspect.iscoroutinefunction(twin), name


def test_dummy_cache_has_the_async_extended_api_as_no_ops():
    cache = redis_cache_go.RedisDummyCache("", {})

    async def scenario():
        assert await cache.attl("k") == 0 and await cache.apttl("k") == 0
        assert await cache.aexpire("k", 1) is False and await cache.apexpire("k", 1) is False
        assert await cache.aexpire_at("k", time.time()) is False and await cache.apexpire_at("k", 1) is False
        assert await cache.apersist("k") is False
        assert await cache.adelete_pattern("*") == 0 and await cache.akeys("*") == []
        assert await alist(cache.aiter_keys("*")) == []
        async with cache.alock("x", timeout=1) as lock:
            assert await lock.owned() and not await lock.locked() and await lock.extend(1)
            assert await lock.reacquire() and lock.token is not None
        assert not await lock.owned() and await lock.acquire() is True
        with pytest.warns(Warning):  # the key is still made and checked, as ttl() does
            await cache.attl("a key with spaces")

    run(scenario())

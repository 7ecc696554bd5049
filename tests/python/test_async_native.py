"""Native async (capi "Asynchronous calls", redis_cache_go._native_async): concurrent awaits on one
event loop overlap in Go; cancellation leaks nothing; several loops and threads; errors, fail-open,
fork and the multi-server layouts behave as the sync calls do.

Overlap is counted, not timed: the cache talks to Redis through the ``proxy`` fixture
(tests/harness/delayproxy.py), which counts the requests in flight at once and can hold them;
our ``aget`` is compared with Django's default wrapper (``BaseCache.aget`` ->
``sync_to_async(self.get)``, thread-sensitive) on the same cache instance.
"""
from __future__ import annotations

import asyncio
import re
import threading
import time

import pytest
from django.core.cache.backends.base import BaseCache

from forked import call_in_forked_child

N = 100
POOL = 8  # max_connections: idle connections kept (the raw path opens more for concurrent calls)
# Requests held at the proxy, and a hundred connections opened through it at once on a loaded
# machine, must not run into the default 5 s timeouts (and then the circuit breaker).
PATIENT = {"DB": 0, "SOCKET_TIMEOUT": 60, "SOCKET_CONNECT_TIMEOUT": 60}



def _native_async():
    from redis_cache_go import _native, _native_async

    return _native, _native_async


# --------------------------------------------------------------------------- bar 2


def _calls(raw, command: str) -> int:
    """Calls of ``command`` the server counted since CONFIG RESETSTAT (INFO commandstats)."""
    match = re.search(rb"^cmdstat_%s:calls=(\d+)," % command.encode(), raw.command("INFO", "commandstats"), re.MULTILINE)
    return int(match.group(1)) if match else 0


def test_concurrent_aget_overlaps_where_djangos_default_wrapper_queues(make_cache, proxy, redis_server):
    """N concurrent awaits of our aget reach Redis together: the first at once, the N - 1 submitted
    in the same loop iteration behind it in one MGET (capi/asyncrun.go: GETs submitted together are
    read together), both in flight at once on one connection; through Django's default wrapper the
    same awaits reach Redis one at a time, N GETs."""
    cache = make_cache(location=proxy.location, options=PATIENT)
    cache.set_many({f"k{i}": i for i in range(N)})
    keys = [f"k{i}" for i in range(N)]

    async def ours():
        return await asyncio.gather(*(cache.aget(k) for k in keys))

    async def djangos():
        return await asyncio.gather(*(BaseCache.aget(cache, k) for k in keys))

    # The proxy holds our commands until both wait there at once: commands that overlap get there,
    # commands that queued would stay at 1 until the proxy gives up holding.
    redis_server.command("CONFIG", "RESETSTAT")
    proxy.hold(until=2)
    proxy.reset_peak()
    assert asyncio.run(ours()) == list(range(N))
    ours_peak, ours_conns = proxy.command_peak(), proxy.peak()
    ours_calls = (_calls(redis_server, "get"), _calls(redis_server, "mget"))
    proxy.reset_peak()
    redis_server.command("CONFIG", "RESETSTAT")
    assert asyncio.run(djangos()) == list(range(N))
    django_peak = proxy.command_peak()
    django_calls = (_calls(redis_server, "get"), _calls(redis_server, "mget"))
    print(f"\n{N} concurrent aget: {ours_calls} GET/MGET commands, at most {ours_peak} in flight at once on "
          f"{ours_conns} connections (ours); {django_calls} GET/MGET, at most {django_peak} in flight (Django's "
          f"default wrapper)")
    assert (ours_peak, django_peak) == (2, 1), "commands in flight at once: (ours, Django's default wrapper)"
    assert (ours_calls, django_calls) == ((1, 1), (N, 0)), "GET and MGET commands: (ours, Django's default wrapper)"
    assert ours_conns <= 2, "connections with a command in flight at once (ours: pipelined)"


# --------------------------------------------------------------------------- cancellation


def test_cancelled_awaits_leak_no_connection_goroutine_or_completion(make_cache, proxy, server_stat, wait_until):
    native, nasync = _native_async()
    cache = make_cache(location=proxy.location, options={**PATIENT, "CONNECTION_POOL_CLASS_KWARGS": {"max_connections": POOL}})
    cache.set("k", "v")
    clients_before = server_stat("connected_clients")

    async def warm():
        assert await asyncio.gather(*(cache.aget("k") for _ in range(2 * POOL))) == ["v"] * (2 * POOL)

    proxy.hold(until=POOL)  # the warm-up opens every connection of the pool
    asyncio.run(warm())
    wait_until(lambda: nasync.stats()["inflight"] == 0, message="warm-up completions")
    goroutines_before = native.stats()["goroutines"]

    async def storm():
        loop_pending = []
        for _ in range(5):
            proxy.hold()  # nothing can complete until released: every await is cancelled in flight
            tasks = [asyncio.ensure_future(cache.aget("k")) for _ in range(200)]
            for _ in range(3):  # a step: every task submits (the first at once, the rest in one batch after)
                await asyncio.sleep(0)
            assert nasync.stats()["inflight"] >= 200, "not every operation was in flight when cancelled"
            for t in tasks:
                t.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            proxy.release()
            assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
        # The completions still arrive and are dropped: no ticket stays behind on this loop.
        deadline = time.monotonic() + 30
        while nasync.pending() or nasync.stats()["inflight"]:
            assert time.monotonic() < deadline, f"pending={nasync.pending()} stats={nasync.stats()}"
            await asyncio.sleep(0.01)
        loop_pending.append(nasync.pending())
        assert await cache.aget("k") == "v"  # the loop and the pool still serve
        return loop_pending

    assert asyncio.run(storm()) == [0]
    wait_until(lambda: native.stats()["goroutines"] <= goroutines_before,
               message=f"goroutines back to {goroutines_before}: {native.stats()}")
    # Connections opened beyond the pool's idle ones were closed when their calls ended.
    assert server_stat("connected_clients") - clients_before <= POOL
    assert proxy.connections() <= POOL


def test_cancelled_aset_still_completes_or_never_starts(make_cache):
    """A cancelled write is not torn: the key holds the old or the new value, never garbage."""
    cache = make_cache()
    cache.set("k", "old")

    async def scenario():
        task = asyncio.ensure_future(cache.aset("k", "new"))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert cache.get("k") in ("old", "new")


# --------------------------------------------------------------------------- loops and threads


def test_several_event_loops_in_several_threads(make_cache):
    cache = make_cache()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        async def scenario():
            await asyncio.gather(*(cache.aset(f"t{n}:{i}", (n, i)) for i in range(50)))
            got = await asyncio.gather(*(cache.aget(f"t{n}:{i}") for i in range(50)))
            assert got == [(n, i) for i in range(50)]
            assert await cache.aget_many([f"t{n}:{i}" for i in range(3)]) == {f"t{n}:{i}": (n, i) for i in range(3)}

        try:
            for _ in range(3):  # a new loop each time
                asyncio.run(scenario())
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_async_calls_overlap_with_sync_calls_from_other_threads(make_cache):
    cache = make_cache()
    cache.set("n", 0)
    stop = threading.Event()

    def sync_side():
        while not stop.is_set():
            cache.incr("n")

    t = threading.Thread(target=sync_side)
    t.start()
    try:
        results = asyncio.run(_gather(cache.aincr("n") for _ in range(200)))
    finally:
        stop.set()
        t.join()
    assert len(set(results)) == 200


async def _gather(coros):
    return await asyncio.gather(*coros)


# --------------------------------------------------------------------------- errors, fail-open, fork


def test_async_errors_have_the_sync_classes_and_messages(make_cache, dead_location, errors):
    cache = make_cache(location=dead_location)
    with pytest.raises(errors.ConnectionError) as sync_info:
        cache.get("k")
    with pytest.raises(errors.ConnectionError) as async_info:
        asyncio.run(cache.aget("k"))
    assert str(async_info.value).split(":")[0] == str(sync_info.value).split(":")[0]
    assert dead_location in str(async_info.value)


def test_async_timeout_is_a_timeout_error(make_cache, silent_location, errors):
    cache = make_cache(location=silent_location, options={"DB": 0, "SOCKET_TIMEOUT": 0.2, "SOCKET_CONNECT_TIMEOUT": 0.2})
    with pytest.raises(errors.TimeoutError):
        asyncio.run(cache.aset("k", 1))


def test_async_fail_open_for_every_native_call(make_cache, dead_location):
    cache = make_cache(location=dead_location, options={"DB": 0, "IGNORE_EXCEPTIONS": True, "LOG_IGNORED_EXCEPTIONS": False})

    async def scenario():
        return (
            await cache.aget("k", "d"), await cache.aset("k", 1), await cache.aadd("k", 1),
            await cache.adelete("k"), await cache.ahas_key("k"), await cache.atouch("k", 5),
            await cache.aget_many(["k"]), await cache.aset_many({"a": 1, "b": 2}),
            await cache.adelete_many(["a"]), await cache.aincr("k"), await cache.adecr("k"),
            await cache.aincr_version("k"), await cache.aclear(), await cache.aget_or_set("k", lambda: "computed"),
        )

    assert asyncio.run(scenario()) == ("d", False, False, False, False, False, {}, ["a", "b"], None, None, None,
                                       None, False, "computed")


def test_async_in_forked_child_fails_fast(make_cache):
    cache = make_cache()
    asyncio.run(cache.aset("k", 1))  # the library, the Go runtime and a completion queue exist
    child = call_in_forked_child(lambda: asyncio.run(cache.aget("k")))
    assert not child.hung, "the forked child hung in an async call"
    assert child.error == "ForkedProcessError", child.message
    assert "--preload" in child.message
    assert asyncio.run(cache.aget("k")) == 1  # the parent keeps working


def test_async_in_forked_child_with_fork_fallback_serves_through_redis_py(make_cache, raw):
    cache = make_cache(options={"DB": 0, "FORK_FALLBACK": True})
    asyncio.run(cache.aset("k", 1))

    def child():
        async def scenario():
            await cache.aset("from-child", {"x": 1})
            got = await asyncio.gather(cache.aget("k"), cache.aget("from-child"), cache.aget_many(["k", "nope"]),
                                       cache.ahas_key("k"))
            assert got == [1, {"x": 1}, {"k": 1}, True], got
            assert await cache.aincr("k", 2) == 3

        asyncio.run(scenario())

    outcome = call_in_forked_child(child)
    assert not outcome.hung
    assert outcome.error == "", outcome.message
    assert raw.command("GET", ":1:k") == b"3"
    assert asyncio.run(cache.aget("from-child")) == {"x": 1}


def test_nothing_native_loads_at_import_or_construction(redis_server):
    import subprocess
    import sys

    code = (
        "import django; from django.conf import settings; settings.configure(); django.setup()\n"
        "import redis_cache_go, redis_cache_go._native_async as a, redis_cache_go._native as n\n"
        f"c = redis_cache_go.RedisCache('{redis_server.location}', {{}})\n"
        "assert n._lib is None and not a._queues, 'loaded early'\n"
        "import asyncio; asyncio.run(c.aset('imp', 1)); assert n._lib is not None\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


# --------------------------------------------------------------------------- multi-server layouts


def test_sharded_async_places_keys_as_sync(three):
    import redis_cache_go

    location = [s.location for s in three]
    cache = redis_cache_go.ShardedRedisCache(location, {"OPTIONS": {"DB": 0}})
    try:
        data = {f"key{i}": i for i in range(60)}

        async def scenario():
            await cache.aset_many(data)
            await cache.aset("single", "s")
            return await cache.aget_many(list(data)), await cache.aget("single")

        many, single = asyncio.run(scenario())
        assert many == data and single == "s"
        assert cache.get_many(list(data)) == data  # the sync path finds them where async put them
        for key in data:
            owner = three[cache.server_index(cache.make_key(key))]
            assert owner.command("EXISTS", f":1:{key}") == 1, key
        counts = [s.command("DBSIZE") for s in three]
        assert all(c > 0 for c in counts), counts  # spread over every server
    finally:
        cache.disconnect()


def test_copy_async_writes_every_server(three):
    import redis_cache_go

    cache = redis_cache_go.RedisCopyCache([s.location for s in three], {"OPTIONS": {"DB": 0}})
    try:
        asyncio.run(cache.aset("k", "v"))
        assert [s.command("EXISTS", ":1:k") for s in three] == [1, 1, 1]
        assert asyncio.run(cache.aget("k")) == "v"
        assert asyncio.run(cache.adelete("k")) is True
        assert [s.command("EXISTS", ":1:k") for s in three] == [0, 0, 0]
    finally:
        cache.disconnect()


def test_async_through_an_unknown_client_wrapper_uses_its_sync_methods(make_cache):
    """A client wrapper this package does not know (say, a future near-cache layer around the
    native client) is not bypassed: the a* calls go through its sync methods in a worker thread."""
    cache = make_cache()
    calls: list[str] = []

    class Wrapper:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            calls.append(name)
            return getattr(self.inner, name)

    cache._client = Wrapper(cache._client)
    cache.__dict__.pop("_aclient", None)

    async def scenario():
        await cache.aset("k", {"v": 1})
        return await cache.aget("k"), await cache.aget_many(["k", "missing"]), await cache.aincr_version("k")

    assert asyncio.run(scenario()) == ({"v": 1}, {"k": {"v": 1}}, 2)
    assert calls[:4] == ["set", "get", "get_many", "rename"]


def test_one_loop_after_another_does_not_pile_up_queues_or_descriptors(make_cache):
    """asyncio.run per call (a new loop each time): the queue of a closed loop is released when
    the next loop makes its own, so descriptors and Go queues stay bounded."""
    import os

    _, nasync = _native_async()
    cache = make_cache()
    cache.set("k", 1)
    asyncio.run(cache.aget("k"))
    fds_before = len(os.listdir("/proc/self/fd"))
    queues_before = nasync.stats()["queues"]
    for _ in range(50):
        assert asyncio.run(cache.aget("k")) == 1
    assert nasync.stats()["queues"] <= queues_before + 1
    assert len(os.listdir("/proc/self/fd")) <= fds_before + 2


def test_pipe_wakeup_where_there_is_no_eventfd(make_cache, monkeypatch):
    import os

    monkeypatch.delattr(os, "eventfd")
    cache = make_cache()

    async def scenario():
        await asyncio.gather(*(cache.aset(f"p{i}", i) for i in range(50)))
        return await asyncio.gather(*(cache.aget(f"p{i}") for i in range(50)))

    assert asyncio.run(scenario()) == list(range(50))


def test_aget_or_set_passes_the_herd_options(make_cache, raw):
    cache = make_cache()
    got = asyncio.run(cache.aget_or_set("k", lambda: "v", timeout=10, stale_cache_timeout=5))
    assert got == "v"
    assert 10_000 < raw.command("PTTL", ":1:k") <= 15_000  # value lives timeout + stale window


# --------------------------------------------------------------------------- batched submission


def test_submit_many_refuses_a_malformed_frame_and_reports_refusals_per_record(cache):
    """rcg_async_submit_many (the loop's batch of one iteration): a frame that does not parse starts
    nothing; a record on a handle that is not open gets a completion of its own, (CLOSED, -1)."""
    from redis_cache_go import _native
    nasync = _native_async()[1]
    lib = _native.library()
    cache.set("k", "v")

    async def scenario():
        loop = asyncio.get_running_loop()
        q = nasync._queue_for(loop)
        s = _native._scratch
        short = nasync._SUBMIT.pack(1, nasync.GET, 1, 0, 0, 0, 0, 10, 0) + b"short"
        status = lib.rcg_async_submit_many(q.handle, s.ptr, short, len(short), 1)
        message = _native._take(lib, s)
        tickets = [next(q.tickets), next(q.tickets)]
        futures = [loop.create_future() for _ in tickets]
        q.futures.update(zip(tickets, futures))
        handle = cache._client._handle or cache._client._open()
        frame = (nasync._SUBMIT.pack(987654321, nasync.GET, tickets[0], 0, 0, 0, 0, 1, 0) + b"k"
                 + nasync._SUBMIT.pack(handle, nasync.GET, tickets[1], 0, 0, 0, 0, 4, 0) + b":1:k")
        ok = lib.rcg_async_submit_many(q.handle, s.ptr, frame, len(frame), 2)
        assert ok == _native.OK, _native._take(lib, s)
        return status, message, ok, await asyncio.wait_for(asyncio.gather(*futures), 30)

    status, message, ok, (refused, got) = asyncio.run(scenario())
    assert status == -6 and b"cut short" in message, (status, message)  # RCG_ERR_ARGUMENT
    assert ok == _native.OK
    assert refused[:2] == (_native.STATUS_CLOSED, nasync.REFUSED) and b"closed" in refused[2]
    assert got[0] == _native.OK and got[2] == cache._encode("v")


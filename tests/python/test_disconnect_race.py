"""disconnect() while other threads are inside calls on the same cache.

A call that read the handle before disconnect() closed it is refused by Go before it does
anything, and runs again on the client's new handle; a call already inside Go when the handle
is closed finishes normally on the old handle, whose connections Go closes after its last call.
"""
from __future__ import annotations

import asyncio
import threading
import traceback

import pytest

WORKERS = 6
ROUNDS = 300  # per worker
MIN_DISCONNECTS = 100


@pytest.mark.timeout(300)
def test_calls_racing_with_disconnect_run_on_the_new_handle(make_cache):
    cache = make_cache()
    shared = {f"shared{i}": f"value {i}" * (i + 1) for i in range(20)}
    cache.set_many(shared, None)
    errors: list[BaseException] = []
    wrong: list[str] = []
    disconnects = 0
    workers_done = threading.Event()

    def check(what: str, got: object, want: object) -> None:
        if got != want:
            wrong.append(f"{what}: got {got!r:.60}; want {want!r:.60}")

    def sync_worker(w: int) -> None:
        try:
            for n in range(ROUNDS):
                own = f"own{w}"
                cache.set(own, (w, n), None)
                check(own, cache.get(own), (w, n))
                check("get_many", cache.get_many(list(shared)), shared)
                check("incr", cache.incr(f"count{w}") if n else cache.set(f"count{w}", 1, None), n + 1 if n else True)
        except BaseException as e:  # noqa: BLE001  (every failure is reported below)
            errors.append(e)

    def async_worker(w: int) -> None:
        async def rounds() -> None:
            for n in range(ROUNDS):
                own = f"aown{w}"
                await cache.aset(own, (w, n), None)
                got = await asyncio.gather(cache.aget(own), cache.aget_many(list(shared)[:5]))
                check(own, got, [(w, n), dict(list(shared.items())[:5])])

        try:
            asyncio.run(rounds())
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    def disconnector() -> None:
        nonlocal disconnects
        try:
            while not (workers_done.is_set() and disconnects >= MIN_DISCONNECTS):
                cache.disconnect()
                disconnects += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=sync_worker, args=(w,)) for w in range(WORKERS)]
    threads += [threading.Thread(target=async_worker, args=(w,)) for w in range(2)]
    closer = threading.Thread(target=disconnector)
    closer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    workers_done.set()
    closer.join()
    assert not errors, "".join(traceback.format_exception(errors[0]))
    assert not wrong, wrong[:5]
    assert disconnects >= MIN_DISCONNECTS
    assert cache.get_many(list(shared)) == shared


def _set_calls(cache) -> int:
    """SET commands this process's cache sent (its Go-side counters, any deployment)."""
    return sum(server["calls"]["set"] for server in cache.stats())


def test_a_call_inside_go_when_disconnect_runs_finishes_on_the_old_handle(make_cache, raw, wait_until):
    """A blocking lock acquire keeps retrying inside Go; disconnect() meanwhile does not end it."""
    cache = make_cache()
    raw.command("SET", "job", "someone else")
    result: list[object] = []
    before = _set_calls(cache)

    def acquire() -> None:
        try:
            result.append(cache.lock("job", sleep=0.01, blocking_timeout=30).acquire())
        except BaseException as e:  # noqa: BLE001
            result.append(e)

    t = threading.Thread(target=acquire)
    t.start()
    wait_until(lambda: _set_calls(cache) >= before + 2, message="the acquire retrying inside Go")
    cache.disconnect()  # the old handle's call is still running
    raw.command("DEL", "job")  # now it can take the lock
    t.join()
    assert result == [True]
    assert raw.command("GET", "job") not in (None, b"someone else")


@pytest.mark.parametrize("outcome", ["value", "failure"])
def test_disconnect_between_the_two_halves_of_get_or_set(make_cache, raw, outcome):
    """disconnect() while get_or_set computes: the computed value is still stored (and a failing
    computation still releases the lock), on the connections the call started on."""
    cache = make_cache()

    def compute() -> str:
        cache.disconnect()  # after rcg_herd_ask handed out the ticket, before publish/abandon
        if outcome == "failure":
            raise LookupError("the computation failed")
        return "computed"

    if outcome == "value":
        assert cache.get_or_set("k", compute, 60) == "computed"
        assert cache.get("k") == "computed"
    else:
        with pytest.raises(LookupError):
            cache.get_or_set("k", compute, 60)
        assert cache.get("k") is None
    assert raw.command("EXISTS", "__lock__" + cache.make_key("k")) == 0

"""Timeouts up to the longest TTL Redis stores, on every path that carries one.

Every timeout up to MAX_TTL_MS is stored as asked (PTTL within a second of it), also past what a
Go time.Duration holds (about 292 years); a larger one is a ValueError before anything is sent,
so the key is left as it was. Never a TTL that wrapped around: a key kept for 1 ms while set()
reported success, or a touch() that deleted the key.
"""
from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from typing import Any, Callable

import pytest

from forked import call_in_forked_child
from redis_cache_go._ttl import MAX_TTL_MS
from redisproc import RedisServer

BEFORE = b"before"  # what a key holds when a path changes an existing key's TTL

# (id, timeout in seconds, stored?)
TIMEOUTS = [
    ("just below the bound", MAX_TTL_MS // 1000 - 10, True),
    ("a float just below the bound", float(MAX_TTL_MS // 1000 - 10_000), True),
    ("2**63 ns, float", 2**63 / 1e9, True),
    ("just past 2**63 ns", 9_223_372_037, True),
    ("10**10", 10**10, True),
    ("10**12", 10**12, True),
    ("2**64 ns, float", 18446744073.71, True),
    ("just above the bound", MAX_TTL_MS // 1000 + 1, False),
    ("a float far above", 1e300, False),
]


def asked_ms(timeout: int | float) -> Fraction:
    return Fraction(timeout) * 1000


def pttl(raw, key: str) -> int:
    return int(raw.command("PTTL", key))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# Each path: (prepare the key?, the call, the Redis key whose PTTL it sets). A path that changes an
# existing key's TTL finds the key holding BEFORE without expiry.
LOCK_MS = 10_000  # the TTL a lock is acquired with before it is extended


def _lock_extend(cache: Any, key: str, timeout: Any, replace: bool) -> None:
    lock = cache.lock(key, timeout=LOCK_MS // 1000)
    assert lock.acquire(blocking=False)
    lock.extend(timeout, replace_ttl=replace)


async def _soon(call: Callable[[], Any]) -> Any:
    """Await what ``call`` makes, made once the event loop runs."""
    return await call()


async def _alock_extend(cache: Any, key: str, timeout: Any, replace: bool) -> None:
    lock = cache.alock(key, timeout=LOCK_MS // 1000)
    assert await lock.acquire(blocking=False)
    await lock.extend(timeout, replace_ttl=replace)


PATHS: dict[str, tuple[bool, Callable[[Any, str, Any], Any], Callable[[str], str]]] = {
    "set": (False, lambda c, k, t: c.set(k, "v", t), lambda k: f":1:{k}"),
    "add": (False, lambda c, k, t: c.add(k, "v", t), lambda k: f":1:{k}"),
    "set_many": (False, lambda c, k, t: c.set_many({k: "v", k + "2": "w"}, t), lambda k: f":1:{k}"),
    "touch": (True, lambda c, k, t: c.touch(k, t), lambda k: f":1:{k}"),
    "expire": (True, lambda c, k, t: c.expire(k, t), lambda k: f":1:{k}"),
    "pexpire": (True, lambda c, k, t: c.pexpire(k, t * 1000 if isinstance(t, int) else t * 1000), lambda k: f":1:{k}"),
    "expire_at": (True, lambda c, k, t: c.expire_at(k, Fraction(time.time_ns(), 10**9) + Fraction(t)), lambda k: f":1:{k}"),
    "pexpire_at": (True, lambda c, k, t: c.pexpire_at(k, time.time_ns() // 10**6 + (t * 1000 if isinstance(t, int) else t * 1000)),
                   lambda k: f":1:{k}"),
    "get_or_set (fresh flag)": (False, lambda c, k, t: c.get_or_set(k, lambda: "v", t, stale_cache_timeout=None),
                                lambda k: f"__fresh__:1:{k}"),
    "get_or_set lock_timeout": (False, lambda c, k, t: _herd_lock(c, k, t), lambda k: f"__lock__:1:{k}"),
    "lock timeout": (False, lambda c, k, t: c.lock(k, timeout=t).acquire(blocking=False), lambda k: k),
    "lock extend (replace)": (False, lambda c, k, t: _lock_extend(c, k, t, True), lambda k: k),
    "lock extend (add)": (False, lambda c, k, t: _lock_extend(c, k, t, False), lambda k: k),
    "aset": (False, lambda c, k, t: run(c.aset(k, "v", t)), lambda k: f":1:{k}"),
    "aadd": (False, lambda c, k, t: run(c.aadd(k, "v", t)), lambda k: f":1:{k}"),
    "aset_many": (False, lambda c, k, t: run(c.aset_many({k: "v"}, t)), lambda k: f":1:{k}"),
    "atouch": (True, lambda c, k, t: run(c.atouch(k, t)), lambda k: f":1:{k}"),
    "aexpire": (True, lambda c, k, t: run(c.aexpire(k, t)), lambda k: f":1:{k}"),
    "apexpire": (True, lambda c, k, t: run(c.apexpire(k, t * 1000)), lambda k: f":1:{k}"),
    # the time is read inside the coroutine, as close to the call as the sync paths read it (a
    # loaded machine may take a second to start the loop, and the bound has a second of margin)
    "aexpire_at": (True, lambda c, k, t: run(_soon(lambda: c.aexpire_at(k, Fraction(time.time_ns(), 10**9) + Fraction(t)))),
                   lambda k: f":1:{k}"),
    "apexpire_at": (True, lambda c, k, t: run(_soon(lambda: c.apexpire_at(k, time.time_ns() // 10**6 + t * 1000))),
                    lambda k: f":1:{k}"),
    "alock timeout": (False, lambda c, k, t: run(c.alock(k, timeout=t).acquire(blocking=False)), lambda k: k),
    "alock extend (replace)": (False, lambda c, k, t: run(_alock_extend(c, k, t, True)), lambda k: k),
    "alock extend (add)": (False, lambda c, k, t: run(_alock_extend(c, k, t, False)), lambda k: k),
}


def _herd_lock(cache: Any, key: str, lock_timeout: Any) -> None:
    """get_or_set whose computation looks at the lock's TTL while it holds it."""
    def compute() -> str:
        raw = cache._test_raw
        cache._test_lock_pttl = pttl(raw, f"__lock__:1:{key}")
        return "v"

    cache.get_or_set(key, compute, 60, lock_timeout=lock_timeout)


@pytest.mark.parametrize("timeout_id, timeout, stored", TIMEOUTS, ids=[t[0] for t in TIMEOUTS])
@pytest.mark.parametrize("path", list(PATHS))
def test_timeouts_are_stored_as_asked_or_refused_before_sending(make_cache, raw, path, timeout_id, timeout, stored):
    cache = make_cache()
    cache._test_raw = raw
    prepare, call, redis_key = PATHS[path]
    key = "k"
    if prepare:
        raw.command("SET", f":1:{key}", BEFORE)
    if path in ("pexpire", "apexpire") and not isinstance(timeout, int):
        timeout = float(timeout)
    if not stored:
        with pytest.raises(ValueError, match="too large"):
            call(cache, key, timeout)
        if prepare:
            assert raw.command("GET", f":1:{key}") == BEFORE
            assert pttl(raw, f":1:{key}") == -1, "the TTL must be unchanged"
        elif path.startswith(("lock extend", "alock extend")):
            assert 0 < pttl(raw, key) <= LOCK_MS, "the lock's TTL must be unchanged"
        else:
            assert raw.command("EXISTS", redis_key(key)) == 0, "nothing may be written"
        return
    call(cache, key, timeout)
    if path == "get_or_set lock_timeout":
        got = cache._test_lock_pttl  # read while the lock was held
    else:
        got = pttl(raw, redis_key(key))
    want = asked_ms(timeout) + (LOCK_MS if path in ("lock extend (add)", "alock extend (add)") else 0)
    assert abs(got - want) <= 1000, f"PTTL {got}; asked {float(want):.0f} ms"


@pytest.mark.parametrize("timeout_id, timeout, stored", TIMEOUTS, ids=[t[0] for t in TIMEOUTS])
def test_get_or_set_value_ttl_is_timeout_plus_stale_window(make_cache, raw, timeout_id, timeout, stored):
    cache = make_cache()
    stale = 60
    if not stored:
        with pytest.raises(ValueError, match="too large"):
            cache.get_or_set("k", lambda: "v", timeout, stale_cache_timeout=stale)
        assert raw.command("EXISTS", ":1:k") == 0
        return
    if asked_ms(timeout) + stale * 1000 > MAX_TTL_MS:
        # the sum is past the bound although the timeout is not: refused as well, before anything is sent
        with pytest.raises(ValueError, match="too large"):
            cache.get_or_set("k", lambda: "v", timeout, stale_cache_timeout=stale)
        assert raw.command("EXISTS", ":1:k") == 0 and raw.command("EXISTS", "__lock__:1:k") == 0
        return
    assert cache.get_or_set("k", lambda: "v", timeout, stale_cache_timeout=stale) == "v"
    assert abs(pttl(raw, ":1:k") - (asked_ms(timeout) + stale * 1000)) <= 1000


def test_lock_extend_adding_past_the_bound_changes_nothing(make_cache, raw, errors):
    cache = make_cache()
    lock = cache.lock("lk", timeout=MAX_TTL_MS // 1000 - 100)
    assert lock.acquire(blocking=False)
    before = pttl(raw, "lk")
    lock.extend(50)  # adds: still within the bound
    assert abs(pttl(raw, "lk") - (before + 50_000)) <= 1000
    with pytest.raises(errors.ServerError, match="larger than the largest"):
        lock.extend(1000)  # the sum would pass the bound: refused by the script
    assert abs(pttl(raw, "lk") - (before + 50_000)) <= 1000
    assert lock.owned()


def test_alock_extend_adding_past_the_bound_changes_nothing(make_cache, raw, errors):
    cache = make_cache()

    async def scenario() -> None:
        lock = cache.alock("lk", timeout=MAX_TTL_MS // 1000 - 100)
        assert await lock.acquire(blocking=False)
        before = pttl(raw, "lk")
        await lock.extend(50)  # adds: still within the bound
        assert abs(pttl(raw, "lk") - (before + 50_000)) <= 1000
        with pytest.raises(errors.ServerError, match="larger than the largest"):
            await lock.extend(1000)  # the sum would pass the bound: refused by the script
        assert abs(pttl(raw, "lk") - (before + 50_000)) <= 1000
        assert await lock.owned()

    run(scenario())


def test_ttl_and_pttl_read_ttls_past_a_go_duration(make_cache, raw):
    cache = make_cache()
    cache.set("k", "v", 10**12)
    assert abs(cache.pttl("k") - 10**15) <= 1000
    assert abs(cache.ttl("k") - 10**12) <= 1


@pytest.mark.parametrize("backend", ["redis_cache_go.RedisCopyCache", "redis_cache_go.ShardedRedisCache"])
def test_multi_server_layouts_store_long_ttls_and_refuse_too_long_ones(backend):
    from django.utils.module_loading import import_string

    with RedisServer() as first, RedisServer() as second:
        _check_layout(import_string(backend)([first.location, second.location], {"OPTIONS": {"DB": 0}}), [first, second], backend)


def _check_layout(cache: Any, two: list[RedisServer], backend: str) -> None:
    try:
        timeout = 10**12
        cache.set("k", "v", timeout)
        cache.set_many({f"m{i}": i for i in range(10)}, timeout)
        holders = [s for s in two if s.command("EXISTS", ":1:k")]
        assert holders if backend.endswith("ShardedRedisCache") else len(holders) == 2
        for s in holders:
            assert abs(int(s.command("PTTL", ":1:k")) - timeout * 1000) <= 1000
        for i in range(10):
            ttls = [int(s.command("PTTL", f":1:m{i}")) for s in two if s.command("EXISTS", f":1:m{i}")]
            assert ttls and all(abs(t - timeout * 1000) <= 1000 for t in ttls)
        with pytest.raises(ValueError, match="too large"):
            cache.set("new", "v", MAX_TTL_MS // 1000 + 1)
        assert not any(s.command("EXISTS", ":1:new") for s in two)
    finally:
        cache.disconnect()


def test_fork_fallback_stores_long_ttls(make_cache, raw):
    cache = make_cache(options={"DB": 0, "FORK_FALLBACK": True})
    cache.set("warm", 1)  # the library is loaded: a forked child gets the pure-Python fallback

    def child() -> None:
        cache.set("k", "v", 10**12)
        cache.set_many({"m": "w"}, 10**10)
        cache.touch("warm", 18446744073.71)
        assert cache._client._fallback is not None, "the fallback served the calls"

    outcome = call_in_forked_child(child)
    assert not outcome.hung and outcome.error == "", outcome.message
    assert abs(pttl(raw, ":1:k") - 10**15) <= 1000
    assert abs(pttl(raw, ":1:m") - 10**13) <= 1000
    assert abs(pttl(raw, ":1:warm") - 18446744073710) <= 1000

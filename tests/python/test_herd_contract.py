"""get_or_set keeps Django's contract on top of its herd protection, and shares a failure.

Django's get_or_set: "if the key does not exist, add it" -- so a value that set()/add()/set_many()
wrote is returned until it expires. get_or_set's own value is fresh for its timeout and then stale:
the next caller computes (or stores a plain default) while the others get the stale value. The
value's ``__herd__<key>`` tag (a digest of its bytes) tells the two apart; a later set() of other
bytes no longer matches. "After the timeout" is made to happen by deleting the fresh flag through a
raw client (no sleeps, no timing).

A default that raises fails once for every call that waited for it, in threads (any instance of
one configuration) and in concurrent aget_or_set calls on one event loop.

incr/decr of a non-integer raise a NotAnIntegerError: a ServerError and a TypeError.
"""
from __future__ import annotations

import asyncio
import hashlib
import threading

import pytest

import redis_cache_go
from redis_cache_go import exceptions
from redisproc import RedisServer
from test_herd import herd_cache, seed_cache  # noqa: F401  (fixtures)

V, FRESH, LOCK, TAG = ":1:k", "__fresh__:1:k", "__lock__:1:k", "__herd__:1:k"


@pytest.fixture
def expire_fresh(raw):
    """End the freshness of a key's value now, as its timeout would (its flag goes away)."""

    def expire(made: str = V) -> None:
        assert raw.command("DEL", "__fresh__" + made) == 1

    return expire


def _exists(raw, *keys: str) -> int:
    """EXISTS one key at a time (the keys of a Cluster live in different slots)."""
    return sum(raw.command("EXISTS", k) for k in keys)


def _never():
    pytest.fail("get_or_set computed although a value exists")


# --------------------------------------------------------------------------- values get_or_set did not write

WRITERS = {
    "set": lambda c: c.set("k", "written", 30),
    "add": lambda c: c.add("k", "written", 30),
    "set_many": lambda c: c.set_many({"k": "written"}, 30),
}


@pytest.mark.parametrize("default", [_never, "plain default"], ids=["callable", "plain"])
@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_value_written_by_set_is_returned_until_it_expires(cache, raw, wait_until, writer, default):
    WRITERS[writer](cache)
    stored = raw.command("GET", V)
    for _ in range(2):
        assert cache.get_or_set("k", default, 30) == "written"
    assert raw.command("GET", V) == stored and _exists(raw, FRESH, TAG) == 0
    cache.pexpire("k", 1)  # it expires: now the key does not exist, so it is added
    wait_until(lambda: raw.command("EXISTS", V) == 0, message="the value expired")
    assert cache.get_or_set("k", lambda: "computed", 30) == "computed"


def test_a_set_after_get_or_set_makes_the_value_an_ordinary_one(cache, raw, expire_fresh):
    assert cache.get_or_set("k", lambda: "computed", 30) == "computed"
    cache.set("k", "written")  # the hot path: no extra command, the tag stays behind
    assert raw.command("EXISTS", TAG) == 1
    expire_fresh()
    assert cache.get_or_set("k", _never, 30) == "written"
    assert cache.get("k") == "written"


# --------------------------------------------------------------------------- get_or_set's own values


def test_a_plain_default_replaces_a_value_that_is_no_longer_fresh(cache, expire_fresh):
    assert cache.get_or_set("a", 42, 1) == 42
    assert cache.get_or_set("a", 45, 1) == 42  # fresh
    expire_fresh(":1:a")
    assert cache.get_or_set("a", 45, 1) == 45  # as Django and the seed do
    assert cache.get("a") == 45


def test_stale_callers_get_the_stale_value_and_each_expiry_computes_once(make_cache, expire_fresh, wait_until):
    cache = make_cache()
    assert cache.get_or_set("k", lambda: "v0", 30) == "v0"
    calls, release = [], threading.Event()

    def compute():
        calls.append(1)
        release.wait(10)
        return f"v{len(calls)}"

    for expiry in (1, 2):
        expire_fresh()
        served: list[str] = []
        leader = threading.Thread(target=lambda: served.append(cache.get_or_set("k", compute, 30)))
        leader.start()
        wait_until(lambda: len(calls) == expiry, message="the leader computes")
        # every other caller, in this process (own instances) or not, gets the stale value at once
        others = [threading.Thread(target=lambda: served.append(make_cache().get_or_set("k", compute, 30)))
                  for _ in range(8)]
        for t in others:
            t.start()
        for t in others:
            t.join(10)
        assert served == [f"v{expiry - 1}"] * 8
        release.set()
        leader.join(10)
        release.clear()
        assert served[-1] == f"v{expiry}" and len(calls) == expiry
        assert cache.get_or_set("k", compute, 30) == f"v{expiry}"  # fresh again


def test_get_or_set_none_stores_none(cache, raw):
    assert cache.get_or_set("null", None) is None
    assert cache.get("null", "default") is None  # Django's own test checks this
    assert cache.get_or_set("null", 42) is None
    assert cache.get_or_set("nulls", lambda: None) is None
    assert cache.get("nulls", "default") is None and _exists(raw, ":1:null", ":1:nulls") == 2


def test_clear_removes_the_tags_and_flags(make_cache, raw):
    cache = make_cache(KEY_PREFIX="p")
    cache.get_or_set("k", 1, 30)
    cache.get_or_set("j", 1, 30, version=2)
    cache.clear(version=2)
    assert _exists(raw, "p:2:j", "__fresh__p:2:j", "__herd__p:2:j") == 0
    assert _exists(raw, "p:1:k", "__fresh__p:1:k", "__herd__p:1:k") == 3
    cache.clear()
    assert _exists(raw, "p:1:k", "__fresh__p:1:k", "__herd__p:1:k") == 0


def test_reinsert_keys_carries_a_get_or_set_value_s_tag_over(make_cache, raw, expire_fresh):
    plain = make_cache(KEY_PREFIX="p")
    plain.get_or_set("k", "x" * 2000, 30)
    plain.set("s", "y" * 2000, 30)
    zstd = make_cache(options={"DB": 0, "COMPRESSOR": "zstd", "COMPRESS_MIN_LEN": 0}, KEY_PREFIX="p")
    assert zstd.reinsert_keys() == 2
    stored = raw.command("GET", "p:1:k")
    assert stored[:4] == b"\x28\xb5\x2f\xfd"  # zstd now
    assert raw.command("GET", "__herd__p:1:k") == hashlib.sha256(stored).hexdigest()[:32].encode()
    assert raw.command("EXISTS", "__herd__p:1:s") == 0  # set() values stay untagged
    expire_fresh("p:1:k")
    assert zstd.get_or_set("k", lambda: "recomputed", 30) == "recomputed"  # still get_or_set's: stale
    assert zstd.get_or_set("s", _never, 30) == "y" * 2000


# --------------------------------------------------------------------------- the seed, both directions


def test_a_seed_value_is_adopted_while_fresh_and_recomputed_after(herd_cache, seed_cache, raw, expire_fresh):
    # The seed (django-redis-cache's own get_or_set) writes; we honour its fresh flag ...
    assert seed_cache.get_or_set("s", lambda: "seed's", 30, lock_timeout=10) == "seed's"
    assert herd_cache.get_or_set("s", _never, 30) == "seed's"
    assert raw.command("GET", "__fresh__pre:7:s") == b"1"
    # ... and adopt the value (its tag), so once the seed's flag expires it is stale, not permanent
    assert raw.command("GET", "__herd__pre:7:s") == hashlib.sha256(raw.command("GET", "pre:7:s")).hexdigest()[:32].encode()
    assert raw.command("TTL", "pre:7:s") == -1 and raw.command("TTL", "__herd__pre:7:s") == -1  # seed: no expiry
    expire_fresh("pre:7:s")
    assert herd_cache.get_or_set("s", lambda: "ours", 30) == "ours"
    # the seed honours our flag ("2", truthy for it) ...
    assert seed_cache.get_or_set("s", _never, 30, lock_timeout=10) == "ours"
    # ... and recomputes when it expires; we adopt its new value in turn
    expire_fresh("pre:7:s")
    assert seed_cache.get_or_set("s", lambda: "seed again", 30, lock_timeout=10) == "seed again"
    assert herd_cache.get_or_set("s", _never, 30) == "seed again"
    expire_fresh("pre:7:s")
    assert herd_cache.get_or_set("s", lambda: "ours again", 30) == "ours again"


def test_a_seed_value_whose_flag_expired_before_the_switch_counts_as_set(herd_cache, seed_cache, expire_fresh):
    # Nothing marks it as get_or_set's any more: it is returned as it is (docs/migration.md).
    assert seed_cache.get_or_set("s", lambda: "seed's", 30, lock_timeout=10) == "seed's"
    expire_fresh("pre:7:s")
    assert herd_cache.get_or_set("s", _never, 30) == "seed's"


def test_each_honours_the_others_lock(herd_cache, seed_cache, raw, wait_until, expire_fresh):
    release = threading.Event()

    def holding(value):
        def compute():
            release.wait(10)
            return value
        return compute

    # our lock on a stale value of ours: the seed serves the stale value, computes nothing
    herd_cache.get_or_set("s", "stale", 30)
    expire_fresh("pre:7:s")
    ours = threading.Thread(target=lambda: herd_cache.get_or_set("s", holding("ours"), 30))
    ours.start()
    wait_until(lambda: raw.command("EXISTS", "__lock__pre:7:s"), message="we hold the lock")
    assert seed_cache.get_or_set("s", _never, 30, lock_timeout=10) == "stale"
    # the seed's lock on a missing value: we wait for its value instead of computing
    got: list[str] = []
    seeds = threading.Thread(target=lambda: seed_cache.get_or_set("n", holding("seed's"), 30, lock_timeout=10))
    seeds.start()
    wait_until(lambda: raw.command("EXISTS", "__lock__pre:7:n"), message="the seed holds the lock")
    waiter = threading.Thread(target=lambda: got.append(herd_cache.get_or_set("n", _never, 30, lock_timeout=10)))
    waiter.start()
    release.set()
    for t in (ours, seeds, waiter):
        t.join(10)
    assert got == ["seed's"]


# --------------------------------------------------------------------------- one failure for all waiters


class Unavailable(Exception):
    """What the failing default raises."""


@pytest.mark.parametrize("instances", ["one instance", "one per thread"])
def test_a_failing_default_fails_once_for_16_waiting_threads(make_cache, raw, wait_until, instances):
    caches = [make_cache() for _ in range(16 if instances == "one per thread" else 1)]
    calls, release = [], threading.Event()

    def failing():
        calls.append(1)
        release.wait(10)
        raise Unavailable("the backend is down")

    outcomes: list[object] = [None] * 16

    def call(i):
        try:
            outcomes[i] = caches[i % len(caches)].get_or_set("k", failing, 30)
        except Exception as e:
            outcomes[i] = e

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    wait_until(lambda: raw.command("EXISTS", LOCK) and caches[0]._client.herd_waiting() == 15,
               timeout=20, message="one caller computes, 15 wait for it")
    release.set()
    for t in threads:
        t.join(20)
    assert len(calls) <= 2
    assert all(isinstance(o, Unavailable) for o in outcomes), outcomes
    assert _exists(raw, LOCK, V) == 0 and caches[0]._client.herd_waiting() == 0


def test_a_failing_default_fails_once_for_20_concurrent_aget_or_set(make_cache, raw, wait_until):
    cache = make_cache()
    calls, release = [], threading.Event()

    def failing():
        calls.append(1)
        release.wait(10)
        raise Unavailable("the backend is down")

    async def main():
        tasks = [asyncio.ensure_future(cache.aget_or_set("k", failing, 30)) for _ in range(20)]
        await asyncio.sleep(0)  # every task has started (FIFO ready queue)
        while not raw.command("EXISTS", LOCK):  # the default runs: the lock is held
            await asyncio.sleep(0.005)
        release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert len(calls) <= 2
    assert all(isinstance(o, Unavailable) for o in outcomes), outcomes
    assert _exists(raw, LOCK, V) == 0


# --------------------------------------------------------------------------- incr/decr of a non-integer


@pytest.fixture(scope="module")
def second_server():
    server = RedisServer().start()
    yield server
    server.stop()


LAYOUTS = {
    "one server": lambda a, b: redis_cache_go.RedisCache(a, {"OPTIONS": {"DB": 0}}),
    "primary/replica": lambda a, b: redis_cache_go.RedisCache([a, b], {"OPTIONS": {"DB": 0}}),
    "ring": lambda a, b: redis_cache_go.ShardedRedisCache([a, b], {"OPTIONS": {"DB": 0}}),
    "copy": lambda a, b: redis_cache_go.RedisCopyCache([a, b], {"OPTIONS": {"DB": 0}}),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_incr_of_a_non_integer_raises_a_type_error_that_is_a_server_error(redis_server, second_server, layout):
    cache = LAYOUTS[layout](redis_server.location, second_server.location)
    try:
        cache.set("text", "not a number")
        cache.set("big", 2**70)  # out of Redis' 64-bit range: the same error reply
        calls = [lambda k: cache.incr(k), lambda k: cache.decr(k, 2),
                 lambda k: asyncio.run(cache.aincr(k)), lambda k: asyncio.run(cache.adecr(k))]
        for key in ("text", "big"):
            for call in calls:
                with pytest.raises(TypeError) as info:
                    call(key)
                assert isinstance(info.value, exceptions.ServerError)
                assert isinstance(info.value, exceptions.NotAnIntegerError)
                assert "ERR value is not an integer or out of range" in str(info.value)  # Redis' own words
        cache.set("n", 2**63 - 1)
        with pytest.raises(exceptions.ServerError) as info:  # an overflow is not a type error
            cache.incr("n")
        assert not isinstance(info.value, TypeError)
    finally:
        cache.clear()
        cache.disconnect()

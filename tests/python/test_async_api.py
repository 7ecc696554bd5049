"""The asynchronous (a-prefixed) Django cache API against a real redis-server.

Each test runs its coroutine with asyncio.run, so no async pytest plugin is needed. Stored bytes
and TTLs are checked with the harness' RESP client.
"""
from __future__ import annotations

import asyncio
import pickle

import pytest
from django.core.cache.backends.base import DEFAULT_TIMEOUT

from expiry import ttl_window


def run(coro):
    return asyncio.run(coro)


def pttl(raw, key: str) -> int:
    return raw.command("PTTL", key)


def exists(raw, key: str) -> bool:
    return raw.command("EXISTS", key) == 1


# --------------------------------------------------------------------------- aget / aset / aadd


def test_aset_then_aget_round_trips(cache, raw):
    async def scenario():
        await cache.aset("k", {"a": [1, 2]})
        return await cache.aget("k")

    assert run(scenario()) == {"a": [1, 2]}
    assert raw.command("GET", ":1:k") == pickle.dumps({"a": [1, 2]}, pickle.HIGHEST_PROTOCOL)


def test_aset_stores_plain_int_raw(cache, raw):
    run(cache.aset("n", 2**70))
    assert raw.command("GET", ":1:n") == str(2**70).encode()
    assert run(cache.aget("n")) == 2**70


def test_aget_missing_returns_default(cache):
    assert run(cache.aget("missing")) is None
    assert run(cache.aget("missing", "fallback")) == "fallback"


def test_aget_respects_version(cache):
    run(cache.aset("k", "v", version=4))
    assert run(cache.aget("k")) is None
    assert run(cache.aget("k", version=4)) == "v"


@pytest.mark.parametrize(
    ("timeout", "ms"),
    [(None, None), (10, 10_000), (0.5, 500), (DEFAULT_TIMEOUT, 300_000)],
    ids=["None", "10", "0.5", "DEFAULT_TIMEOUT"],
)
def test_aset_timeout_becomes_pttl(cache, raw, timeout, ms):
    window = ttl_window(ms)
    run(cache.aset("k", "v", timeout=timeout))
    window.check(pttl(raw, ":1:k"))


@pytest.mark.parametrize("timeout", [0, -1])
def test_aset_with_non_positive_timeout_deletes_existing_key(cache, raw, timeout):
    cache.set("k", "old", timeout=None)
    run(cache.aset("k", "new", timeout=timeout))
    assert not exists(raw, ":1:k")


def test_aadd_missing_key_returns_true(cache):
    assert run(cache.aadd("k", "v")) is True
    assert cache.get("k") == "v"


def test_aadd_existing_key_returns_false_and_keeps_value(cache):
    cache.set("k", "old")
    assert run(cache.aadd("k", "new")) is False
    assert cache.get("k") == "old"


def test_aadd_with_timeout_sets_pttl(cache, raw):
    window = ttl_window(800)
    run(cache.aadd("k", "v", timeout=0.8))
    window.check(pttl(raw, ":1:k"))


# --------------------------------------------------------------------------- atouch / adelete / ahas_key


def test_atouch_existing_key_sets_timeout(cache, raw):
    cache.set("k", "v", timeout=None)
    assert run(cache.atouch("k", 40)) is True
    assert 39_000 <= pttl(raw, ":1:k") <= 40_000


def test_atouch_with_none_makes_key_persistent(cache, raw):
    cache.set("k", "v", timeout=30)
    assert run(cache.atouch("k", None)) is True
    assert pttl(raw, ":1:k") == -1


def test_atouch_missing_key_returns_false(cache):
    assert run(cache.atouch("missing", 10)) is False


def test_adelete_returns_whether_the_key_existed(cache, raw):
    cache.set("k", 1)
    assert run(cache.adelete("k")) is True
    assert run(cache.adelete("k")) is False
    assert not exists(raw, ":1:k")


def test_ahas_key(cache):
    cache.set("k", None)
    assert run(cache.ahas_key("k")) is True
    assert run(cache.ahas_key("missing")) is False


# --------------------------------------------------------------------------- many


def test_aget_many_returns_present_keys(cache):
    cache.set_many({"a": 1, "b": "two"})
    assert run(cache.aget_many(["a", "b", "missing"])) == {"a": 1, "b": "two"}


def test_aget_many_maps_duplicates_and_skips_misses_as_get_many_does(cache):
    keys = [1, "1", "a", "missing", "a"] + [f"k{i}" for i in range(20)]
    cache.set_many({"1": "one", "a": 5, **{f"k{i}": [i] for i in range(20)}})
    got = run(cache.aget_many(keys))
    assert got == cache.get_many(keys) == {"1": "one", "a": 5, **{f"k{i}": [i] for i in range(20)}}
    assert list(got) == list(cache.get_many(keys))


def test_aget_many_of_no_keys_returns_empty_dict(cache):
    assert run(cache.aget_many([])) == {}


def test_aset_many_stores_all_and_returns_empty_list(cache, raw):
    assert run(cache.aset_many({"a": 1, "b": b"\x00"}, timeout=20)) == []
    assert raw.command("GET", ":1:a") == b"1"
    assert cache.get("b") == b"\x00"
    assert 19_000 <= pttl(raw, ":1:b") <= 20_000


def test_aset_many_of_nothing_returns_empty_list(cache):
    assert run(cache.aset_many({})) == []


def test_adelete_many_removes_listed_keys(cache):
    cache.set_many({"a": 1, "b": 2, "c": 3})
    run(cache.adelete_many(["a", "b", "missing"]))
    assert cache.get_many(["a", "b", "c"]) == {"c": 3}


def test_adelete_many_of_no_keys_is_a_no_op(cache):
    cache.set("a", 1)
    run(cache.adelete_many([]))
    assert cache.get("a") == 1


# --------------------------------------------------------------------------- aget_or_set


def test_aget_or_set_calls_the_callable_once_on_a_miss(cache, raw):
    calls = []

    def compute():
        calls.append(1)
        return "computed"

    assert run(cache.aget_or_set("k", compute, timeout=30)) == "computed"
    assert calls == [1]
    assert cache.get("k") == "computed"
    assert 29_000 <= pttl(raw, "__fresh__:1:k") <= 30_000  # the value itself stays 60 s longer (stale window)


@pytest.mark.parametrize("write", ["get_or_set", "set"])
def test_aget_or_set_returns_the_cached_value_on_a_hit(cache, write):
    getattr(cache, write)("k", "cached")  # a fresh value, or one get_or_set did not write
    assert run(cache.aget_or_set("k", lambda: pytest.fail("callable ran on a hit"))) == "cached"


# --------------------------------------------------------------------------- counters and versions


def test_aincr_and_adecr(cache, raw):
    cache.set("n", 10, timeout=100)
    assert run(cache.aincr("n", 5)) == 15
    assert run(cache.adecr("n", 3)) == 12
    assert raw.command("GET", ":1:n") == b"12"
    assert 90_000 <= pttl(raw, ":1:n") <= 100_000


@pytest.mark.parametrize("method", ["aincr", "adecr"])
def test_aincr_adecr_on_missing_key_raise_value_error(cache, method):
    with pytest.raises(ValueError):
        run(getattr(cache, method)("missing"))


@pytest.mark.parametrize("method", ["aincr", "adecr"])
def test_aincr_on_non_integer_raises_a_type_error_that_is_a_server_error(cache, errors, method):
    cache.set("s", "text")
    with pytest.raises(TypeError) as info:
        run(getattr(cache, method)("s"))
    assert isinstance(info.value, errors.NotAnIntegerError) and isinstance(info.value, errors.ServerError)
    assert "value is not an integer" in str(info.value)


def test_aincr_version_moves_value_and_keeps_ttl(cache, raw):
    cache.set("k", "v", timeout=100)
    assert run(cache.aincr_version("k")) == 2
    assert cache.get("k", version=2) == "v"
    assert not exists(raw, ":1:k")
    assert 90_000 <= pttl(raw, ":2:k") <= 100_000


def test_adecr_version_moves_value_down(cache):
    cache.set("k", "v", version=3)
    assert run(cache.adecr_version("k", version=3)) == 2
    assert cache.get("k", version=2) == "v"


@pytest.mark.parametrize("method", ["aincr_version", "adecr_version"])
def test_async_version_change_of_missing_key_raises_value_error(cache, method):
    with pytest.raises(ValueError):
        run(getattr(cache, method)("missing"))


def test_concurrent_aincr_is_atomic(cache):
    cache.set("n", 0)

    async def scenario():
        return await asyncio.gather(*(cache.aincr("n") for _ in range(200)))

    results = run(scenario())
    assert sorted(results) == list(range(1, 201))
    assert cache.get("n") == 200


def test_concurrent_aget_returns_every_value(cache):
    cache.set_many({f"k{i}": i for i in range(100)})

    async def scenario():
        return await asyncio.gather(*(cache.aget(f"k{i}") for i in range(100)))

    assert run(scenario()) == list(range(100))


# --------------------------------------------------------------------------- errors, aclear, aclose


def test_aget_of_undecodable_payload_raises_decode_error(cache, raw, errors):
    raw.command("SET", ":1:broken", b"\x80\x05junk")
    with pytest.raises(errors.DecodeError, match="broken"):
        run(cache.aget("broken"))


def test_aclear_without_prefix_empties_the_db(cache, raw):
    cache.set_many({"a": 1, "b": 2})
    raw.command("SET", "plain", b"x")
    run(cache.aclear())
    assert raw.command("DBSIZE") == 0


def test_aclear_with_prefix_keeps_other_prefixes(make_cache, raw):
    mine = make_cache(KEY_PREFIX="mine")
    other = make_cache(KEY_PREFIX="other")
    mine.set_many({"a": 1, "b": 2})
    other.set("a", "kept")
    run(mine.aclear())
    assert mine.get_many(["a", "b"]) == {}
    assert other.get("a") == "kept"
    assert raw.command("KEYS", "*") == [b"other:1:a"]


def test_aclose_leaves_the_cache_usable(cache):
    cache.set("k", 1)
    run(cache.aclose())
    assert run(cache.aget("k")) == 1
    assert cache.get("k") == 1


def test_async_calls_run_natively_on_the_loop(cache):
    """The a* calls are submitted to Go from the loop (a ticket pending on this loop), not run in
    a worker thread; in the cluster and sentinel runs too."""
    from redis_cache_go import _native_async

    cache.set("k", "v")

    async def scenario():
        tasks = [asyncio.ensure_future(cache.aget("k")) for _ in range(10)]
        await asyncio.sleep(0)  # one step: each task submits and awaits its completion
        submitted = _native_async.pending()
        return submitted, await asyncio.gather(*tasks), _native_async.pending()

    submitted, values, left = run(scenario())
    assert values == ["v"] * 10
    assert submitted == 10  # every task submitted to Go in its first step; none waits on a thread
    assert left == 0

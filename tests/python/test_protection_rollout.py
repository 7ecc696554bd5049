"""OPTIONS['VALUE_PROTECTION'] (issue 17): the rest of the cache keeps working, and the way in.

Plain ints stay raw (INCR works on them); set_many/get_many, add, get_or_set, incr_version (the
value is sealed again for its new key name), touch/ttl and delete_pattern work on protected values;
a ring of three servers; the near-cache never serves a value it rejected; ACCEPT_UNPROTECTED and
reinsert_keys() convert an existing cache, and reinsert_keys() seals values of an older secret
again with the current one. Against real redis-servers started by the harness.
"""
from __future__ import annotations

import asyncio
import pickle
import uuid
from typing import Any

import pytest

from redis_cache_go import RedisCache, ShardedRedisCache
from test_protection import HEADER, MAGIC, MISS, MODES, SECRET, Hostile, cli_set, rejected


@pytest.fixture
def prefix() -> str:
    return "r" + uuid.uuid4().hex[:10]


@pytest.fixture
def protected(make_cache, prefix):
    def make(mode: str, key: Any = SECRET, **options: Any) -> RedisCache:
        return make_cache(options={"DB": 0, "VALUE_PROTECTION": mode, "PROTECTION_KEY": key, **options}, KEY_PREFIX=prefix)

    return make


def stored(raw: Any, cache: RedisCache, key: str, version: int | None = None) -> bytes:
    return raw.command("GET", cache.make_key(key, version=version))


# --------------------------------------------------------------------------- the cache API


@pytest.mark.parametrize("mode", MODES)
def test_ints_stay_raw_for_incr_and_big_ints_are_sealed(protected, redis_server, mode) -> None:
    cache = protected(mode)
    cache.set_many({"n": 5, "neg": -7})
    assert stored(redis_server, cache, "n") == b"5" and stored(redis_server, cache, "neg") == b"-7"
    assert cache.incr("n") == 6 and cache.decr("n", 3) == 3 and cache.get("n") == 3
    assert cache.incr("neg", 10) == 3 and asyncio.run(cache.aincr("neg")) == 4
    cli_set(redis_server, cache.make_key("counter"), b"41")  # an int written by another client
    assert cache.get("counter") == 41 and cache.incr("counter") == 42
    for key, value in (("big", 2**64 + 1), ("small", -(2**64)), ("flag", True)):
        cache.set(key, value)
        assert stored(redis_server, cache, key).startswith(MAGIC + mode[:1].encode()), key
        assert cache.get(key) == value and type(cache.get(key)) is type(value)
    assert cache.get_many(["n", "big", "flag"]) == {"n": 3, "big": 2**64 + 1, "flag": True}


@pytest.mark.parametrize("mode", MODES)
def test_the_cache_api_on_protected_values(protected, redis_server, mode) -> None:
    cache = protected(mode)
    values = {"a": 1.5, "b": ["x"], "c": {"d": None}}
    assert cache.set_many(values) == []
    assert all(stored(redis_server, cache, k).startswith(MAGIC) for k in values)
    assert cache.get_many([*values, "absent"]) == values
    assert asyncio.run(cache.aget_many(list(values))) == values
    assert cache.add("a", "other") is False and cache.get("a") == 1.5
    assert cache.add("new", "added") is True and cache.get("new") == "added"
    calls: list[int] = []
    assert cache.get_or_set("gos", lambda: calls.append(1) or "computed") == "computed"
    assert cache.get_or_set("gos", lambda: calls.append(1) or "again") == "computed" and calls == [1]
    assert stored(redis_server, cache, "gos").startswith(MAGIC)
    cache.set("t", "v", timeout=100)
    assert cache.touch("t", 500) and 499 <= cache.ttl("t") <= 500 and cache.get("t") == "v"
    assert cache.touch("t", None) and cache.ttl("t") is None and cache.get("t") == "v"
    assert cache.has_key("a") and cache.delete("a") and not cache.has_key("a")
    cache.set_many({"dp:1": 1, "dp:2": "two", "keep": "k"})
    assert cache.delete_pattern("dp:*") == 2
    assert cache.get_many(["dp:1", "dp:2", "keep"]) == {"keep": "k"}


@pytest.mark.parametrize("mode", MODES)
def test_incr_version_seals_the_value_again_for_its_new_key(protected, redis_server, mode) -> None:
    cache = protected(mode)
    cache.set("v", {"x": 1}, timeout=100)
    before = stored(redis_server, cache, "v", version=1)
    assert cache.incr_version("v") == 2
    after = stored(redis_server, cache, "v", version=2)
    assert redis_server.command("EXISTS", cache.make_key("v", version=1)) == 0
    assert after.startswith(MAGIC) and after[HEADER:] != before[HEADER:]  # bound to the new name
    assert cache.get("v", MISS) is MISS and cache.get("v", version=2) == {"x": 1}
    assert 98_000 <= redis_server.command("PTTL", cache.make_key("v", version=2)) <= 100_000
    assert asyncio.run(cache.aincr_version("v", version=2)) == 3 and cache.get("v", version=3) == {"x": 1}
    assert cache.decr_version("v", delta=2, version=3) == 1 and cache.get("v") == {"x": 1}


@pytest.mark.parametrize("mode", MODES)
def test_a_ring_of_three_servers(three, tmp_path, prefix, mode) -> None:
    cache = ShardedRedisCache([s.location for s in three], {
        "KEY_PREFIX": prefix, "OPTIONS": {"DB": 0, "VALUE_PROTECTION": mode, "PROTECTION_KEY": SECRET}})
    try:
        data = {f"k{i}": {"i": i} for i in range(30)}
        cache.set_many(data)
        assert cache.get_many(list(data)) == data
        held = [server.command("KEYS", "*") for server in three]
        assert all(held) and sum(map(len, held)) == len(data), held  # spread over the three
        for server, keys in zip(three, held):
            assert all(server.command("GET", k).startswith(MAGIC + mode[:1].encode()) for k in keys)
        victim = held[1][0].decode()
        path = tmp_path / "created"
        before = [s["rejected"] for s in cache.stats()]
        cli_set(three[1], victim, pickle.dumps(Hostile(str(path))))
        name = victim.split(":", 2)[2]
        assert cache.get(name, MISS) is MISS and name not in cache.get_many(list(data))
        assert not path.exists()
        assert [s["rejected"] - b for s, b in zip(cache.stats(), before)] == [0, 2, 0]
    finally:
        cache.disconnect()


# --------------------------------------------------------------------------- the near-cache


def test_the_near_cache_never_serves_a_rejected_value(protected, redis_server, wait_until, tmp_path) -> None:
    cache = protected("sign", LOCAL_CACHE={})
    cache.set("page", "legit")

    def served_from_memory() -> bool:
        cache.get("page")
        hits = cache.local_cache_stats()["hits"]
        return cache.get("page") == "legit" and cache.local_cache_stats()["hits"] > hits

    wait_until(served_from_memory, message="'page' held by the near-cache")
    path = tmp_path / "created"
    cli_set(redis_server, cache.make_key("page"), pickle.dumps(Hostile(str(path))))
    # redis-cli's write invalidates the near-cache's copy; from then on every read is a miss
    wait_until(lambda: cache.get("page", MISS) is MISS, message="the invalidation of redis-cli's write")
    hits = cache.local_cache_stats()["hits"]
    assert [cache.get("page", MISS) is MISS for _ in range(3)] == [True] * 3
    assert asyncio.run(cache.aget("page", MISS)) is MISS and cache.get_many(["page"]) == {}
    assert cache.local_cache_stats()["hits"] == hits  # never filled with the rejected value
    assert not path.exists()
    # a value written before the first read never reaches memory either
    cli_set(redis_server, cache.make_key("cold"), pickle.dumps(Hostile(str(path))))
    before = rejected(cache)
    assert cache.get("cold", MISS) is MISS and cache.get("cold", MISS) is MISS
    assert rejected(cache) == before + 2 and not path.exists()


# --------------------------------------------------------------------------- rollout


@pytest.mark.parametrize("mode", MODES)
def test_accept_unprotected_then_reinsert_protects_an_existing_cache(make_cache, redis_server, prefix, mode) -> None:
    plain = make_cache(options={"DB": 0}, KEY_PREFIX=prefix)
    values = {"s1": {"user": 1}, "s2": "text", "n": 7, "forever": [1, 2]}
    plain.set_many({k: v for k, v in values.items() if k != "forever"}, timeout=100)
    plain.set("forever", values["forever"], timeout=None)
    options = {"DB": 0, "VALUE_PROTECTION": mode, "PROTECTION_KEY": SECRET}
    strict = make_cache(options=options, KEY_PREFIX=prefix)
    assert strict.get_many(list(values)) == {"n": 7}  # only the raw int passes
    assert strict.reinsert_keys() == 0  # without ACCEPT_UNPROTECTED, unprotected values are left alone
    assert stored(redis_server, plain, "s1")[:1] == b"\x80"
    rollout = make_cache(options={**options, "ACCEPT_UNPROTECTED": True}, KEY_PREFIX=prefix)
    assert rollout.get_many(list(values)) == values
    ttls = {k: redis_server.command("PTTL", plain.make_key(k)) for k in values}
    assert rollout.reinsert_keys() == 3
    for key in ("s1", "s2", "forever"):
        assert stored(redis_server, plain, key).startswith(MAGIC + mode[:1].encode()), key
    assert stored(redis_server, plain, "n") == b"7"
    for key in ("s1", "s2"):
        assert abs(redis_server.command("PTTL", plain.make_key(key)) - ttls[key]) <= 1000, key
    assert redis_server.command("PTTL", plain.make_key("forever")) == -1
    assert strict.get_many(list(values)) == values
    after = {k: stored(redis_server, plain, k) for k in values}
    assert rollout.reinsert_keys() == 0
    assert {k: stored(redis_server, plain, k) for k in values} == after


@pytest.mark.parametrize("mode", MODES)
def test_reinsert_seals_values_of_an_older_secret_with_the_current_one(protected, redis_server, mode) -> None:
    old = protected(mode, key="reinsert-old-secret")
    old.set("a", {"v": 1}, timeout=100)
    old.set("b", "two", timeout=None)
    old.set("n", 3)
    before = {k: stored(redis_server, old, k) for k in "ab"}
    rotated = protected(mode, key=["reinsert-new-secret", "reinsert-old-secret"])
    assert rotated.reinsert_keys() == 2
    after = {k: stored(redis_server, old, k) for k in "ab"}
    for key in "ab":
        assert after[key][:5] == before[key][:5] and after[key][5:9] != before[key][5:9], key
    assert after["a"][5:9] == after["b"][5:9]  # both under the current secret's key id
    assert protected(mode, key="reinsert-new-secret").get_many(["a", "b", "n"]) == {"a": {"v": 1}, "b": "two", "n": 3}
    assert old.get("a", MISS) is MISS
    assert 98_000 <= redis_server.command("PTTL", old.make_key("a")) <= 100_000
    assert redis_server.command("PTTL", old.make_key("b")) == -1
    assert rotated.reinsert_keys() == 0
    assert {k: stored(redis_server, old, k) for k in "ab"} == after  # current values are not sealed again


@pytest.mark.parametrize("mode", MODES)
def test_reinsert_leaves_a_value_that_does_not_verify_as_it_is(protected, redis_server, tmp_path, mode) -> None:
    cache = protected(mode)
    cache.set("good", "fine")
    cache.set("bad", "x")
    forged = stored(redis_server, cache, "bad")
    forged = forged[:-1] + bytes([forged[-1] ^ 0x01])
    cli_set(redis_server, cache.make_key("bad"), forged)
    assert cache.reinsert_keys() == 0
    assert stored(redis_server, cache, "bad") == forged and cache.get("good") == "fine"


@pytest.mark.parametrize("mode", MODES)
def test_accept_unprotected_still_rejects_a_protected_value_that_does_not_verify(make_cache, redis_server, prefix, tmp_path, mode) -> None:
    options = {"DB": 0, "VALUE_PROTECTION": mode, "PROTECTION_KEY": SECRET, "ACCEPT_UNPROTECTED": True}
    cache = make_cache(options=options, KEY_PREFIX=prefix)
    path = tmp_path / "created"
    cache.set("source", Hostile(str(path)))
    cli_set(redis_server, cache.make_key("copy"), stored(redis_server, cache, "source"))
    before = rejected(cache)
    assert cache.get("copy", MISS) is MISS and cache.get_many(["copy"]) == {}
    assert rejected(cache) == before + 2 and not path.exists()

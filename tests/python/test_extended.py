"""The extended API against real redis-servers: TTL control, patterns,
clear(version), reinsert_keys, locks, and RedisDummyCache. Keys and patterns are in Django's key
space: KEY_PREFIX and VERSION apply."""
from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

import redis_cache_go
from expiry import ttl_window
from redis_cache_go.exceptions import LockError, LockNotOwnedError
from redisproc import RedisServer


@pytest.fixture(params=["no prefix", "prefix"])
def pcache(request, make_cache):
    """The backend with and without a KEY_PREFIX (made keys ':1:k' or 'pre:1:k')."""
    if request.param == "prefix":
        return make_cache(KEY_PREFIX="pre")
    return make_cache()


def made(cache, key, version=None):
    return cache.make_key(key, version=version)


# --------------------------------------------------------------------------- ttl / pttl


def test_ttl_and_pttl_missing_no_expiry_and_expiring(pcache, raw):
    assert pcache.ttl("missing") == 0 and pcache.pttl("missing") == 0
    pcache.set("forever", 1, timeout=None)
    assert pcache.ttl("forever") is None and pcache.pttl("forever") is None
    pcache.set("soon", 1, timeout=100)
    assert pcache.ttl("soon") == 100
    assert 99_000 < pcache.pttl("soon") <= 100_000
    assert raw.command("PTTL", made(pcache, "soon")) > 99_000


def test_ttl_uses_the_version(pcache):
    pcache.set("k", 1, timeout=50, version=2)
    assert pcache.ttl("k") == 0
    assert pcache.ttl("k", version=2) == 50


# --------------------------------------------------------------------------- expire family


def test_expire_and_pexpire(pcache, raw):
    assert pcache.expire("missing", 10) is False and pcache.pexpire("missing", 10) is False
    pcache.set("k", 1, timeout=None)
    assert pcache.expire("k", 10) is True and pcache.ttl("k") == 10
    window = ttl_window(2500)
    assert pcache.pexpire("k", 2500) is True
    window.check(pcache.pttl("k"))
    assert pcache.expire("k", 0) is True  # <= 0 deletes, as Redis does
    assert raw.command("EXISTS", made(pcache, "k")) == 0


def test_expire_at_with_datetime_and_timestamp(pcache):
    assert pcache.expire_at("missing", time.time() + 10) is False
    pcache.set("k", 1, timeout=None)
    assert pcache.expire_at("k", datetime.now(timezone.utc) + timedelta(seconds=30)) is True
    assert 29 <= pcache.ttl("k") <= 30
    assert pcache.expire_at("k", time.time() + 60) is True and 59 <= pcache.ttl("k") <= 60
    assert pcache.pexpire_at("k", int(time.time() * 1000) + 5000) is True and 4000 < pcache.pttl("k") <= 5000
    assert pcache.expire_at("k", time.time() - 1) is True  # in the past: deleted
    assert pcache.get("k") is None


def test_persist_and_touch(pcache):
    assert pcache.persist("missing") is False
    pcache.set("k", 1, timeout=10)
    assert pcache.persist("k") is True and pcache.ttl("k") is None
    assert pcache.persist("k") is True  # already without expiry: still True (it exists)
    assert pcache.touch("k", 20) is True and pcache.ttl("k") == 20
    assert pcache.touch("missing", 20) is False
    pcache.set("v", 1, timeout=10, version=3)
    assert pcache.persist("v") is False and pcache.persist("v", version=3) is True


def test_incr_and_decr_are_atomic_and_keep_the_ttl(pcache):
    pcache.set("n", 0, timeout=100)
    threads = [threading.Thread(target=lambda: [pcache.incr("n") for _ in range(200)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pcache.get("n") == 800
    assert pcache.decr("n", 300) == 500
    assert 99 <= pcache.ttl("n") <= 100
    pcache.set("forever", 1, timeout=None)
    pcache.incr("forever")
    assert pcache.ttl("forever") is None


# --------------------------------------------------------------------------- patterns


def test_keys_iter_keys_and_delete_pattern_in_the_django_key_space(pcache, raw):
    pcache.set_many({"user:1": 1, "user:2": 2, "group:1": 3})
    pcache.set("user:3", 4, version=2)
    raw.command("SET", "user:9", "foreign")  # not this cache's key space
    assert sorted(pcache.keys("user:*")) == ["user:1", "user:2"]
    assert sorted(pcache.iter_keys("user:*", itersize=1)) == ["user:1", "user:2"]
    assert pcache.keys("user:*", version=2) == ["user:3"]
    assert pcache.keys("nothing*") == []
    assert pcache.delete_pattern("user:*", itersize=1) == 2
    assert pcache.keys("*") == ["group:1"] and pcache.get("user:3", version=2) == 4
    assert raw.command("GET", "user:9") == b"foreign"
    assert pcache.delete_pattern("none:*") == 0


def test_glob_characters_of_prefix_and_version_match_literally(make_cache, raw):
    cache = make_cache(KEY_PREFIX="a[1]*")
    cache.set("k", 1)
    raw.command("SET", "a1x:1:k", "not ours")
    assert cache.keys("*") == ["k"]
    assert cache.delete_pattern("*") == 1 and raw.command("GET", "a1x:1:k") == b"not ours"


def test_clear_with_a_version_deletes_only_that_version(pcache, raw):
    pcache.set("a", 1)
    pcache.set("a", 2, version=2)
    pcache.set("b", 3, version=2)
    assert pcache.clear(version=2) is True
    assert pcache.get("a") == 1 and pcache.get("a", version=2) is None and pcache.get("b", version=2) is None


def _calls(server: RedisServer, command: str) -> int:
    info = server.command("INFO", "commandstats").decode()
    m = re.search(rf"^cmdstat_{command}:calls=(\d+)", info, re.MULTILINE)
    return int(m.group(1)) if m else 0


def _unlink_sizes(server: RedisServer) -> list[int]:
    """How many keys each logged UNLINK named. SLOWLOG keeps 31 arguments of a long command and
    replaces the rest with "... (N more arguments)"."""
    sizes = []
    for entry in server.command("SLOWLOG", "GET", "-1"):
        args = entry[3]
        if args[0].upper() != b"UNLINK":
            continue
        more = re.match(rb"\.\.\. \((\d+) more arguments\)", args[-1])
        sizes.append(len(args) - 2 + int(more.group(1)) if more else len(args) - 1)
    return sizes


@pytest.mark.timeout(120)
def test_delete_pattern_over_200k_keys_on_three_shards_in_batches(three):
    cache = redis_cache_go.ShardedRedisCache([s.location for s in three], {"OPTIONS": {"DB": 0}, "KEY_PREFIX": "big"})
    try:
        began = time.monotonic()
        for start in range(0, 200_000, 20_000):  # one set_many = one pipeline per shard
            cache.set_many({f"{'del' if i % 2 else 'keep'}:{i}": i for i in range(start, start + 20_000)}, timeout=600)
        filled = time.monotonic() - began
        before = [s.command("DBSIZE") for s in three]
        for s in three:
            s.command("CONFIG", "RESETSTAT")
            s.command("CONFIG", "SET", "slowlog-log-slower-than", "0")  # log every command, with its arguments
            s.command("CONFIG", "SET", "slowlog-max-len", "100000")
            s.command("SLOWLOG", "RESET")
        began = time.monotonic()
        assert cache.delete_pattern("del:*", itersize=1000) == 100_000
        deleted = time.monotonic() - began
        per_call = [n for s in three for n in _unlink_sizes(s)]
        assert sum(per_call) == 100_000 and max(per_call) <= 1000, (len(per_call), max(per_call))
        sizes = [s.command("DBSIZE") for s in three]
        assert sum(sizes) == 100_000 and all(n > 10_000 for n in sizes)  # every shard held keys
        assert cache.keys("del:*") == []
        assert len(cache.keys("keep:*")) == 100_000
        unlinks = [_calls(s, "unlink") for s in three]
        # batches of at most 1000 keys: each shard needs at least ceil(its deleted keys / 1000)
        # UNLINK calls (the ring's share per shard depends on the servers' random ports)
        deleted_per_shard = [b - a for b, a in zip(before, sizes)]
        assert sum(unlinks) >= 100 and all(n >= -(-d // 1000) for n, d in zip(unlinks, deleted_per_shard)), (
            unlinks, deleted_per_shard)
        assert all(_calls(s, "keys") == 0 for s in three)  # never KEYS
        print(f"\nfill 200k: {filled:.2f}s, delete_pattern 100k: {deleted:.2f}s, UNLINK calls per shard {unlinks}, "
              f"keys per UNLINK max {max(per_call)} median {sorted(per_call)[len(per_call) // 2]}")
    finally:
        cache.disconnect()


# --------------------------------------------------------------------------- reinsert_keys


def test_reinsert_keys_after_switching_to_zstd_keeps_values_and_ttls(make_cache, raw):
    plain = make_cache(KEY_PREFIX="site")
    values = {f"k{i}": {"n": i, "text": "x" * 300} for i in range(3000)}
    plain.set_many(values, timeout=500)
    plain.set("forever", "y" * 400, timeout=None)
    plain.set("old", "z" * 400, version=0, timeout=300)
    raw.command("SET", "foreign", "x" * 400)
    raw.command("HSET", "site:1:hash", "f", "v")  # not a string: left alone, no error
    # each key's expiry as an instant on the wall clock (Redis' own clock for expiries: when the VM is
    # paused, the wall clock is stepped over the pause and the monotonic clock is not), bracketed by the
    # reads around it
    before = {k: _expiry(raw, k) for k in raw.command("KEYS", "site:*") if k != b"site:1:hash"}
    assert raw.command("GET", "site:1:k1")[:1] == b"\x80"  # a plain pickle
    zstd = make_cache(options={"DB": 0, "COMPRESSOR": "zstd", "COMPRESS_MIN_LEN": 0}, KEY_PREFIX="site")
    began = time.time() * 1000
    assert zstd.reinsert_keys() == 3002
    took = time.time() * 1000 - began
    assert raw.command("GET", "site:1:k1")[:4] == b"\x28\xb5\x2f\xfd"  # zstd magic
    assert zstd.get_many(list(values)) == values and plain.get_many(list(values)) == values
    assert zstd.get("forever") == "y" * 400 and zstd.ttl("forever") is None
    assert zstd.get("old", version=0) == "z" * 400
    # A value moved with its remaining TTL expires no earlier (1 ms of rounding aside) and later by
    # at most the time the move took: no allowance for how busy the machine was.
    for key, (first, last) in before.items():
        after_first, after_last = _expiry(raw, key)
        if first is None:
            assert after_first is None, (key, "gained an expiry")
        else:
            assert after_last >= first - 2 and after_first <= last + took + 2, (key, first, last, after_first, after_last, took)
    assert raw.command("GET", "foreign") == b"x" * 400  # another prefix is left alone
    assert raw.command("HGET", "site:1:hash", "f") == b"v"
    assert zstd.reinsert_keys() == 0  # already in the current form


def _expiry(raw, key) -> tuple[float | None, float | None]:
    """The earliest and latest instant (ms, wall clock, as Redis counts expiries) key can expire at,
    from one PTTL read bracketed by the clock; (None, None) without an expiry."""
    started = time.time() * 1000
    pttl = raw.command("PTTL", key)
    ended = time.time() * 1000
    if pttl == -1:
        return None, None
    return started + pttl, ended + pttl + 1


class XorCompressor:
    """A custom Python compressor (django-redis' interface) that marks what it wrote."""

    def __init__(self, options):
        pass

    def compress(self, value: bytes) -> bytes:
        return b"XOR!" + bytes(b ^ 0x5A for b in value)

    def decompress(self, value: bytes) -> bytes:
        if not value.startswith(b"XOR!"):
            raise ValueError("not mine")
        return bytes(b ^ 0x5A for b in value[4:])


def test_reinsert_keys_with_a_python_compressor_class(make_cache, raw):
    make_cache(KEY_PREFIX="s").set_many({"a": "x" * 100, "n": 7}, timeout=200)
    make_cache(KEY_PREFIX="s").set("f", "y" * 100, timeout=None)
    xor = make_cache(options={"DB": 0, "COMPRESSOR": f"{__name__}.XorCompressor"}, KEY_PREFIX="s")
    assert xor.reinsert_keys() == 2  # the raw int stays a raw int
    assert raw.command("GET", "s:1:a").startswith(b"XOR!") and raw.command("GET", "s:1:n") == b"7"
    assert xor.get("a") == "x" * 100 and xor.get("f") == "y" * 100 and xor.incr("n") == 8
    assert 199 <= xor.ttl("a") <= 200 and xor.ttl("f") is None


# --------------------------------------------------------------------------- locks


def test_lock_context_manager_token_and_release(cache, raw):
    with cache.lock("job", timeout=5) as lock:
        token = raw.command("GET", "job")
        assert len(token) == 32 and lock.token == token
        assert 4000 < raw.command("PTTL", "job") <= 5000
        assert lock.locked() and lock.owned()
        assert cache.lock("job").acquire(blocking=False) is False
    assert raw.command("EXISTS", "job") == 0 and not lock.locked()


def test_lock_release_never_deletes_someone_elses_lock(cache, raw):
    lock = cache.lock("job", timeout=5)
    assert lock.acquire()
    raw.command("SET", "job", "someone-else")  # ours expired and another owner took it
    with pytest.raises(LockNotOwnedError):
        lock.release()
    assert raw.command("GET", "job") == b"someone-else"
    with pytest.raises(LockError):
        cache.lock("free").release()


def test_lock_extend_and_no_timeout(cache, raw):
    lock = cache.lock("job", timeout=2)
    assert lock.acquire()
    assert lock.extend(10) and 11_000 < raw.command("PTTL", "job") <= 12_000
    assert lock.extend(3, replace_ttl=True) and 2000 < raw.command("PTTL", "job") <= 3000
    lock.release()
    forever = cache.lock("forever")
    assert forever.acquire() and raw.command("PTTL", "forever") == -1
    with pytest.raises(LockError):
        forever.extend(1)
    assert forever.owned() and raw.command("PTTL", "forever") == -1
    forever.release()


def test_blocking_lock_waits_for_the_holder_and_blocking_timeout_bounds_it(cache, raw, wait_until):
    holder = cache.lock("job", timeout=10)
    assert holder.acquire()
    began, tried = time.monotonic(), _set_calls(raw)
    assert cache.lock("job", sleep=0.01, blocking_timeout=0.2).acquire() is False
    # blocking_timeout is a duration: the wait cannot end sooner; it tried at least once, and at
    # most once per sleep within it (fewer on a loaded machine, never more)
    assert time.monotonic() - began > 0.15
    assert 1 <= _set_calls(raw) - tried <= 0.2 / 0.01 + 1
    with pytest.raises(LockError):
        with cache.lock("job", blocking_timeout=0.05):
            pass
    got = []
    tried = _set_calls(raw)
    waiter = threading.Thread(target=lambda: got.append(cache.lock("job", sleep=0.01).acquire()))
    waiter.start()
    wait_until(lambda: _set_calls(raw) > tried, message="the waiter tried the held lock")
    holder.release()
    waiter.join(30)
    assert got == [True]


def _set_calls(raw) -> int:
    """SET commands the server has run (a lock attempt is a SET NX)."""
    m = re.search(rb"^cmdstat_set:calls=(\d+)", raw.command("INFO", "commandstats"), re.M)
    return int(m.group(1)) if m else 0


def test_lock_lives_on_the_keys_shard(three):
    cache = redis_cache_go.ShardedRedisCache([s.location for s in three], {"OPTIONS": {"DB": 0}})
    try:
        for name in ("a", "b", "c", "d", "e", "f"):
            with cache.lock(name, timeout=5):
                holder = cache.server_index(name)
                assert [s.command("EXISTS", name) for s in three] == [int(i == holder) for i in range(3)]
    finally:
        cache.disconnect()


# --------------------------------------------------------------------------- every layout


@pytest.mark.parametrize("backend", ["ShardedRedisCache", "RedisCopyCache", "RedisCache"])
def test_extended_api_on_three_servers(three, backend, wait_until):
    locations = [s.location for s in three]
    cache = getattr(redis_cache_go, backend)(locations, {"OPTIONS": {"DB": 0}, "KEY_PREFIX": "x"})
    try:
        cache.set_many({f"k{i}": i for i in range(60)}, timeout=100)
        cache.set("p", 1, timeout=None)
        if backend == "RedisCache":  # primary/replica without replication here: reads of the primary only
            assert cache.expire("k1", 50) and cache.persist("p")
        else:
            assert cache.ttl("k1") == 100 and cache.ttl("p") is None and cache.ttl("none") == 0
            assert cache.expire("k1", 50) and cache.ttl("k1") == 50
            assert cache.persist("k1") and cache.ttl("k1") is None
        assert len(cache.keys("k*")) == 60
        assert cache.get_or_set("g", lambda: "computed", 30) == "computed"
        assert cache.get_or_set("g", lambda: pytest.fail("recomputed"), 30) == "computed"
        assert cache.delete_pattern("k1*") == 11
        assert len(cache.keys("k*")) == 49
        with cache.lock("L", timeout=5) as lock:
            assert lock.locked()
        assert cache.reinsert_keys() == 0
        cache.clear()
        assert cache.keys("*") == []
    finally:
        cache.disconnect()


# --------------------------------------------------------------------------- RedisDummyCache


def test_dummy_cache_has_the_extended_api_as_no_ops():
    cache = redis_cache_go.RedisDummyCache("", {})
    assert cache.get_or_set("k", lambda: 5, 30, lock_timeout=1, stale_cache_timeout=1) == 5
    assert cache.get("k") is None
    assert cache.ttl("k") == 0 and cache.pttl("k") == 0
    assert cache.expire("k", 1) is False and cache.pexpire("k", 1) is False and cache.persist("k") is False
    assert cache.expire_at("k", time.time()) is False
    assert cache.delete_pattern("*") == 0 and cache.keys("*") == [] and list(cache.iter_keys("*")) == []
    assert cache.reinsert_keys() == 0 and cache.clear(version=2) is None
    with cache.lock("x", timeout=1) as lock:
        assert lock.owned() and not lock.locked() and lock.extend(1)


def custom_key(key, key_prefix, version):
    return f"{key_prefix}|{version}|{key}"


def test_patterns_with_a_custom_key_function_yield_the_made_keys(make_cache, raw):
    cache = make_cache(KEY_PREFIX="c", KEY_FUNCTION=f"{__name__}.custom_key")
    cache.set("a1", 1)
    cache.set("a2", 2, version=2)
    assert cache.keys("a*") == ["c|1|a1"]  # a custom KEY_FUNCTION cannot be reversed
    assert cache.delete_pattern("a*", version=2) == 1 and cache.get("a1") == 1

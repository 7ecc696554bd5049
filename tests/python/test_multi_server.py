"""Several servers through the backends: ring placement, one batch per server, copy mode,
primary/replica with a real replica, and raw commands routed by key.

Every server is a real redis-server started here. The ring tests run on 127.0.0.1:6381-6383 DB 15,
the servers of ring_seed.json case "a", so keys must land exactly where django-redis-cache put them;
a file lock keeps concurrent test runs on this machine from fighting over those ports.
"""
from __future__ import annotations

import fcntl
import json
import pathlib
import re

import pytest
from django.core.exceptions import ImproperlyConfigured

import redis_cache_go
from redis_cache_go import exceptions
from redisproc import RedisServer

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
SEED = json.loads((FIXTURES / "ring_seed.json").read_text())
KIDO = json.loads((FIXTURES / "ring_kidoredis.json").read_text())
SEED_CASES = {c["id"]: c for c in SEED["cases"]}


def _params(case: dict) -> dict:
    return {k: v for k, v in case["settings"].items() if k not in ("BACKEND", "LOCATION")}


# --------------------------------------------------------------------------- bar 1: placement, no servers


@pytest.mark.parametrize("case", SEED["cases"], ids=[c["id"] for c in SEED["cases"]])
def test_sharded_backend_places_every_fixture_key_like_the_seed(case):
    cache = redis_cache_go.ShardedRedisCache(case["settings"]["LOCATION"], _params(case))
    try:
        assert [repr(s.identifier) for s in cache._settings.servers] == [s["identifier_repr"] for s in case["servers"]]
        got = [cache.server_index(k) for k in SEED["keys"]]
        wrong = [(k, g, w) for k, g, w in zip(SEED["keys"], got, case["expected_index"]) if g != w]
        assert not wrong, f"{len(wrong)} of 2000 keys misplaced, e.g. {wrong[:3]}"
    finally:
        cache.disconnect()


@pytest.mark.parametrize("case", KIDO["cases"], ids=[c["name"] for c in KIDO["cases"]])
def test_kidoredis_ring_places_every_fixture_key(case):
    location = [f"10.0.0.{i + 1}:6379" for i in range(len(case["labels"]))]
    cache = redis_cache_go.ShardedRedisCache(location, {"OPTIONS": {"HASH_RING": "kidoredis"}})
    try:
        got = [str(cache.server_index(k)) for k in KIDO["keys"]]
        wrong = sum(g != w for g, w in zip(got, case["expected_label"]))
        assert wrong == 0, f"{wrong} of 2000 keys misplaced"
    finally:
        cache.disconnect()


def test_equal_weights_keep_placement_and_uneven_weights_shift_it():
    case = SEED_CASES["a"]
    loc = case["settings"]["LOCATION"]
    plain = redis_cache_go.ShardedRedisCache(loc, _params(case))
    equal = redis_cache_go.ShardedRedisCache(loc, {**_params(case), "OPTIONS": {**_params(case).get("OPTIONS", {}), "WEIGHTS": [5, 5, 5]}})
    heavy = redis_cache_go.ShardedRedisCache(loc, {**_params(case), "OPTIONS": {**_params(case).get("OPTIONS", {}), "WEIGHTS": {"redis://127.0.0.1:6381": 4}}})
    try:
        keys = SEED["keys"]
        assert [equal.server_index(k) for k in keys] == [plain.server_index(k) for k in keys]
        share = sum(heavy.server_index(k) == 0 for k in keys) / len(keys)
        assert share > 0.5, f"weight 4 of 6 gave server 0 only {share:.0%} of the keys"
    finally:
        for c in (plain, equal, heavy):
            c.disconnect()


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def seed_servers():
    """redis-servers on 127.0.0.1:6381-6383 (ring_seed.json case "a"), exclusively."""
    lock = open("/tmp/redis-cache-go-ring-ports.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    servers = []
    try:
        for port in (6381, 6382, 6383):
            servers.append(RedisServer(port=port).start())
        yield servers
    finally:
        for s in servers:
            s.stop()
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def _select(server: RedisServer, db: int, *args):
    """One command on DB db of server, over a plain socket (MULTI/EXEC keeps SELECT on that connection)."""
    import socket

    from redisproc import _encode, _read

    with socket.create_connection((server.host, server.port), timeout=5) as s:
        f = s.makefile("rb")
        s.sendall(_encode(("SELECT", str(db))) + _encode(args))
        _read(f)
        return _read(f)


def _calls(server: RedisServer, command: str) -> int:
    info = server.command("INFO", "commandstats").decode()
    m = re.search(rf"^cmdstat_{command}:calls=(\d+)", info, re.MULTILINE)
    return int(m.group(1)) if m else 0


# --------------------------------------------------------------------------- bar 2: real ring


def test_sharded_keys_land_on_the_fixture_server_and_get_many_is_one_batch_per_server(seed_servers):
    case = SEED_CASES["a"]
    for s in seed_servers:
        s.command("FLUSHALL")
    cache = redis_cache_go.ShardedRedisCache(case["settings"]["LOCATION"], _params(case))
    try:
        # ring_seed.json hashes made keys; ":1:key{i}" is what cache key "key{i}" becomes.
        wanted = {k[3:]: i for i, k in enumerate(SEED["keys"]) if k.startswith(":1:key") and k[3:].isascii()}
        assert len(wanted) >= 100
        half = dict(list(wanted.items())[: len(wanted) // 2])
        for key in half:
            cache.set(key, f"v-{key}")
        cache.set_many({key: f"v-{key}" for key in wanted if key not in half})
        for key, i in wanted.items():
            made = f":1:{key}"
            expected = case["expected_index"][i]
            for index, server in enumerate(seed_servers):
                raw = _select(server, 15, "GET", made)
                if index == expected:
                    assert raw is not None, f"{made} missing on server {index}"
                else:
                    assert raw is None, f"{made} on server {index}; the seed put it on {expected}"
        batch = list(wanted)[:100]
        involved = {case["expected_index"][wanted[k]] for k in batch}
        assert involved == {0, 1, 2}
        for s in seed_servers:
            s.command("CONFIG", "RESETSTAT")
        got = cache.get_many(batch)
        assert got == {k: f"v-{k}" for k in batch}
        for index, server in enumerate(seed_servers):
            assert _calls(server, "mget") == 1, f"server {index}: one MGET per get_many"
            assert _calls(server, "get") == 0, f"server {index}: no per-key GET"
        for s in seed_servers:
            s.command("CONFIG", "RESETSTAT")
        cache.set_many({k: 1 for k in batch})
        for index, server in enumerate(seed_servers):
            # each server gets exactly its own keys' SETs (one pipeline per server)
            assert _calls(server, "set") == sum(case["expected_index"][wanted[k]] == index for k in batch)
        cache.delete_many(batch)
        assert cache.get_many(batch) == {}
        cache.set("left", 1)
        cache.clear()
        assert all(_select(s, 15, "DBSIZE") == 0 for s in seed_servers), "clear() reaches every server"
    finally:
        cache.disconnect()


def test_sharded_incr_version_moves_between_servers(three):
    cache = redis_cache_go.ShardedRedisCache([s.location for s in three], {"OPTIONS": {"DB": 0}})
    try:
        key = next(f"k{i}" for i in range(1000)
                   if cache.server_index(cache.make_key(f"k{i}", 1)) != cache.server_index(cache.make_key(f"k{i}", 2)))
        cache.set(key, "value", 60)
        assert cache.incr_version(key) == 2
        assert cache.get(key, version=2) == "value"
        assert cache.get(key, version=1) is None
        assert three[cache.server_index(cache.make_key(key, 2))].command("EXISTS", cache.make_key(key, 2)) == 1
    finally:
        cache.disconnect()


def test_raw_commands_are_routed_by_the_unprefixed_key(three):
    cache = redis_cache_go.ShardedRedisCache([s.location for s in three], {"OPTIONS": {"DB": 0}, "KEY_PREFIX": "p"})
    try:
        assert cache.hset("user:1", "name", "ann") == 1
        assert cache.hset("user:1", mapping={"age": 7, "city": "Oslo"}) == 2
        assert cache.hget("user:1", "name") == b"ann"
        assert cache.zadd("board", {"a": 1, "b": 2.5}) == 2
        assert cache.zrange("board", 0, -1, "WITHSCORES") == [b"a", b"1", b"b", b"2.5"]
        assert cache.lpush("list", "x", "y") == 2
        assert cache.lrange("list", 0, -1) == [b"y", b"x"]
        assert cache.sadd("set", "m") == 1 and cache.smembers("set") == [b"m"]
        assert cache.execute_command("GET", "nothing") is None
        assert cache.execute_command("EXPIRE", "list", 100) == 1
        # expire is the seed's cache-key API (p:1:list), never the raw command
        assert cache.expire("list", 100) is False
        for key in ("user:1", "board", "list", "set"):
            holder = cache.server_index(key)
            for index, server in enumerate(three):
                assert server.command("EXISTS", key) == (1 if index == holder else 0), (key, index)
        with pytest.raises(exceptions.ServerError, match="WRONGTYPE"):
            cache.hget("list", "f")
        with pytest.raises(AttributeError):
            cache.no_such_command
    finally:
        cache.disconnect()


# --------------------------------------------------------------------------- bar 3: a real replica


def test_primary_replica_writes_to_the_primary_and_reads_from_live_replicas(wait_until):
    primary = RedisServer().start()
    replicas = [RedisServer(extra=["--replicaof", "127.0.0.1", str(primary.port)]).start() for _ in range(2)]
    try:
        for r in replicas:
            wait_until(lambda r=r: b"master_link_status:up" in r.command("INFO", "replication"), message="replica link up")
        location = [r.location for r in replicas[:1]] + [primary.location] + [r.location for r in replicas[1:]]
        # MASTER_CACHE written as a URL while LOCATION says host:port: they still match.
        cache = redis_cache_go.RedisCache(location, {"OPTIONS": {"DB": 0, "MASTER_CACHE": f"redis://127.0.0.1:{primary.port}/0"}})
        try:
            cache.set("k", "v")
            cache.set_many({"a": 1, "b": 2})
            assert primary.command("EXISTS", ":1:k") == 1
            for r in replicas:
                wait_until(lambda r=r: r.command("GET", ":1:b") == b"2", message="replication")
            for s in [primary, *replicas]:
                s.command("CONFIG", "RESETSTAT")
            for _ in range(10):
                assert cache.get("k") == "v"
            assert cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
            assert cache.has_key("a")
            assert _calls(primary, "get") + _calls(primary, "mget") + _calls(primary, "exists") == 0
            assert [_calls(r, "get") for r in replicas] == [5, 5], "reads alternate between the replicas"
            assert cache.incr("a") == 2 and primary.command("GET", ":1:a") == b"2"
            replicas[0].stop()
            for _ in range(10):
                assert cache.get("k") == "v", "a killed replica does not fail reads"
            assert cache.get_many(["b"]) == {"b": 2}
        finally:
            cache.disconnect()
    finally:
        for s in [primary, *replicas]:
            s.stop()


def test_master_cache_mismatch_lists_the_entries():
    with pytest.raises(ImproperlyConfigured) as info:
        redis_cache_go.RedisCache(["10.0.0.1:6379", "redis://10.0.0.2:6379/1"], {"OPTIONS": {"MASTER_CACHE": "10.0.0.3:6379"}})
    text = str(info.value)
    assert "10.0.0.3:6379" in text and "'10.0.0.1:6379'" in text and "'redis://10.0.0.2:6379/1'" in text


@pytest.mark.parametrize("master, index", [("redis://10.0.0.2:6379", 1), ("10.0.0.1:6379", 0), ("unix:///tmp/x.sock", 2), (None, 0)])
def test_master_cache_matches_however_written(master, index):
    cache = redis_cache_go.RedisCache(["redis://10.0.0.1:6379/1", "10.0.0.2:6379", "/tmp/x.sock"], {"OPTIONS": {"MASTER_CACHE": master}})
    try:
        assert cache.server_index(b"any") == index
    finally:
        cache.disconnect()


# --------------------------------------------------------------------------- bar 4: copy mode


def test_copy_mode_writes_everywhere_and_survives_a_stopped_server(three):
    cache = redis_cache_go.RedisCopyCache([s.location for s in three], {"OPTIONS": {"DB": 0, "SOCKET_TIMEOUT": 1}})
    try:
        cache.set("k", "v")
        cache.set_many({"a": 1, "b": 2})
        for s in three:
            assert s.command("GET", ":1:a") == b"1" and s.command("EXISTS", ":1:k") == 1
        assert cache.execute_command("SADD", "s", "m") == [1, 1, 1], "one reply per server in LOCATION order"
        assert cache.smembers("s") == [b"m"], "a read answers once"
        stopped = three[1]
        stopped.stop()
        for _ in range(6):
            assert cache.get("k") == "v"
            assert cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
        with pytest.raises(exceptions.ConnectionError) as info:
            cache.set("k2", "v2")
        assert f"127.0.0.1:{stopped.port}" in str(info.value), "the error names the failed server"
        assert "1 of 3 servers" in str(info.value)
        assert three[0].command("EXISTS", ":1:k2") == 1 and three[2].command("EXISTS", ":1:k2") == 1
        with pytest.raises(exceptions.ConnectionError):
            cache.delete("k")  # the live servers drop it; the error still says one was missed
        assert cache.get("k") is None
    finally:
        cache.disconnect()


def test_the_document_lists_every_server_with_its_ring_name_and_shared_timeouts():
    from redis_cache_go import _layout, _settings

    settings = _settings.parse(
        ["redis://10.0.0.1:6379/2?socket_timeout=9", "10.0.0.2:6380", "/tmp/r.sock"],
        {"OPTIONS": {"SOCKET_TIMEOUT": 0.5, "PASSWORD": "pw"}},
    )
    doc = _layout.document(settings, "ring", ring="kidoredis", ring_weights=[1, 2, 1])
    assert (doc["mode"], doc["hash_ring"], doc["socket_timeout"]) == ("ring", "kidoredis", 0.5)
    assert [s["name"] for s in doc["servers"]] == [
        "('10.0.0.1', 6379, 2, '')", "('10.0.0.2', 6380, 1, None)", "(None, None, 1, '/tmp/r.sock')"]
    assert [(s["network"], s["addr"], s["db"], s["password"], s["weight"]) for s in doc["servers"]] == [
        ("tcp", "10.0.0.1:6379", 2, "pw", 1), ("tcp", "10.0.0.2:6380", 1, "pw", 2), ("unix", "/tmp/r.sock", 1, "pw", 1)]
    assert "addr" not in doc


def test_constructing_several_servers_loads_nothing(monkeypatch):
    from redis_cache_go import _native

    monkeypatch.setattr(_native, "library", lambda: pytest.fail("the library was loaded at construction"))
    for cls in (redis_cache_go.ShardedRedisCache, redis_cache_go.RedisCopyCache, redis_cache_go.RedisCache):
        cls(["10.0.0.1:6379", "10.0.0.2:6379"], {})


@pytest.mark.parametrize("backend", ["ShardedRedisCache", "RedisCopyCache"])
def test_the_django_api_over_three_servers(three, backend):
    cache = getattr(redis_cache_go, backend)([s.location for s in three], {"OPTIONS": {"DB": 0}, "KEY_PREFIX": "site"})
    try:
        data = {f"k{i}": i for i in range(50)}
        cache.set_many(data, timeout=60)
        assert cache.get_many(list(data) + ["nope"]) == data
        assert cache.add("k1", "other") is False and cache.add("new", "x") is True
        assert cache.incr("k2", 10) == 12 and cache.decr("k2") == 11
        assert cache.touch("k3", 100) is True and cache.has_key("k3")
        assert cache.get_or_set("computed", lambda: [1, 2]) == [1, 2]
        assert cache.incr_version("k4") == 2 and cache.get("k4", version=2) == 4
        cache.delete_many([f"k{i}" for i in range(10, 20)])
        assert cache.get_many([f"k{i}" for i in range(10, 20)]) == {}
        assert cache.delete("k5") is True and cache.get("k5") is None
        for s in three:
            s.command("SET", "foreign", "kept")
        assert cache.clear() is True
        assert cache.get_many(list(data)) == {}
        assert all(s.command("GET", "foreign") == b"kept" for s in three), "clear() with KEY_PREFIX keeps other keys"
        if backend == "RedisCopyCache":
            assert all(s.command("DBSIZE") == 1 for s in three)
    finally:
        cache.disconnect()

"""Raw Redis access: the accessors that django-redis-cache and django-redis code calls.

Each accessor returns a redis-py client; the tests run code shaped like the two libraries'
documented raw-access examples (hashes, sorted sets, a pipeline of 100 commands, a Lua script,
scan_iter) through every accessor, against one server, a 3-server ring (where the key's own
server must answer, the server django-redis-cache itself picks) and a Redis Cluster, and check
on the servers themselves where the data landed.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any, Callable

import pytest
import redis
from django.core.cache import caches
from django.test import override_settings
from redisproc import RedisServer
from topology import RedisCluster

import redis_cache_go


def exercise(client: Any, tag: str, *, cluster: bool = False) -> None:
    """Raw-access code as the peers document it, on keys that contain ``tag``; asserts each reply.

    On a Cluster the keys share the hash tag ``{tag}``, as cluster code must for a transaction or a
    multi-key script."""
    h, z, n = f"{{{tag}}}:hash", f"{{{tag}}}:board", f"{{{tag}}}:n"
    assert client.hset(h, mapping={"name": "ada", "visits": 1}) == 2
    assert client.hincrby(h, "visits", 2) == 3
    assert client.hgetall(h) == {b"name": b"ada", b"visits": b"3"}
    assert client.zadd(z, {"ann": 3.0, "bob": 1.0, "cy": 2.0}) == 3
    assert client.zincrby(z, 5, "bob") == 6.0
    assert client.zrevrange(z, 0, 1, withscores=True) == [(b"bob", 6.0), (b"ann", 3.0)]
    # a pipeline of 100 commands, transactional (one slot on a Cluster) and not
    with client.pipeline(transaction=not cluster) as pipe:
        for i in range(99):
            pipe.incr(n)
        pipe.get(n)
        replies = pipe.execute()
    assert len(replies) == 100 and replies[98] == 99 and replies[99] == b"99"
    if cluster:  # a MULTI/EXEC pipeline of one slot
        with client.pipeline(transaction=True) as pipe:
            replies = pipe.incr(n).incr(n).execute()
        assert replies == [100, 101]
    # a Lua script, by EVALSHA after register_script (the script cache miss is handled by redis-py)
    bump = client.register_script("local v = redis.call('INCRBY', KEYS[1], ARGV[1]) return v * 2")
    before = int(client.get(n))
    assert bump(keys=[n], args=[10]) == 2 * (before + 10)
    found = sorted(client.scan_iter(match=f"*{tag}*", count=10))
    assert found == sorted(k.encode() for k in (h, z, n))


def where(servers: list[RedisServer], key: str) -> list[int]:
    """Indexes of the servers (db 0) that hold ``key``."""
    return [i for i, s in enumerate(servers) if s.command("EXISTS", key)]


@pytest.fixture(scope="module")
def three():
    servers = [RedisServer().start() for _ in range(3)]
    yield servers
    for s in servers:
        s.stop()


@pytest.fixture(autouse=True)
def _flush_three(request):
    if "three" in request.fixturenames:
        for s in request.getfixturevalue("three"):
            s.command("FLUSHALL")


@pytest.fixture(scope="module")
def cluster():
    c = RedisCluster().start()
    yield c
    c.stop()


def _built(backend: str, location: Any, options: dict[str, Any]) -> Any:
    cache = getattr(redis_cache_go, backend)(location, {"OPTIONS": options})
    return cache


@pytest.fixture
def use():
    """``use(backend, location, options)``: a cache, disconnected (raw clients closed) at teardown."""
    made = []

    def build(backend: str, location: Any, options: dict[str, Any] | None = None) -> Any:
        cache = _built(backend, location, {"DB": 0} if options is None else options)
        made.append(cache)
        return cache

    yield build
    for cache in made:
        cache.disconnect()


# -------------------------------------------------------------------------- one server

ONE_SERVER: dict[str, Callable[[Any], Any]] = {
    "get_client(key)": lambda c: c.get_client("k"),
    "get_client(key, write=True)": lambda c: c.get_client("k", write=True),
    "get_client()": lambda c: c.get_client(),
    "get_master_client()": lambda c: c.get_master_client(),
    "master_client": lambda c: c.master_client,
    "clients[identifier]": lambda c: next(iter(c.clients.values())),
    "client_list[0]": lambda c: c.client_list[0],
    "redis_cache_go.get_redis_connection()": lambda c: redis_cache_go.get_redis_connection("raw"),
    "django_redis.get_redis_connection()": lambda c: __import__("django_redis").get_redis_connection("raw"),
    "cache.client.get_client()": lambda c: c.client.get_client(write=True),
    "cache._cache.get_client() (Django's)": lambda c: c._cache.get_client("k", write=True),
}


@pytest.mark.parametrize("accessor", ONE_SERVER)
def test_every_accessor_runs_raw_code_on_the_one_server(redis_server, accessor):
    location = f"redis://{redis_server.location}/4"
    with override_settings(CACHES={"raw": {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": location}}):
        cache = caches["raw"]
        try:
            client = ONE_SERVER[accessor](cache)
            assert isinstance(client, redis.Redis)
            exercise(client, "one")
            # db 4 of the cache's own server, beside the cache's entries
            assert client.connection_pool.connection_kwargs["db"] == 4
            assert cache.set("entry", {"a": 1}) is True
            assert client.exists(cache.make_key("entry")) == 1 and cache.get("entry") == {"a": 1}
        finally:
            cache.disconnect()
    assert redis_server.command("EXISTS", "{one}:hash") == 0  # nothing in db 0


def test_pub_sub_through_the_raw_client(redis_server, use):
    cache = use("RedisCache", redis_server.location)
    client = cache.get_client()
    with client.pubsub() as sub:
        sub.subscribe("news")
        assert sub.get_message(timeout=10)["type"] == "subscribe"
        assert client.publish("news", "hello") == 1
        message = sub.get_message(timeout=10)
    assert message is not None and message["data"] == b"hello"


def test_clients_is_the_seeds_mapping_keyed_by_connection_identifier(redis_server, use):
    cache = use("RedisCache", redis_server.location)
    host, port = redis_server.location.rsplit(":", 1)
    assert list(cache.clients) == [(host, int(port), 0, None)]
    assert len(cache.clients) == 1 and cache.clients[(host, int(port), 0, None)] is cache.get_master_client()
    with pytest.raises(KeyError):
        cache.clients[("10.0.0.9", 6379, 0, None)]


def test_primary_replica_writes_go_to_the_primary_and_reads_to_a_replica(three, use):
    locations = [s.location for s in three]
    cache = use("RedisCache", locations, {"DB": 0, "MASTER_CACHE": locations[1]})
    assert cache.get_client("k", write=True) is cache.get_master_client() is cache.clients[cache._settings.servers[1].identifier]
    cache.get_master_client().set("w", "1")
    assert where(three, "w") == [1]
    readers = {id(cache.get_client("k")) for _ in range(40)}
    replicas = {id(cache.clients[s.identifier]) for i, s in enumerate(cache._settings.servers) if i != 1}
    assert readers == replicas  # both replicas, never the primary
    assert redis_cache_go.get_redis_connection.__doc__  # (the helper's meaning: see the django-redis test below)


# -------------------------------------------------------------------------- a 3-server ring


def test_get_client_of_a_ring_is_the_server_django_redis_cache_picks(three, use):
    import redis_cache

    locations = [s.location for s in three]
    ours = use("ShardedRedisCache", locations)
    seed = redis_cache.ShardedRedisCache(locations, {"OPTIONS": {"DB": 0}})
    try:
        assert list(ours.clients) == list(seed.clients)
        for i in range(60):
            made = ours.make_key(f"user:{i}")
            theirs = seed.get_client(made).connection_pool.connection_identifier
            mine = ours.get_client(made).connection_pool.connection_kwargs
            assert (mine["host"], mine["port"], mine["db"]) == theirs[:3], made
    finally:
        for client in seed.clients.values():
            client.connection_pool.disconnect()


def _tag_on(cache: Any, owner: int) -> str:
    """A tag whose example keys (see exercise) all live on server ``owner`` of the ring."""
    for i in range(10_000):
        tag = f"t{i}"
        if {cache.server_index(f"{{{tag}}}:{name}") for name in ("hash", "board", "n")} == {owner}:
            return tag
    raise AssertionError(f"no tag with every key on server {owner}")


@pytest.mark.parametrize("accessor", ["get_client(key)", "clients[owner]"])
def test_raw_code_through_a_ring_runs_on_the_keys_own_server(three, use, accessor):
    cache = use("ShardedRedisCache", [s.location for s in three])
    for owner in range(3):
        tag = _tag_on(cache, owner)
        key = f"{{{tag}}}:hash"
        if accessor == "get_client(key)":
            client = cache.get_client(key)
        else:
            client = cache.clients[cache._settings.servers[cache.server_index(key)].identifier]
        exercise(client, tag)
        for name in ("hash", "board", "n"):
            assert where(three, f"{{{tag}}}:{name}") == [owner]


@pytest.mark.parametrize("accessor", ["get_master_client()", "master_client", "client_list[0]"])
def test_master_client_of_a_ring_is_the_first_server_as_in_the_seed(three, use, accessor):
    import redis_cache

    locations = [s.location for s in three]
    cache = use("ShardedRedisCache", locations)
    client = {"get_master_client()": cache.get_master_client, "master_client": lambda: cache.master_client,
              "client_list[0]": lambda: cache.client_list[0]}[accessor]()
    exercise(client, "master")  # raw code on the write server, wherever the ring would put the keys
    for name in ("hash", "board", "n"):
        assert where(three, f"{{master}}:{name}") == [0]
    seed = redis_cache.ShardedRedisCache(locations, {"OPTIONS": {"DB": 0}})
    try:
        assert seed.get_master_client().connection_pool.connection_identifier == cache._settings.servers[0].identifier
    finally:
        for c in seed.clients.values():
            c.connection_pool.disconnect()
    assert [c.connection_pool.connection_kwargs["port"] for c in cache.client_list] == [s.port for s in three]


def test_a_ring_without_a_key_says_how_to_pick_a_server(three, use):
    cache = use("ShardedRedisCache", [s.location for s in three])
    with pytest.raises(ValueError, match=r"shards keys over 3 servers.*cache.get_client\(cache.make_key\(key\)\)"):
        cache.get_client()
    with pytest.raises(NotImplementedError, match="ShardClient raises here too"):
        cache.client.get_client(write=True)
    with override_settings(CACHES={"ring": {"BACKEND": "redis_cache_go.ShardedRedisCache",
                                            "LOCATION": [s.location for s in three], "OPTIONS": {"DB": 0}}}):
        try:
            for get in (redis_cache_go.get_redis_connection, __import__("django_redis").get_redis_connection):
                with pytest.raises(NotImplementedError, match="cache.get_client\\(key\\)"):
                    get("ring")
        finally:
            caches["ring"].disconnect()


# -------------------------------------------------------------------------- a Cluster

CLUSTER: dict[str, Callable[[Any], Any]] = {
    "get_client(key)": lambda c: c.get_client("k"),
    "get_master_client()": lambda c: c.get_master_client(),
    "clients": lambda c: next(iter(c.clients.values())),
    "redis_cache_go.get_redis_connection()": lambda c: redis_cache_go.get_redis_connection("cl"),
    "django_redis.get_redis_connection()": lambda c: __import__("django_redis").get_redis_connection("cl"),
}


@pytest.mark.parametrize("accessor", CLUSTER)
def test_every_accessor_runs_raw_code_on_a_cluster(cluster, accessor):
    from redis.cluster import RedisCluster as PyCluster

    for node in cluster.primaries():
        node.command("FLUSHALL")
    settings = {"cl": {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": cluster.location, "OPTIONS": {"CLUSTER": True}}}
    with override_settings(CACHES=settings):
        cache = caches["cl"]
        try:
            client = CLUSTER[accessor](cache)
            assert isinstance(client, PyCluster)
            tags = ["a", "b", "c", "d", "e", "f"]  # spread over the primaries
            for tag in tags:
                exercise(client, f"{accessor}-{tag}", cluster=True)
            holders = {cluster.node_for_slot(client.keyslot(f"{{{accessor}-{t}}}:n")).port for t in tags}
            assert len(holders) > 1  # the keys went to several primaries, as Redis Cluster places them
            for tag in tags:
                key = f"{{{accessor}-{tag}}}:n"
                assert cluster.node_for_slot(client.keyslot(key)).command("EXISTS", key) == 1
            assert cache.set("entry", 7) is True and client.get(cache.make_key("entry")) == b"7"
        finally:
            cache.disconnect()


# -------------------------------------------------------------------------- TLS, pickling of clients


def test_raw_clients_are_closed_by_disconnect_and_made_again(redis_server, use):
    cache = use("RedisCache", redis_server.location)
    first = cache.get_client()
    first.ping()
    cache.disconnect()
    second = cache.get_client()
    assert second is not first and second.ping()


def test_without_redis_py_the_error_names_the_extra():
    code = textwrap.dedent("""
        import sys
        sys.modules["redis"] = None  # as if redis-py were not installed
        import redis_cache_go
        from redis_cache_go.exceptions import MissingDependencyError
        cache = redis_cache_go.RedisCache("127.0.0.1:1", {})
        try:
            cache.get_client()
        except MissingDependencyError as e:
            assert isinstance(e, ImportError)
            print(e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'redis-cache-go[redis]'" in out.stdout


def test_ssl_server_name_with_a_cluster_is_refused_before_connecting(use):
    cache = use("RedisCache", "rediss://127.0.0.1:1/0", {"CLUSTER": True, "SSL_SERVER_NAME": "cache.internal"})
    with pytest.raises(NotImplementedError, match=r"SSL_SERVER_NAME.*Redis Cluster.*drop the setting"):
        cache.get_client()

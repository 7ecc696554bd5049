"""Settings copied from django-redis 7.0 and Django's RedisCache keep working (python/redis_cache_go/_compat.py).

The interop tests build our backend and the real package from the same settings dict, on the
session's redis-server, and check that each reads what the other wrote, in the same database
and (for django-redis' ShardClient) on the same server.
"""
from __future__ import annotations

import copy
import json
import logging
import pathlib
import random
import subprocess
import sys
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from redis_cache_go import RedisCache, ShardedRedisCache, _compat, _settings

ROOT = pathlib.Path(__file__).resolve().parents[2]
VALUES: dict[str, Any] = {
    "int": 42, "neg": -7, "str": "héllo", "bytes": b"\x00\x01", "dict": {"a": [1, 2.5, None]},
    "bool": True, "big": "x" * 5000, "none": None,
}


@pytest.fixture
def built():
    caches: list[Any] = []

    def build(cls: Any, location: Any, params: dict[str, Any]) -> Any:
        cache = cls(location, copy.deepcopy(params))  # django-redis mutates OPTIONS
        caches.append(cache)
        return cache

    yield build
    for cache in caches:
        if hasattr(cache, "disconnect"):  # ours
            cache.disconnect()
            continue
        # django-redis' close() keeps its pools open unless DJANGO_REDIS_CLOSE_CONNECTION is set,
        # and its connections would outlive the test on the session's server (later tests count
        # that server's clients): disconnect every redis-py client it made, ShardClient's too.
        client = getattr(cache, "_client", None)  # django-redis' lazily built client, or None
        redis_clients = list(getattr(client, "_clients", None) or []) + list(
            (getattr(client, "_serverdict", None) or {}).values()
        )
        for redis_client in redis_clients:
            if redis_client is not None:
                redis_client.connection_pool.disconnect()
        # Django's own RedisCache never closes its pools either.
        for pool in (getattr(getattr(cache, "_cache", None), "_pools", None) or {}).values():
            pool.disconnect()
        cache.close()


def _django_redis(built: Any, location: Any, params: dict[str, Any]) -> Any:
    from django_redis.cache import RedisCache as DjangoRedisCache

    return built(DjangoRedisCache, location, params)


def _both_ways(ours: Any, theirs: Any) -> None:
    for name, value in VALUES.items():
        ours.set(f"ours-{name}", value, 60)
        theirs.set(f"theirs-{name}", value, 60)
    for name, value in VALUES.items():
        assert theirs.get(f"ours-{name}", "miss") == value, name
        assert ours.get(f"theirs-{name}", "miss") == value, name
    assert theirs.incr("ours-int") == 43 and ours.get("ours-int") == 43
    assert ours.get_many(["theirs-int", "theirs-str"]) == {"theirs-int": 42, "theirs-str": "héllo"}


# ------------------------------------------------------------------ django-redis' DefaultClient


def docs_settings(redis_server: Any, **options: Any) -> dict[str, Any]:
    """The settings django-redis' README shows, pointed at the session server (URL without a db)."""
    return {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", **options}}


def test_django_redis_default_client_settings_share_the_cache_in_db_0(built, redis_server, raw):
    location = f"redis://{redis_server.host}:{redis_server.port}"  # no path: db 0 in django-redis
    params = docs_settings(redis_server)
    ours = built(RedisCache, location, params)
    theirs = _django_redis(built, location, params)
    assert ours._settings.servers[0].db == 0
    _both_ways(ours, theirs)
    assert raw.command("EXISTS", ":1:ours-dict") == 1 and raw.command("EXISTS", ":1:theirs-dict") == 1


def test_django_redis_settings_with_every_mapped_key(built, redis_server, db_client):
    location = f"redis://{redis_server.host}:{redis_server.port}/3"
    params = {"KEY_PREFIX": "site", "OPTIONS": {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        "COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor",
        "CONNECTION_POOL_KWARGS": {"max_connections": 20, "retry_on_timeout": True},
        "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
        "SOCKET_TIMEOUT": 2, "SOCKET_CONNECT_TIMEOUT": 2,
        "PARSER_CLASS": "redis.connection._HiredisParser",
        "REDIS_CLIENT_CLASS": "redis.client.Redis",
        "CONNECTION_FACTORY": "django_redis.pool.ConnectionFactory",
        "IGNORE_EXCEPTIONS": False,
    }}
    ours = built(RedisCache, location, params)
    theirs = _django_redis(built, location, params)
    assert ours._settings.max_connections == 20 and ours._settings.socket_timeout == 2.0
    for name in ("str", "dict", "big", "int"):
        ours.set(f"o-{name}", VALUES[name])
        theirs.set(f"t-{name}", VALUES[name])
        assert theirs.get(f"o-{name}") == VALUES[name] and ours.get(f"t-{name}") == VALUES[name]
    assert db_client(3).exists("site:1:o-big") and db_client(3).exists("site:1:t-big")


def test_django_redis_password_option_applies_to_its_url(built, auth_server):
    from conftest import TEST_PASSWORD

    location = f"redis://{auth_server.host}:{auth_server.port}/0"
    params = docs_settings(auth_server, PASSWORD=TEST_PASSWORD)
    ours = built(RedisCache, location, params)
    theirs = _django_redis(built, location, params)
    ours.set("k", {"v": 1})
    assert theirs.get("k") == {"v": 1}
    theirs.set("k2", [1])
    assert ours.get("k2") == [1]


def test_django_redis_pickle_default_writes_the_same_bytes(built, redis_server, raw):
    location = f"redis://{redis_server.host}:{redis_server.port}"
    params = docs_settings(redis_server)
    ours = built(RedisCache, location, params)
    theirs = _django_redis(built, location, params)
    ours.set("a", {"x": (1, 2)})
    theirs.set("b", {"x": (1, 2)})
    assert raw.command("GET", ":1:a") == raw.command("GET", ":1:b")


def test_several_locations_with_default_client_are_primary_and_replicas():
    s = _settings.parse(["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"], {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"}})
    assert s.layout == "primary" and [x.db for x in s.servers] == [0, 0]
    cache = RedisCache(["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"], {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"}})
    assert repr(cache).startswith("<RedisCache primary redis 10.0.0.1:6379 db 0 with replicas redis 10.0.0.2:6379 db 0")


# ------------------------------------------------------------------ django-redis' ShardClient


def _their_server(client: Any, key: str) -> str:
    name: str = client.get_server_name(key)
    return name


@pytest.mark.filterwarnings("ignore:get on sharded client should not specify client")  # django-redis' own
def test_shard_client_settings_place_every_key_where_django_redis_does(built, redis_server, db_client):
    base = f"redis://{redis_server.host}:{redis_server.port}"
    location = [f"{base}/1", f"{base}/2", f"{base}/3"]  # three nodes: three databases of one server
    params = {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"}}
    ours = built(RedisCache, location, params)
    theirs = _django_redis(built, location, params)
    assert ours._mode == "ring"
    keys = [f"k{i}" for i in range(200)] + ["{user1}:a", "{user1}:b", "x{tag}y"]
    for key in keys:
        want = location.index(_their_server(theirs.client, theirs.make_key(key)))
        assert ours.server_index(ours.make_key(key)) == want, key
    for key in keys[:60]:
        theirs.set(key, key)
    assert ours.get_many(keys[:60]) == {k: k for k in keys[:60]}
    for key in keys[60:120]:
        ours.set(key, key)
    for key in keys[60:120]:
        assert theirs.get(key) == key
        db = 1 + location.index(_their_server(theirs.client, theirs.make_key(key)))
        assert db_client(db).exists(f":1:{key}"), key
    assert sum(db_client(db).dbsize() for db in (1, 2, 3)) == 120


def test_shard_client_placement_matches_the_installed_package_and_the_fixture():
    from django_redis.client.sharded import ShardClient
    from django_redis.hash_ring import HashRing

    fixture = json.loads((ROOT / "tests/fixtures/ring_django_redis.json").read_text(encoding="utf-8"))
    for case in fixture["cases"]:
        ring = HashRing(case["servers"])
        want = []
        for key in fixture["keys"]:
            m = ShardClient._findhash.match(key)
            node = ring.get_node(m.groups()[0] if m else key)
            want.append(case["servers"].index(node))
        assert want == case["expected_index"], f"tests/fixtures/ring_django_redis.json is stale ({case['name']}): rerun its generator"
        cache = RedisCache(case["servers"], {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"}})
        got = [cache.server_index(key) for key in fixture["keys"]]
        assert got == want, case["name"]
    rnd = random.Random(7)
    servers = [f"redis://10.1.0.{i}:6379/0" for i in range(1, 5)]
    ring = HashRing(servers)
    cache = ShardedRedisCache(servers, {"OPTIONS": {"HASH_RING": "django-redis", "DB": 0}})
    for _ in range(2000):
        key = "".join(rnd.choice("ab{}:é9\n") for _ in range(rnd.randint(0, 12)))
        m = ShardClient._findhash.match(key)
        assert cache.server_index(key) == servers.index(ring.get_node(m.groups()[0] if m else key)), repr(key)


def test_django_redis_names_without_client_class_keep_the_backend_layout():
    loc = ["redis://a:6379/0", "redis://b:6379/0"]
    cache = ShardedRedisCache(loc, {"OPTIONS": {"COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor"}})
    assert cache._mode == "ring" and cache._settings.options["SERIALIZER"] == "django_redis.serializers.pickle.PickleSerializer"


def test_shard_client_refuses_what_would_move_keys():
    loc = ["redis://a:6379/0", "redis://b:6379/0"]
    with pytest.raises(ImproperlyConfigured, match="WEIGHTS"):
        RedisCache(loc, {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient", "WEIGHTS": [1, 2]}})
    with pytest.raises(ImproperlyConfigured, match="HASH_RING"):
        RedisCache(loc, {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient", "HASH_RING": "seed"}})
    with pytest.raises(ImproperlyConfigured, match="ShardedRedisCache is 'ring'"):
        ShardedRedisCache(loc, {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"}})


# ------------------------------------------------------------------ Sentinel, Herd, others


def test_sentinel_client_settings_become_our_sentinel_topology():
    params = {"OPTIONS": {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "SENTINELS": [("127.0.0.1", 26379), ("127.0.0.2", 26379)],
        "SENTINEL_KWARGS": {"password": "sentinel-pw"},
        "CONNECTION_POOL_CLASS": "redis.sentinel.SentinelConnectionPool",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "PASSWORD": "data-pw",
    }}
    s = _settings.parse("redis://mymaster/2", params)
    assert s.topology == {"kind": "sentinel", "addrs": ["127.0.0.1:26379", "127.0.0.2:26379"], "service": "mymaster",
                          "sentinel_password": "sentinel-pw", "read_from_replicas": True}
    assert (s.servers[0].db, s.servers[0].password) == (2, "data-pw")
    s = _settings.parse(["redis://mymaster?is_master=1"], params)
    assert s.servers[0].db == 0 and s.topology is not None and s.topology["read_from_replicas"] is False
    with pytest.raises(ImproperlyConfigured, match="one service"):
        _settings.parse(["redis://a/0", "redis://b/0"], params)
    with pytest.raises(ImproperlyConfigured, match="SENTINEL_KWARGS.*'username'"):
        _settings.parse("redis://m/0", {"OPTIONS": {**params["OPTIONS"], "SENTINEL_KWARGS": {"username": "u"}}})


@pytest.mark.parametrize("client, match", [
    ("django_redis.client.HerdClient", "HerdClient stores values set with a timeout wrapped"),
    ("django_redis.client.herd.HerdClient", "HerdClient stores values set with a timeout wrapped"),
    ("myproject.cache.MyClient", "a custom client cannot be reproduced"),
])
def test_clients_that_would_change_stored_data_are_refused(client, match):
    with pytest.raises(ImproperlyConfigured, match=match):
        RedisCache("redis://127.0.0.1:6379/0", {"OPTIONS": {"CLIENT_CLASS": client}})


def test_custom_connection_factory_and_redis_client_are_refused():
    with pytest.raises(ImproperlyConfigured, match="CONNECTION_FACTORY.*custom connection factory"):
        _settings.parse("redis://h/0", {"OPTIONS": {"CONNECTION_FACTORY": "my.Factory"}})
    with override_settings(DJANGO_REDIS_CONNECTION_FACTORY="my.Factory"):
        with pytest.raises(ImproperlyConfigured, match="DJANGO_REDIS_CONNECTION_FACTORY"):
            _settings.parse("redis://h/0", {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"}})
    with pytest.raises(ImproperlyConfigured, match="REDIS_CLIENT_CLASS.*CLUSTER"):
        _settings.parse("redis://h/0", {"OPTIONS": {"REDIS_CLIENT_CLASS": "redis.cluster.RedisCluster"}})


def test_unknown_keys_stay_errors_that_name_them():
    with pytest.raises(ImproperlyConfigured, match="'CLIENT_CLAS'.*unknown option"):
        _settings.parse("redis://h/0", {"OPTIONS": {"CLIENT_CLAS": "django_redis.client.DefaultClient"}})
    with pytest.raises(ImproperlyConfigured, match="'max_conections'"):
        _settings.parse("redis://h", {"OPTIONS": {"max_conections": 5}})
    with pytest.raises(ImproperlyConfigured, match="'bogus'"):
        _settings.parse("redis://h", {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient",
                                                  "CONNECTION_POOL_KWARGS": {"bogus": 1}}})
    with pytest.raises(ImproperlyConfigured, match="mixes django-redis keys"):
        _settings.parse("redis://h", {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "db": 1}})


def test_ignored_keys_log_one_warning_each_that_says_why(caplog):
    _compat.reset_warnings()
    params = {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "REPLICA_READ_ONLY": True,
                          "CLOSE_CONNECTION": False, "REDIS_CLIENT_KWARGS": {"decode_responses": False}}}
    with caplog.at_level(logging.WARNING, logger="redis_cache_go"):
        for _ in range(3):
            RedisCache("redis://127.0.0.1:6379", copy.deepcopy(params))
    messages = [r.getMessage() for r in caplog.records]
    for key in ("REPLICA_READ_ONLY", "CLOSE_CONNECTION", "REDIS_CLIENT_KWARGS"):
        mine = [m for m in messages if f"'{key}'" in m]
        assert len(mine) == 1, (key, messages)
        assert _compat.DJANGO_REDIS_KEYS[key] in mine[0]


def test_project_setting_ignore_exceptions_still_applies(built, dead_location):
    params = {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 0.5}}
    with override_settings(DJANGO_REDIS_IGNORE_EXCEPTIONS=True, DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS=False):
        cache = built(RedisCache, f"redis://{dead_location}/0", params)
    assert cache.get("k", "fallback") == "fallback"
    plain = built(RedisCache, f"redis://{dead_location}/0", params)
    with pytest.raises(Exception):
        plain.get("k")


def test_database_default_follows_the_package_the_settings_come_from():
    url = "redis://127.0.0.1:6379"
    assert _settings.parse(url, {}).servers[0].db == 1  # django-redis-cache
    assert _settings.parse(url, {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"}}).servers[0].db == 0
    assert _settings.parse(url, {"OPTIONS": {"COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor"}}).servers[0].db == 0
    assert _settings.parse(url, {"OPTIONS": {"max_connections": 4}}).servers[0].db == 0  # Django's RedisCache
    assert _settings.parse(url, {"OPTIONS": {"db": 4}}).servers[0].db == 4
    assert _settings.parse(url + "/5", {"OPTIONS": {"db": 4}}).servers[0].db == 5  # redis-py: the URL wins
    assert _settings.parse("unix:///tmp/r.sock", {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"}}).servers[0].db == 0
    explicit = {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "DB": 2}}
    assert _settings.parse(url, explicit).servers[0].db == 2


# ------------------------------------------------------------------ Django's own RedisCache


def test_django_builtin_settings_share_the_cache(built, redis_server, db_client):
    from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

    location = f"redis://{redis_server.host}:{redis_server.port}"
    params = {"OPTIONS": {"db": 2, "max_connections": 8, "socket_timeout": 2, "socket_connect_timeout": 2,
                          "pool_class": "redis.BlockingConnectionPool", "parser_class": "redis.connection._HiredisParser",
                          "serializer": "django.core.cache.backends.redis.RedisSerializer",
                          "health_check_interval": 30}}
    ours = built(RedisCache, location, params)
    theirs = built(DjangoRedisCache, location, params)
    assert ours._settings.servers[0].db == 2 and ours._settings.max_connections == 8
    _both_ways(ours, theirs)
    assert db_client(2).exists(":1:ours-big")


class PlainJSON:
    """A Django-style serializer class (built with no arguments)."""

    def dumps(self, obj: Any) -> bytes:
        return json.dumps(obj).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


def test_django_builtin_serializer_option(built, redis_server, raw):
    from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
    from django.core.cache.backends.redis import RedisSerializer

    assert _settings.parse("redis://h", {"OPTIONS": {"serializer": RedisSerializer(protocol=3)}}).pickle_version == 3
    location = f"redis://{redis_server.host}:{redis_server.port}"
    for value in (PlainJSON, f"{__name__}.PlainJSON"):
        params = {"OPTIONS": {"serializer": value}}
        ours = built(RedisCache, location, params)
        theirs = built(DjangoRedisCache, location, params)
        ours.set("j", {"a": [1, "x"]})
        assert raw.command("GET", ":1:j") == b'{"a": [1, "x"]}' and theirs.get("j") == {"a": [1, "x"]}
    with pytest.raises(ImproperlyConfigured, match="'serializer'.*cannot be imported"):
        _settings.parse("redis://h", {"OPTIONS": {"serializer": "no.such.Serializer"}})


def test_django_builtin_credentials_in_options(built, auth_server):
    from conftest import TEST_PASSWORD
    from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

    location = f"redis://{auth_server.host}:{auth_server.port}"
    params = {"OPTIONS": {"password": TEST_PASSWORD}}
    ours = built(RedisCache, location, params)
    theirs = built(DjangoRedisCache, location, params)
    ours.set("k", 1.5)
    assert theirs.get("k") == 1.5


def test_no_import_or_network_at_parse():
    code = ("import sys; sys.path[:0] = ['python']\n"
            "from django.conf import settings; settings.configure()\n"
            "from redis_cache_go import _settings\n"
            "_settings.parse('redis://h', {'OPTIONS': {'CLIENT_CLASS': 'django_redis.client.ShardClient'}})\n"
            "assert 'django_redis' not in sys.modules and 'redis' not in sys.modules, sorted(sys.modules)\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_host_port_entries_keep_django_redis_caches_default_db():
    # django-redis and Django parse only URLs; a host:port entry is django-redis-cache's form
    options = {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"}}
    assert [s.db for s in _settings.parse(["127.0.0.1:6379", "redis://127.0.0.1:6380"], options).servers] == [1, 0]


@pytest.fixture(scope="module")
def sentinel_deployment():
    from topology import SentinelDeployment

    d = SentinelDeployment("mymaster").start()
    try:
        yield d
    finally:
        d.stop()


@pytest.mark.timeout(120)
def test_sentinel_client_settings_share_the_cache_with_django_redis(built, sentinel_deployment, wait_until):
    d = sentinel_deployment
    d.primary.command("FLUSHALL")
    params = {"OPTIONS": {  # django-redis' README Sentinel example, pointed at the test deployment
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": [(s.host, s.port) for s in d.sentinels],
        "SENTINEL_KWARGS": {},
        "CONNECTION_POOL_CLASS": "redis.sentinel.SentinelConnectionPool",
    }}
    ours = built(RedisCache, "redis://mymaster/0", params)
    theirs = _django_redis(built, "redis://mymaster/0", params)
    assert ours._settings.topology is not None and ours._settings.topology["service"] == "mymaster"
    ours.set("ours", {"v": 1})
    theirs.set("theirs", [2])
    assert d.primary.command("EXISTS", ":1:ours") == 1 and d.primary.command("EXISTS", ":1:theirs") == 1
    # both read from replicas, which replicate asynchronously: poll
    wait_until(lambda: theirs.get("ours") == {"v": 1}, message="django-redis reads our value")
    wait_until(lambda: ours.get("theirs") == [2], message="we read django-redis' value")


def test_pool_arguments_win_over_options_as_in_django_redis():
    s = _settings.parse("redis://h", {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_TIMEOUT": 5,
                                                  "CONNECTION_POOL_KWARGS": {"socket_timeout": 0.25, "db": 6, "password": "pw"}}})
    assert (s.socket_timeout, s.servers[0].db, s.servers[0].password) == (0.25, 6, "pw")
    s = _settings.parse("redis://:own@h/2", {"OPTIONS": {"CONNECTION_POOL_KWARGS": {"db": 6, "password": "pw"}}})
    assert (s.servers[0].db, s.servers[0].password) == (2, "own")  # the URL's own wins, as in redis-py

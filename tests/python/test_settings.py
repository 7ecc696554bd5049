"""Settings are read as django-redis-cache 3.0.1 read them, and bad ones fail at construction.

No test here needs a server: a wrong setting must be an ImproperlyConfigured that names the key
and the value, raised without a network round trip (the native library is not even loaded).
"""
from __future__ import annotations

import json
import logging
import pathlib
import pickle

import pytest
from django.core.exceptions import ImproperlyConfigured

from redis_cache_go import RedisCache, _settings

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
RING = json.loads((FIXTURES / "ring_seed.json").read_text())


@pytest.mark.parametrize("case", RING["cases"], ids=[c["id"] for c in RING["cases"]])
def test_location_forms_parse_to_the_seed_identifiers(case):
    """Every LOCATION form of ring_seed.json: same (host, port, db, socket path), repr and db."""
    s = case["settings"]
    params = {k: v for k, v in s.items() if k not in ("BACKEND", "LOCATION")}
    settings = _settings.parse(s["LOCATION"], params)
    assert len(settings.servers) == len(case["servers"])
    for server, want in zip(settings.servers, case["servers"]):
        assert server.location == want["location"]
        assert list(server.identifier) == want["identifier"]
        assert repr(server.identifier) == want["identifier_repr"]
        password = want["pool_connection_kwargs"].get("password")
        if password is None and "://" in want["location"]:
            # django-redis-cache dropped OPTIONS['PASSWORD'] for URL entries; here it applies to
            # every entry without one of its own, as in django-redis and Django (docs/migration.md)
            password = params.get("OPTIONS", {}).get("PASSWORD")
        assert server.password == password
    if all("://" not in x["location"] for x in case["servers"]):
        assert {srv.db for srv in settings.servers} == {case["effective_db"]}


@pytest.mark.parametrize(
    "location, options, network, addr, db, password",
    [
        ("127.0.0.1:6379", {}, "tcp", "127.0.0.1:6379", 1, ""),  # the seed's default db is 1
        ("127.0.0.1:6379", {"DB": 4, "PASSWORD": "pw"}, "tcp", "127.0.0.1:6379", 4, "pw"),
        ("redis://:p%40ss@10.0.0.1:6390/3", {"PASSWORD": "ignored"}, "tcp", "10.0.0.1:6390", 3, "p@ss"),
        ("redis://localhost?db=9", {}, "tcp", "localhost:6379", 9, ""),
        ("rediss://cache.example.com:6380", {"DB": 2}, "tcp", "cache.example.com:6380", 2, ""),
        ("unix:///tmp/r.sock?db=5", {}, "unix", "/tmp/r.sock", 5, ""),
        ("/tmp/r.sock", {"DB": 2, "PASSWORD": "pw"}, "unix", "/tmp/r.sock", 2, "pw"),
        ("[::1]:6379", {"DB": 0}, "tcp", "[::1]:6379", 0, ""),
        ("cachehost", {"DB": 0}, "tcp", "cachehost:6379", 0, ""),
    ],
)
def test_native_configuration(location, options, network, addr, db, password):
    settings = _settings.parse(location, {"OPTIONS": options})
    doc = settings.native_config(settings.servers[0])
    assert (doc["network"], doc["addr"], doc["db"], doc["password"]) == (network, addr, db, password)
    assert (doc["tls"] is not None) == location.startswith("rediss://")


def test_timeouts_and_pool_options_reach_the_native_configuration():
    settings = _settings.parse(
        "127.0.0.1:6379",
        {
            "OPTIONS": {
                "SOCKET_TIMEOUT": 0.5,
                "SOCKET_CONNECT_TIMEOUT": 2,
                "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
                "CONNECTION_POOL_CLASS_KWARGS": {"max_connections": 50, "timeout": 3},
            }
        },
    )
    doc = settings.native_config(settings.servers[0])
    assert (doc["socket_timeout"], doc["connect_timeout"], doc["max_connections"], doc["pool_timeout"]) == (0.5, 2.0, 50, 3.0)


@pytest.mark.parametrize(
    "name",
    [
        "redis.connection.HiredisParser",
        "redis.connection.PythonParser",
        "redis.connection.DefaultParser",
        "redis.connection._HiredisParser",
        "redis._parsers.HiredisParser",
        "redis._parsers._RESP2Parser",
        "redis._parsers.resp3._RESP3Parser",
    ],
)
def test_redis_py_parser_names_are_accepted_without_redis_py(name):
    cache = RedisCache("127.0.0.1:6379", {"OPTIONS": {"PARSER_CLASS": name}})
    assert isinstance(cache, RedisCache)


@pytest.mark.parametrize(
    "name", ["redis.ConnectionPool", "redis.BlockingConnectionPool", "redis.connection.ConnectionPool", "redis.connection.BlockingConnectionPool"]
)
def test_redis_py_pool_names_are_accepted(name):
    RedisCache("127.0.0.1:6379", {"OPTIONS": {"CONNECTION_POOL_CLASS": name}})


def test_ignored_pool_kwargs_are_logged(caplog):
    from redis_cache_go import _compat

    _compat.reset_warnings()  # logged once per process
    with caplog.at_level(logging.WARNING, logger="redis_cache_go"):
        RedisCache("127.0.0.1:6379", {"OPTIONS": {"CONNECTION_POOL_CLASS_KWARGS": {"retry_on_timeout": True}}})
    assert "retry_on_timeout" in caplog.text and "ignored" in caplog.text


def test_default_equivalent_serializer_is_accepted():
    RedisCache("127.0.0.1:6379", {"OPTIONS": {"SERIALIZER_CLASS": "redis_cache.serializers.PickleSerializer"}})


@pytest.mark.parametrize(
    "location, options, params, must_mention",
    [
        ("127.0.0.1:6379", {"PARSER_CLASS": "myapp.FastParser"}, {}, ["PARSER_CLASS", "myapp.FastParser"]),
        ("127.0.0.1:6379", {"CONNECTION_POOL_CLASS": "myapp.Pool"}, {}, ["CONNECTION_POOL_CLASS", "myapp.Pool"]),
        ("127.0.0.1:6379", {"SOCKET_TIMOUT": 1}, {}, ["SOCKET_TIMOUT", "SOCKET_TIMEOUT"]),  # typo, with a hint
        ("127.0.0.1:6379", {"SOCKET_TIMEOUT": "soon"}, {}, ["SOCKET_TIMEOUT", "soon"]),
        ("127.0.0.1:6379", {"SOCKET_TIMEOUT": -1}, {}, ["SOCKET_TIMEOUT", "-1"]),
        ("127.0.0.1:6379", {"DB": "one"}, {}, ["DB", "one"]),
        ("127.0.0.1:6379", {"DB": -2}, {}, ["DB", "-2"]),
        ("127.0.0.1:6379", {"PICKLE_VERSION": 9}, {}, ["PICKLE_VERSION", "9"]),
        ("127.0.0.1:6379", {"CONNECTION_POOL_CLASS_KWARGS": {"max_connections": 0}}, {}, ["max_connections", "0"]),
        ("127.0.0.1:6379", {"CONNECTION_POOL_CLASS_KWARGS": {"timeout": 5}}, {}, ["timeout", "BlockingConnectionPool"]),
        ("127.0.0.1:6379", {"CONNECTION_POOL_CLASS_KWARGS": {"frobnicate": 1}}, {}, ["frobnicate"]),
        ("127.0.0.1:6379", {"SSL_CERT_REQS": "sometimes"}, {}, ["SSL_CERT_REQS", "sometimes"]),
        ("127.0.0.1:6379", {"COMPRESSOR_CLASS": "myapp.NoSuchCompressor"}, {}, ["COMPRESSOR_CLASS", "myapp.NoSuchCompressor"]),
        ("127.0.0.1:6379", [], {}, ["OPTIONS"]),
        ("127.0.0.1:notaport", {}, {}, ["LOCATION", "notaport"]),
        ("127.0.0.1:70000", {}, {}, ["LOCATION", "70000"]),
        ("http://127.0.0.1:6379", {}, {}, ["LOCATION", "http://127.0.0.1:6379"]),
        ("redis://127.0.0.1:6379/x", {}, {}, ["LOCATION", "database"]),
        ("redis://127.0.0.1:6379/0?retry=1", {}, {}, ["LOCATION", "retry"]),
        ("", {}, {}, ["LOCATION"]),
        (42, {}, {}, ["LOCATION", "42"]),
        (["127.0.0.1:6379", "127.0.0.1:6380"], {"MASTER_CACHE": "127.0.0.1:6399"}, {}, ["MASTER_CACHE", "127.0.0.1:6399", "127.0.0.1:6380"]),
        ("127.0.0.1:6379", {"HASH_RING": "ketama"}, {}, ["HASH_RING", "ketama"]),
        (["127.0.0.1:6379", "127.0.0.1:6380"], {"WEIGHTS": [1]}, {}, ["WEIGHTS", "2 LOCATION"]),
        (["127.0.0.1:6379", "127.0.0.1:6380"], {"WEIGHTS": [1, 0]}, {}, ["WEIGHTS", "0"]),
        ("127.0.0.1:6379", {}, {"db": "x"}, ["db", "x"]),
    ],
)
def test_bad_settings_are_improperly_configured(location, options, params, must_mention):
    with pytest.raises(ImproperlyConfigured) as info:
        RedisCache(location, {"OPTIONS": options, **params})
    for text in must_mention:
        assert text in str(info.value), f"{text!r} not in {info.value}"


def test_passwords_never_appear_in_errors_or_repr():
    with pytest.raises(ImproperlyConfigured) as info:
        RedisCache("redis://user:hunter2@host:6379/0?bogus=1", {})
    assert "hunter2" not in str(info.value)
    cache = RedisCache("redis://user:hunter2@host:6379/0", {})
    assert "hunter2" not in repr(cache)
    assert "hunter2" not in repr(cache._settings.servers[0])


def test_pickle_version_default_is_highest():
    assert RedisCache("127.0.0.1:6379", {})._protocol == pickle.HIGHEST_PROTOCOL
    assert RedisCache("127.0.0.1:6379", {"OPTIONS": {"PICKLE_VERSION": 2}})._protocol == 2


# ----------------------------------------------------------------- no secret in any message, repr or log

SECRET = "hunter2-Secret"
DR = "django_redis.client.DefaultClient"
SENTINEL_CLIENT = "django_redis.client.SentinelClient"
# Settings that are wrong (or right) in ways that make the settings code word a message, a repr or a
# log line near a secret: the secret must never be in any of them.
SECRET_CASES = [
    ("127.0.0.1:6379", {"PASWORD": SECRET}, {}),  # an unknown key close to PASSWORD
    ("127.0.0.1:6379", {"SENTINEL_PASWORD": SECRET}, {}),
    ("127.0.0.1:6379", {"PROTECTION_KEY": SECRET}, {}),
    ("127.0.0.1:6379", {"PASSWORD": SECRET}, {}),  # valid: reprs and logs
    ("127.0.0.1:6379", {"PASSWORD": SECRET, "SOCKET_TIMEOUT": -1}, {}),
    ("127.0.0.1:6379", [("PASSWORD", SECRET)], {}),  # OPTIONS not a dict
    (f"redis://user:{SECRET}@127.0.0.1:6379/0?bogus=1", {}, {}),
    (f"redis://user:{SECRET}@127.0.0.1:notaport/0", {}, {}),
    (f"user:{SECRET}@127.0.0.1:6379", {}, {}),  # a URL without its scheme
    (f"//:{SECRET}@:6379", {}, {}),  # ... and without its scheme's name (found by FuzzParseEntry)
    ([f"redis://:{SECRET}@10.0.0.1:6379/0", f"unix://:{SECRET}@/tmp/r.sock"], {"CLUSTER": True}, {}),
    ([f"redis+cluster://:{SECRET}@10.0.0.1:6379", f"redis://:{SECRET}@10.0.0.2:6379"], {}, {}),
    ([f"redis://:{SECRET}@10.0.0.1:6379/0", "10.0.0.2:6379"], {"WEIGHTS": {f"redis://:{SECRET}@10.9.9.9:1": 2}}, {}),
    ([f"redis://:{SECRET}@10.0.0.1:6379/0", "10.0.0.2:6379"], {"MASTER_CACHE": f"redis://:{SECRET}@10.9.9.9:1"}, {}),
    ([f"redis://:{SECRET}@10.0.0.1:6379/0", "10.0.0.2:6379"], {"MASTER_CACHE": 7}, {}),
    (f"redis://:{SECRET}@10.0.0.1:6379/0", {"SENTINEL_PASSWORD": SECRET}, {}),  # needs SENTINELS
    (f"redis://:{SECRET}@svc/0", {"SENTINELS": ["127.0.0.1:26379"], "SENTINEL_SERVICE": "svc", "SENTINEL_PASSWORD": SECRET}, {}),
    (42, {"PASSWORD": SECRET}, {}),
    (f"redis://:{SECRET}@127.0.0.1:6379/0", {"SERIALIZER_CLASS_KWARGS": {"password": SECRET}}, {}),
    ("redis://127.0.0.1:6379/0", {"CLIENT_CLASS": DR, "PASSWORD": SECRET, "CONNECTION_POOL_KWARGS": {"pasword": SECRET}}, {}),
    ("redis://127.0.0.1:6379/0", {"CLIENT_CLASS": DR, "CONNECTION_POOL_KWARGS": {"password": SECRET, "retry_on_timeout": True}}, {}),
    ("redis://127.0.0.1:6379/0", {"CLIENT_CLASS": DR, "CONNECTION_POOL_KWARGS": [("password", SECRET)]}, {}),
    ("redis://127.0.0.1:6379/0", {"CLIENT_CLASS": DR, "PASWORD": SECRET}, {}),
    ("redis://127.0.0.1:6379/0", {"pasword": SECRET}, {}),  # Django's lower-case OPTIONS
    ("redis://127.0.0.1:6379/0", {"password": SECRET, "health_check_interval": 3}, {}),
    (f"redis://:{SECRET}@/0", {"CLIENT_CLASS": SENTINEL_CLIENT, "SENTINELS": ["127.0.0.1:26379"]}, {}),
    ("redis://svc/0", {"CLIENT_CLASS": SENTINEL_CLIENT, "SENTINELS": ["127.0.0.1:26379"], "SENTINEL_KWARGS": {"passwd": SECRET}}, {}),
    ("redis://svc/0", {"CLIENT_CLASS": SENTINEL_CLIENT, "SENTINELS": ["127.0.0.1:26379"],
                       "SENTINEL_KWARGS": {"password": SECRET, "socket_timeout": 1}}, {}),
    ("127.0.0.1:6379", {}, {"PASSWORD": SECRET}),  # top level, where it is not read
    ("127.0.0.1:6379", {}, {"PASWORD": SECRET}),
]


def _everything_said(location, options, params, caplog) -> list[str]:
    """Every message, repr and log line the settings code produces for one CACHES entry."""
    from django.test import override_settings

    from redis_cache_go import _compat, checks

    _compat.reset_warnings()
    said: list[str] = []
    conf = {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": location, "OPTIONS": options, **params}
    with caplog.at_level(logging.DEBUG):
        try:
            cache = RedisCache(location, {"OPTIONS": options, **params})
        except ImproperlyConfigured as e:
            said += [str(e), repr(e)]
        else:
            settings = cache._settings
            said += [repr(cache), repr(settings), str(settings), repr(settings.servers), cache._describe]
            said += [repr(_compat.translate(location, params, options))]
            cache.disconnect()
        with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, "c": conf}):
            for message in checks.check_caches():
                said += [str(message), repr(message), message.msg, str(message.hint)]
    said += [r.getMessage() for r in caplog.records] + [caplog.text]
    return said


@pytest.mark.parametrize("location, options, params", SECRET_CASES)
def test_no_secret_in_any_message_repr_or_log_line(location, options, params, caplog):
    said = _everything_said(location, options, params, caplog)
    leaks = [text for text in said if SECRET in text]
    assert not leaks, leaks
    assert any(text.strip() for text in said)


def test_an_unknown_key_close_to_a_secret_is_named_without_its_value():
    with pytest.raises(ImproperlyConfigured) as info:
        RedisCache("127.0.0.1:6379", {"OPTIONS": {"PASWORD": SECRET}})
    assert "OPTIONS['PASWORD'] = '***'" in str(info.value) and "did you mean 'PASSWORD'" in str(info.value)
    with pytest.raises(ImproperlyConfigured) as info:  # not a secret: the value helps
        RedisCache("127.0.0.1:6379", {"OPTIONS": {"SOCKET_TIMOUT": 3}})
    assert "OPTIONS['SOCKET_TIMOUT'] = 3" in str(info.value)


def test_ignored_exceptions_log_no_password(dead_location, caplog):
    cache = RedisCache(f"redis://:{SECRET}@{dead_location}/0", {"OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1}})
    with caplog.at_level(logging.DEBUG):
        assert cache.get("k", "default") == "default"
    cache.disconnect()
    assert caplog.records and SECRET not in caplog.text


# ------------------------------------------------------- django-redis / Django keys named as written, warned once

@pytest.mark.parametrize("options, written", [
    ({"CLIENT_CLASS": DR, "CONNECTION_POOL_KWARGS": {"retry_on_timeout": True}},
     "OPTIONS['CONNECTION_POOL_KWARGS']['retry_on_timeout']"),
    ({"retry_on_timeout": True}, "OPTIONS['retry_on_timeout']"),  # Django's RedisCache
    ({"CONNECTION_POOL_CLASS_KWARGS": {"retry_on_timeout": True}}, "OPTIONS['CONNECTION_POOL_CLASS_KWARGS']['retry_on_timeout']"),
])
def test_ignored_pool_arguments_are_named_as_written_and_warned_once(options, written, caplog):
    from redis_cache_go import _compat

    _compat.reset_warnings()
    with caplog.at_level(logging.WARNING, logger="redis_cache_go"):
        for _ in range(3):
            RedisCache("redis://127.0.0.1:6379/0", {"OPTIONS": dict(options)})
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and written in lines[0], lines


@pytest.mark.parametrize("options, written", [
    ({"CLIENT_CLASS": DR, "CONNECTION_POOL_KWARGS": {"max_conections": 5}}, "OPTIONS['CONNECTION_POOL_KWARGS']['max_conections']"),
    ({"CLIENT_CLASS": DR, "CONNECTION_POOL_KWARGS": {"max_connections": 0}}, "OPTIONS['CONNECTION_POOL_KWARGS']['max_connections']"),
    ({"CLIENT_CLASS": DR, "CONNECTION_POOL_KWARGS": {"timeout": 5}}, "OPTIONS['CONNECTION_POOL_KWARGS']['timeout']"),
    ({"CLIENT_CLASS": DR, "CONNECTION_POOL_KWARGS": {"socket_timeout": -1}}, "OPTIONS['CONNECTION_POOL_KWARGS']['socket_timeout']"),
    ({"CLIENT_CLASS": DR, "CONNECTION_POOL_KWARGS": {"ssl_cert_reqs": "maybe"}}, "OPTIONS['CONNECTION_POOL_KWARGS']['ssl_cert_reqs']"),
    ({"max_conections": 5}, "OPTIONS['max_conections']"),
    ({"max_connections": 0}, "OPTIONS['max_connections']"),
    ({"socket_connect_timeout": "soon"}, "OPTIONS['socket_connect_timeout']"),
    ({"pool_class": "my.Pool"}, "OPTIONS['pool_class']"),
    ({"parser_class": "my.Parser"}, "OPTIONS['parser_class']"),
])
def test_translated_keys_are_named_as_written_in_errors(options, written):
    with pytest.raises(ImproperlyConfigured) as info:
        RedisCache("redis://127.0.0.1:6379/0", {"OPTIONS": options})
    assert written in str(info.value), str(info.value)
    assert "CONNECTION_POOL_CLASS_KWARGS" not in str(info.value), str(info.value)  # a key the user never wrote


# Modules that read OPTIONS: the parser (_settings.parse and the parts it calls) and the system
# checks, which name the translated OPTIONS in their messages. Everything else gets Settings.
_READERS = {"_settings.py", "_compat.py", "_codec_settings.py", "_topology.py", "_local_cache.py", "_protection.py", "checks.py"}


def test_only_the_parser_reads_options_or_the_caches_entry():
    """The backend (and every module but the parser's) reads no OPTIONS key and no CACHES entry
    key: no ``x.get("KEY")``, ``x["KEY"]`` or ``"KEY" in x`` with an OPTIONS key, no ``params``."""
    import ast

    keys = _settings.documented_keys()["OPTIONS key"]
    package = pathlib.Path(_settings.__file__).parent
    found = []
    for path in sorted(package.glob("*.py")):
        if path.name in _READERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            strings, read = [], None  # the key read, and from what
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
                strings, read = [node.args[0]], node.func.value
            elif isinstance(node, ast.Subscript):
                strings, read = [node.slice], node.value
            elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
                strings, read = [node.left], node.comparators[0]
            if isinstance(read, ast.Name) and read.id == "params":
                found.append(f"{path.name}:{node.lineno}: params")
            found += [f"{path.name}:{node.lineno}: {s.value!r}" for s in strings
                      if isinstance(s, ast.Constant) and s.value in keys]
    assert not found, "OPTIONS read outside the parser (read it in _settings.parse, into Settings):\n" + "\n".join(found)


def test_parse_gives_the_backend_everything():
    """One parse: layout, primary, ring, describe, the native document, fail-open and the fork fallback."""
    s = _settings.parse(["127.0.0.1:6379", "127.0.0.1:6380"], {"OPTIONS": {
        "MASTER_CACHE": "127.0.0.1:6380", "IGNORE_EXCEPTIONS": True, "LOG_IGNORED_EXCEPTIONS": False, "FORK_FALLBACK": True}})
    assert (s.layout, s.primary, s.hash_ring, s.weights) == ("primary", 1, "seed", None)
    assert s.describe == "primary redis 127.0.0.1:6380 db 1 with replicas redis 127.0.0.1:6379 db 1"
    assert s.document["mode"] == "primary" and s.document["primary"] == 1
    assert (s.ignore_exceptions, s.log_ignored_exceptions, s.fork_fallback) == (True, False, True)
    ring = _settings.parse(["127.0.0.1:6379", "127.0.0.1:6380"], {"OPTIONS": {"WEIGHTS": [1, 2]}}, layout="ring",
                           backend="ShardedRedisCache")
    assert (ring.layout, ring.weights, ring.document["mode"]) == ("ring", [1, 2], "ring")
    assert [x["weight"] for x in ring.document["servers"]] == [1, 2]
    plain = _settings.parse("127.0.0.1:6379", {"OPTIONS": {"LOCAL_CACHE": {}}, "KEY_PREFIX": "site"})
    assert (plain.ignore_exceptions, plain.log_ignored_exceptions, plain.fork_fallback) == (False, True, False)
    assert plain.document["local_cache"] == {"prefix": "site:"} and plain.document["addr"] == "127.0.0.1:6379"
    cache = RedisCache("127.0.0.1:6379", {"OPTIONS": {"LOCAL_CACHE": {}}, "KEY_PREFIX": "site"})
    assert cache._settings.document == plain.document

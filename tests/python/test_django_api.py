"""The synchronous Django cache API of redis_cache_go.RedisCache against a real redis-server.

What Redis really holds is checked with the harness' own RESP client (``raw.command``), never
through the backend under test.
"""
from __future__ import annotations

import collections
import datetime
import decimal
import enum
import http
import os
import pickle
import signal
import threading
import time
import uuid
import warnings

import pytest
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache, CacheKeyWarning, InvalidCacheKey
from django.core.exceptions import ImproperlyConfigured
from django.utils.safestring import mark_safe

from expiry import ttl_window
from redisproc import free_port


class Colour(enum.IntEnum):
    """An int subclass defined here, so it pickles by reference to this module."""

    RED = 1
    GREEN = 2


def pttl(raw, key: str) -> int:
    return raw.command("PTTL", key)


def exists(raw, key: str) -> bool:
    return raw.command("EXISTS", key) == 1


# =========================================================================== construction


def test_backend_is_a_django_base_cache(cache):
    assert isinstance(cache, BaseCache)


def test_construction_does_not_contact_the_server(make_cache, dead_location):
    make_cache(dead_location)  # nothing listens there; building the cache must still succeed


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("DB", "not-a-number"),
        ("PICKLE_VERSION", 99),
        ("SOCKET_TIMEOUT", "soon"),
        ("SOCKET_CONNECT_TIMEOUT", "later"),
    ],
)
def test_invalid_option_value_raises_improperly_configured(make_cache, dead_location, option, value):
    with pytest.raises(ImproperlyConfigured) as excinfo:
        make_cache(dead_location, options={option: value})
    message = str(excinfo.value)
    assert option in message
    assert str(value) in message


def test_unknown_option_raises_improperly_configured(make_cache, dead_location):
    with pytest.raises(ImproperlyConfigured, match="NO_SUCH_OPTION_XYZ"):
        make_cache(dead_location, options={"DB": 0, "NO_SUCH_OPTION_XYZ": 1})


def test_malformed_port_raises_improperly_configured(make_cache):
    with pytest.raises(ImproperlyConfigured, match="notaport"):
        make_cache("127.0.0.1:notaport")


# Option values as django-redis-cache's own documentation writes them: a drop-in must take them.
SEED_DOCUMENTED_OPTIONS = {
    "PARSER_CLASS hiredis": {"PARSER_CLASS": "redis.connection.HiredisParser"},
    "PARSER_CLASS python": {"PARSER_CLASS": "redis.connection.PythonParser"},
    "CONNECTION_POOL_CLASS blocking": {"CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool"},
    "CONNECTION_POOL_CLASS_KWARGS": {"CONNECTION_POOL_CLASS_KWARGS": {"max_connections": 50}},
    "blocking pool with its kwargs": {
        "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
        "CONNECTION_POOL_CLASS_KWARGS": {"max_connections": 50, "timeout": 20},
    },
    "socket timeouts": {"SOCKET_TIMEOUT": 5, "SOCKET_CONNECT_TIMEOUT": 2.5},
    "PICKLE_VERSION -1": {"PICKLE_VERSION": -1},
}


@pytest.mark.parametrize("case", list(SEED_DOCUMENTED_OPTIONS))
def test_seed_documented_options_are_accepted(make_cache, raw, case):
    cache = make_cache(options={"DB": 0, **SEED_DOCUMENTED_OPTIONS[case]})
    cache.set("k", "v")
    assert cache.get("k") == "v"
    assert raw.command("GET", ":1:k") == pickle.dumps("v", pickle.HIGHEST_PROTOCOL)


def test_rediss_location_is_accepted_without_connecting(make_cache):
    make_cache(f"rediss://127.0.0.1:{free_port()}/0", options={})


# Each entry: how to write LOCATION/OPTIONS for the session server, and the DB the keys must land in.
LOCATION_FORMS = {
    "host:port with DB option": (lambda s: (s.location, {"DB": 6}), 6),
    "host:port without DB is DB 1": (lambda s: (s.location, {}), 1),
    "redis url with db path": (lambda s: (f"redis://{s.host}:{s.port}/3", {}), 3),
    "unix url with db query": (lambda s: (f"unix://{s.unix_socket}?db=2", {}), 2),
    "bare socket path with DB option": (lambda s: (s.unix_socket, {"DB": 4}), 4),
}


@pytest.mark.parametrize("form", list(LOCATION_FORMS))
def test_location_form_selects_server_and_db(make_cache, redis_server, db_client, form):
    build, expected_db = LOCATION_FORMS[form]
    location, options = build(redis_server)
    cache = make_cache(location, options=options)
    cache.set("where", 7)
    assert db_client(expected_db).get(":1:where") == b"7"
    assert cache.get("where") == 7
    others = [db for db in range(8) if db != expected_db]
    assert all(db_client(db).get(":1:where") is None for db in others)


def test_password_option_authenticates(make_cache, auth_server):
    cache = make_cache(auth_server.location, options={"DB": 0, "PASSWORD": auth_server.password})
    cache.set("k", "v")
    assert cache.get("k") == "v"
    assert auth_server.command("GET", ":1:k") == pickle.dumps("v", pickle.HIGHEST_PROTOCOL)


def test_password_in_redis_url_authenticates(make_cache, auth_server):
    cache = make_cache(f"redis://:{auth_server.password}@{auth_server.host}:{auth_server.port}/0", options={})
    cache.set("k", 1)
    assert auth_server.command("GET", ":1:k") == b"1"


def test_wrong_password_raises_authentication_error(make_cache, auth_server, errors):
    cache = make_cache(auth_server.location, options={"DB": 0, "PASSWORD": "wrong-password"})
    with pytest.raises(errors.AuthenticationError):
        cache.get("k")


def test_unreachable_server_raises_connection_error(make_cache, dead_location, errors):
    cache = make_cache(dead_location, options={"DB": 0, "SOCKET_CONNECT_TIMEOUT": 1})
    with pytest.raises(errors.ConnectionError):
        cache.get("k")


def test_unresponsive_server_raises_timeout_error(make_cache, silent_location, errors):
    cache = make_cache(silent_location, options={"DB": 0, "SOCKET_TIMEOUT": 0.3, "SOCKET_CONNECT_TIMEOUT": 0.3})
    started = time.monotonic()
    with pytest.raises(errors.TimeoutError):
        cache.get("k")
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "name",
    ["ConnectionError", "TimeoutError", "AuthenticationError", "ServerError", "DecodeError",
     "ForkedProcessError", "InternalError"],
)
def test_exception_derives_from_redis_cache_error(errors, name):
    exc = getattr(errors, name)
    assert issubclass(exc, errors.RedisCacheError)
    assert issubclass(errors.RedisCacheError, Exception)


# =========================================================================== storage format

PLAIN_INTS = [0, 1, -5, 2**63 - 1, -(2**63), 2**70, -(2**64), 10**40]


@pytest.mark.parametrize("value", PLAIN_INTS, ids=repr)
def test_plain_int_is_stored_as_decimal_ascii(cache, raw, value):
    cache.set("n", value)
    assert raw.command("GET", ":1:n") == str(value).encode("ascii")


@pytest.mark.parametrize("value", PLAIN_INTS, ids=repr)
def test_plain_int_reads_back_as_int(cache, value):
    cache.set("n", value)
    got = cache.get("n")
    assert type(got) is int
    assert got == value


NON_INT_VALUES = [True, False, None, http.HTTPStatus.OK, Colour.GREEN, "123", " -7 ", b"42", 1.5, 2.0,
                  [1, 2], {"a": 1}]


@pytest.mark.parametrize("value", NON_INT_VALUES, ids=repr)
def test_non_int_value_is_pickled_with_highest_protocol(cache, raw, value):
    cache.set("v", value)
    assert raw.command("GET", ":1:v") == pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


@pytest.mark.parametrize("protocol", [-1, 0, 1, 2, 3, 4, 5])
def test_pickle_version_option_selects_the_protocol(make_cache, raw, protocol):
    cache = make_cache(options={"DB": 0, "PICKLE_VERSION": protocol})
    value = {"a": [1, "b", b"c"], "d": (2.5, None)}
    cache.set("v", value)
    assert raw.command("GET", ":1:v") == pickle.dumps(value, protocol)
    assert cache.get("v") == value


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_pickles_of_any_protocol_are_read(cache, raw, protocol):
    value = {"a": [1, "b", b"c"], "d": (2.5, None), "e": {1, 2}}
    raw.command("SET", ":1:v", pickle.dumps(value, protocol))
    assert cache.get("v") == value


@pytest.mark.parametrize(
    ("payload", "expected"),
    [(b"42", 42), (b"-12", -12), (b"+3", 3), (b"007", 7), (b" 7 ", 7), (b"1_000", 1000),
     (b"1180591620717411303424", 2**70)],
    ids=repr,
)
def test_payload_that_int_accepts_reads_as_int(cache, raw, payload, expected):
    raw.command("SET", ":1:n", payload)
    got = cache.get("n")
    assert type(got) is int
    assert got == expected


@pytest.mark.parametrize(
    "payload",
    [b"not a pickle", b"\x80\x05garbage", b"<HTTPStatus.OK: 200>", b"\x80"],
    ids=repr,
)
def test_undecodable_payload_raises_decode_error_naming_the_key(cache, raw, errors, payload):
    raw.command("SET", ":1:broken-key", payload)
    with pytest.raises(errors.DecodeError) as excinfo:
        cache.get("broken-key")
    assert "broken-key" in str(excinfo.value)
    assert raw.command("GET", ":1:broken-key") == payload  # never overwritten


# =========================================================================== keys


def test_key_is_made_from_prefix_version_and_key(make_cache, raw):
    cache = make_cache(KEY_PREFIX="pfx", VERSION=3)
    cache.set("k", 5)
    assert raw.command("GET", "pfx:3:k") == b"5"


def test_version_argument_overrides_version_setting(cache, raw):
    cache.set("k", 5, version=7)
    assert raw.command("GET", ":7:k") == b"5"
    assert cache.get("k") is None
    assert cache.get("k", version=7) == 5


def test_key_function_setting_makes_the_key(make_cache, raw):
    def key_function(key, key_prefix, version):
        return f"custom|{key_prefix}|{version}|{key[::-1]}"

    cache = make_cache(KEY_PREFIX="p", VERSION=2, KEY_FUNCTION=key_function)
    cache.set("abc", 9)
    assert raw.command("GET", "custom|p|2|cba") == b"9"
    assert cache.get("abc") == 9


def test_unicode_key_is_stored_as_utf8_without_warning(cache, raw):
    key = "ключ-日本語-😀-été"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.set(key, "value")
        assert cache.get(key) == "value"
    assert raw.command("GET", f":1:{key}".encode("utf-8")) == pickle.dumps("value", pickle.HIGHEST_PROTOCOL)


def test_plain_key_does_not_warn(cache):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.set("plain:key-1_2.3", 1)
        assert cache.get("plain:key-1_2.3") == 1


MEMCACHE_UNSAFE_KEYS = ["with space", "tab\there", "newline\nhere", "nul\x00here", "del\x7fhere",
                        "x" * 251]


@pytest.mark.parametrize("key", MEMCACHE_UNSAFE_KEYS, ids=lambda k: repr(k)[:20])
def test_memcache_unsafe_key_warns_but_still_works(cache, raw, key):
    with pytest.warns(CacheKeyWarning):
        cache.set(key, 11)
    assert raw.command("GET", f":1:{key}") == b"11"
    with pytest.warns(CacheKeyWarning):
        assert cache.get(key) == 11


def _made_with_warnings(make):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        made = make()
    return made, [(w.category, str(w.message)) for w in seen]


@pytest.mark.parametrize("key", [*MEMCACHE_UNSAFE_KEYS, "ok", 5, ("t", 1), "x" * 246, "x" * 247, "ünï😀", mark_safe("s")],
                         ids=lambda k: repr(k)[:20])
@pytest.mark.parametrize("version", [None, 3])
def test_inlined_key_making_is_djangos(make_cache, key, version):
    # The backend inlines Django's default make_key + validate_key (a speed-up): the same key
    # string and the same warnings as Django's own make_and_validate_key, for every kind of key.
    cache = make_cache(KEY_PREFIX="pre", VERSION=2)
    ours = _made_with_warnings(lambda: cache._key(key, version))
    django = _made_with_warnings(lambda: BaseCache.make_and_validate_key(cache, key, version=version))
    assert ours == (django[0].encode(), django[1])


@pytest.mark.parametrize("version", [None, 5])
def test_batch_key_making_is_one_key_at_a_time(make_cache, version):
    # get_many/set_many/delete_many make their keys in one pass: the same keys and the same
    # warnings, in the same order, as making them one by one.
    keys = ["a", 7, "bad key", ("t",), "x" * 300, mark_safe("m"), "ok", "del\x7f"]
    cache = make_cache(KEY_PREFIX="p")
    assert _made_with_warnings(lambda: cache._keys(keys, version)) == _made_with_warnings(
        lambda: [cache._key(k, version) for k in keys])
    assert _made_with_warnings(lambda: cache._keys(["fine", "keys"], version))[1] == []
    with pytest.raises(InvalidCacheKey, match="cannot be encoded"):
        cache._keys(["ok", "\ud800"], version)


def test_a_subclass_make_key_is_still_used(make_cache):
    from redis_cache_go import RedisCache

    class Custom(RedisCache):
        def make_key(self, key, version=None):
            return "custom-" + str(key)

    cache = Custom("127.0.0.1:1", {})
    assert cache._key("k", None) == b"custom-k"
    cache.key_func = lambda key, prefix, version: f"fn-{key}"  # a key_func set later is honoured too
    plain = make_cache()
    plain.key_func = lambda key, prefix, version: f"fn-{key}"
    assert plain._key("k", None) == b"fn-k"


KEY_METHODS = {
    "get": lambda c, k: c.get(k),
    "set": lambda c, k: c.set(k, 1),
    "add": lambda c, k: c.add(k, 1),
    "touch": lambda c, k: c.touch(k),
    "delete": lambda c, k: c.delete(k),
    "has_key": lambda c, k: c.has_key(k),
    "incr": lambda c, k: c.incr(k),
    "decr": lambda c, k: c.decr(k),
    "get_many": lambda c, k: c.get_many([k]),
    "set_many": lambda c, k: c.set_many({k: 1}),
    "delete_many": lambda c, k: c.delete_many([k]),
    "get_or_set": lambda c, k: c.get_or_set(k, 1),
    "incr_version": lambda c, k: c.incr_version(k),
}


@pytest.mark.parametrize("method", list(KEY_METHODS))
def test_every_method_validates_the_key(cache, raw, method):
    raw.command("SET", ":1:bad key", b"1")
    with pytest.warns(CacheKeyWarning):
        KEY_METHODS[method](cache, "bad key")


# =========================================================================== values


ROUND_TRIP_VALUES = [
    0, -1, 2**70, -(2**64), True, False, None, 1.5, -0.0, float("inf"), complex(1, -2),
    "", "text", "123", " -7 ", "naïve café — 日本語 😀", "\x00\n\t\"\\\x7f",
    b"", b"\x00\xff", b"42", bytes(range(256)), bytearray(b"abc"),
    [1, "two", 3.0, None, True], (1, "a", (2, 3)), (), {"a": {"b": [1, {"c": None}]}}, {1: "one"},
    {1, 2, 3}, frozenset({"x"}), collections.OrderedDict([("b", 1), ("a", 2)]),
    datetime.datetime(2024, 2, 29, 13, 45, 30, 123456, tzinfo=datetime.timezone.utc),
    datetime.date(2024, 2, 29), datetime.time(13, 45, 30), datetime.timedelta(days=1, microseconds=7),
    decimal.Decimal("3.141592653589793238462643383279"), uuid.UUID("12345678-1234-5678-1234-567812345678"),
    http.HTTPStatus.NOT_FOUND, Colour.RED, mark_safe("<b>safe</b>"),
]


@pytest.mark.parametrize("value", ROUND_TRIP_VALUES, ids=lambda v: f"{type(v).__name__}:{v!r}"[:40])
def test_value_round_trips_with_its_type(cache, value):
    cache.set("v", value)
    got = cache.get("v")
    assert type(got) is type(value)
    assert repr(got) == repr(value)


def test_float_nan_round_trips(cache):
    cache.set("v", float("nan"))
    got = cache.get("v")
    assert type(got) is float and repr(got) == "nan"


def test_large_binary_value_round_trips(cache, raw):
    value = os.urandom(3 * 1024 * 1024)
    cache.set("big", value)
    assert cache.get("big") == value
    assert raw.command("STRLEN", ":1:big") == len(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def test_stored_none_is_returned_instead_of_default(cache):
    cache.set("none", None)
    assert cache.get("none", "default") is None


# =========================================================================== get / set / add / delete


def test_get_missing_key_returns_none(cache):
    assert cache.get("missing") is None


def test_get_missing_key_returns_default(cache):
    assert cache.get("missing", "fallback") == "fallback"


def test_set_overwrites_existing_value(cache):
    cache.set("k", "first")
    cache.set("k", "second")
    assert cache.get("k") == "second"


def test_add_missing_key_stores_and_returns_true(cache, raw):
    assert cache.add("k", 3) is True
    assert raw.command("GET", ":1:k") == b"3"


def test_add_existing_key_returns_false_and_keeps_value(cache):
    cache.set("k", "old")
    assert cache.add("k", "new") is False
    assert cache.get("k") == "old"


def test_add_existing_key_keeps_ttl(cache, raw):
    cache.set("k", "old", timeout=None)
    cache.add("k", "new", timeout=10)
    assert pttl(raw, ":1:k") == -1


def test_delete_existing_key_returns_true(cache, raw):
    cache.set("k", 1)
    assert cache.delete("k") is True
    assert not exists(raw, ":1:k")


def test_delete_missing_key_returns_false(cache):
    assert cache.delete("missing") is False


def test_delete_respects_version(cache):
    cache.set("k", 1, version=2)
    assert cache.delete("k") is False
    assert cache.delete("k", version=2) is True


def test_has_key_true_for_present_key(cache):
    cache.set("k", 0)
    assert cache.has_key("k") is True
    assert "k" in cache


def test_has_key_false_for_missing_key(cache):
    assert cache.has_key("missing") is False
    assert "missing" not in cache


def test_has_key_true_for_stored_none(cache):
    cache.set("k", None)
    assert cache.has_key("k") is True


def test_has_key_respects_version(cache):
    cache.set("k", 1, version=4)
    assert cache.has_key("k") is False
    assert cache.has_key("k", version=4) is True


# =========================================================================== timeouts


@pytest.mark.parametrize(
    ("timeout", "ms"),
    [(None, None), (10, 10_000), (0.5, 500), (1.5, 1_500), (2.25, 2_250), (DEFAULT_TIMEOUT, 300_000)],
    ids=["None", "10", "0.5", "1.5", "2.25", "DEFAULT_TIMEOUT"],
)
def test_set_timeout_becomes_pttl(cache, raw, timeout, ms):
    window = ttl_window(ms)
    cache.set("k", "v", timeout=timeout)
    window.check(pttl(raw, ":1:k"))


@pytest.mark.parametrize("timeout", [0, -1, -0.5, -3600])
def test_set_with_non_positive_timeout_stores_nothing(cache, raw, timeout):
    cache.set("k", "v", timeout=timeout)
    assert not exists(raw, ":1:k")


@pytest.mark.parametrize("timeout", [0, -1, -0.5])
def test_set_with_non_positive_timeout_deletes_existing_key(cache, raw, timeout):
    cache.set("k", "old", timeout=None)
    cache.set("k", "new", timeout=timeout)
    assert not exists(raw, ":1:k")
    assert cache.get("k") is None


@pytest.mark.parametrize(
    ("setting", "low", "high"),
    [(None, -1, -1), (60, 59_000, 60_000)],
    ids=["None", "60"],
)
def test_timeout_setting_is_the_default_timeout(make_cache, raw, setting, low, high):
    cache = make_cache(TIMEOUT=setting)
    cache.set("k", "v")
    cache.set("d", "v", timeout=DEFAULT_TIMEOUT)
    assert low <= pttl(raw, ":1:k") <= high
    assert low <= pttl(raw, ":1:d") <= high


def test_timeout_setting_zero_stores_nothing(make_cache, raw):
    cache = make_cache(TIMEOUT=0)
    cache.set("k", "v")
    assert not exists(raw, ":1:k")


def test_key_expires_after_its_timeout(cache, raw, wait_until):
    cache.set("k", "v", timeout=1)
    assert cache.get("k") == "v"
    wait_until(lambda: cache.get("k") is None, message="key with timeout=1 never expired")
    assert not exists(raw, ":1:k")


def test_sub_second_timeout_expires_in_milliseconds(cache, raw, wait_until):
    window = ttl_window(300)
    cache.set("k", "v", timeout=0.3)
    window.check(pttl(raw, ":1:k"))  # milliseconds: not rounded up to a second
    wait_until(lambda: not exists(raw, ":1:k"), message="key with timeout=0.3 never expired")
    assert cache.get("k") is None


def test_add_with_timeout_sets_pttl(cache, raw):
    assert cache.add("k", "v", timeout=20) is True
    assert 19_000 <= pttl(raw, ":1:k") <= 20_000


def test_add_with_sub_second_timeout_keeps_milliseconds(cache, raw):
    window = ttl_window(750)
    assert cache.add("k", "v", timeout=0.75) is True
    window.check(pttl(raw, ":1:k"))


def test_add_with_zero_timeout_returns_true_and_stores_nothing(cache, raw):
    assert cache.add("k", "v", timeout=0) is True
    assert not exists(raw, ":1:k")


def test_add_with_zero_timeout_on_existing_key_returns_false_and_keeps_it(cache):
    cache.set("k", "old", timeout=None)
    assert cache.add("k", "new", timeout=0) is False
    assert cache.get("k") == "old"


def test_add_with_timeout_none_never_expires(cache, raw):
    cache.add("k", "v", timeout=None)
    assert pttl(raw, ":1:k") == -1


def test_touch_sets_new_timeout(cache, raw):
    cache.set("k", "v", timeout=None)
    assert cache.touch("k", 50) is True
    assert 49_000 <= pttl(raw, ":1:k") <= 50_000


def test_touch_with_float_timeout_keeps_milliseconds(cache, raw):
    cache.set("k", "v", timeout=None)
    window = ttl_window(2_500)
    assert cache.touch("k", 2.5) is True
    window.check(pttl(raw, ":1:k"))


def test_touch_with_none_makes_key_persistent(cache, raw):
    cache.set("k", "v", timeout=30)
    assert cache.touch("k", None) is True
    assert pttl(raw, ":1:k") == -1


def test_touch_with_default_timeout_uses_timeout_setting(make_cache, raw):
    cache = make_cache(TIMEOUT=120)
    cache.set("k", "v", timeout=None)
    assert cache.touch("k") is True
    assert 119_000 <= pttl(raw, ":1:k") <= 120_000


def test_touch_with_zero_timeout_deletes_the_key(cache, raw):
    cache.set("k", "v", timeout=None)
    assert cache.touch("k", 0) is True
    assert not exists(raw, ":1:k")


def test_touch_missing_key_returns_false(cache, raw):
    assert cache.touch("missing", 10) is False
    assert not exists(raw, ":1:missing")


def test_touch_missing_key_with_none_returns_false(cache):
    assert cache.touch("missing", None) is False


# =========================================================================== get_many / set_many / delete_many


def test_get_many_returns_present_keys_under_their_original_names(cache):
    cache.set("a", 1)
    cache.set("b", "two")
    cache.set("ключ", b"three")
    assert cache.get_many(["a", "b", "missing", "ключ"]) == {"a": 1, "b": "two", "ключ": b"three"}


def test_get_many_of_no_keys_returns_empty_dict(cache):
    assert cache.get_many([]) == {}


def test_get_many_respects_version(cache):
    cache.set("a", 1, version=2)
    cache.set("b", 2)
    assert cache.get_many(["a", "b"], version=2) == {"a": 1}


def test_get_many_uses_the_prefix(make_cache):
    mine = make_cache(KEY_PREFIX="mine")
    other = make_cache(KEY_PREFIX="other")
    other.set("a", "theirs")
    mine.set("b", "ours")
    assert mine.get_many(["a", "b"]) == {"b": "ours"}


def test_get_many_preserves_value_types(cache):
    values = {"int": 2**70, "bool": True, "none": None, "bytes": b"\x00", "str": "123", "enum": Colour.RED}
    cache.set_many(values)
    got = cache.get_many(list(values))
    assert got == values
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in values.items()}


def _django_get_many(cache, keys, stored):
    # Django's RedisCache.get_many: {made key: original}, then the found values under the
    # original that made each key last.
    key_map = {BaseCache.make_and_validate_key(cache, k): k for k in keys}
    return {key_map[m]: stored[m] for m in key_map if m in stored}


@pytest.mark.parametrize("keys", [
    [1, "1", "a", "a", "missing", 2],  # two keys make ":1:1"; "a" twice
    ["b", 2, "2", "b"],
    [f"k{i}" for i in range(40)] + ["k3", "missing"],
])
def test_get_many_maps_keys_that_make_the_same_key_as_django_does(cache, keys):
    stored = {}
    for i, k in enumerate(dict.fromkeys(keys)):
        if k != "missing":
            cache.set(k, ("v", i))
            stored[BaseCache.make_and_validate_key(cache, k)] = cache.get(k)
    for _ in range(2):  # the second call takes the made keys from the memo
        got = cache.get_many(keys)
        want = _django_get_many(cache, keys, stored)
        assert got == want
        assert list(got) == list(want) and [type(k) for k in got] == [type(k) for k in want]


def test_get_many_of_a_batch_mixing_pickles_ints_and_misses(cache, raw):
    keys = [f"k{i}" for i in range(30)]
    want = {}
    for i, k in enumerate(keys):
        if i % 3 == 0:
            continue  # missing
        want[k] = i if i % 3 == 1 else {"pickled": i}
        cache.set(k, want[k])
    assert raw.command("GET", ":1:k1") == b"1"
    for _ in range(2):
        got = cache.get_many(keys)
        assert got == want and list(got) == list(want)
    assert cache.get_many(["k0", "k3"]) == {}


def test_get_many_of_values_larger_than_the_scratch_buffer(cache):
    # the result frame outgrows the thread's scratch buffer while the reply is read
    want = {f"big{i}": os.urandom(40_000 + i) for i in range(4)}
    want["huge"] = b"h" * 300_000
    want["small"] = 7
    cache.set_many(want)
    keys = ["missing0", *want, "missing1"]
    for _ in range(3):  # the scratch buffer grows after the first call
        assert cache.get_many(keys) == want


def test_get_many_raises_for_a_bad_pickle_among_good_ones(cache, raw):
    from redis_cache_go.exceptions import DecodeError

    cache.set_many({f"g{i}": i * 1.5 for i in range(20)})
    raw.command("SET", ":1:bad", b"\x80\x05not a pickle")
    with pytest.raises(DecodeError, match="bad"):
        cache.get_many([f"g{i}" for i in range(20)] + ["bad"])
    assert cache.get_many([f"g{i}" for i in range(20)]) == {f"g{i}": i * 1.5 for i in range(20)}


def test_get_many_does_not_take_a_str_subclass_key_from_the_memo(cache):
    class Shown(str):
        def __str__(self):
            return "shown"

    cache.set("a", "plain")
    cache.set("shown", "subclass")
    assert cache.get_many(["a"]) == {"a": "plain"}  # "a" is now in the made-key memo
    got = cache.get_many([Shown("a")])
    assert got == {"a": "subclass"} and type(next(iter(got))) is Shown


def test_get_many_batch_warns_every_time_for_a_bad_key(cache):
    with pytest.warns(CacheKeyWarning):
        cache.set_many({"ok": 1, "bad key": 2})
    for _ in range(2):
        with pytest.warns(CacheKeyWarning):
            assert cache.get_many(["ok", "bad key"]) == {"ok": 1, "bad key": 2}


def test_set_many_stores_all_and_returns_empty_list(cache, raw):
    assert cache.set_many({"a": 1, "b": "two", "c": None}) == []
    assert raw.command("GET", ":1:a") == b"1"
    assert cache.get_many(["a", "b", "c"]) == {"a": 1, "b": "two", "c": None}


def test_set_many_of_nothing_returns_empty_list(cache, raw):
    assert cache.set_many({}) == []
    assert raw.command("DBSIZE") == 0


@pytest.mark.parametrize(
    ("timeout", "ms"),
    [(None, None), (10, 10_000), (0.5, 500), (DEFAULT_TIMEOUT, 300_000)],
    ids=["None", "10", "0.5", "DEFAULT_TIMEOUT"],
)
def test_set_many_applies_the_timeout_to_every_key(cache, raw, timeout, ms):
    window = ttl_window(ms)
    cache.set_many({"a": 1, "b": "two"}, timeout=timeout)
    window.check(pttl(raw, ":1:a"))
    window.check(pttl(raw, ":1:b"))


@pytest.mark.parametrize("timeout", [0, -1])
def test_set_many_with_non_positive_timeout_stores_nothing_and_deletes(cache, raw, timeout):
    cache.set("a", "old", timeout=None)
    assert cache.set_many({"a": 1, "b": 2}, timeout=timeout) == []
    assert not exists(raw, ":1:a")
    assert not exists(raw, ":1:b")


def test_set_many_respects_version(cache, raw):
    cache.set_many({"a": 1}, version=3)
    assert raw.command("GET", ":3:a") == b"1"


def test_delete_many_removes_only_the_listed_keys(cache):
    cache.set_many({"a": 1, "b": 2, "c": 3})
    cache.delete_many(["a", "c", "missing"])
    assert cache.get_many(["a", "b", "c"]) == {"b": 2}


def test_delete_many_of_no_keys_is_a_no_op(cache):
    cache.set("a", 1)
    assert cache.delete_many([]) is None
    assert cache.get("a") == 1


def test_delete_many_respects_version(cache):
    cache.set("a", 1, version=2)
    cache.set("a", 1)
    cache.delete_many(["a"], version=2)
    assert cache.get("a", version=2) is None
    assert cache.get("a") == 1


# =========================================================================== get_or_set


def test_get_or_set_calls_the_callable_once_on_a_miss(cache, raw):
    calls = []

    def compute():
        calls.append(1)
        return "computed"

    assert cache.get_or_set("k", compute, timeout=30) == "computed"
    assert calls == [1]
    assert cache.get("k") == "computed"
    # herd storage (test_herd.py): fresh for 30 s, then readable as stale for the default 60 s
    assert 29_000 <= pttl(raw, "__fresh__:1:k") <= 30_000
    assert 89_000 <= pttl(raw, ":1:k") <= 90_000


def test_get_or_set_does_not_call_the_callable_on_a_hit(cache):
    cache.get_or_set("k", "cached")
    assert cache.get_or_set("k", lambda: pytest.fail("callable ran on a hit")) == "cached"


def test_get_or_set_with_a_plain_default_returns_a_value_written_by_set(cache, raw):
    """Django's promise: the existing value wins, also one get_or_set did not write (it has no
    fresh flag and no tag), and it is not replaced (tests/python/test_herd_contract.py)."""
    cache.set("k", "from set")
    assert cache.get_or_set("k", "default") == "from set"
    assert cache.get("k") == "from set"
    assert raw.command("EXISTS", "__fresh__:1:k") == 0


def test_get_or_set_with_a_plain_default(cache, raw):
    assert cache.get_or_set("k", 12) == 12
    assert raw.command("GET", ":1:k") == b"12"


def test_get_or_set_stores_none_returned_by_the_callable(cache):
    assert cache.get_or_set("k", lambda: None) is None
    assert cache.has_key("k") is True


def test_get_or_set_respects_version(cache):
    cache.set("k", "v1")
    assert cache.get_or_set("k", "v2", version=2) == "v2"
    assert cache.get("k") == "v1"
    assert cache.get("k", version=2) == "v2"


# =========================================================================== incr / decr


@pytest.mark.parametrize(("start", "delta", "expected"), [(10, 1, 11), (10, 5, 15), (10, -13, -3), (0, 0, 0)])
def test_incr_returns_and_stores_the_new_value(cache, raw, start, delta, expected):
    cache.set("n", start)
    assert cache.incr("n", delta) == expected
    assert raw.command("GET", ":1:n") == str(expected).encode()
    assert cache.get("n") == expected


@pytest.mark.parametrize(("start", "delta", "expected"), [(10, 1, 9), (10, 4, 6), (1, 3, -2)])
def test_decr_returns_and_stores_the_new_value(cache, start, delta, expected):
    cache.set("n", start)
    assert cache.decr("n", delta) == expected
    assert cache.get("n") == expected


@pytest.mark.parametrize("method", ["incr", "decr"])
def test_incr_decr_on_missing_key_raise_value_error(cache, raw, method):
    with pytest.raises(ValueError):
        getattr(cache, method)("missing")
    assert not exists(raw, ":1:missing")


@pytest.mark.parametrize("method", ["incr", "decr"])
def test_incr_decr_of_a_non_integer_raise_a_type_error(cache, errors, method):
    """As Django's own backends (its test_incr/test_decr); also a ServerError with Redis' words."""
    cache.set("null", None)
    with pytest.raises(TypeError) as info:
        getattr(cache, method)("null")
    assert isinstance(info.value, errors.ServerError) and "value is not an integer" in str(info.value)


def test_incr_keeps_the_ttl(cache, raw):
    cache.set("n", 1, timeout=100)
    cache.incr("n")
    assert 90_000 <= pttl(raw, ":1:n") <= 100_000


def test_incr_keeps_a_persistent_key_persistent(cache, raw):
    cache.set("n", 1, timeout=None)
    cache.incr("n")
    assert pttl(raw, ":1:n") == -1


def test_incr_respects_version(cache):
    cache.set("n", 1, version=3)
    cache.set("n", 100)
    assert cache.incr("n", version=3) == 2
    assert cache.get("n") == 100


def test_incr_works_on_a_counter_written_by_another_client(cache, raw):
    raw.command("SET", ":1:n", b"41")
    assert cache.incr("n") == 42


def test_incr_on_non_integer_value_raises_server_error(cache, errors):
    cache.set("s", "text")
    with pytest.raises(errors.ServerError):
        cache.incr("s")
    assert cache.get("s") == "text"


def test_incr_beyond_64_bits_raises_server_error(cache, errors):
    cache.set("n", 2**70)
    with pytest.raises(errors.ServerError):
        cache.incr("n")
    assert cache.get("n") == 2**70


def test_incr_is_atomic_across_threads(cache):
    cache.set("n", 0)
    threads, per_thread = 8, 250
    results: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def work():
        barrier.wait()
        mine = [cache.incr("n") for _ in range(per_thread)]
        with lock:
            results.extend(mine)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert cache.get("n") == threads * per_thread
    assert sorted(results) == list(range(1, threads * per_thread + 1))


# =========================================================================== incr_version / decr_version


def test_incr_version_moves_the_value_and_returns_the_new_version(cache, raw):
    cache.set("k", {"v": 1})
    assert cache.incr_version("k") == 2
    assert cache.get("k") is None
    assert cache.get("k", version=2) == {"v": 1}
    assert not exists(raw, ":1:k")


def test_incr_version_keeps_bytes_and_ttl(cache, raw):
    cache.set("k", 77, timeout=100)
    before = raw.command("GET", ":1:k")
    cache.incr_version("k")
    assert raw.command("GET", ":2:k") == before == b"77"
    assert 90_000 <= pttl(raw, ":2:k") <= 100_000


def test_incr_version_keeps_a_persistent_key_persistent(cache, raw):
    cache.set("k", "v", timeout=None)
    cache.incr_version("k")
    assert pttl(raw, ":2:k") == -1


def test_incr_version_with_delta_and_version(cache):
    cache.set("k", "v", version=3)
    assert cache.incr_version("k", delta=4, version=3) == 7
    assert cache.get("k", version=7) == "v"
    assert cache.get("k", version=3) is None


def test_incr_version_starts_from_the_version_setting(make_cache):
    cache = make_cache(VERSION=5)
    cache.set("k", "v")
    assert cache.incr_version("k") == 6
    assert cache.get("k", version=6) == "v"


def test_decr_version_moves_the_value_down(cache):
    cache.set("k", "v", version=2)
    assert cache.decr_version("k", version=2) == 1
    assert cache.get("k") == "v"
    assert cache.get("k", version=2) is None


@pytest.mark.parametrize("method", ["incr_version", "decr_version"])
def test_version_change_of_missing_key_raises_value_error(cache, method):
    with pytest.raises(ValueError):
        getattr(cache, method)("missing")


def test_incr_version_uses_the_prefix(make_cache, raw):
    cache = make_cache(KEY_PREFIX="pre")
    cache.set("k", 1)
    cache.incr_version("k")
    assert raw.command("GET", "pre:2:k") == b"1"
    assert not exists(raw, "pre:1:k")


# =========================================================================== clear


def test_clear_without_prefix_flushes_only_the_configured_db(cache, raw, db_client):
    cache.set("k", 1)
    raw.command("SET", "not-from-django", b"x")
    db_client(5).set("other-db", b"kept")
    cache.clear()
    assert raw.command("DBSIZE") == 0
    assert db_client(5).get("other-db") == b"kept"


def test_clear_with_prefix_deletes_only_keys_of_that_prefix(make_cache, raw):
    mine = make_cache(KEY_PREFIX="a")
    longer = make_cache(KEY_PREFIX="ab")
    other = make_cache(KEY_PREFIX="b")
    mine.set_many({f"k{i}": i for i in range(2500)})
    mine.set("versioned", 1, version=9)
    longer.set("k1", "longer prefix")
    other.set("k1", "other prefix")
    raw.command("SET", "plain", b"not from django")
    raw.command("SET", "a", b"bare prefix without colon")

    mine.clear()

    assert raw.command("KEYS", "a:*") == []
    assert sorted(raw.command("KEYS", "*")) == sorted([b"ab:1:k1", b"b:1:k1", b"plain", b"a"])
    assert longer.get("k1") == "longer prefix"
    assert other.get("k1") == "other prefix"


def test_clear_with_glob_characters_in_prefix_matches_them_literally(make_cache, raw):
    star = make_cache(KEY_PREFIX="p*[x]?")
    lookalike = make_cache(KEY_PREFIX="pQQx!")
    star.set("k", 1)
    lookalike.set("k", 2)
    star.clear()
    assert star.get("k") is None
    assert lookalike.get("k") == 2


# =========================================================================== close / disconnect


def test_close_keeps_the_connection_pool(cache, server_stat):
    cache.set("k", 1)
    assert cache.get("k") == 1
    before = server_stat("total_connections_received")
    cache.close()
    assert cache.get("k") == 1
    cache.set("k", 2)
    after = server_stat("total_connections_received")
    assert after == before + 1  # only the INFO connection itself; the cache opened none


def test_cache_is_usable_after_close(cache):
    cache.close()
    cache.set("k", "v")
    assert cache.get("k") == "v"


def test_disconnect_closes_connections_and_next_call_reconnects(cache, server_stat, wait_until):
    cache.set("k", 1)
    cache.disconnect()
    wait_until(lambda: server_stat("connected_clients") == 1, message="cache connections still open")
    before = server_stat("total_connections_received")
    assert cache.get("k") == 1
    assert server_stat("total_connections_received") >= before + 2  # a reconnect plus this INFO


def test_disconnect_twice_is_harmless(cache):
    cache.set("k", 1)
    cache.disconnect()
    cache.disconnect()
    assert cache.get("k") == 1


def test_disconnect_before_first_use_is_harmless(make_cache, dead_location):
    make_cache(dead_location).disconnect()


# =========================================================================== fork safety


def test_forked_child_gets_forked_process_error(cache, errors):
    """After fork() the Go runtime is unusable; the child must get an error at once, not hang."""
    cache.set("k", 1)  # the native client is loaded and live in the parent
    pid = os.fork()
    if pid == 0:  # child: report through the exit status only
        code = 3
        try:
            cache.get("k")
            code = 2
        except errors.ForkedProcessError:
            code = 0
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("forked child hung in the cache call")
    assert os.WIFEXITED(status)
    outcome = {0: "ForkedProcessError", 1: "another exception", 2: "no exception"}
    assert os.WEXITSTATUS(status) == 0, outcome.get(os.WEXITSTATUS(status))
    assert cache.get("k") == 1  # the parent keeps working

"""A Go service and the Django site share one cache.

Python (this package's backend) writes every value kind of values.json, plus datetimes,
Decimal and UUID; the Go API (core/djcache, driven by the helper tests/go/crosslang) reads each
and compares it with the Go value internal/fixturevalues expects. Then Go writes the same values
and Python reads them back equal. With no compression, zlib and zstd; with the JSON and msgpack
serializers on the values they can hold; and on three servers, where both sides must pick the
same server for every key.
"""
from __future__ import annotations

import collections
import datetime
import decimal
import hashlib
import json
import math
import os
import pathlib
import subprocess
import uuid

import pytest
import redis
from django.utils.safestring import mark_safe

import redis_cache_go
from redisproc import RedisServer

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
VALUES = json.loads((ROOT / "tests" / "fixtures" / "values.json").read_text())["values"]
# The IntEnum has no Go counterpart (the fixture test checks the typed error naming it).
PICKLE_NAMES = [v["name"] for v in VALUES if v["name"] != "int_subclass_intenum"]
# What JSON and msgpack hold (as Python's own serializers do): no tuples (they come back as
# lists), sets, datetimes, Decimals, UUIDs or complex; JSON has no bytes, and its NaN/Infinity
# tokens are not JSON that Go's reader accepts.
JSON_NAMES = ["int_zero", "int_big", "bool_true", "bool_false", "none", "float_1_5", "float_integral",
              "float_neg_zero", "str_empty", "str_unicode", "str_control", "str_500", "list_mixed",
              "list_empty", "dict_nested", "dict_empty", "dict_large"]
MSGPACK_NAMES = JSON_NAMES + ["float_inf", "float_nan", "bytes_00ff", "bytes_empty", "bytes_numeric",
                              "bytearray_abc", "dict_int_keys"]


def _python_value(v: dict):
    name = v["name"]
    if name == "str_300k_compressible":
        return "".join("line %06d: the quick brown fox jumps over the lazy dog\n" % i for i in range(6000))[:307200]
    if name == "bytes_300k_random":
        return b"".join(hashlib.sha256(b"fixture-random-%d" % i).digest() for i in range(9600))
    if name == "str_500":
        return "0123456789" * 50
    if name == "dict_large":
        return {"k%04d" % i: [i, str(i), i * 0.5] for i in range(1000)}
    if name == "django_safestring":
        return mark_safe("<b>safe</b>")
    assert not v.get("repr_truncated"), name
    env = {"datetime": datetime, "Decimal": decimal.Decimal, "UUID": uuid.UUID,
           "OrderedDict": collections.OrderedDict, "nan": math.nan, "inf": math.inf}
    return eval(v["repr"], env)  # the fixture's own reprs


EXPECTED = {v["name"]: _python_value(v) for v in VALUES if v["name"] in PICKLE_NAMES}


def _same(got, want) -> bool:
    """Equal, with floats compared by repr (nan, -0.0) all the way down."""
    if isinstance(want, float):
        return isinstance(got, float) and repr(got) == repr(want)
    if isinstance(want, (list, tuple)):
        return type(got) is type(want) and len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want))
    if isinstance(want, dict):
        return isinstance(got, dict) and list(got) == list(want) and all(_same(got[k], want[k]) for k in want)
    return got == want and (isinstance(want, (str, bytes, bytearray)) or type(got) is type(want))


_PREBUILT = bool(os.environ.get("RCG_GO_BIN")) and os.access(os.path.join(os.environ.get("RCG_GO_BIN", ""), "crosslang"), os.X_OK)
# Without make's prebuilt helper, the first test that uses it builds it (minutes on a busy machine).
pytestmark = [] if _PREBUILT else [pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def crosslang(tmp_path_factory):
    # `make test` builds it before pytest ($RCG_GO_BIN): a cold Go build here would race the
    # test's time limit on a loaded machine.
    binary = pathlib.Path(os.environ.get("RCG_GO_BIN") or tmp_path_factory.mktemp("crosslang")) / "crosslang"
    if not _PREBUILT:
        subprocess.run(["go", "build", "-o", str(binary), "./tests/go/crosslang"], cwd=ROOT, check=True, timeout=600)

    def run(location: str, command: str, names: list[str], *flags: str) -> dict:
        out = subprocess.run([str(binary), "-location", location, *flags, command, *names],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    return run


def _round_trip(crosslang, cache, location: str, names: list[str], flags: list[str]) -> dict:
    """Python writes, Go reads; Go writes, Python reads. Returns Go's server choices."""
    for name in names:
        cache.set(f"v:{name}", EXPECTED[name], None)
    read = crosslang(location, "read", names, *flags)
    bad = {n: r["got"] for n, r in read.items() if not r["ok"]}
    assert not bad, f"Go read {len(bad)} of {len(names)} values wrong: {bad}"

    cache.delete_many([f"v:{n}" for n in names])
    assert cache.get_many([f"v:{n}" for n in names]) == {}
    wrote = crosslang(location, "write", names, *flags)
    got = cache.get_many([f"v:{n}" for n in names])
    bad = {n: repr(got.get(f"v:{n}", "<missing>"))[:200] for n in names if not _same(got.get(f"v:{n}", KeyError), EXPECTED[n])}
    assert not bad, f"Python read {len(bad)} of {len(names)} Go-written values wrong: {bad}"
    return {n: wrote[n]["server"] for n in names}


@pytest.mark.parametrize("compressor", [None, "zlib", "zstd"])
def test_pickled_values_cross_both_ways(crosslang, redis_server, compressor):
    options = {"DB": 0}
    flags = ["-db", "0", "-prefix", "interop"]
    if compressor:
        options["COMPRESSOR"] = compressor
        flags += ["-compressor", compressor]
    cache = redis_cache_go.RedisCache(redis_server.location, {"OPTIONS": options, "KEY_PREFIX": "interop"})
    try:
        _round_trip(crosslang, cache, redis_server.location, PICKLE_NAMES, flags)
        if compressor:  # Go compressed what it wrote, as Python would have
            raw = redis.Redis.from_url(redis_server.url)
            stored = raw.get(cache.make_key("v:str_300k_compressible"))
            assert stored[:1] == (b"\x78" if compressor == "zlib" else b"\x28")
            assert len(stored) < 100_000
    finally:
        cache.disconnect()


@pytest.mark.parametrize("serializer,names", [("json", JSON_NAMES), ("msgpack", MSGPACK_NAMES)])
def test_json_and_msgpack_values_cross_both_ways(crosslang, redis_server, serializer, names):
    options = {"DB": 0, "SERIALIZER": serializer}
    cache = redis_cache_go.RedisCache(redis_server.location, {"OPTIONS": options, "KEY_PREFIX": "interop-" + serializer})
    try:
        _round_trip(crosslang, cache, redis_server.location, names,
                    ["-db", "0", "-prefix", "interop-" + serializer, "-serializer", serializer])
    finally:
        cache.disconnect()


@pytest.fixture(scope="module")
def three_servers():
    servers = [RedisServer().start() for _ in range(3)]
    try:
        yield servers
    finally:
        for s in servers:
            s.stop()


@pytest.mark.parametrize("compressor", [None, "zstd"])
def test_three_server_ring_both_sides_pick_the_same_server(crosslang, three_servers, compressor):
    location = ",".join(s.location for s in three_servers)  # DB defaults to 1 on both sides, as in the seed
    options = {"COMPRESSOR": compressor} if compressor else {}
    flags = ["-prefix", "ring"] + (["-compressor", compressor] if compressor else [])
    cache = redis_cache_go.ShardedRedisCache(location, {"OPTIONS": options, "KEY_PREFIX": "ring"})
    try:
        go_servers = _round_trip(crosslang, cache, location, PICKLE_NAMES, flags)
        py_servers = {n: cache.server_index(cache.make_key(f"v:{n}")) for n in PICKLE_NAMES}
        assert go_servers == py_servers
        assert len(set(py_servers.values())) == 3, "the values should spread over all three servers"
        for name, index in go_servers.items():  # each Go-written key is on that server and no other
            made = cache.make_key(f"v:{name}")
            present = [bool(redis.Redis(port=s.port, db=1).exists(made)) for s in three_servers]
            assert present == [i == index for i in range(3)], name
    finally:
        cache.disconnect()


def test_copy_mode_go_writes_every_server(crosslang, three_servers):
    location = ",".join(s.location for s in three_servers)
    cache = redis_cache_go.RedisCopyCache(location, {"KEY_PREFIX": "copy"})
    try:
        names = ["str_abc", "dict_nested", "datetime_utc"]
        _round_trip(crosslang, cache, location, names, ["-prefix", "copy", "-mode", "copy"])
        for s in three_servers:
            assert redis.Redis(port=s.port, db=1).exists(*[cache.make_key(f"v:{n}") for n in names]) == 3
    finally:
        cache.disconnect()


SEED_CASES = json.loads((ROOT / "tests" / "fixtures" / "ring_seed.json").read_text())["cases"]
MORE_LOCATIONS = [
    "127.0.0.1:6379", "cachehost", "[::1]:6380", "redis://user:pw@Example.com:6390/3",
    "redis://localhost?db=9&socket_timeout=2", "rediss://cache.example.com:6380/2?ssl_cert_reqs=none",
    "unix://:pw@/tmp/r.sock?db=4", "/tmp/redis.sock", "10.0.0.1:7000, 10.0.0.2:7000",
]


@pytest.mark.parametrize("location,db,password", [
    *[(c["settings"]["LOCATION"], c["effective_db"], c["settings"]["OPTIONS"].get("PASSWORD")) for c in SEED_CASES],
    *[(loc, 1, None) for loc in MORE_LOCATIONS],
    ("127.0.0.1:6381,/tmp/s.sock", 0, "secret"),
])
def test_go_derives_the_servers_python_derives(crosslang, location, db, password):
    """One LOCATION, two parsers: Go's djcache and Python's _settings agree on every server's
    address, database, credentials and ring node name (the document Python sends to the core)."""
    from redis_cache_go import _layout

    options = {"DB": db}
    if password:
        options["PASSWORD"] = password
    cache = redis_cache_go.ShardedRedisCache(location, {"OPTIONS": options})
    try:
        doc = _layout.document(cache._settings, "ring")
        servers = doc.get("servers") or [dict(doc, name=_layout.node_name(cache._settings.servers[0]))]
        want = [{"network": s["network"], "addr": s["addr"], "db": s["db"], "username": s["username"],
                 "password": s["password"], "tls": s["tls"] is not None, "name": s["name"]} for s in servers]
    finally:
        cache.disconnect()
    as_string = location if isinstance(location, str) else ",".join(location)
    flags = ["-db", str(db)] + (["-password", password] if password else [])
    assert crosslang(as_string, "servers", [], *flags) == want


def test_go_and_python_share_get_or_set_and_locks(crosslang, make_cache, redis_server):
    """One herd and one lock protocol for both languages: each honours the other's fresh flag, and a
    lock held by one is refused to the other."""
    cache = make_cache(KEY_PREFIX="herd-x")
    location = redis_server.location
    flags = ["-db", "0", "-prefix", "herd-x"]

    assert cache.get_or_set("h1", lambda: "from python", 60) == "from python"
    assert crosslang(location, "getorset", ["h1", "from go"], *flags) == {"value": "from python", "computed": False}

    assert crosslang(location, "getorset", ["h2", "from go"], *flags) == {"value": "from go", "computed": True}
    assert cache.get_or_set("h2", lambda: pytest.fail("Python recomputed Go's fresh value"), 60) == "from go"

    lock = cache.lock("shared-lock", timeout=10)
    assert lock.acquire(blocking=False)
    assert crosslang(location, "lock", ["shared-lock"], *flags) == {"acquired": False}
    lock.release()
    assert crosslang(location, "lock", ["shared-lock"], *flags) == {"acquired": True}

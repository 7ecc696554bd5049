"""Our compressed bytes are readable by the peers, theirs by us, and what is unreadable is an error.

Values written with our zlib and bzip2 compressors (configured with
django-redis-cache's own COMPRESSOR_CLASS names) decode with Python's ``zlib``/``bz2`` exactly the
way django-redis-cache's ``get_value`` decoded them (``int()``, else decompress, then unpickle),
for every recorded fixture value. Beyond that: gzip/lzma/zstd/lz4 with the libraries
django-redis uses, django-redis itself reading ours and writing for us, switching compressors on
a warm cache, custom Python compressors, and decode errors that name the key.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import pickle
import zlib

import pytest
from django.core.exceptions import ImproperlyConfigured

from redis_cache_go import RedisCache
from test_fixture_values import VALUES, build_value

SEED_ZLIB = "redis_cache.compressors.ZLibCompressor"
SEED_BZ2 = "redis_cache.compressors.BZip2Compressor"


def seed_get_value(raw: bytes, decompress):
    """django-redis-cache 3.0.1's BaseRedisCache.get_value with the pickle serializer."""
    try:
        return int(raw)
    except (ValueError, TypeError):
        return pickle.loads(decompress(raw))


def fixture_values(writer: str) -> list:
    return [
        n for n, e in VALUES.items()
        if e["writers"][writer].get("roundtrip") == "same" and e["kind"] != "int_subclass" and not e.get("hash_seed_dependent")
    ]


@pytest.mark.parametrize(
    ("compressor_class", "writer", "decompress", "magic"),
    [(SEED_ZLIB, "seed_zlib", zlib.decompress, b"x\x9c"), (SEED_BZ2, "seed_bz2", bz2.decompress, b"BZh9")],
    ids=["zlib", "bz2"],
)
def test_stdlib_reads_our_bytes_like_django_redis_cache_did(make_cache, raw, compressor_class, writer, decompress, magic):
    cache = make_cache(options={"DB": 0, "COMPRESSOR_CLASS": compressor_class}, KEY_PREFIX="", VERSION=1)
    names = fixture_values(writer)
    assert len(names) > 40
    for name in names:
        entry = VALUES[name]
        value = build_value(entry)
        cache.set(entry["cache_key"], value, timeout=None)
        stored = raw.command("GET", entry["made_key"])
        if entry["kind"] != "int":
            assert stored.startswith(magic), f"{name}: {stored[:8]!r}"  # the seed compressed every value
        got = seed_get_value(stored, decompress)
        assert repr(got) == repr(value) if name != "float_nan" else repr(got) == "nan", name
        assert type(got) is type(value)


def test_seed_bz2_level_kwarg_and_zlib_level_kwarg_are_honoured(make_cache, raw):
    for options, magic in (
        ({"COMPRESSOR_CLASS": SEED_BZ2, "COMPRESSOR_CLASS_KWARGS": {"compresslevel": 3}}, b"BZh3"),
        ({"COMPRESSOR_CLASS": SEED_ZLIB, "COMPRESSOR_CLASS_KWARGS": {"level": 1}}, b"x\x01"),
    ):
        cache = make_cache(options={"DB": 0, **options})
        cache.set("k", "v" * 1000)
        assert raw.command("GET", ":1:k").startswith(magic)
        assert cache.get("k") == "v" * 1000


def _third_party_decompressors():
    import lz4.frame
    import pyzstd

    return {
        "gzip": gzip.decompress, "lzma": lzma.decompress, "zstd": pyzstd.decompress,
        "lz4": lz4.frame.decompress, "zlib": zlib.decompress, "bz2": bz2.decompress,
    }


@pytest.mark.parametrize("compressor", ["zlib", "gzip", "bz2", "lzma", "zstd", "lz4"])
def test_python_libraries_read_our_bytes(make_cache, raw, compressor):
    decompress = _third_party_decompressors()[compressor]
    cache = make_cache(options={"DB": 0, "COMPRESSOR": compressor})
    for i, value in enumerate(["x" * 5000, {"a": list(range(1000))}, b"\x00\xff" * 300, "é☃" * 100]):
        cache.set(f"k{i}", value)
        assert pickle.loads(decompress(raw.command("GET", f":1:k{i}"))) == value


DJANGO_REDIS_COMPRESSORS = {
    "zlib": "django_redis.compressors.zlib.ZlibCompressor",
    "gzip": "django_redis.compressors.gzip.GzipCompressor",
    "lzma": "django_redis.compressors.lzma.LzmaCompressor",
    "lz4": "django_redis.compressors.lz4.Lz4Compressor",
    "zstd": "django_redis.compressors.zstd.ZStdCompressor",
}
SAMPLES = {"short": "ab", "medium": "hello world " * 3, "long": "lorem ipsum " * 2000, "dict": {"k": list(range(300))}, "n": 42}


@pytest.fixture
def django_redis_cache(raw):
    from django_redis.cache import RedisCache as DjangoRedisCache

    made = []

    def make(compressor_path: str):
        cache = DjangoRedisCache(f"redis://{raw.host}:{raw.port}/0", {"OPTIONS": {"COMPRESSOR": compressor_path}})
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()
        cache.client.get_client().connection_pool.disconnect()


@pytest.mark.parametrize("short", list(DJANGO_REDIS_COMPRESSORS))
def test_django_redis_reads_ours_and_we_read_django_redis(make_cache, django_redis_cache, short):
    path = DJANGO_REDIS_COMPRESSORS[short]
    ours = make_cache(options={"DB": 0, "COMPRESSOR": path})  # the same settings, copied unchanged
    theirs = django_redis_cache(path)
    for name, value in SAMPLES.items():
        ours.set(f"ours:{name}", value)
        theirs.set(f"theirs:{name}", value)
    for name, value in SAMPLES.items():
        assert theirs.get(f"ours:{name}") == value, name
        assert ours.get(f"theirs:{name}") == value, name


def test_django_redis_thresholds_are_the_defaults_for_its_names(make_cache, raw):
    for path, threshold in ((DJANGO_REDIS_COMPRESSORS["zlib"], 16), (DJANGO_REDIS_COMPRESSORS["lzma"], 101)):
        cache = make_cache(options={"DB": 0, "COMPRESSOR": path})
        assert cache._min_len == threshold
    assert make_cache(options={"DB": 0, "COMPRESSOR_CLASS": SEED_ZLIB})._min_len == 0
    assert make_cache(options={"DB": 0, "COMPRESSOR": "zstd"})._min_len == 16
    assert make_cache(options={"DB": 0, "COMPRESSOR": "zstd", "COMPRESS_MIN_LEN": 1000})._min_len == 1000


@pytest.mark.parametrize("first", ["none", "zlib", "bz2", "lzma", "zstd", "lz4", "s2", "gzip"])
def test_switching_compressor_on_a_warm_cache_keeps_reading(make_cache, first):
    value = {"payload": "warm " * 500}
    writer = make_cache(options={"DB": 0, **({} if first == "none" else {"COMPRESSOR": first})})
    writer.set("warm", value)
    writer.set_many({"w1": value, "w2": [value]})
    for second in ("none", "zlib", "zstd", "s2", "lz4"):
        reader = make_cache(options={"DB": 0, **({} if second == "none" else {"COMPRESSOR": second})})
        assert reader.get("warm") == value
        assert reader.get_many(["w1", "w2"]) == {"w1": value, "w2": [value]}


def test_get_many_reads_values_of_mixed_formats_in_one_call(make_cache, raw):
    value = {"page": "mixed " * 300}
    for name in ("none", "zlib", "gzip", "bz2", "lzma", "zstd", "lz4", "s2"):
        make_cache(options={"DB": 0, **({} if name == "none" else {"COMPRESSOR": name})}).set(f"m:{name}", value)
    raw.command("SET", ":1:m:n", b"17")
    keys = [f"m:{n}" for n in ("none", "zlib", "gzip", "bz2", "lzma", "zstd", "lz4", "s2", "n")]
    got = make_cache(options={"DB": 0, "COMPRESSOR": "s2"}).get_many(keys)
    assert got == {**{k: value for k in keys[:-1]}, "m:n": 17}


# --------------------------------------------------------------------------- decode errors


@pytest.mark.parametrize(
    "stored",
    [
        b"x\x9c this is not deflate",            # zlib magic, corrupt stream
        zlib.compress(b"not a pickle"),          # a valid zlib stream of garbage
        b"\x28\xb5\x2f\xfd" + b"\x00" * 20,      # zstd magic, corrupt frame
        b"BZh9" + b"\x00" * 30,                  # bzip2 magic, corrupt
        b"\xfd7zXZ\x00garbage",                  # xz magic, corrupt
        b"\x80\x05garbage",                      # pickle opcode, corrupt
        b"<HTTPStatus.OK: 200>",                 # the seed's int-subclass bug: matches nothing
    ],
)
def test_undecodable_values_raise_decode_error_naming_the_key(make_cache, raw, errors, stored):
    raw.command("SET", ":1:broken", stored)
    cache = make_cache(options={"DB": 0, "COMPRESSOR": "zlib"})
    with pytest.raises(errors.DecodeError) as info:
        cache.get("broken")
    assert ":1:broken" in str(info.value)
    with pytest.raises(errors.DecodeError):
        cache.get_many(["broken"])
    assert raw.command("GET", ":1:broken") == stored  # never overwritten


def test_decode_error_says_which_compressed_format_it_looked_like(make_cache, raw, errors):
    raw.command("SET", ":1:broken", b"x\x9c this is not deflate")
    with pytest.raises(errors.DecodeError) as info:
        make_cache().get("broken")
    assert "zlib" in str(info.value)


def test_json_serializer_does_not_guess_a_pickle(make_cache, errors):
    make_cache().set("k", {"a": 1})
    with pytest.raises(errors.DecodeError):
        make_cache(options={"DB": 0, "SERIALIZER": "json"}).get("k")


def test_text_that_starts_like_a_zlib_stream_is_still_read(make_cache, raw):
    """YAML of "x^2 + y^2" starts with 78 5e, a zlib header: it must not be mistaken for zlib."""
    cache = make_cache(options={"DB": 0, "SERIALIZER": "yaml", "COMPRESSOR": "zlib", "COMPRESS_MIN_LEN": 1000})
    cache.set("eq", "x^2 + y^2")
    assert raw.command("GET", ":1:eq").startswith(b"x^")
    assert cache.get("eq") == "x^2 + y^2"


# --------------------------------------------------------------------------- custom Python compressors


class XorCompressor:
    """django-redis's interface: built with the OPTIONS dict; marks what it wrote."""

    def __init__(self, options):
        self.key = options.get("XOR_KEY", 0x5A) if isinstance(options, dict) else 0x5A

    def compress(self, value: bytes) -> bytes:
        return b"XOR!" + bytes(b ^ 0x5A for b in value)

    def decompress(self, value: bytes) -> bytes:
        if not value.startswith(b"XOR!"):
            raise ValueError("not mine")
        return bytes(b ^ 0x5A for b in value[4:])


def test_custom_python_compressor_with_django_redis_interface(make_cache, raw):
    cache = make_cache(options={"DB": 0, "COMPRESSOR": f"{__name__}.XorCompressor"})
    cache.set("k", {"v": "é" * 50})
    assert raw.command("GET", ":1:k").startswith(b"XOR!")
    assert cache.get("k") == {"v": "é" * 50}
    assert cache.get_many(["k"]) == {"k": {"v": "é" * 50}}
    # values written by a native compressor, or none, still read (decoded in Go first)
    make_cache(options={"DB": 0, "COMPRESSOR": "zstd"}).set("z", "zz" * 500)
    make_cache().set("p", [1, 2])
    assert cache.get("z") == "zz" * 500 and cache.get("p") == [1, 2]
    cache.set("n", 5)
    assert raw.command("GET", ":1:n") == b"5" and cache.incr("n") == 6


def test_custom_python_compressor_with_seed_interface_and_kwargs(make_cache, raw):
    cache = make_cache(options={
        "DB": 0,
        "COMPRESSOR_CLASS": "test_fixture_writers.ReversingCompressor",
        "COMPRESSOR_CLASS_KWARGS": {"marker": b"R2"},
        "COMPRESS_MIN_LEN": 20,
    })
    cache.set("long", "abcdefghijklmnopqrstuvwxyz")
    cache.set("s", "a")
    assert raw.command("GET", ":1:long").startswith(b"R2")
    assert raw.command("GET", ":1:s") == pickle.dumps("a", pickle.HIGHEST_PROTOCOL)
    assert cache.get("long") == "abcdefghijklmnopqrstuvwxyz" and cache.get("s") == "a"


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("options", "serializer", "compressor"),
    [
        ({}, "pickle", "none"),
        ({"SERIALIZER_CLASS": "redis_cache.serializers.JSONSerializer"}, "json", "none"),
        ({"SERIALIZER_CLASS": "redis_cache.serializers.CompressedPickleSerializer"}, "pickle", "lzma"),
        ({"SERIALIZER": "django_redis.serializers.msgpack.MSGPackSerializer"}, "msgpack", "none"),
        ({"SERIALIZER": "yaml", "COMPRESSOR": "xz"}, "yaml", "lzma"),
        ({"COMPRESSOR_CLASS": "redis_cache.compressors.NoopCompressor"}, "pickle", "none"),
        ({"COMPRESSOR": "django_redis.compressors.identity.IdentityCompressor"}, "pickle", "none"),
        ({"COMPRESSOR": "django_redis.compressors.zstd.ZStdCompressor"}, "pickle", "zstd"),
        ({"COMPRESSOR": "BZIP2", "COMPRESSOR_LEVEL": 4}, "pickle", "bz2"),
    ],
)
def test_settings_names_are_mapped(options, serializer, compressor):
    cache = RedisCache("127.0.0.1:6379", {"OPTIONS": options})
    assert cache._serializer.name == serializer
    assert cache._settings.codec.compression.format == compressor
    assert cache._settings.native_config(cache._server)["codec"]["compressor"] == compressor


def test_django_redis_pickle_name_uses_its_default_protocol():
    cache = RedisCache("127.0.0.1:6379", {"OPTIONS": {"SERIALIZER": "django_redis.serializers.pickle.PickleSerializer"}})
    assert cache._serializer.protocol == pickle.DEFAULT_PROTOCOL
    seed = RedisCache("127.0.0.1:6379", {"OPTIONS": {"SERIALIZER_CLASS": "redis_cache.serializers.PickleSerializer",
                                                     "SERIALIZER_CLASS_KWARGS": {"pickle_version": 3}}})
    assert seed._serializer.protocol == 3


@pytest.mark.parametrize(
    ("options", "must_mention"),
    [
        ({"COMPRESSOR": "brotli"}, ["COMPRESSOR", "brotli"]),
        ({"COMPRESSOR": "zlib", "COMPRESSOR_LEVEL": 10}, ["COMPRESSOR_LEVEL", "10", "1 to 9"]),
        ({"COMPRESSOR": "s2", "COMPRESSOR_LEVEL": 0}, ["COMPRESSOR_LEVEL", "1 to 3"]),
        ({"COMPRESSOR_LEVEL": 3}, ["COMPRESSOR_LEVEL", "needs a compressor"]),
        ({"COMPRESSOR": "zlib", "COMPRESS_MIN_LEN": -1}, ["COMPRESS_MIN_LEN", "-1"]),
        ({"COMPRESSOR": "zlib", "COMPRESSOR_CLASS": SEED_BZ2}, ["COMPRESSOR", "conflicts"]),
        ({"COMPRESSOR_CLASS": SEED_ZLIB, "COMPRESSOR_CLASS_KWARGS": {"level": 42}}, ["level", "42"]),
        ({"COMPRESSOR_CLASS": SEED_ZLIB, "COMPRESSOR_CLASS_KWARGS": {"wbits": 9}}, ["wbits"]),
        ({"COMPRESSOR": "myapp.compressors.Nope"}, ["COMPRESSOR", "myapp.compressors.Nope"]),
        ({"COMPRESSOR": "decimal.Decimal"}, ["COMPRESSOR", "compress"]),
        ({"SERIALIZER": "toml"}, ["SERIALIZER", "toml"]),
        ({"SERIALIZER": "myapp.Nope"}, ["SERIALIZER", "myapp.Nope"]),
        ({"SERIALIZER_CLASS": "redis_cache.serializers.JSONSerializer", "SERIALIZER_CLASS_KWARGS": {"pickle_version": 2}}, ["pickle_version"]),
        ({"SERIALIZER_CLASS": "redis_cache.serializers.CompressedJSONSerializer", "COMPRESSOR": "zlib"}, ["already compresses"]),
        ({"SERIALIZER_CLASS_KWARGS": []}, ["SERIALIZER_CLASS_KWARGS"]),
    ],
)
def test_bad_codec_settings_are_improperly_configured(options, must_mention):
    with pytest.raises(ImproperlyConfigured) as info:
        RedisCache("127.0.0.1:6379", {"OPTIONS": options})
    for text in must_mention:
        assert text in str(info.value), f"{text!r} not in {info.value}"


def test_seed_compressed_serializer_writes_xz_on_every_value(make_cache, raw):
    cache = make_cache(options={"DB": 0, "SERIALIZER_CLASS": "redis_cache.serializers.CompressedJSONSerializer"})
    cache.set("k", ["a"])
    stored = raw.command("GET", ":1:k")
    assert stored.startswith(b"\xfd7zXZ\x00") and lzma.decompress(stored) == b'["a"]'
    assert cache.get("k") == ["a"]

"""Every serializer × every compressor round-trips.

Values: empty, one character, unicode, 300 KiB compressible, 300 KiB random (incompressible),
plain ints (which stay raw so INCR works), and the COMPRESS_MIN_LEN edge: a value whose
serialized form is COMPRESS_MIN_LEN − 1 bytes is stored exactly as serialized, one of
COMPRESS_MIN_LEN bytes is stored compressed. Everything goes through a real redis-server; the
stored bytes are checked with a raw GET.
"""
from __future__ import annotations

import base64
import pickle
import random

import pytest

from test_fixture_writers import ReversingCompressor  # noqa: F401  (named by dotted path below)

MIN_LEN = 200
SERIALIZERS = ["pickle", "json", "msgpack", "yaml", "custom"]
COMPRESSORS = ["none", "zlib", "gzip", "bz2", "lzma", "zstd", "lz4", "s2", "python"]
MAGIC = {
    "zlib": (b"x",), "gzip": (b"\x1f\x8b",), "bz2": (b"BZh",), "lzma": (b"\xfd7zXZ\x00",),
    "zstd": (b"\x28\xb5\x2f\xfd",), "lz4": (b"\x04\x22\x4d\x18",), "s2": (b"\xff\x06\x00\x00S2sTwO",),
    "python": (b"REV1",),
}
_rng = random.Random(4)
RANDOM_BYTES = _rng.randbytes(300 * 1024)
COMPRESSIBLE = ("lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 6000)[: 300 * 1024]
UNICODE = "héllo wörld ☃ 日本語 🎉 Ελληνικά " * 3


class TaggedPickle:
    """A user serializer (django-redis-cache's serialize/deserialize interface), by dotted path."""

    def __init__(self, tag: bytes = b"TP:") -> None:
        self.tag = tag

    def serialize(self, value):
        return self.tag + pickle.dumps(value)

    def deserialize(self, data):
        if not data.startswith(self.tag):
            raise ValueError("untagged")
        return pickle.loads(data[len(self.tag):])


def serializer_options(name: str) -> dict:
    if name == "custom":
        return {"SERIALIZER_CLASS": f"{__name__}.TaggedPickle"}
    return {"SERIALIZER": name}


def compressor_options(name: str) -> dict:
    if name == "none":
        return {}
    if name == "python":
        return {"COMPRESSOR_CLASS": "test_fixture_writers.ReversingCompressor", "COMPRESS_MIN_LEN": MIN_LEN}
    return {"COMPRESSOR": name, "COMPRESS_MIN_LEN": MIN_LEN}


def random_value(serializer: str):
    # JSON has no bytes: base64 text of the same random bytes (still far from compressible)
    return base64.b64encode(RANDOM_BYTES).decode() if serializer == "json" else RANDOM_BYTES


def values(serializer: str) -> dict:
    return {
        "empty": "",
        "one_char": "a",
        "unicode": UNICODE,
        "list": [1, "two", 3.5, None, True],
        "compressible_300k": COMPRESSIBLE,
        "random_300k": random_value(serializer),
    }


def sized_value(cache, length: int) -> str:
    """A str whose serialized form is exactly `length` bytes."""
    for n in range(length + 1):
        if len(cache._dumps("x" * n)) == length:
            return "x" * n
    raise AssertionError(f"no str serializes to exactly {length} bytes")


@pytest.mark.parametrize("compressor", COMPRESSORS)
@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_round_trip(make_cache, raw, serializer, compressor):
    cache = make_cache(options={"DB": 0, **serializer_options(serializer), **compressor_options(compressor)})
    for name, value in values(serializer).items():
        cache.set(name, value)
        got = cache.get(name)
        assert got == value and type(got) is type(value), f"{name}: got {got!r:.80}"
    # get_many / set_many take the same path
    batch = {f"many:{k}": v for k, v in values(serializer).items()}
    cache.set_many(batch)
    assert cache.get_many(list(batch)) == batch
    # compressible values are stored compressed, and smaller
    stored = raw.command("GET", ":1:compressible_300k")
    if compressor != "none":
        assert stored.startswith(MAGIC[compressor]), stored[:16]
        assert len(stored) < len(cache._dumps(COMPRESSIBLE)) // 2 or compressor == "python"
    else:
        assert stored == cache._dumps(COMPRESSIBLE)


@pytest.mark.parametrize("compressor", [c for c in COMPRESSORS if c != "none"])
@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_compress_min_len_edge(make_cache, raw, serializer, compressor):
    cache = make_cache(options={"DB": 0, **serializer_options(serializer), **compressor_options(compressor)})
    below, at = sized_value(cache, MIN_LEN - 1), sized_value(cache, MIN_LEN)
    cache.set("below", below)
    cache.set("at", at)
    assert raw.command("GET", ":1:below") == cache._dumps(below)  # stored as serialized
    stored_at = raw.command("GET", ":1:at")
    assert stored_at != cache._dumps(at) and stored_at.startswith(MAGIC[compressor])
    assert cache.get("below") == below and cache.get("at") == at


@pytest.mark.parametrize("compressor", COMPRESSORS)
def test_ints_stay_raw_and_incr_works_with_every_compressor(make_cache, raw, compressor):
    options = {"DB": 0, **compressor_options(compressor)}
    options["COMPRESS_MIN_LEN"] = 0  # even when every value is to be compressed
    cache = make_cache(options=options)
    for i, n in enumerate([0, -5, 7, 2**62, -(10**30)]):
        cache.set(f"n{i}", n)
        assert raw.command("GET", f":1:n{i}") == b"%d" % n
        assert cache.get(f"n{i}") == n
    assert cache.incr("n2", 5) == 12 and cache.get("n2") == 12
    assert cache.decr("n1") == -6
    cache.set("flag", True)  # bools are not ints here: serialized (and compressed)
    assert cache.get("flag") is True
    stored = raw.command("GET", ":1:flag")
    assert stored != b"1"
    if compressor != "none":
        assert stored.startswith(MAGIC[compressor])


@pytest.mark.parametrize("level_option", [
    ("zlib", 1), ("zlib", 9), ("gzip", 1), ("bz2", 1), ("lzma", 1), ("lzma", 9), ("zstd", 1), ("zstd", 19),
    ("lz4", 1), ("lz4", 9), ("s2", 2), ("s2", 3),
])
def test_compressor_levels(make_cache, raw, level_option):
    name, level = level_option
    cache = make_cache(options={"DB": 0, "COMPRESSOR": name, "COMPRESSOR_LEVEL": level})
    cache.set("k", COMPRESSIBLE)
    assert raw.command("GET", ":1:k").startswith(MAGIC[name])
    assert cache.get("k") == COMPRESSIBLE

"""Reading what all 13 recorded writers stored (tests/fixtures/values.json), with serializers and
compressors.

For every writer, our backend is configured with the writer's own OPTIONS, copied unchanged
(django-redis-cache's SERIALIZER_CLASS/COMPRESSOR_CLASS names, django-redis's SERIALIZER/COMPRESSOR
names), and must read each recorded value the writer itself read back (``roundtrip`` ``same`` or
``equal_but_type_differs``) exactly as the writer's own ``get()`` returned it.

Values written by the compressing writers (django-redis-cache zlib and bz2, django-redis zlib and
lzma) must read with *any* of our compressor settings: decoding sniffs the stored bytes.

django-redis-cache's msgpack writer could not read anything back on msgpack >= 1.0 (so none of
its values "round-tripped"); we do better and read them like django-redis' msgpack reader does.
"""
from __future__ import annotations

import bz2
import hashlib
import json
import lzma
import pickle
import zlib

import pytest

from test_fixture_values import VALUES, WRITER_SETTINGS, assert_like_writer_get, build_value, content_sha256

ALL_WRITERS = tuple(WRITER_SETTINGS)
READABLE = ("same", "equal_but_type_differs")
COMPRESSING_WRITERS = ("seed_zlib", "seed_bz2", "django_redis_zlib", "django_redis_lzma")
# Every compressor setting we have: none, each native one by short name, and a Python class.
OUR_COMPRESSORS = ["none", "zlib", "gzip", "bz2", "lzma", "zstd", "lz4", "s2", "python"]


class ReversingCompressor:
    """A user's own compressor, run in Python (django-redis-cache's interface)."""

    def __init__(self, marker: bytes = b"REV1") -> None:
        self.marker = marker

    def compress(self, value: bytes) -> bytes:
        return self.marker + value[::-1]

    def decompress(self, value: bytes) -> bytes:
        if not value.startswith(self.marker):
            raise ValueError("not reversed")
        return value[len(self.marker):][::-1]


def compressor_options(name: str) -> dict:
    if name == "none":
        return {}
    if name == "python":
        return {"COMPRESSOR_CLASS": f"{__name__}.ReversingCompressor"}
    return {"COMPRESSOR": name}


def writer_options(writer: str, **extra) -> dict:
    options = {k: v for k, v in (WRITER_SETTINGS[writer].get("OPTIONS") or {}).items() if k != "DB"}
    return {**options, **extra, "DB": 0}


def readable(writer: str, large: bool) -> list:
    return [
        name for name, entry in VALUES.items()
        if entry["writers"][writer].get("roundtrip") in READABLE and ("raw_hex" in entry["writers"][writer]) != large
    ]


def rebuild_stored(writer: str, entry: dict) -> bytes:
    """The stored bytes of a large value (the fixture has only their head and sha256)."""
    value = build_value(entry)
    if writer in ("seed_default", "django_builtin"):
        return pickle.dumps(value, 5)
    if writer == "seed_pickle2":
        return pickle.dumps(value, 2)
    if writer in ("django_redis_default", "django_redis_zlib", "django_redis_lzma"):
        data = pickle.dumps(value, 4)
        if writer == "django_redis_zlib":
            return zlib.compress(data, 6)
        if writer == "django_redis_lzma":
            return lzma.compress(data, preset=4)
        return data
    if writer == "seed_zlib":
        return zlib.compress(pickle.dumps(value, 5), 6)
    if writer == "seed_bz2":
        return bz2.compress(pickle.dumps(value, 5), 9)
    if writer == "seed_json":
        return json.dumps(value).encode()
    if writer == "django_redis_json":
        from django.core.serializers.json import DjangoJSONEncoder

        return json.dumps(value, cls=DjangoJSONEncoder).encode()
    if writer in ("seed_msgpack", "django_redis_msgpack"):
        import msgpack

        return msgpack.packb(value)
    if writer == "seed_yaml":
        import yaml

        return yaml.dump(value, encoding="utf-8", Dumper=yaml.Dumper)
    raise AssertionError(writer)


def test_all_thirteen_writers_are_covered():
    assert len(ALL_WRITERS) == 13
    assert sum(len(readable(w, False)) for w in ALL_WRITERS) > 400


@pytest.mark.parametrize("writer", ALL_WRITERS)
def test_reads_every_value_the_writer_read_back(make_cache, raw, writer):
    names = readable(writer, large=False)
    if writer == "seed_msgpack":
        assert names == [n for n, e in VALUES.items() if e["kind"] == "int"]  # raw ints only: the seed's reader is broken
    cache = make_cache(options=writer_options(writer), KEY_PREFIX="", VERSION=1)
    for name in names:
        entry, rec = VALUES[name], VALUES[name]["writers"][writer]
        raw.command("SET", entry["made_key"], bytes.fromhex(rec["raw_hex"]))
        got = cache.get(entry["cache_key"])
        try:
            assert_like_writer_get(got, rec, entry)
        except AssertionError as e:
            raise AssertionError(f"{writer}/{name}: got {got!r}, the writer read {rec['get_repr']}") from e


@pytest.mark.parametrize(
    ("writer", "name"), [(w, n) for w in ALL_WRITERS for n in readable(w, large=True)]
)
def test_reads_large_value_the_writer_read_back(make_cache, raw, writer, name):
    entry, rec = VALUES[name], VALUES[name]["writers"][writer]
    stored = rebuild_stored(writer, entry)
    assert hashlib.sha256(stored).hexdigest() == rec["raw_sha256"], "could not rebuild the stored bytes"
    raw.command("SET", entry["made_key"], stored)
    cache = make_cache(options=writer_options(writer), KEY_PREFIX="", VERSION=1)
    got = cache.get(entry["cache_key"])
    assert_like_writer_get(got, rec, entry)
    assert content_sha256(got) == entry["value_sha256"]


@pytest.mark.parametrize("compressor", OUR_COMPRESSORS)
@pytest.mark.parametrize("writer", COMPRESSING_WRITERS)
def test_compressed_writers_read_with_any_of_our_compressors(make_cache, raw, writer, compressor):
    cache = make_cache(options={"DB": 0, **compressor_options(compressor)}, KEY_PREFIX="", VERSION=1)
    for large in (False, True):
        for name in readable(writer, large):
            entry, rec = VALUES[name], VALUES[name]["writers"][writer]
            stored = rebuild_stored(writer, entry) if large else bytes.fromhex(rec["raw_hex"])
            raw.command("SET", entry["made_key"], stored)
            got = cache.get(entry["cache_key"])
            assert_like_writer_get(got, rec, entry)
    # and all of them at once, through get_many
    names = readable(writer, False)
    got = cache.get_many([VALUES[n]["cache_key"] for n in names])
    for name in names:
        assert_like_writer_get(got[VALUES[name]["cache_key"]], VALUES[name]["writers"][writer], VALUES[name])


def msgpack_values_the_seed_could_not_read() -> list:
    """Values the seed's msgpack writer stored whose bytes django-redis' msgpack writer also stored
    and read back: ours must read the seed's bytes the way django-redis read its own."""
    out = []
    for name, entry in VALUES.items():
        seed, dr = entry["writers"]["seed_msgpack"], entry["writers"]["django_redis_msgpack"]
        if seed.get("roundtrip") == "get_error" and "raw_hex" in seed and dr.get("roundtrip") in READABLE:
            out.append(name)
    return out


def test_reads_seed_msgpack_values_that_the_seed_itself_could_not():
    names = msgpack_values_the_seed_could_not_read()
    assert len(names) > 25


@pytest.mark.parametrize("name", msgpack_values_the_seed_could_not_read())
def test_reads_seed_msgpack_bytes_like_django_redis_reads_its_own(make_cache, raw, name):
    entry = VALUES[name]
    seed, dr = entry["writers"]["seed_msgpack"], entry["writers"]["django_redis_msgpack"]
    assert seed["raw_hex"] == dr["raw_hex"]  # both wrote msgpack.packb(value) on msgpack 1.x
    raw.command("SET", entry["made_key"], bytes.fromhex(seed["raw_hex"]))
    cache = make_cache(options=writer_options("seed_msgpack"), KEY_PREFIX="", VERSION=1)
    assert_like_writer_get(cache.get(entry["cache_key"]), dr, entry)


def test_msgpack_reads_int_keyed_maps_that_django_redis_refused(make_cache, raw):
    entry = VALUES["dict_int_keys"]
    rec = entry["writers"]["django_redis_msgpack"]
    assert rec["roundtrip"] == "get_error"  # django-redis' own reader refused its bytes
    raw.command("SET", entry["made_key"], bytes.fromhex(rec["raw_hex"]))
    cache = make_cache(options=writer_options("django_redis_msgpack"), KEY_PREFIX="", VERSION=1)
    assert cache.get(entry["cache_key"]) == build_value(entry)


@pytest.mark.parametrize("writer", ["seed_json", "seed_yaml", "seed_msgpack", "django_redis_json", "django_redis_msgpack", "seed_zlib", "seed_bz2"])
def test_writes_what_the_writer_wrote_or_reads_the_same(make_cache, raw, writer):
    """Our set() under the writer's settings stores bytes that decode (with the standard library
    and the writer's own serializer) to what the writer's bytes decode to. Serializer-only
    writers are byte-identical; compressed ones differ in the deflate/bzip2 encoder only."""
    cache = make_cache(options=writer_options(writer), KEY_PREFIX="", VERSION=1)
    checked = 0
    for name, entry in VALUES.items():
        rec = entry["writers"][writer]
        stored_ok = rec.get("roundtrip") == "same" or (  # the seed's msgpack wrote fine, only its reader broke
            writer == "seed_msgpack" and rec.get("raw_present") and entry["writers"]["django_redis_msgpack"].get("roundtrip") == "same"
        )
        if not stored_ok or "raw_hex" not in rec or entry.get("hash_seed_dependent") or entry["kind"] == "int_subclass":
            continue
        cache.set(entry["cache_key"], build_value(entry), timeout=None)
        ours, theirs = raw.command("GET", entry["made_key"]), bytes.fromhex(rec["raw_hex"])
        if entry["kind"] == "int":
            assert ours == theirs, name  # plain ints stay raw, for INCR
        elif writer == "seed_zlib":
            assert ours[:1] == b"x" and zlib.decompress(ours) == zlib.decompress(theirs), name
        elif writer == "seed_bz2":
            assert ours[:4] == b"BZh9" and bz2.decompress(ours) == bz2.decompress(theirs), name
        else:
            assert ours == theirs, name
        checked += 1
    assert checked > 10

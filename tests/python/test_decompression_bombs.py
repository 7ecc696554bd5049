"""A decompression bomb stored in Redis costs a bounded amount to refuse.

Each bomb inflates to 256 MiB of zeros: under the 512 MiB cap, far over the limit of a value
its size (64 times the stored size, at least a floor of 8 to 64 MiB by format). ``get()`` raises
DecodeError (a miss under IGNORE_EXCEPTIONS); the child process that reads it grows its peak RSS
by a bounded multiple of the limit, and the codec's counter of inflated bytes (rcg_stats
``inflated``) shows the value was inflated at most once, to at most its limit: no second
decode to word the error, none in the Python fallback.
"""
from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import subprocess
import sys
import zlib

import lz4.frame
import pyzstd
import pytest

MIB = 1 << 20
FLOORS = {"zlib": 32 * MIB, "gzip": 32 * MIB, "bz2": 16 * MIB, "lzma": 8 * MIB, "zstd": 64 * MIB, "lz4": 64 * MIB}


def zlib_bomb(mib: int) -> bytes:
    """One zlib stream of mib MiB of zeros: a fully flushed MiB repeated (each restarts the window)."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = co.compress(bytes(MIB)) + co.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    adler = ((mib * MIB) % 65521) << 16 | 1  # Adler-32 of zeros
    return b"\x78\xda" + chunk * mib + tail + adler.to_bytes(4, "big")


def bomb(fmt: str, mib: int = 256) -> bytes:
    """mib MiB of zeros in fmt, built cheaply (concatenated streams where the format reads them)."""
    if fmt == "zlib":
        return zlib_bomb(mib)
    if fmt == "gzip":
        return gzip.compress(bytes(MIB), 9) * mib
    if fmt == "bz2":
        return bz2.compress(bytes(16 * MIB)) * (mib // 16)
    if fmt == "lzma":
        return lzma.compress(bytes(16 * MIB)) * (mib // 16)
    if fmt == "zstd":
        return pyzstd.compress(bytes(mib * MIB))
    return lz4.frame.compress(bytes(MIB)) * mib


def limit(fmt: str, stored: bytes) -> int:
    return min(512 * MIB, max(FLOORS[fmt], 64 * len(stored)))


CHILD = r"""
import json, sys
import django
from django.conf import settings
settings.configure(USE_TZ=True)
django.setup()
from redis_cache_go import RedisCache, _native, exceptions

location, options, key = json.loads(sys.argv[1])
cache = RedisCache(location, {"OPTIONS": options})
cache.set("warm", "x" * 1000)
assert cache.get("warm") == "x" * 1000


def peak():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak to the current RSS
except OSError:
    pass
before, inflated = peak(), _native.stats().get("inflated", 0)
try:
    cache.get(key)
    outcome = "a value"
except exceptions.DecodeError as e:
    outcome = "DecodeError: " + str(e)
print(json.dumps({"growth": peak() - before, "inflated": _native.stats().get("inflated", 0) - inflated,
                  "outcome": outcome}))
"""


def read_in_child(location: str, options: dict, key: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps([location, options, key])],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("fmt", list(FLOORS))
def test_a_bomb_is_refused_having_inflated_at_most_its_limit_once(redis_server, raw, fmt):
    stored = bomb(fmt)
    raw.command("SET", ":1:bomb", stored)
    got = read_in_child(redis_server.location, {"DB": 0, "COMPRESSOR": "zlib"}, "bomb")
    cap = limit(fmt, stored)
    assert got["outcome"].startswith("DecodeError"), got
    # the output buffer never passes the limit (it doubles up to it: 3x in all, at worst) and the
    # Python error path does not decode it again
    assert got["growth"] <= 3 * cap + 48 * MIB, f"peak RSS grew {got['growth'] >> 20} MiB for a limit of {cap >> 20} MiB"
    assert f"starts like a {fmt} stream" in got["outcome"], got
    assert 0 <= got["inflated"] <= cap, f"inflated {got['inflated']} bytes for a limit of {cap}"
    if fmt in ("lzma", "zstd"):  # their containers state the size: refused before any work
        assert got["inflated"] == 0, got
    assert raw.command("GET", ":1:bomb") == stored  # never overwritten


def test_a_bomb_is_a_miss_under_ignore_exceptions(make_cache, raw):
    raw.command("SET", ":1:bomb", zlib_bomb(256))
    cache = make_cache(options={"DB": 0, "IGNORE_EXCEPTIONS": True})
    assert cache.get("bomb", "default") == "default"
    assert cache.get_many(["bomb"]) == {}


class CountingZlib:
    """A Python compressor class (zlib inside) that counts its decompress() calls."""

    calls = 0

    def compress(self, data: bytes) -> bytes:
        return zlib.compress(data)

    def decompress(self, data: bytes) -> bytes:
        CountingZlib.calls += 1
        return zlib.decompress(data)


def test_a_python_compressor_is_not_asked_to_inflate_a_bomb_go_refused(make_cache, raw):
    raw.command("SET", ":1:bomb", zlib_bomb(256))
    cache = make_cache(options={"DB": 0, "COMPRESSOR_CLASS": f"{__name__}.CountingZlib"})
    CountingZlib.calls = 0
    from redis_cache_go import exceptions

    with pytest.raises(exceptions.DecodeError, match="decode limit"):
        cache.get("bomb")
    assert CountingZlib.calls == 0
    cache.set("fine", {"a": 1})  # the class still reads what it wrote
    assert cache.get("fine") == {"a": 1}


def test_decompress_max_ratio_lets_a_site_read_highly_compressible_values(make_cache, raw):
    # 96 MiB of zeros in 94 KiB of zlib: refused by default (limit 32 MiB), read at ratio 2000.
    value = bytes(96 * MIB)
    import pickle

    raw.command("SET", ":1:big", zlib.compress(pickle.dumps(value), 9))
    from redis_cache_go import exceptions

    with pytest.raises(exceptions.DecodeError):
        make_cache(options={"DB": 0}).get("big")
    assert make_cache(options={"DB": 0, "DECOMPRESS_MAX_RATIO": 2000}).get("big") == value
    assert make_cache(options={"DB": 0, "DECOMPRESS_MAX_RATIO": 0}).get("big") == value


@pytest.mark.parametrize("bad", [-1, 1.5, "64", True])
def test_decompress_max_ratio_must_be_a_whole_number(make_cache, bad):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="DECOMPRESS_MAX_RATIO"):
        make_cache(options={"DB": 0, "DECOMPRESS_MAX_RATIO": bad})


def test_reinsert_keys_leaves_a_refused_value_as_stored(make_cache, raw):
    stored = zlib_bomb(256)
    raw.command("SET", ":1:bomb", stored)
    cache = make_cache(options={"DB": 0, "COMPRESSOR": "zstd"})
    cache.set("fine", "x" * 1000)
    assert cache.reinsert_keys() == 0  # "fine" is already zstd; the bomb is not wrapped in zstd
    assert raw.command("GET", ":1:bomb") == stored
    assert cache.get("fine") == "x" * 1000


def test_reinsert_keys_with_a_python_compressor_skips_a_refused_value(make_cache, raw):
    stored = zlib_bomb(256)
    raw.command("SET", ":1:bomb", stored)
    cache = make_cache(options={"DB": 0, "COMPRESSOR_CLASS": f"{__name__}.CountingZlib"})
    CountingZlib.calls = 0
    raw.command("SET", ":1:plain", b"\x80\x05\x95\x05\x00\x00\x00\x00\x00\x00\x00\x8c\x01a\x94.")  # pickle of "a"
    assert cache.reinsert_keys() == 1  # "plain" compressed; the bomb skipped
    assert raw.command("GET", ":1:bomb") == stored
    assert CountingZlib.calls == 1  # only for "plain", stored uncompressed (it raises, and stays so)
    assert cache.get("plain") == "a"

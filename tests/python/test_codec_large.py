"""The large-value path of the codec: results bigger than the per-thread scratch
buffer, zstd decoded straight into the result memory by its frame's content size, compression
into reused buffers, and frames whose stated size is not the truth.
"""
from __future__ import annotations

import pickle
import random
import struct
import zlib

import pyzstd
import pytest

SIZES = [100, 60 * 1024, 64 * 1024 + 1, 256 * 1024, 3 * 1024 * 1024]


def words(n: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    vocab = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10))) for _ in range(300)]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(vocab) + b" "
    return bytes(out[:n])


@pytest.mark.parametrize("compressor", ["zlib", "zstd", "gzip", "lz4", "s2", "bz2", "lzma", None])
def test_values_of_every_size_round_trip_one_after_another(make_cache, compressor):
    options = {"DB": 0} | ({"COMPRESSOR": compressor} if compressor else {})
    cache = make_cache(options=options)
    # Sizes up and down again, twice: each result reuses buffers the previous one left behind.
    sizes = SIZES if compressor in ("zlib", "zstd", None) else SIZES[:-1]  # bz2/lzma of 3 MiB: slow
    for size in sizes + sizes[::-1] + sizes:
        value = words(size, seed=size)
        cache.set("k", value)
        assert cache.get("k") == value, (compressor, size)


@pytest.mark.parametrize("size", SIZES[1:])
def test_our_zstd_and_zlib_bytes_are_what_pythons_libraries_read(make_cache, raw, size):
    value = words(size)
    for name, decompress in (("zstd", pyzstd.decompress), ("zlib", zlib.decompress)):
        make_cache(options={"DB": 0, "COMPRESSOR": name}).set("k", value)
        stored = raw.command("GET", ":1:k")
        assert pickle.loads(decompress(stored)) == value, (name, size)
    # our zstd frames carry no checksum, like pyzstd's defaults, and state their content size
    # (from 256 bytes up; below that the format spends no header byte on it)
    make_cache(options={"DB": 0, "COMPRESSOR": "zstd"}).set("k", value)
    stored = raw.command("GET", ":1:k")
    fhd = stored[4]
    assert fhd >> 6, "no frame content size"
    assert not fhd & 0x04, "checksum flag set"


@pytest.mark.parametrize("size", [1000, 256 * 1024])
def test_zstd_of_several_frames_reads_whole(make_cache, raw, size):
    # The first frame states only its own size: the rest must not be cut off or lost.
    data = pickle.dumps(words(size))
    half = len(data) // 3
    raw.command("SET", ":1:k", pyzstd.compress(data[:half]) + pyzstd.compress(data[half:]))
    assert make_cache(options={"DB": 0, "COMPRESSOR": "zstd"}).get("k") == words(size)


def _with_content_size(frame: bytes, fcs: int) -> bytes:
    """frame (single segment, 4-byte content size field) with its stated size replaced."""
    assert frame[4] >> 6 == 2 and frame[4] & 0x20, frame[:6]
    return frame[:5] + struct.pack("<I", fcs) + frame[9:]


@pytest.mark.parametrize("delta", [-1, +1, +10_000_000, +300_000_000], ids=["one short", "one over", "far over", "implausible"])
def test_zstd_frame_stating_a_wrong_size_is_a_decode_error_not_a_wrong_value(make_cache, raw, errors, delta):
    data = pickle.dumps(words(200 * 1024))
    frame = pyzstd.compress(data, {pyzstd.CParameter.contentSizeFlag: 1})
    if frame[4] >> 6 != 2:
        pytest.fail(f"pyzstd wrote a frame header {frame[4]:#x}; this test needs a 4-byte content size")
    bad = _with_content_size(frame, len(data) + delta)
    raw.command("SET", ":1:k", bad)
    cache = make_cache(options={"DB": 0, "COMPRESSOR": "zstd"})
    with pytest.raises(errors.DecodeError):
        cache.get("k")
    assert raw.command("GET", ":1:k") == bad  # never overwritten
    cache.set("k2", words(1000))  # the handle still works
    assert cache.get("k2") == words(1000)


def test_the_scratch_buffer_grows_to_big_results_up_to_its_limit(make_cache):
    from redis_cache_go import _native

    cache = make_cache(options={"DB": 0, "COMPRESSOR": "zstd"})
    s = _native._scratch
    over = _native.SCRATCH_MAX + 1
    for size in (300 * 1024, over, 100, 2 * over, 300 * 1024):
        value = words(size, seed=size)
        cache.set("k", value)
        assert cache.get("k") == value, size  # results beyond the limit still come back (overflow)
        assert s.out.cap == len(s.buf) <= _native.SCRATCH_MAX
        assert s.out.big is None  # every overflow was freed
    assert s.out.cap >= 300 * 1024  # grown: a 300 KiB result now needs no allocation

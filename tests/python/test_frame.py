"""_native.encode_frame / decode_frame: the batch format of core/frame, read back in Python."""
from __future__ import annotations

import struct

import pytest

from redis_cache_go import _native


def _frame(items: list[bytes | None]) -> bytes:
    lens = [_native.MISSING_LEN if it is None else len(it) for it in items]
    return struct.pack(f"<{len(items) + 1}I", len(items), *lens) + b"".join(it for it in items if it is not None)


@pytest.mark.parametrize("items", [
    [],
    [b"one"],
    [b"", None, b"x"],
    [bytes([i]) * i for i in range(20)],  # empty first item, lengths all different
    [b"\x80" + bytes(116)] * 100,  # the same layout every call: split by a cached struct
    [None if i % 7 == 0 else b"v%d" % i for i in range(50)],  # misses
    [None] * 12,
])
def test_decode_frame_returns_the_items_on_every_call(items):
    frame = _frame(items)
    for _ in range(3):  # first sight, second sight (a splitter is compiled), then cached
        got = _native.decode_frame(frame)
        assert got == items
        assert all(type(g) is bytes for g in got if g is not None)


def test_decode_frame_keeps_a_bounded_number_of_layouts():
    for n in range(200):
        items = [b"a" * n] * 10
        assert _native.decode_frame(_frame(items)) == items
        assert _native.decode_frame(_frame(items)) == items
    assert len(_native._splitters) <= _native._SPLITTERS_MAX


def test_encode_frame_is_what_decode_frame_reads():
    items = [b"k%d" % i for i in range(30)] + [b""]
    assert _native.encode_frame(items) == _frame(items)
    assert _native.decode_frame(_native.encode_frame(items)) == items

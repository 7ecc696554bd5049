"""Compressor settings: which compressor the Go core runs, or which Python class does.

The compressors the peers use — zlib, gzip, bz2, lzma (xz), zstd, lz4 (frame), s2 — run in Go
(``core/codec``), without the GIL. Settings name one by a short name (``OPTIONS["COMPRESSOR"]``)
or by the dotted name django-redis-cache (``COMPRESSOR_CLASS``) or django-redis
(``COMPRESSOR``) used; those names are mapped, so neither package needs to be installed. Any
other dotted path is a user's class with ``compress``/``decompress``, run in Python.

``DECOMPRESS_MAX_RATIO``: a stored value may inflate to this many times its size (default 64),
and always to a floor of 8 to 64 MiB by format (core/codec.DecodeFloor); more is refused as a
decompression bomb. 0 turns the ratio bound off (512 MiB, the largest Redis string, remains).

``COMPRESS_MIN_LEN``: serialized values shorter than this are stored uncompressed. Its default
follows the name used, so a mixed fleet reads every value the others write:

* django-redis-cache's names: 0 — it compressed every value, and its readers cannot read an
  uncompressed one;
* django-redis's names: its own thresholds, 16 (it compresses above 15 bytes) and 101 for lzma;
* our short names: 16, like django-redis (smaller values only grow when compressed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_MIN_LEN = 16

# Levels accepted besides the default (mirrors core/codec.LevelRange; checked again in Go).
LEVELS: dict[str, tuple[int, int]] = {
    "zlib": (1, 9), "gzip": (1, 9), "bz2": (1, 9), "lzma": (1, 9), "zstd": (1, 22), "lz4": (1, 9), "s2": (1, 3),
}
SHORT_NAMES = {
    "none": "none", "identity": "none", "zlib": "zlib", "gzip": "gzip", "bz2": "bz2", "bzip2": "bz2",
    "lzma": "lzma", "xz": "lzma", "zstd": "zstd", "lz4": "lz4", "s2": "s2",
}


@dataclass(frozen=True)
class Known:
    """A peer's compressor class mapped to a native one."""

    format: str
    min_len: int
    level: int = 0  # 0: the Go default for the format
    level_kwarg: str | None = None  # django-redis-cache's COMPRESSOR_CLASS_KWARGS name for the level


KNOWN: dict[str, Known] = {
    "redis_cache.compressors.NoopCompressor": Known("none", 0),
    "redis_cache.compressors.BaseCompressor": Known("none", 0),
    "redis_cache.compressors.ZLibCompressor": Known("zlib", 0, 6, "level"),
    "redis_cache.compressors.BZip2Compressor": Known("bz2", 0, 9, "compresslevel"),
    "django_redis.compressors.identity.IdentityCompressor": Known("none", 0),
    "django_redis.compressors.zlib.ZlibCompressor": Known("zlib", 16, 6),
    "django_redis.compressors.gzip.GzipCompressor": Known("gzip", 16, 9),
    "django_redis.compressors.lzma.LzmaCompressor": Known("lzma", 101, 4),
    "django_redis.compressors.lz4.Lz4Compressor": Known("lz4", 16),
    "django_redis.compressors.zstd.ZStdCompressor": Known("zstd", 16),
}


@dataclass(frozen=True)
class Compression:
    """What the settings chose: a native format (``python`` None) or a Python compressor object."""

    format: str = "none"
    level: int = 0
    min_len: int = 0
    python: Any = None
    max_ratio: int = 0  # DECOMPRESS_MAX_RATIO as Go takes it: 0 the default (64), -1 no ratio bound

    def native_config(self) -> dict[str, Any]:
        """The "codec" member of the configuration document (capi/codec.go)."""
        if self.python is not None:
            # Go stores what Python compressed and hands back raw bytes; Python asks rcg_decode
            # for the known formats (with the default limits) before trying its own decompress().
            return {"compressor": "none", "level": 0, "min_len": 0, "decode": False}
        return {"compressor": self.format, "level": self.level, "min_len": self.min_len, "decode": True,
                "max_ratio": self.max_ratio}

    def describe(self) -> str:
        if self.python is not None:
            return f"{type(self.python).__module__}.{type(self.python).__qualname__} (Python)"
        return self.format


def check_python_compressor(obj: Any) -> Any:
    if not (callable(getattr(obj, "compress", None)) and callable(getattr(obj, "decompress", None))):
        raise TypeError("a compressor needs compress() and decompress() methods")
    return obj


# The magic bytes core/codec.Sniff recognises, to name a format in a message without decoding.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x78\x01", "zlib"), (b"\x78\x5e", "zlib"), (b"\x78\x9c", "zlib"), (b"\x78\xda", "zlib"),
    (b"\x1f\x8b\x08", "gzip"), (b"\xfd7zXZ\x00", "lzma"), (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"), (b"\xff\x06\x00\x00S2sTwO", "s2"), (b"\xff\x06\x00\x00sNaPpY", "s2"),
)


def stream_format(data: bytes) -> str | None:
    """The compressed format whose magic bytes start data, or None (as core/codec.Sniff)."""
    if data[:3] == b"BZh" and len(data) >= 4 and 0x31 <= data[3] <= 0x39:
        return "bz2"
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None

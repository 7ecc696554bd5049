"""Reads the serializer and compressor OPTIONS (see serializers.py and compressors.py).

Accepted keys: django-redis-cache's ``SERIALIZER_CLASS``, ``SERIALIZER_CLASS_KWARGS``,
``COMPRESSOR_CLASS``, ``COMPRESSOR_CLASS_KWARGS``; django-redis's ``SERIALIZER`` and
``COMPRESSOR``; and ``COMPRESSOR_LEVEL``, ``COMPRESS_MIN_LEN``, ``DECOMPRESS_MAX_RATIO``. Everything is checked here, at
construction, and a wrong value is an ``ImproperlyConfigured`` naming the key.
"""
from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from redis_cache_go import compressors, serializers
from redis_cache_go.exceptions import setting_error as _bad

KEYS = {
    "SERIALIZER_CLASS", "SERIALIZER_CLASS_KWARGS", "SERIALIZER",
    "COMPRESSOR_CLASS", "COMPRESSOR_CLASS_KWARGS", "COMPRESSOR", "COMPRESSOR_LEVEL", "COMPRESS_MIN_LEN",
    "DECOMPRESS_MAX_RATIO",
}


@dataclass(frozen=True)
class Codec:
    serializer: serializers.Serializer
    compression: compressors.Compression


def dotted_name(value: Any) -> str:
    """A class or its dotted path as a string."""
    if isinstance(value, str):
        return value
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)


def _import(what: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value  # a class or an instance given directly
    try:
        return import_string(value)
    except ImportError as e:
        raise _bad(what, value, f"cannot be imported ({e})") from None


def _kwargs(options: dict[str, Any], key: str) -> dict[str, Any]:
    kwargs = options.get(key)
    if kwargs is None:
        return {}
    if not isinstance(kwargs, dict):
        raise _bad(f"OPTIONS[{key!r}]", kwargs, "must be a dict")
    return dict(kwargs)


def _one_of(options: dict[str, Any], seed_key: str, dr_key: str) -> tuple[str | None, Any]:
    if seed_key in options and dr_key in options and dotted_name(options[seed_key]) != dotted_name(options[dr_key]):
        raise _bad(f"OPTIONS[{dr_key!r}]", options[dr_key], f"conflicts with OPTIONS[{seed_key!r}] = {dotted_name(options[seed_key])!r}; give one")
    for key in (seed_key, dr_key):
        if key in options and options[key] is not None:
            return key, options[key]
    return None, None


def _serializer(options: dict[str, Any], pickle_version: int | None) -> tuple[serializers.Serializer, str | None]:
    """The serializer, and the compressor a Compressed*Serializer name implies (or None)."""
    key, value = _one_of(options, "SERIALIZER_CLASS", "SERIALIZER")
    seed_kwargs = _kwargs(options, "SERIALIZER_CLASS_KWARGS")
    if key is None:
        return serializers.PickleSerializer(-1 if pickle_version is None else pickle_version), None
    what = f"OPTIONS[{key!r}]"
    name = dotted_name(value)
    implied = None
    kind = serializers.KNOWN.get(name.lower() if name.lower() in ("pickle", "json", "msgpack", "yaml") else name)
    if kind is None and name in serializers.COMPRESSED_SEED:
        kind, implied = serializers.COMPRESSED_SEED[name], "lzma"
    if kind is not None:
        if "pickle_version" in seed_kwargs:
            if not kind.startswith("pickle"):
                raise _bad("OPTIONS['SERIALIZER_CLASS_KWARGS']", seed_kwargs, f"pickle_version does not apply to {name}")
            pickle_version = seed_kwargs.pop("pickle_version")
            if isinstance(pickle_version, bool) or not isinstance(pickle_version, int) or not -1 <= pickle_version <= pickle.HIGHEST_PROTOCOL:
                raise _bad("OPTIONS['SERIALIZER_CLASS_KWARGS']['pickle_version']", pickle_version,
                           f"must be an integer from -1 to {pickle.HIGHEST_PROTOCOL}")
        if seed_kwargs:
            raise _bad("OPTIONS['SERIALIZER_CLASS_KWARGS']", seed_kwargs, f"{name} takes no such arguments")
        try:
            return serializers.build_known(kind, pickle_version), implied
        except ImportError as e:
            extra = kind.split(":")[0]
            raise _bad(what, name, f"needs the {e.name} package (pip install redis-cache-go[{extra}])") from None
    if "." not in name:
        raise _bad(what, name, "unknown serializer (short names: pickle, json, msgpack, yaml; or a dotted path to a class)")
    cls = _import(what, value)
    try:
        if key == "SERIALIZER_CLASS":  # django-redis-cache built it with keyword arguments
            obj = cls(**seed_kwargs) if isinstance(cls, type) else cls
        else:  # django-redis built it with the OPTIONS dict
            obj = cls(options=options) if isinstance(cls, type) else cls
        return serializers.adapt(obj), None
    except ImproperlyConfigured:
        raise
    except Exception as e:
        raise _bad(what, name, f"cannot be used as a serializer: {type(e).__name__}: {e}") from None


def _level(options: dict[str, Any], fmt: str, default: int) -> int:
    if "COMPRESSOR_LEVEL" not in options or options["COMPRESSOR_LEVEL"] is None:
        return default
    level = options["COMPRESSOR_LEVEL"]
    lo, hi = compressors.LEVELS.get(fmt, (0, 0))
    if fmt == "none":
        raise _bad("OPTIONS['COMPRESSOR_LEVEL']", level, "needs a compressor (OPTIONS['COMPRESSOR'])")
    if isinstance(level, bool) or not isinstance(level, int) or not lo <= level <= hi:
        raise _bad("OPTIONS['COMPRESSOR_LEVEL']", level, f"must be an integer from {lo} to {hi} for {fmt}")
    return level


def _min_len(options: dict[str, Any], default: int) -> int:
    value = options.get("COMPRESS_MIN_LEN")
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad("OPTIONS['COMPRESS_MIN_LEN']", value, "must be an integer >= 0 (bytes)")
    return value


def _compression(options: dict[str, Any], implied: str | None) -> compressors.Compression:
    key, value = _one_of(options, "COMPRESSOR_CLASS", "COMPRESSOR")
    seed_kwargs = _kwargs(options, "COMPRESSOR_CLASS_KWARGS")
    if key is None:
        if seed_kwargs:
            raise _bad("OPTIONS['COMPRESSOR_CLASS_KWARGS']", seed_kwargs, "needs OPTIONS['COMPRESSOR_CLASS']")
        if implied is None:
            _level(options, "none", 0)
            return compressors.Compression("none", 0, _min_len(options, 0))
        # django-redis-cache's Compressed*Serializer: lzma on every value
        return compressors.Compression(implied, _level(options, implied, 0), _min_len(options, 0))
    what = f"OPTIONS[{key!r}]"
    name = dotted_name(value)
    if implied is not None:
        raise _bad(what, name, "the serializer already compresses (a redis_cache Compressed*Serializer): give one of the two")
    short = compressors.SHORT_NAMES.get(name.lower()) if isinstance(value, str) else None
    if short is not None:
        if seed_kwargs:
            raise _bad("OPTIONS['COMPRESSOR_CLASS_KWARGS']", seed_kwargs, "use OPTIONS['COMPRESSOR_LEVEL'] with a short compressor name")
        return compressors.Compression(short, _level(options, short, 0), _min_len(options, compressors.DEFAULT_MIN_LEN if short != "none" else 0))
    known = compressors.KNOWN.get(name)
    if known is not None:
        level = known.level
        if known.level_kwarg and known.level_kwarg in seed_kwargs:
            level = seed_kwargs.pop(known.level_kwarg)
            lo, hi = compressors.LEVELS[known.format]
            if isinstance(level, bool) or not isinstance(level, int) or not lo <= level <= hi:
                raise _bad(f"OPTIONS['COMPRESSOR_CLASS_KWARGS'][{known.level_kwarg!r}]", level, f"must be an integer from {lo} to {hi}")
        if seed_kwargs:
            raise _bad("OPTIONS['COMPRESSOR_CLASS_KWARGS']", seed_kwargs, f"{name} takes no such arguments")
        return compressors.Compression(known.format, _level(options, known.format, level), _min_len(options, known.min_len))
    if "." not in name:
        raise _bad(what, name, "unknown compressor (short names: zlib, gzip, bz2, lzma, zstd, lz4, s2, none; or a dotted path to a class)")
    if "COMPRESSOR_LEVEL" in options:
        raise _bad("OPTIONS['COMPRESSOR_LEVEL']", options["COMPRESSOR_LEVEL"], f"does not apply to the Python compressor {name}")
    cls = _import(what, value)
    try:
        if not isinstance(cls, type):
            obj = cls
        elif key == "COMPRESSOR_CLASS":
            obj = cls(**seed_kwargs)
        else:
            obj = cls(options) if _takes_positional(cls) else cls()
        compressors.check_python_compressor(obj)
    except Exception as e:
        raise _bad(what, name, f"cannot be used as a compressor: {type(e).__name__}: {e}") from None
    return compressors.Compression("none", 0, _min_len(options, 0), python=obj)


def _takes_positional(cls: type) -> bool:
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return True
    return bool(params) and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD)


def _max_ratio(options: dict[str, Any]) -> int:
    """DECOMPRESS_MAX_RATIO as the Go codec takes it: 0 its default (64), -1 no ratio bound."""
    value = options.get("DECOMPRESS_MAX_RATIO")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad("OPTIONS['DECOMPRESS_MAX_RATIO']", value, "must be an integer >= 1 (times the stored size), or 0 for no ratio bound")
    return value or -1


def parse(options: dict[str, Any], pickle_version: int | None) -> Codec:
    """The serializer and compression the OPTIONS select (pickle_version None: not given)."""
    serializer, implied = _serializer(options, pickle_version)
    return Codec(serializer, dataclasses.replace(_compression(options, implied), max_ratio=_max_ratio(options)))

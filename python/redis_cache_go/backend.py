"""The Django cache backend: ``redis_cache_go.RedisCache``.

Shaped like Django's own ``django.core.cache.backends.redis.RedisCache``: key making,
validation, serialization and timeout arithmetic happen here; storage calls go to the
Go core through :mod:`redis_cache_go._native`.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Iterable

from asgiref.sync import sync_to_async
from django.core.cache.backends.base import (
    DEFAULT_TIMEOUT,
    MEMCACHE_MAX_KEY_LENGTH,
    BaseCache,
    InvalidCacheKey,
    default_key_func,
)

from redis_cache_go import _failopen, _fallback, _layout, _native, _native_ext, _settings
from redis_cache_go._commands import CommandsMixin
from redis_cache_go._extended import ExtendedMixin
from redis_cache_go.exceptions import DecodeError

# A TTL of this many milliseconds or more is refused (about 285 million years;
# Redis would overflow its clock arithmetic).
MAX_TTL_MS = 2**53
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_DELETE = -1  # _ttl_ms() result: a non-positive timeout, "do not store; delete"
_FOREVER = 0  # _ttl_ms() result: no expiry

# The characters Django's validate_key warns about (its memcached_error_chars_re), compiled here:
# Django's is a lazy object whose every .search goes through a proxy (~1 µs of a ~2 µs key).
_may_warn = re.compile(r"[\x00-\x20\x7f]").search


class RedisCache(ExtendedMixin, CommandsMixin, BaseCache):
    """A drop-in for django-redis-cache's RedisCache.

    One LOCATION: that server. Several: primary/replica, as in django-redis-cache: writes and
    read-modify-write operations go to ``MASTER_CACHE`` (default: the first entry); ``get``,
    ``get_many``, ``has_key`` and ``ttl`` are spread over the other entries, skipping one that is down.
    """

    _mode = "primary"  # the layout used with several LOCATIONs (see _layout.py)

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        self._settings = _settings.parse(server, params)  # first: validates OPTIONS for BaseCache too
        super().__init__(params)
        self._server = self._settings.servers[0]
        self._serializer = self._settings.codec.serializer
        self._dumps = self._serializer.dumps
        self._loads = self._serializer.loads
        compression = self._settings.codec.compression
        self._py_compressor = compression.python  # None unless a Python compressor class is configured
        self._min_len = compression.min_len
        self._protocol = self._settings.pickle_version
        self._describe = ""
        # Django's own key making and validation, unchanged by a subclass: _key inlines it.
        cls = type(self)
        self._plain_keys = (
            cls.make_key is BaseCache.make_key
            and cls.validate_key is BaseCache.validate_key
            and cls.make_and_validate_key is BaseCache.make_and_validate_key
        )
        document = self._native_document()
        self._client = _native_ext.Client(document, self._describe)
        options = self._settings.options
        if options.get("FORK_FALLBACK", False):
            self._client = _fallback.ForkAware(self._client, document, self._describe)
        self._ignore_exceptions = bool(options.get("IGNORE_EXCEPTIONS", False))
        if self._ignore_exceptions:
            names = [server.describe() for server in self._settings.servers]
            _failopen.install(self, names, bool(options.get("LOG_IGNORED_EXCEPTIONS", True)))

    def _native_document(self) -> dict[str, Any]:
        """The layout's configuration document; sets ``_describe``."""
        options = self._settings.options
        ring = _layout.hash_ring(options.get("HASH_RING"))
        weights = _layout.weights(self._settings, options.get("WEIGHTS"))
        primary = 0
        if self._mode == "primary":
            primary = _layout.primary_index(self._settings, options.get("MASTER_CACHE"))
        elif options.get("MASTER_CACHE") is not None:
            _layout.logger.warning("redis_cache_go: OPTIONS['MASTER_CACHE'] ignored: %s has no primary", type(self).__name__)
        if self._mode != "ring" and (weights or "HASH_RING" in options):
            _layout.logger.warning("redis_cache_go: OPTIONS HASH_RING/WEIGHTS ignored: %s does not shard", type(self).__name__)
            weights = None
        self._describe = _layout.describe(self._settings, self._mode, primary)
        return _layout.document(self._settings, self._mode, primary=primary, ring=ring, ring_weights=weights)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._describe}>"

    # -- encoding ------------------------------------------------------------
    def _key(self, key: Any, version: int | None) -> bytes:
        if self._plain_keys and self.key_func is default_key_func:
            # Django's make_key + validate_key, inlined: the same string, and validate_key itself
            # (so the same warnings) whenever the key could warn.
            made = "%s:%s:%s" % (self.key_prefix, self.version if version is None else version, key)
            if len(made) > MEMCACHE_MAX_KEY_LENGTH or _may_warn(made):
                self.validate_key(made)
        else:
            made = self.make_and_validate_key(key, version=version)
        try:
            return made.encode()
        except UnicodeEncodeError as e:
            raise InvalidCacheKey(f"Cache key {made!r} cannot be encoded as UTF-8: {e}") from None

    def _keys(self, keys: list[Any], version: int | None) -> list[bytes]:
        """``[self._key(k, version) for k in keys]``, in one pass for Django's default key function:
        the same keys and the same warnings, in the same order."""
        if not (self._plain_keys and self.key_func is default_key_func):
            return [self._key(k, version) for k in keys]
        head = "%s:%s:" % (self.key_prefix, self.version if version is None else version)
        # "%s" % key is str(key) (a str subclass's __str__ included): what default_key_func does.
        made = [head + k if type(k) is str else head + "%s" % (k,) for k in keys]
        if _may_warn("".join(made)) or max(map(len, made), default=0) > MEMCACHE_MAX_KEY_LENGTH:
            for m in made:
                if len(m) > MEMCACHE_MAX_KEY_LENGTH or _may_warn(m):
                    self.validate_key(m)
        try:
            return [m.encode() for m in made]
        except UnicodeEncodeError:
            for m in made:
                try:
                    m.encode()
                except UnicodeEncodeError as e:
                    raise InvalidCacheKey(f"Cache key {m!r} cannot be encoded as UTF-8: {e}") from None
            raise

    def _encode(self, value: Any) -> bytes:
        # Plain ints are stored as decimal text so INCR works on them server-side;
        # bools and int subclasses (IntEnum, HTTPStatus) are pickled, as Django does.
        if type(value) is int:
            try:
                return b"%d" % value
            except ValueError:  # longer than sys.get_int_max_str_digits(): pickle it
                pass
        data = self._dumps(value)
        if self._py_compressor is not None and len(data) >= self._min_len:
            data = self._py_compressor.compress(data)
        return data

    def _decode(self, data: bytes, key: bytes) -> Any:
        # Go has already removed any known compression (see core/codec); what is left is a raw
        # int or the serializer's bytes.
        if data[:1] != b"\x80":  # not a protocol 2+ pickle: maybe a raw int
            try:
                return int(data)
            except ValueError:
                pass
        if self._py_compressor is not None:
            data = self._py_decompress(data)
        try:
            return self._loads(data)
        except Exception as e:
            why = f"not a valid {getattr(self._serializer, 'name', 'serialized')} payload: {type(e).__name__}: {e}"
            codec_error = _native.decode(data)[1]  # error path only: did it look like a compressed stream?
            if isinstance(codec_error, str):
                why += f"; {codec_error.removeprefix('redis-cache-go: ')}"
            raise DecodeError(
                f"{self._describe}: cannot decode the value stored at key {key.decode(errors='replace')!r} "
                f"({len(data)} bytes starting {data[:16]!r}): {why}"
            ) from e

    def _py_decompress(self, data: bytes) -> bytes:
        """A Python compressor's decode: known formats in Go first, then its own decompress()."""
        status, result = _native.decode(data)
        if status == _native.OK and isinstance(result, bytes):
            return result
        try:
            return self._py_compressor.decompress(data)
        except Exception:
            return data  # stored uncompressed (shorter than COMPRESS_MIN_LEN, or by a peer)

    def _ttl_ms(self, timeout: Any) -> int:
        """_FOREVER (0), _DELETE (-1), or a positive TTL in whole milliseconds (rounded up)."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return _FOREVER
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number of seconds or None, not {timeout!r}")
        if timeout <= 0:
            return _DELETE
        if not math.isfinite(timeout):
            raise ValueError(f"timeout must be finite, not {timeout!r}")
        ms = math.ceil(timeout * 1000)
        if ms >= MAX_TTL_MS:
            raise ValueError(f"timeout {timeout!r} is too large")
        return ms

    # -- Django's cache API ----------------------------------------------------
    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        k = self._key(key, version)
        data = self._encode(value)
        ttl = self._ttl_ms(timeout)
        if ttl == _DELETE:  # not stored; report whether it would have been added
            return not self._client.exists(k)
        return self._client.set(k, data, ttl, nx=True)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        k = self._key(key, version)
        data = self._client.get(k)
        if data is None:
            return default
        if data[:1] == b"\x80" and self._py_compressor is None:  # a pickle: what _decode does, one call less
            try:
                return self._loads(data)
            except Exception:
                pass  # _decode raises the DecodeError that says why
        return self._decode(data, k)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        k = self._key(key, version)
        data = self._encode(value)
        ttl = self._ttl_ms(timeout)
        if ttl == _DELETE:
            self._client.delete(k)
        else:
            self._client.set(k, data, ttl)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        k = self._key(key, version)
        ttl = self._ttl_ms(timeout)
        if ttl == _FOREVER:
            return self._client.persist(k)
        if ttl == _DELETE:
            return self._client.delete(k)
        return self._client.expire(k, ttl)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._client.delete(self._key(key, version))

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        originals = list(keys)
        key_map = dict(zip(self._keys(originals, version), originals))
        if not key_map:
            return {}
        made = list(key_map)
        result = {}
        loads, decode = self._loads, self._decode
        pickles = self._py_compressor is None  # a pickle (0x80...) goes straight to loads, as in _decode
        for k, data in zip(made, self._client.get_many(made)):
            if data is None:
                continue
            if pickles and data[:1] == b"\x80":
                try:
                    result[key_map[k]] = loads(data)
                    continue
                except Exception:
                    pass  # _decode raises the DecodeError that says why
            try:
                result[key_map[k]] = decode(data, k)
            except DecodeError as e:
                if not self._ignore_exceptions:
                    raise
                self._ignored_log("get_many", e)  # fail-open: this key is a miss
        return result

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._client.exists(self._key(key, version))

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"delta must be an integer, not {delta!r}")
        if not INT64_MIN <= delta <= INT64_MAX:
            raise ValueError(f"delta {delta} is outside Redis' 64-bit integer range")
        k = self._key(key, version)
        found, value = self._client.incr(k, delta)
        if not found:
            raise ValueError(f"Key '{key}' not found.")
        return value

    def decr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"delta must be an integer, not {delta!r}")
        return self.incr(key, -delta, version=version)

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        if not data:
            return []
        ttl = self._ttl_ms(timeout)
        made = self._keys(list(data), version)
        if self._py_compressor is None:
            dumps, encode = self._dumps, self._encode
            values = [dumps(v) if type(v) is not int else encode(v) for v in data.values()]
        else:
            values = list(map(self._encode, data.values()))
        if ttl == _DELETE:
            self._client.delete_many(made)
        else:
            pairs: list[bytes] = [b""] * (2 * len(made))
            pairs[0::2] = made
            pairs[1::2] = values
            self._client.set_many(pairs, ttl)
        return []

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        made = self._keys(list(keys), version)
        if made:
            self._client.delete_many(made)

    def clear(self, version: int | None = None) -> bool:
        """Delete this cache's keys: those of KEY_PREFIX when one is set, else the whole db.
        With ``version``, only that version's keys (SCAN + UNLINK, see delete_pattern)."""
        if version is not None:
            self.delete_pattern("*", version=version)
            return True
        pattern = self._clear_pattern()
        self._client.clear(pattern)
        if pattern:  # get_or_set's fresh flags of these keys (locks expire by themselves)
            self._client.clear(b"__fresh__" + pattern)
        return True

    def _clear_pattern(self) -> bytes:
        """Glob matching every key this cache can make (b"" = the whole db)."""
        if not self.key_prefix:
            return b""
        # Make a key from two markers and turn them into wildcards, so custom
        # KEY_FUNCTIONs that keep the prefix are honoured too.
        key_mark, version_mark = "\x00k\x00", "\x00v\x00"
        made = self.key_func(key_mark, self.key_prefix, version_mark)
        if self.key_prefix not in made:
            raise _settings.ImproperlyConfigured(
                "redis_cache_go: clear() with KEY_PREFIX needs a KEY_FUNCTION whose keys contain the prefix"
            )
        escaped = _glob_escape(made)
        return escaped.replace(_glob_escape(key_mark), "*").replace(_glob_escape(version_mark), "*").encode()

    def incr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        if version is None:
            version = self.version
        new_version = version + delta
        if not self._client.rename(self._key(key, version), self._key(key, new_version)):
            raise ValueError(f"Key '{key}' not found")
        return new_version

    def decr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self.incr_version(key, -delta, version)

    def close(self, **kwargs: Any) -> None:
        """Django calls this after every request; connections stay pooled (as in Django's RedisCache)."""

    def disconnect(self) -> None:
        """Close the native client and its connections; the next call reconnects."""
        self._client.close()

    # -- async: the same operations, run in a worker thread (the GIL is released in Go) --
    async def aadd(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return await _async(self.add)(key, value, timeout, version)

    async def aget(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return await _async(self.get)(key, default, version)

    async def aset(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        return await _async(self.set)(key, value, timeout, version)

    async def atouch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return await _async(self.touch)(key, timeout, version)

    async def adelete(self, key: Any, version: int | None = None) -> bool:
        return await _async(self.delete)(key, version)

    async def aget_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        return await _async(self.get_many)(keys, version)

    async def aget_or_set(self, key: Any, default: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> Any:
        return await _async(self.get_or_set)(key, default, timeout, version)

    async def ahas_key(self, key: Any, version: int | None = None) -> bool:
        return await _async(self.has_key)(key, version)

    async def aincr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return await _async(self.incr)(key, delta, version)

    async def adecr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return await _async(self.decr)(key, delta, version)

    async def aset_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        return await _async(self.set_many)(data, timeout, version)

    async def adelete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        return await _async(self.delete_many)(keys, version)

    async def aclear(self) -> bool:
        return await _async(self.clear)()

    async def aincr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return await _async(self.incr_version)(key, delta, version)

    async def adecr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return await _async(self.decr_version)(key, delta, version)

    async def aclose(self, **kwargs: Any) -> None:
        return None


def _async(fn: Callable[..., Any]) -> Callable[..., Any]:
    # thread_sensitive=False: the backend is thread-safe, so concurrent awaits
    # overlap instead of queueing behind Django's single sync thread.
    return sync_to_async(fn, thread_sensitive=False)


def _glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters (* ? [ ] \\) so they match literally."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)

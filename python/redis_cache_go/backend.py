"""The Django cache backend: ``redis_cache_go.RedisCache``.

Shaped like Django's own ``django.core.cache.backends.redis.RedisCache``: key making,
validation, serialization and timeout arithmetic happen here; storage calls go to the
Go core through :mod:`redis_cache_go._native`.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import math
import operator
import re
import weakref
from itertools import compress
from typing import Any, Callable, Iterable

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.cache.backends.base import (
    DEFAULT_TIMEOUT,
    MEMCACHE_MAX_KEY_LENGTH,
    BaseCache,
    InvalidCacheKey,
    default_key_func,
)

from redis_cache_go import _failopen, _fallback, _native, _native_async, _native_ext, _raw, _settings, _ttl, compressors
from redis_cache_go._commands import CommandsMixin
from redis_cache_go._extended import _DEFAULT as _STALE_DEFAULT, ExtendedMixin, herd_arguments
from redis_cache_go.exceptions import DecodeError, NotAnIntegerError, ServerError

_GET, _OK = _native_async.GET, _native.OK

# The longest TTL stored (about 292 million years); a longer timeout is a ValueError (_ttl.py).
MAX_TTL_MS = _ttl.MAX_TTL_MS
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_DELETE = -1  # _ttl_ms() result: a non-positive timeout, "do not store; delete"
_FOREVER = 0  # _ttl_ms() result: no expiry
# Django's memcache_key_warnings() characters, compiled here: Django's lazily compiled pattern
# goes through a LazyObject proxy on every call (measured: about 1 µs of a 4 µs near-cache hit).
_KEY_MEMO_MAX = 4096  # made keys remembered per cache (the memo starts over when full)
_MEMCACHE_BAD_CHARS = re.compile(r"[\x00-\x20\x7f]")
_STR_ONLY = frozenset((str,))
_PICKLES_ONLY = frozenset((0x80,))  # first bytes of a batch of protocol 2+ pickles
_first_byte = operator.itemgetter(0)
# get_or_set's fresh flags and value tags: clear() removes them with their keys (locks expire)
_HERD_COMPANIONS = (b"__fresh__", b"__herd__")
# core/codec's LimitError says this: the value would inflate past its decode limit.
_GO_LIMIT = "decode limit"


def _undecodable(describe: str, key: bytes, data: bytes, why: str) -> DecodeError:
    return DecodeError(f"{describe}: cannot decode the value stored at key {key.decode(errors='replace')!r} "
                       f"({len(data)} bytes starting {data[:16]!r}): {why}")


def _check_delta(delta: Any) -> None:
    """incr/decr's delta: an int (not a bool) within Redis' 64-bit range, else TypeError/ValueError."""
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise TypeError(f"delta must be an integer, not {delta!r}")
    if not INT64_MIN <= delta <= INT64_MAX:
        raise ValueError(f"delta {delta} is outside Redis' 64-bit integer range")


logger = logging.getLogger("redis_cache_go")


class RedisCache(_failopen.FailOpen, ExtendedMixin, CommandsMixin, _raw.RawAccessMixin, BaseCache):
    """A drop-in for django-redis-cache's RedisCache.

    One LOCATION: that server. Several: primary/replica, as in django-redis-cache: writes and
    read-modify-write operations go to ``MASTER_CACHE`` (default: the first entry); ``get``,
    ``get_many``, ``has_key`` and ``ttl`` are spread over the other entries, skipping one that is down.

    Fail-open (IGNORE_EXCEPTIONS, see _failopen.py): each method of Django's cache API here ends in
    ``except self._fail_open_errors as e: return self._failed(<name>, e, <its fallback>)``; the
    errors are none unless IGNORE_EXCEPTIONS is set, so without it errors pass untouched and the
    calls cost nothing more. ``FailOpen`` does the same for the extended API (get_or_set, ttl, …).
    """

    _mode = "primary"  # the layout used with several LOCATIONs (see _layout.py)

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        self._init_args = (server, params)  # what pickling keeps (__getstate__)
        # first: validates OPTIONS for BaseCache too; every OPTIONS key is read there, none here
        settings = self._settings = _settings.parse(server, params, layout=self._mode, backend=type(self).__name__)
        super().__init__(params)
        self._server = settings.servers[0]
        self._serializer = settings.codec.serializer
        self._dumps = self._serializer.dumps
        self._loads = self._serializer.loads
        compression = settings.codec.compression
        self._py_compressor = compression.python  # None unless a Python compressor class is configured
        self._min_len = compression.min_len
        self._protocol = settings.pickle_version
        self._mode = settings.layout
        self._primary = settings.primary
        # VALUE_PROTECTION with misses for rejected values: after a miss, log what Go rejected
        self._logs_rejections = settings.protection is not None and settings.protection["errors"] == "miss"
        self._describe = settings.describe
        # _key()'s memo: (key_prefix, version, key_func, {key: made key}); see _key.
        self._key_memo: tuple[str, int, Any, dict[str, bytes]] = (self.key_prefix, self.version, self.key_func, {})
        self._key_memo_allowed = (
            self.key_func is default_key_func
            and type(self).make_key is BaseCache.make_key
            and type(self).make_and_validate_key is BaseCache.make_and_validate_key
            and type(self).validate_key is RedisCache.validate_key
        )
        document = settings.document
        # caches of one configuration share aget_or_set's calls (Go shares get_or_set's flights)
        self._flight_scope = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).digest()
        self._client = _native_ext.Client(document, self._describe)
        if settings.fork_fallback:
            self._client = _fallback.ForkAware(self._client, document, self._describe)
        # the ring's routing for get_client(key): the client's bound method (no cycle through self)
        self._raw = _raw.Clients(settings, self._mode, self._primary, self._client.locate)
        self._init_fail_open(settings)

    def local_cache_stats(self) -> dict[str, int] | None:
        """The near-cache's counters (hits, misses, fills, dropped, evictions, expired,
        invalidations, flushes, connects, failures, entries, bytes, tracking, tracking_id, tracked,
        tracked_up; see docs/near-cache.md), or None when
        OPTIONS['LOCAL_CACHE'] is not set."""
        stats: dict[str, int] | None = self._client.near_stats()
        return stats

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._describe}>"

    # Pickling keeps the settings only, as django-redis-cache's did: the copy builds its own
    # native client (and raw clients) on first use, in whatever process unpickles it.
    def __getstate__(self) -> dict[str, Any]:
        server, params = self._init_args
        return {"server": server, "params": params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, state["server"], state["params"])

    # -- encoding ------------------------------------------------------------
    def validate_key(self, key: Any) -> None:
        """Django's check (warns about keys memcached would refuse), fast when the key is fine;
        the warnings themselves still come from Django's own validate_key."""
        if len(key) > MEMCACHE_MAX_KEY_LENGTH or _MEMCACHE_BAD_CHARS.search(key):
            super().validate_key(key)

    def _key(self, key: Any, version: int | None) -> bytes:
        # Memo of made keys for str keys at the default version, used only with Django's own
        # (pure) default_key_func and make_key, and only while KEY_PREFIX, VERSION and KEY_FUNCTION
        # are what they were when it was filled (measured: ~1 us of a ~3 us near-cache hit).
        if version is None and type(key) is str:
            prefix, ver, func, memo = self._key_memo
            if prefix is self.key_prefix and ver == self.version and func is self.key_func:
                made_b = memo.get(key)
                if made_b is not None:
                    return made_b
        made = self.make_and_validate_key(key, version=version)
        try:
            made_b = made.encode()
        except UnicodeEncodeError as e:
            raise InvalidCacheKey(f"Cache key {made!r} cannot be encoded as UTF-8: {e}") from None
        if (version is None and type(key) is str and self._key_memo_allowed
                and len(made) <= MEMCACHE_MAX_KEY_LENGTH and not _MEMCACHE_BAD_CHARS.search(made)):
            prefix, ver, func, memo = self._key_memo
            if not (prefix is self.key_prefix and ver == self.version and func is self.key_func) or len(memo) >= _KEY_MEMO_MAX:
                memo = {}
                self._key_memo = (self.key_prefix, self.version, self.key_func, memo)
            memo[key] = made_b
        return made_b

    def _keys(self, keys: list[Any], version: int | None) -> list[bytes]:
        """``[self._key(k, version) for k in keys]``, in one pass for Django's default key function:
        the same keys and the same warnings, in the same order."""
        if not (self._key_memo_allowed and self.key_func is default_key_func):
            return [self._key(k, version) for k in keys]
        memo: dict[str, bytes] | None = None
        if version is None:
            # _key()'s memo, looked up for the whole batch in C (map + dict.get): only str keys
            # are in it, so a hit for every key of an all-str batch is every made key.
            prefix, ver, func, memo = self._key_memo
            if prefix is self.key_prefix and ver == self.version and func is self.key_func:
                try:
                    hits = list(map(memo.get, keys))
                except TypeError:  # an unhashable key: made below, as Django makes it
                    hits = [None]
                if None not in hits and set(map(type, keys)) <= _STR_ONLY:
                    return hits  # type: ignore[return-value]  # no None in it
            else:
                memo = None
        head = "%s:%s:" % (self.key_prefix, self.version if version is None else version)
        # "%s" % key is str(key) (a str subclass's __str__ included): what default_key_func does.
        made = [head + k if type(k) is str else head + "%s" % (k,) for k in keys]
        bad = _MEMCACHE_BAD_CHARS.search
        warned = bad("".join(made)) or max(map(len, made), default=0) > MEMCACHE_MAX_KEY_LENGTH
        if warned:
            for m in made:
                if len(m) > MEMCACHE_MAX_KEY_LENGTH or bad(m):
                    self.validate_key(m)
        try:
            made_b = [m.encode() for m in made]
        except UnicodeEncodeError:
            for m in made:
                try:
                    m.encode()
                except UnicodeEncodeError as e:
                    raise InvalidCacheKey(f"Cache key {m!r} cannot be encoded as UTF-8: {e}") from None
            raise
        if memo is not None and not warned and len(keys) <= _KEY_MEMO_MAX:  # as _key remembers them
            if len(memo) + len(keys) > _KEY_MEMO_MAX:
                memo = {}
                self._key_memo = (self.key_prefix, self.version, self.key_func, memo)
            memo.update((k, b) for k, b in zip(keys, made_b) if type(k) is str)
        return made_b

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
            data = self._py_decompress(data, key)
        try:
            return self._loads(data)
        except Exception as e:
            why = f"not a valid {getattr(self._serializer, 'name', 'serialized')} payload: {type(e).__name__}: {e}"
            # Named from its magic bytes, not by decoding it again (a bomb would cost its limit twice):
            # Go hands a value back as stored when it does not decode within its limit.
            fmt = compressors.stream_format(data)
            if fmt is not None:
                why += (f"; it starts like a {fmt} stream but did not decode as one (corrupt, truncated, "
                        f"or inflating past its limit: OPTIONS['DECOMPRESS_MAX_RATIO'] times its size)")
            raise _undecodable(self._describe, key, data, why) from e

    def _py_decompress(self, data: bytes, key: bytes = b"?") -> bytes:
        """A Python compressor's decode: known formats in Go first, then its own decompress()."""
        status, result = _native.decode(data)
        if status == _native.OK and isinstance(result, bytes):
            return result
        if isinstance(result, str) and _GO_LIMIT in result:  # Go refused a bomb: never inflate it here
            raise _undecodable(self._describe, key, data, result.removeprefix("redis-cache-go: "))
        try:
            plain: bytes = self._py_compressor.decompress(data)
            return plain
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
        ms = timeout * 1000
        if ms > MAX_TTL_MS:  # checked before math.ceil, which an infinite product would break
            raise _ttl.too_large("timeout", timeout)
        return math.ceil(ms)

    # -- Django's cache API ----------------------------------------------------
    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        try:
            k = self._key(key, version)
            data = self._encode(value)
            ttl = self._ttl_ms(timeout)
            if ttl == _DELETE:  # not stored; report whether it would have been added
                return not self._client.exists(k)
            return bool(self._client.set(k, data, ttl, nx=True))
        except self._fail_open_errors as e:
            return self._failed("add", e, False)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            k = self._key(key, version)
            data = self._client.get(k)
            if data is None:
                if self._logs_rejections:
                    self._log_rejections()
                return default
            if data[:1] == b"\x80" and self._py_compressor is None:  # a pickle: _decode's common case, inlined
                try:
                    return self._loads(data)
                except Exception:
                    pass  # _decode raises the DecodeError that explains it
            return self._decode(data, k)
        except self._fail_open_errors as e:
            return self._failed("get", e, default)

    # Django's stubs say set() returns None; django-redis-cache and django-redis return a bool, and
    # code tests it (`if cache.set(...)`): True when stored, False when a non-positive timeout
    # deleted the key instead (fail-open: False when the server could not be reached).
    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:  # type: ignore[override]
        try:
            k = self._key(key, version)
            data = self._encode(value)
            ttl = self._ttl_ms(timeout)
            if ttl == _DELETE:
                self._client.delete(k)
                return False
            self._client.set(k, data, ttl)
            return True
        except self._fail_open_errors as e:
            return self._failed("set", e, False)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        try:
            k = self._key(key, version)
            ttl = self._ttl_ms(timeout)
            if ttl == _FOREVER:
                return bool(self._client.persist(k))
            if ttl == _DELETE:
                return bool(self._client.delete(k))
            return bool(self._client.expire(k, ttl))
        except self._fail_open_errors as e:
            return self._failed("touch", e, False)

    def delete(self, key: Any, version: int | None = None) -> bool:
        try:
            return bool(self._client.delete(self._key(key, version)))
        except self._fail_open_errors as e:
            return self._failed("delete", e, False)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        try:
            originals = list(keys)
            made = self._keys(originals, version)
            if not made:
                return {}
            if len(set(made)) == len(made):  # no two keys make the same key: no key map needed
                return self._decode_values(originals, made, self._client.get_many(made))
            key_map = dict(zip(made, originals))
            made = list(key_map)
            values = self._client.get_many(made)
            if self._logs_rejections and None in values:
                self._log_rejections()
            return self._decode_many(key_map, made, values)
        except self._fail_open_errors as e:
            return self._failed("get_many", e, {})

    def has_key(self, key: Any, version: int | None = None) -> bool:
        try:
            return bool(self._client.exists(self._key(key, version)))
        except self._fail_open_errors as e:
            return self._failed("has_key", e, False)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            _check_delta(delta)
            k = self._key(key, version)
            try:
                found, value = self._client.incr(k, delta)
            except ServerError as e:
                raise _incr_error(e) from None
            if not found:
                raise ValueError(f"Key '{key}' not found.")
            return int(value)
        except self._fail_open_errors as e:
            return self._failed("incr", e, None)  # type: ignore[return-value]  # None: as django-redis

    def decr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            if isinstance(delta, bool) or not isinstance(delta, int):
                raise TypeError(f"delta must be an integer, not {delta!r}")
            return self.incr(key, -delta, version=version)
        except self._fail_open_errors as e:
            return self._failed("decr", e, None)  # type: ignore[return-value]  # None: as django-redis

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        try:
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
        except self._fail_open_errors as e:
            return self._failed("set_many", e, list(data))

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        try:
            made = self._keys(list(keys), version)
            if made:
                self._client.delete_many(made)
        except self._fail_open_errors as e:
            return self._failed("delete_many", e, None)

    # Django's stubs say clear() returns None; Django's own RedisCache returns the bool, as we do.
    def clear(self, version: int | None = None) -> bool:  # type: ignore[override]
        """Delete this cache's keys: those of KEY_PREFIX when one is set, else the whole db.
        With ``version``, only that version's keys (SCAN + UNLINK, see delete_pattern)."""
        try:
            if version is not None:
                self.delete_pattern("*", version=version)
                for companion in _HERD_COMPANIONS:
                    self._client.clear(companion + self.make_pattern("*", version))
                return True
            pattern = self._clear_pattern()
            self._client.clear(pattern)
            if pattern:
                for companion in _HERD_COMPANIONS:
                    self._client.clear(companion + pattern)
            return True
        except self._fail_open_errors as e:
            return self._failed("clear", e, False)

    def _clear_pattern(self) -> bytes:
        """Glob matching every key this cache can make (b"" = the whole db)."""
        if not self.key_prefix:
            return b""
        # Make a key from two markers and turn them into wildcards, so custom
        # KEY_FUNCTIONs that keep the prefix are honoured too.
        key_mark, version_mark = "\x00k\x00", "\x00v\x00"
        made = self.key_func(key_mark, self.key_prefix, version_mark)
        if self.key_prefix not in made:
            raise ImproperlyConfigured(
                "redis_cache_go: clear() with KEY_PREFIX needs a KEY_FUNCTION whose keys contain the prefix"
            )
        escaped = _glob_escape(made)
        return escaped.replace(_glob_escape(key_mark), "*").replace(_glob_escape(version_mark), "*").encode()

    def incr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            if version is None:
                version = self.version
            new_version = version + delta
            if not self._client.rename(self._key(key, version), self._key(key, new_version)):
                if self._logs_rejections:  # absent, or a value that did not verify (left where it is)
                    self._log_rejections()
                raise ValueError(f"Key '{key}' not found")
            return new_version
        except self._fail_open_errors as e:
            return self._failed("incr_version", e, None)  # type: ignore[return-value]  # None: as django-redis

    def decr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            return self.incr_version(key, -delta, version)
        except self._fail_open_errors as e:
            return self._failed("decr_version", e, None)  # type: ignore[return-value]  # None: as django-redis

    def close(self, **kwargs: Any) -> None:
        """Django calls this after every request; connections stay pooled (as in Django's RedisCache)."""

    def disconnect(self) -> None:
        """Close the native client and its connections (and the raw clients' pools); the next
        call reconnects."""
        self._client.close()
        self._raw.close()

    # -- async: native (capi "Asynchronous calls", _native_async.py) --------------------
    # Each a* method runs its sync twin's Python steps (the same _key / _encode / _ttl_ms /
    # _decode helpers, in the same order, so errors and edge cases match) and awaits the storage
    # call, which Go runs on a goroutine; concurrent awaits on one loop overlap (the GETs of one
    # loop iteration are read together: capi/asyncrun.go).
    @functools.cached_property
    def _aclient(self) -> _native_async.AsyncClient:
        return _native_async.AsyncClient(self._client)

    async def aadd(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        try:
            k = self._key(key, version)
            data = self._encode(value)
            ttl = self._ttl_ms(timeout)
            if ttl == _DELETE:
                return not await self._aclient.exists(k)
            return await self._aclient.set(k, data, ttl, nx=True)
        except self._fail_open_errors as e:
            return self._failed("add", e, False)

    async def aget(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            k = self._key(key, version)
            ac = self._aclient
            future = ac._inline(_GET, k)
            if future is None:
                data = await ac.get(k)
            else:  # the common case, without one more coroutine between this one and the future
                status, num, data = await future
                if status != _OK:
                    data = None if status >= 0 else await ac.get_after(status, num, data, k)
            if data is None:
                if self._logs_rejections:
                    self._log_rejections()
                return default
            return self._decode(data, k)
        except self._fail_open_errors as e:
            return self._failed("get", e, default)

    async def aset(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:  # type: ignore[override]
        try:
            k = self._key(key, version)
            data = self._encode(value)
            ttl = self._ttl_ms(timeout)
            if ttl == _DELETE:
                await self._aclient.delete(k)
                return False
            await self._aclient.set(k, data, ttl)
            return True
        except self._fail_open_errors as e:
            return self._failed("set", e, False)

    async def atouch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        try:
            k = self._key(key, version)
            ttl = self._ttl_ms(timeout)
            if ttl == _FOREVER:
                return await self._aclient.persist(k)
            if ttl == _DELETE:
                return await self._aclient.delete(k)
            return await self._aclient.expire(k, ttl)
        except self._fail_open_errors as e:
            return self._failed("touch", e, False)

    async def adelete(self, key: Any, version: int | None = None) -> bool:
        try:
            return await self._aclient.delete(self._key(key, version))
        except self._fail_open_errors as e:
            return self._failed("delete", e, False)

    async def aget_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        try:
            originals = list(keys)
            made = self._keys(originals, version)
            if not made:
                return {}
            if len(set(made)) == len(made):
                return self._decode_values(originals, made, await self._aclient.get_many(made))
            key_map = dict(zip(made, originals))
            made = list(key_map)
            values = await self._aclient.get_many(made)
            if self._logs_rejections and None in values:
                self._log_rejections()
            return self._decode_many(key_map, made, values)
        except self._fail_open_errors as e:
            return self._failed("get_many", e, {})

    def _log_rejections(self) -> None:
        """Log the values Go rejected (VALUE_PROTECTION: unsigned, forged, written for another key)
        since the last call: at most one line per key per minute, never the value's bytes."""
        lines, dropped = self._client.rejections()
        for key, reason in lines:
            logger.warning("redis_cache_go: %s: value of key %r rejected, treated as a miss: %s", self._describe, key, reason)
        if dropped:
            logger.warning("redis_cache_go: %s: %d more rejected values not logged (queue full)", self._describe, dropped)

    def _decode_values(self, originals: list[Any], made: list[bytes], values: list[bytes | None]) -> dict[Any, Any]:
        """get_many's result when ``made`` (aligned with ``originals`` and ``values``) has no
        duplicates. A batch of pickles only (the common case) is unpickled in one C-level pass
        (map + dict(zip)); anything else, or a value that does not unpickle, goes through
        _decode_many's per-key path, which says why and applies fail-open per key."""
        missing = None in values
        if missing and self._logs_rejections:
            self._log_rejections()
        if self._py_compressor is None:
            origs: list[Any] = originals
            present: list[Any] = values
            if missing:
                if b"" in values:  # an empty value is stored, but falsy: compress() would drop it
                    return self._decode_many(dict(zip(made, originals)), made, values)
                origs = list(compress(originals, values))
                present = list(filter(None, values))
            try:
                if set(map(_first_byte, present)) <= _PICKLES_ONLY:
                    return dict(zip(origs, map(self._loads, present)))
            except Exception:
                pass  # an empty value (IndexError) or one that does not unpickle: the per-key path
        return self._decode_many(dict(zip(made, originals)), made, values)

    def _decode_many(self, key_map: dict[bytes, Any], made: list[bytes], values: list[bytes | None]) -> dict[Any, Any]:
        """get_many's result from the stored values of ``made`` (fail-open: undecodable = miss)."""
        result = {}
        loads, decode = self._loads, self._decode
        pickles = self._py_compressor is None  # a pickle (0x80...) goes straight to loads, as in _decode
        for k, data in zip(made, values):
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
            except self._fail_open_errors as e:  # a DecodeError: a miss under fail-open
                self._failed("get_many", e, None)
        return result

    async def aget_or_set(self, key: Any, default: Any, timeout: Any = DEFAULT_TIMEOUT,
                          *extra: Any, version: int | None = None,
                          lock_timeout: float | None = None, stale_cache_timeout: Any = _STALE_DEFAULT) -> Any:
        """get_or_set in a worker thread.

        Not native: the herd path blocks in Go while another caller computes (rcg_herd_ask waits
        up to lock_timeout), and a callable default is sync code. Concurrent calls for one key on
        one event loop (through any instance of this configuration) share one worker thread and
        its outcome, the value or the exception; cancelling one of them cancels no other.
        Arguments as get_or_set's."""
        try:
            version, lock_timeout, stale_cache_timeout = herd_arguments(extra, version, lock_timeout, stale_cache_timeout)
            k = self._key(key, version)
            loop = asyncio.get_running_loop()
            try:
                flights = _AFLIGHTS.setdefault(loop, {})
            except TypeError:  # a loop that takes no weak reference: no sharing
                flights = {}
            scoped = (self._flight_scope, k)
            task = flights.get(scoped)
            if task is None:
                run = functools.partial(self._get_or_set, k, default, timeout, lock_timeout, stale_cache_timeout)
                task = loop.create_task(_async(run)())
                flights[scoped] = task
                task.add_done_callback(functools.partial(_landed, flights, scoped))
            return await asyncio.shield(task)
        except self._fail_open_errors as e:
            return self._failed("get_or_set", e, default() if callable(default) else default)

    async def ahas_key(self, key: Any, version: int | None = None) -> bool:
        try:
            return await self._aclient.exists(self._key(key, version))
        except self._fail_open_errors as e:
            return self._failed("has_key", e, False)

    async def aincr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            _check_delta(delta)
            k = self._key(key, version)
            try:
                found, value = await self._aclient.incr(k, delta)
            except ServerError as e:
                raise _incr_error(e) from None
            if not found:
                raise ValueError(f"Key '{key}' not found.")
            return value
        except self._fail_open_errors as e:
            return self._failed("incr", e, None)  # type: ignore[return-value]  # None: as django-redis

    async def adecr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            if isinstance(delta, bool) or not isinstance(delta, int):
                raise TypeError(f"delta must be an integer, not {delta!r}")
            return await self.aincr(key, -delta, version=version)
        except self._fail_open_errors as e:
            return self._failed("decr", e, None)  # type: ignore[return-value]  # None: as django-redis

    async def aset_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        try:
            if not data:
                return []
            ttl = self._ttl_ms(timeout)
            pairs: list[bytes] = []
            for key, value in data.items():
                pairs.append(self._key(key, version))
                pairs.append(self._encode(value))
            if ttl == _DELETE:
                await self._aclient.delete_many(pairs[0::2])
            else:
                await self._aclient.set_many(pairs, ttl)
            return []
        except self._fail_open_errors as e:
            return self._failed("set_many", e, list(data))

    async def adelete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        try:
            made = [self._key(key, version) for key in keys]
            if made:
                await self._aclient.delete_many(made)
        except self._fail_open_errors as e:
            return self._failed("delete_many", e, None)

    async def aclear(self) -> bool:  # type: ignore[override]
        try:
            pattern = self._clear_pattern()
            await self._aclient.clear(pattern)
            if pattern:
                for companion in _HERD_COMPANIONS:  # as clear()
                    await self._aclient.clear(companion + pattern)
            return True
        except self._fail_open_errors as e:
            return self._failed("clear", e, False)

    async def aincr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            if version is None:
                version = self.version
            new_version = version + delta
            if not await self._aclient.rename(self._key(key, version), self._key(key, new_version)):
                if self._logs_rejections:  # as incr_version
                    self._log_rejections()
                raise ValueError(f"Key '{key}' not found")
            return new_version
        except self._fail_open_errors as e:
            return self._failed("incr_version", e, None)  # type: ignore[return-value]  # None: as django-redis

    async def adecr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            return await self.aincr_version(key, -delta, version)
        except self._fail_open_errors as e:
            return self._failed("decr_version", e, None)  # type: ignore[return-value]  # None: as django-redis

    async def aclose(self, **kwargs: Any) -> None:
        return None


# aget_or_set's shared calls: event loop -> {(configuration, made key): the task computing it}
_AFLIGHTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[bytes, bytes], asyncio.Task[Any]]] = (
    weakref.WeakKeyDictionary())


def _landed(flights: dict[tuple[bytes, bytes], asyncio.Task[Any]], scoped: tuple[bytes, bytes], task: asyncio.Task[Any]) -> None:
    """An aget_or_set task ended: the next call starts a new one. Its exception counts as
    retrieved (its awaiters, if any are left, raise it)."""
    if flights.get(scoped) is task:
        del flights[scoped]
    if not task.cancelled():
        task.exception()


def _incr_error(e: ServerError) -> ServerError:
    """incr's server error: a NotAnIntegerError (also a TypeError, as Django's backends raise)
    when the stored value is not an integer, with the server's message; else ``e``."""
    if "not an integer" in str(e) and not isinstance(e, NotAnIntegerError):
        return NotAnIntegerError(str(e))
    return e


def _async(fn: Callable[..., Any]) -> Callable[..., Any]:
    # thread_sensitive=False: the backend is thread-safe, so concurrent awaits
    # overlap instead of queueing behind Django's single sync thread.
    return sync_to_async(fn, thread_sensitive=False)


def _glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters (* ? [ ] \\) so they match literally."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)

"""The API beyond Django's: herd-protected ``get_or_set``, ``lock``, TTL control and key patterns.

Names and meanings follow django-redis-cache where it had them (``ttl``, ``expire``, ``persist``,
``delete_pattern``, ``reinsert_keys``, ``get_or_set``'s ``lock_timeout``/``stale_cache_timeout``,
``lock`` on a raw key) and django-redis otherwise (``pttl``, ``pexpire``, ``expire_at``, ``iter_keys``,
``keys``, ``itersize``). Keys and patterns are in Django's key space: KEY_PREFIX and VERSION are
applied (the version of the call, or the cache's), and the prefix and version are glob-escaped, as
django-redis' ``make_pattern`` does, so ``delete_pattern("user:*")`` means ``<prefix>:<version>:user:*``.
"""
from __future__ import annotations

import functools
import inspect
import math
import threading
import time
from datetime import datetime
from fractions import Fraction
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator

from django.core.cache.backends.base import DEFAULT_TIMEOUT, default_key_func

from redis_cache_go._failopen import fails_open
from redis_cache_go._native_ext import FlightFailed
from redis_cache_go._ttl import seconds_ms as _seconds_ms
from redis_cache_go._ttl import whole_ms
from redis_cache_go.exceptions import DecodeError
from redis_cache_go.lock import AsyncLock, Lock

if TYPE_CHECKING:
    from redis_cache_go._native_async import AsyncClient

# The stale window of get_or_set when the caller names none: a value stays readable this many
# seconds after it stops being fresh, served while one worker recomputes.
DEFAULT_STALE_TIMEOUT = 60
# Keys per SCAN step and per UNLINK batch unless itersize says otherwise.
DEFAULT_ITERSIZE = 1000

_DEFAULT: Any = object()  # "not given" for get_or_set's stale_cache_timeout


def herd_arguments(extra: tuple[Any, ...], version: Any, lock_timeout: Any, stale_cache_timeout: Any) -> tuple[Any, Any, Any]:
    """get_or_set's (version, lock_timeout, stale_cache_timeout) from the positional arguments
    after ``timeout`` (``extra``) and the keyword ones.

    Django's fourth parameter is ``version``; django-redis-cache's were ``lock_timeout,
    stale_cache_timeout``. Two extra positionals can only be the seed's, and work as there. One
    alone is ambiguous (``get_or_set(k, f, 60, 10)``: version 10, or a 10 s lock?), so unless it is
    None (the default of both) it is a TypeError that says how to write either by name: never a
    lock timeout silently used as a version.
    """
    if not extra:
        return version, lock_timeout, stale_cache_timeout
    if len(extra) > 2:
        raise TypeError(f"get_or_set() takes at most 5 positional arguments after self ({3 + len(extra)} given)")
    if len(extra) == 2:  # django-redis-cache's get_or_set(key, default, timeout, lock_timeout, stale_cache_timeout)
        if lock_timeout is not None or stale_cache_timeout is not _DEFAULT:
            raise TypeError("get_or_set() got lock_timeout/stale_cache_timeout both by position and by name")
        return version, extra[0], extra[1]
    if version is not None:
        raise TypeError("get_or_set() got multiple values for argument 'version'")
    if extra[0] is None:
        return None, lock_timeout, stale_cache_timeout
    raise TypeError(
        f"get_or_set(key, default, timeout, {extra[0]!r}): a fourth positional argument is ambiguous: Django reads "
        f"it as the key's version, django-redis-cache read it as lock_timeout. Pass it by name: "
        f"version={extra[0]!r} or lock_timeout={extra[0]!r}")


class _Failures:
    """The exceptions of failed get_or_set computations of this process, by herd ticket, kept
    until every call that waited for that computation has taken it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # ticket -> [exception, calls yet to take it (below 0 until settled), settled]
        self._held: dict[int, list[Any]] = {}

    def hold(self, ticket: int, error: Exception) -> None:
        """Before the ticket is abandoned (which wakes the waiting calls)."""
        with self._lock:
            self._held[ticket] = [error, 0, False]

    def settle(self, ticket: int, waiting: int) -> None:
        """After: ``waiting`` calls will take it."""
        with self._lock:
            entry = self._held[ticket]
            entry[1] += waiting
            entry[2] = True
            if entry[1] <= 0:
                del self._held[ticket]

    def take(self, ticket: int) -> Exception | None:
        with self._lock:
            entry = self._held.get(ticket)
            if entry is None:
                return None
            entry[1] -= 1
            if entry[2] and entry[1] <= 0:
                del self._held[ticket]
            error: Exception = entry[0]
            return error


_failures = _Failures()


def _glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters (* ? [ ] \\) so they match literally."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class ExtendedMixin:
    """The extended API for a backend with ``_client``, ``_key``, ``_encode``, ``_decode`` and ``_ttl_ms``."""

    _client: Any
    _py_compressor: Any
    _logs_rejections: bool
    _log_rejections: Callable[[], None]
    _min_len: int

    if TYPE_CHECKING:  # provided by BaseCache and by the backend class (backend.py)
        key_prefix: str
        version: int
        key_func: Callable[..., str]

        @property
        def _aclient(self) -> AsyncClient: ...  # the native async client (_native_async)
        def _key(self, key: Any, version: int | None) -> bytes: ...
        def _encode(self, value: Any) -> bytes: ...
        def _decode(self, data: bytes, key: bytes) -> Any: ...
        def _ttl_ms(self, timeout: Any) -> int: ...
        def _py_decompress(self, data: bytes) -> bytes: ...

    # -- herd-protected get_or_set ----------------------------------------------
    @fails_open(computed=lambda key, default, *args, **kwargs: default() if callable(default) else default)
    def get_or_set(  # version by name (or None) or the seed's two positionals (herd_arguments)
        self,
        key: Any,
        default: Any,
        timeout: Any = DEFAULT_TIMEOUT,
        *extra: Any,
        version: int | None = None,
        lock_timeout: float | None = None,
        stale_cache_timeout: Any = _DEFAULT,
    ) -> Any:
        """The cached value, or ``default`` (called when callable) stored for ``timeout`` seconds.

        Django's contract: an existing value is returned, whoever wrote it. What get_or_set itself
        stores is stored as django-redis-cache stores it: the value expires ``timeout +
        stale_cache_timeout`` seconds after it is set (None: never), ``__fresh__<key>`` after
        ``timeout``, and ``__herd__<key>`` (a digest of the stored bytes) with the value. While the
        flag lives the value is fresh. After it the value is stale, as long as its digest still
        matches (a later set() makes it an ordinary value again): the first caller takes
        ``__lock__<key>`` (TTL ``lock_timeout``, default 30 s, always set) and recomputes (or
        stores a plain ``default``) while the others get the stale value; a caller that finds
        neither a value nor a free lock waits for the result (at most ``lock_timeout``). Threads of
        one process share one computation: when ``default`` raises, the lock is released, nothing
        is stored, and every call that waited for that computation raises the same exception.

        After ``timeout``, pass ``version`` by name: django-redis-cache's positional
        ``get_or_set(key, default, timeout, lock_timeout, stale_cache_timeout)`` works, and a lone
        fourth positional argument is a TypeError (see :func:`herd_arguments`).
        """
        version, lock_timeout, stale_cache_timeout = herd_arguments(extra, version, lock_timeout, stale_cache_timeout)
        return self._get_or_set(self._key(key, version), default, timeout, lock_timeout, stale_cache_timeout)

    def _get_or_set(self, k: bytes, default: Any, timeout: Any, lock_timeout: float | None, stale_cache_timeout: Any) -> Any:
        """get_or_set of the made key ``k``."""
        ttl = self._ttl_ms(timeout)
        if ttl < 0:  # a non-positive timeout stores nothing (as Django's add)
            data = self._client.get(k)
            if data is not None:
                return self._decode(data, k)
            if self._logs_rejections:
                self._log_rejections()
            return default() if callable(default) else default
        # 0 = core/herd's default lock TTL (30 s): the lock always expires
        lock_ms = _seconds_ms(lock_timeout, "lock_timeout") if lock_timeout is not None else 0
        if stale_cache_timeout is _DEFAULT:
            stale_cache_timeout = DEFAULT_STALE_TIMEOUT
        value_ms = _value_ms(ttl, stale_cache_timeout)  # checked before anything is sent
        data, ticket = self._herd_ask(k, lock_ms)
        if data is not None:
            return self._decode(data, k)
        if self._logs_rejections:
            self._log_rejections()
        try:
            value = default() if callable(default) else default
            encoded = self._encode(value)
        except BaseException as e:
            self._herd_abandon(ticket, e)
            raise
        self._client.herd_publish(ticket, encoded, value_ms, ttl)
        return value

    def _herd_ask(self, k: bytes, lock_ms: int) -> tuple[bytes | None, int]:
        """rcg_herd_ask; when the computation this call waited for failed in another thread,
        raise that thread's exception (the same object, as concurrent.futures does)."""
        while True:
            try:
                answer: tuple[bytes | None, int] = self._client.herd_ask(k, lock_ms)
                return answer
            except FlightFailed as failed:
                error = _failures.take(failed.flight)
            if error is not None:
                raise error  # outside the except block: FlightFailed does not become its context
            # the computation was interrupted (KeyboardInterrupt, SystemExit): ask again

    def _herd_abandon(self, ticket: int, error: BaseException) -> None:
        """Give up ``ticket`` after ``error``; the calls waiting for it raise ``error`` too (an
        interruption that is not an Exception makes them ask again instead)."""
        shared = error if isinstance(error, Exception) else None
        if shared is not None:
            _failures.hold(ticket, shared)
        waiting, release_error = 0, None
        try:
            waiting, release_error = self._client.herd_abandon(ticket)
        finally:
            if shared is not None:
                _failures.settle(ticket, waiting)
        if release_error is not None:
            raise release_error

    # -- locks ------------------------------------------------------------------
    def lock(
        self,
        key: str | bytes,
        timeout: float | None = None,
        sleep: float = 0.1,
        blocking: bool = True,
        blocking_timeout: float | None = None,
    ) -> Lock:
        """A lock on the Redis key ``key`` as given (no prefix or version, as django-redis-cache's
        ``lock``; pass ``cache.make_key(k)`` to lock in the cache's key space), on that key's server.
        ``timeout`` is the lock's TTL in seconds (None: no expiry, as in redis-py)."""
        return Lock(self._client, _raw_key(key), timeout, sleep, blocking, blocking_timeout)

    def alock(
        self,
        key: str | bytes,
        timeout: float | None = None,
        sleep: float = 0.1,
        blocking: bool = True,
        blocking_timeout: float | None = None,
    ) -> AsyncLock:
        """lock's async twin: ``async with cache.alock(key):``, its methods awaitable (lock.py)."""
        return AsyncLock(self._aclient, _raw_key(key), timeout, sleep, blocking, blocking_timeout)

    # -- TTLs ---------------------------------------------------------------------
    @fails_open(None)
    def ttl(self, key: Any, version: int | None = None) -> int | None:
        """Seconds left (rounded up); None when the key never expires; 0 when it is missing."""
        return _seconds(self.pttl(key, version))

    @fails_open(None)
    def pttl(self, key: Any, version: int | None = None) -> int | None:
        """Milliseconds left; None when the key never expires; 0 when it is missing."""
        return _remaining(*self._client.ttl(self._key(key, version)))

    @fails_open(None)
    async def attl(self, key: Any, version: int | None = None) -> int | None:
        """ttl, natively async."""
        return _seconds(await self.apttl(key, version))

    @fails_open(None)
    async def apttl(self, key: Any, version: int | None = None) -> int | None:
        """pttl, natively async."""
        return _remaining(*await self._aclient.ttl(self._key(key, version)))

    @fails_open(False)
    def expire(self, key: Any, timeout: float, version: int | None = None) -> bool:
        """Expire the key in ``timeout`` seconds (<= 0 deletes it); False when it is missing."""
        done: bool = self._client.expire(self._key(key, version), _expiry_ms(timeout * 1000))
        return done

    @fails_open(False)
    def pexpire(self, key: Any, timeout: int, version: int | None = None) -> bool:
        """Expire the key in ``timeout`` milliseconds (<= 0 deletes it); False when it is missing."""
        done: bool = self._client.expire(self._key(key, version), _expiry_ms(timeout))
        return done

    @fails_open(False)
    def expire_at(self, key: Any, when: datetime | int | float, version: int | None = None) -> bool:
        """Expire the key at ``when`` (a datetime, or a Unix timestamp in seconds); False when missing."""
        done: bool = self._client.expire(self._key(key, version), _expiry_ms(_until_ms(when, 1000)))
        return done

    @fails_open(False)
    def pexpire_at(self, key: Any, when: datetime | int, version: int | None = None) -> bool:
        """Expire the key at ``when`` (a datetime, or a Unix timestamp in milliseconds)."""
        done: bool = self._client.expire(self._key(key, version), _expiry_ms(_until_ms(when, 1)))
        return done

    @fails_open(False)
    def persist(self, key: Any, version: int | None = None) -> bool:
        """Remove the key's expiry; False when it is missing."""
        done: bool = self._client.persist(self._key(key, version))
        return done

    @fails_open(False)
    async def aexpire(self, key: Any, timeout: float, version: int | None = None) -> bool:
        """expire, natively async."""
        return await self._aclient.expire(self._key(key, version), _expiry_ms(timeout * 1000))

    @fails_open(False)
    async def apexpire(self, key: Any, timeout: int, version: int | None = None) -> bool:
        """pexpire, natively async."""
        return await self._aclient.expire(self._key(key, version), _expiry_ms(timeout))

    @fails_open(False)
    async def aexpire_at(self, key: Any, when: datetime | int | float, version: int | None = None) -> bool:
        """expire_at, natively async."""
        return await self._aclient.expire(self._key(key, version), _expiry_ms(_until_ms(when, 1000)))

    @fails_open(False)
    async def apexpire_at(self, key: Any, when: datetime | int, version: int | None = None) -> bool:
        """pexpire_at, natively async."""
        return await self._aclient.expire(self._key(key, version), _expiry_ms(_until_ms(when, 1)))

    @fails_open(False)
    async def apersist(self, key: Any, version: int | None = None) -> bool:
        """persist, natively async."""
        return await self._aclient.persist(self._key(key, version))

    # -- patterns ------------------------------------------------------------------
    def make_pattern(self, pattern: str, version: int | None = None) -> bytes:
        """The Redis glob for a pattern in this cache's key space (django-redis' make_pattern)."""
        v = self.version if version is None else version
        return self.key_func(pattern, _glob_escape(self.key_prefix), _glob_escape(str(v))).encode()

    def _reverse_key(self, made: bytes) -> str:
        text = made.decode("utf-8", "replace")
        if self.key_func is default_key_func:
            return text.split(":", 2)[2]
        return text  # a custom KEY_FUNCTION cannot be reversed

    @fails_open(0)
    def delete_pattern(self, pattern: str, version: int | None = None, itersize: int | None = None) -> int:
        """Delete the keys matching ``pattern`` on every server (SCAN + UNLINK batches of
        ``itersize`` keys, servers concurrently, never KEYS); returns how many were deleted."""
        deleted: int = self._client.delete_pattern(self.make_pattern(pattern, version), itersize or DEFAULT_ITERSIZE)
        return deleted

    @fails_open(0)
    async def adelete_pattern(self, pattern: str, version: int | None = None, itersize: int | None = None) -> int:
        """delete_pattern, natively async (one call: Go walks every server)."""
        return await self._aclient.delete_pattern(self.make_pattern(pattern, version), itersize or DEFAULT_ITERSIZE)

    def iter_keys(self, search: str, itersize: int | None = None, version: int | None = None) -> Iterator[str]:
        """Yield the cache keys (without prefix and version) matching ``search``, server by server,
        one SCAN step at a time. A key may be yielded twice if it was rewritten during the walk."""
        pattern = self.make_pattern(search, version)
        count = itersize or DEFAULT_ITERSIZE
        server = 0
        while True:
            cursor = 0
            step = self._client.scan(server, cursor, pattern, count)
            if step is None:
                return
            while True:
                keys, cursor = step
                for k in keys:
                    yield self._reverse_key(k)
                if cursor == 0:
                    break
                step = self._client.scan(server, cursor, pattern, count)
                if step is None:
                    return
            server += 1

    @fails_open(computed=lambda *args, **kwargs: [])
    def keys(self, search: str, version: int | None = None) -> list[str]:
        """Every cache key matching ``search`` (see iter_keys), as a list."""
        return list(self.iter_keys(search, version=version))

    async def aiter_keys(self, search: str, itersize: int | None = None, version: int | None = None) -> AsyncIterator[str]:
        """iter_keys as an async iterator: one natively async SCAN step per await."""
        pattern = self.make_pattern(search, version)
        count = itersize or DEFAULT_ITERSIZE
        server = 0
        while True:
            cursor = 0
            while True:
                step = await self._aclient.scan(server, cursor, pattern, count)
                if step is None:
                    return
                keys, cursor = step
                for k in keys:
                    yield self._reverse_key(k)
                if cursor == 0:
                    break
            server += 1

    @fails_open(computed=lambda *args, **kwargs: [])
    async def akeys(self, search: str, version: int | None = None) -> list[str]:
        """keys, natively async (see aiter_keys)."""
        return [k async for k in self.aiter_keys(search, version=version)]

    @fails_open(0)
    def reinsert_keys(self, itersize: int | None = None) -> int:
        """Re-encode every value of this cache's KEY_PREFIX (all versions) with the current
        compressor and VALUE_PROTECTION, keeping each TTL; run it after changing COMPRESSOR, to
        protect the values of a rollout (ACCEPT_UNPROTECTED: unprotected values are protected only
        while it is on) or to re-seal values of a secret moved to SECRET_KEY_FALLBACKS. Returns how
        many changed."""
        if self._py_compressor is not None:
            return self._reinsert_in_python(itersize or DEFAULT_ITERSIZE)
        changed: int = self._client.reinsert(self._prefix_pattern(), itersize or DEFAULT_ITERSIZE)
        return changed

    def _reinsert_in_python(self, count: int) -> int:
        """reinsert_keys for a custom Python compressor class: read, recompress, write back with the
        remaining TTL (one key at a time; Go cannot run the Python compressor)."""
        pattern, done, server = self._prefix_pattern(), 0, 0
        while (step := self._client.scan(server, 0, pattern, count)) is not None:
            while True:
                keys, cursor = step
                for k, data in zip(keys, self._client.get_many(keys) if keys else []):
                    found, ms = self._client.ttl(k)
                    if data is None or not found or (data[:1] != b"\x80" and data.strip().lstrip(b"-").isdigit()):
                        continue
                    try:
                        raw = self._py_decompress(data)
                    except DecodeError:
                        continue  # refused for its size: left as stored, never wrapped again
                    if len(raw) >= self._min_len:
                        raw = self._py_compressor.compress(raw)
                    self._client.set(k, raw, max(ms, 0))
                    done += 1
                if cursor == 0:
                    break
                step = self._client.scan(server, cursor, pattern, count)
            server += 1
        if self._logs_rejections:
            self._log_rejections()  # values it skipped because they did not verify
        return done

    # -- stats and step-by-step key walks (manage.py redis_cache) ---------------------
    def stats(self) -> list[dict[str, Any]]:
        """Per-server counters kept in the Go core for this process, in LOCATION order (one entry for
        a Cluster or Sentinel deployment): ``server``, ``commands``, ``calls`` per operation,
        ``hits``, ``misses``, ``rejected`` (values that failed VALUE_PROTECTION's check, also counted
        as hits), ``errors``, ``errors_by_kind``, ``latency_us`` (count, mean, p50, p90,
        p99, p999, max; microseconds) and ``pool`` (go-redis pool figures, summed over the open
        clients). Every instance of one configuration in this process (Django builds one per thread)
        counts into the same counters, from the first use on; they only grow. Touches no server."""
        result: list[dict[str, Any]] = self._client.cache_stats()
        return result

    def _walk(self, op: int, pattern: bytes, itersize: int | None = None) -> Iterator[tuple[int, int, int]]:
        """Walk the keys matching the raw glob ``pattern`` one SCAN step at a time on every scan
        target (see rcg_walk_step), acting on each step's keys (count, delete or re-encode); yields
        (target index, keys found in this step, of which counted/deleted/rewritten)."""
        count = itersize or DEFAULT_ITERSIZE
        server = 0
        while True:
            cursor = 0
            while True:
                step = self._client.walk_step(op, server, cursor, pattern, count)
                if step is None:
                    return
                found, done, cursor = step
                yield server, found, done
                if cursor == 0:
                    break
            server += 1

    def _prefix_pattern(self) -> bytes:
        return self.key_func("*", _glob_escape(self.key_prefix), "*").encode()



def _inline(native: Callable[..., Any]) -> Callable[..., Any]:
    """The twin of ExtendedMixin's async method ``native`` (``a<name>``) for a backend whose sync
    methods do no I/O: it returns (or yields) what the sync method ``<name>`` does, with
    ``native``'s name, docstring and signature."""
    sync = native.__name__[1:]
    if inspect.isasyncgenfunction(inspect.unwrap(native)):

        async def walk(self: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            for item in getattr(self, sync)(*args, **kwargs):
                yield item

        return functools.update_wrapper(walk, native)

    async def twin(self: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, sync)(*args, **kwargs)

    return functools.update_wrapper(twin, native)


class InlineAsync:
    """ExtendedMixin's async methods answered by their sync twins, for RedisDummyCache: one line
    per async method of ExtendedMixin (``alock`` aside: it returns a lock object), kept next to it
    so that an async method added there is added here in the same change."""

    attl = _inline(ExtendedMixin.attl)
    apttl = _inline(ExtendedMixin.apttl)
    aexpire = _inline(ExtendedMixin.aexpire)
    apexpire = _inline(ExtendedMixin.apexpire)
    aexpire_at = _inline(ExtendedMixin.aexpire_at)
    apexpire_at = _inline(ExtendedMixin.apexpire_at)
    apersist = _inline(ExtendedMixin.apersist)
    adelete_pattern = _inline(ExtendedMixin.adelete_pattern)
    aiter_keys = _inline(ExtendedMixin.aiter_keys)
    akeys = _inline(ExtendedMixin.akeys)

def _raw_key(key: str | bytes) -> bytes:
    """A Redis key as given (lock names are raw keys: no prefix, no version)."""
    return key.encode() if isinstance(key, str) else bytes(key)


def _remaining(found: bool, ms: int) -> int | None:
    """pttl's answer from the client's (found, ms or -1): 0 when missing, None without expiry."""
    if not found:
        return 0
    return None if ms < 0 else ms


def _seconds(ms: int | None) -> int | None:
    """ttl's answer from pttl's: whole seconds, rounded up (None and 0 as they are)."""
    return math.ceil(ms / 1000) if ms else ms


def _value_ms(ttl: int, stale_cache_timeout: Any) -> int:
    """get_or_set's value TTL in ms: ttl (from _ttl_ms) plus the stale window; 0 (no expiry) when
    either has none; ValueError when the sum is past the longest TTL (_ttl.py)."""
    if ttl <= 0 or stale_cache_timeout is None:
        return 0
    total = ttl + _seconds_ms(stale_cache_timeout, "stale_cache_timeout")
    return whole_ms(total, "timeout + stale_cache_timeout in ms", total)


def _until_ms(when: datetime | int | float, ms_per_unit: int) -> Fraction:
    """Milliseconds from now until ``when``: a datetime, or a Unix timestamp counting units of
    ``ms_per_unit`` ms. Exact (a float timestamp far ahead has no whole milliseconds left)."""
    if isinstance(when, datetime):
        at_ms = Fraction(when.timestamp()) * 1000
    else:
        at = float(when) if not isinstance(when, int) else when  # what float() accepted before, ints exact
        if not math.isfinite(at):
            raise ValueError(f"the expiry time must be finite, not {when!r}")
        at_ms = Fraction(at) * ms_per_unit
    return at_ms - Fraction(time.time_ns(), 1_000_000)


def _expiry_ms(ms: float | Fraction) -> int:
    """A relative expiry in ms for rcg_expire: at least 1 when positive, <= 0 deletes, ValueError
    past the longest TTL (_ttl.py)."""
    if ms <= 0:
        return 0
    return max(1, whole_ms(ms, "expiry in ms", float(ms)))



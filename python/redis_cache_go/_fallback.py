"""FORK_FALLBACK: keep serving in a forked child through redis-py.

A Go runtime does not survive ``fork()`` (README, "fork() and pre-forking servers"), so a process forked
after the cache's first use (gunicorn ``--preload`` with the cache touched in the master, uWSGI
without lazy-apps) cannot call the native library: by default every call raises
:class:`~redis_cache_go.exceptions.ForkedProcessError`, whose message names the fixes. With
``OPTIONS: {"FORK_FALLBACK": True}`` the first such call switches the cache, in that process only,
to :class:`FallbackClient`, a pure-Python client on redis-py that reads and writes the same keys
and bytes (the backend does the key making and encoding either way) on the same server, and logs one
WARNING per process. It is slower than the native path; the fix named in the message is the real cure.

Limits: the fallback serves one server, or the primary of a primary/replica LOCATION (reads go to the
primary too). A sharded or copy layout of several servers needs the Go ring, so it keeps raising
ForkedProcessError, and so does a cache with a Go COMPRESSOR (compression runs in the native library).
"""
from __future__ import annotations

import hashlib
import itertools
import logging
import os
import threading
from typing import TYPE_CHECKING, Any, Callable, Concatenate, ParamSpec, Sequence, TypeVar, cast

from redis_cache_go import _raw
from redis_cache_go import exceptions as exc

if TYPE_CHECKING:
    from redis_cache_go import _native_ext

logger = logging.getLogger("redis_cache_go")
_warned_pid: int | None = None
_warn_lock = threading.Lock()


def _warn_once(describe: str) -> None:
    global _warned_pid
    with _warn_lock:
        if _warned_pid == os.getpid():
            return
        _warned_pid = os.getpid()
    logger.warning(
        "redis_cache_go: process %d was forked after the cache was used; serving %s through the "
        "pure-Python fallback (FORK_FALLBACK). Make the first cache call after the fork to use the "
        "native client: gunicorn without --preload, uWSGI lazy-apps = true, Celery "
        "worker_process_init, multiprocessing 'spawn'", os.getpid(), describe)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _translate(fn: Callable[Concatenate[FallbackClient, _P], _R]) -> Callable[Concatenate[FallbackClient, _P], _R]:
    """redis-py's errors as this package's classes (so IGNORE_EXCEPTIONS applies to them too).
    redis-py is imported on first use only: the package does not need it otherwise."""

    def call(self: FallbackClient, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(self, *args, **kwargs)
        except Exception as e:
            import redis

            for theirs, ours in ((redis.AuthenticationError, exc.AuthenticationError), (redis.TimeoutError, exc.TimeoutError),
                                 (redis.ConnectionError, exc.ConnectionError), (redis.ResponseError, exc.ServerError)):
                if isinstance(e, theirs):
                    raise ours(f"{self.describe}: {e}") from None
            raise

    return call


class FallbackClient:
    """The subset of the native client's methods the cache API uses, on redis-py."""

    def __init__(self, config: dict[str, Any], describe: str) -> None:
        import redis

        self.describe = describe
        pool_timeout = config.get("pool_timeout") or None
        self._r = _raw.config_client(config, config.get("max_connections") or 0, pool_timeout)
        self._tickets = itertools.count(1)
        self._pending: dict[int, bytes] = {}

    @classmethod
    def for_document(cls, doc: dict[str, Any], describe: str) -> "FallbackClient":
        """The fallback for a layout document, or ForkedProcessError when it cannot route it."""
        compressor = (doc.get("codec") or {}).get("compressor", "none")
        if compressor != "none":
            # Compression lives in Go; serving uncompressed values here would break readers that
            # expect the configured format, so refuse clearly instead.
            raise exc.ForkedProcessError(
                f"{describe}: FORK_FALLBACK does not serve a cache with COMPRESSOR {compressor!r} "
                "(compression runs in the native library); make the first cache call after the fork instead")
        topology = doc.get("topology")
        if topology:  # redis-py would need the deployment's own client; the host names nothing here
            raise exc.ForkedProcessError(
                f"{describe}: FORK_FALLBACK serves one server or a primary/replica LOCATION, not a Redis "
                f"{topology.get('kind', '').capitalize()} deployment; make the first cache call after the fork instead")
        servers = doc.get("servers")
        if not servers:
            return cls(doc, describe)
        if doc.get("mode") != "primary":
            raise exc.ForkedProcessError(
                f"{describe}: FORK_FALLBACK serves one server or a primary/replica LOCATION, not a "
                f"{doc.get('mode')} layout; make the first cache call after the fork instead")
        return cls({**doc, **servers[doc.get("primary", 0)]}, describe)

    def close(self) -> None:
        self._r.close()

    @_translate
    def get(self, key: bytes) -> bytes | None:
        # decode_responses is off, so redis-py answers bytes (its stubs also allow str)
        return cast("bytes | None", self._r.get(key))

    @_translate
    def set(self, key: bytes, value: bytes, ttl_ms: int, nx: bool = False) -> bool:
        return bool(self._r.set(key, value, px=ttl_ms or None, nx=nx))

    @_translate
    def delete(self, key: bytes) -> bool:
        return bool(self._r.delete(key))

    @_translate
    def exists(self, key: bytes) -> bool:
        return bool(self._r.exists(key))

    @_translate
    def expire(self, key: bytes, ttl_ms: int) -> bool:
        return bool(self._r.pexpire(key, ttl_ms))

    @_translate
    def persist(self, key: bytes) -> bool:
        return bool(self._r.persist(key)) or bool(self._r.exists(key))

    @_translate
    def ttl(self, key: bytes) -> tuple[bool, int]:
        ms = self._r.pttl(key)
        return (ms != -2, ms if ms >= 0 else -1)

    @_translate
    def incr(self, key: bytes, delta: int) -> tuple[bool, int]:
        script = "if redis.call('EXISTS', KEYS[1]) == 1 then return {1, redis.call('INCRBY', KEYS[1], ARGV[1])} end return {0, 0}"
        found, value = self._r.eval(script, 1, key, delta)
        return bool(found), int(value)

    @_translate
    def rename(self, src: bytes, dst: bytes) -> bool:
        import redis

        try:
            self._r.rename(src, dst)
            return True
        except redis.ResponseError as e:
            if "no such key" in str(e):
                return False
            raise

    @_translate
    def get_many(self, keys: Sequence[bytes]) -> list[bytes | None]:
        return cast("list[bytes | None]", list(self._r.mget(keys)))

    @_translate
    def set_many(self, pairs: Sequence[bytes], ttl_ms: int) -> None:
        with self._r.pipeline(transaction=False) as p:
            for key, value in zip(pairs[0::2], pairs[1::2]):
                p.set(key, value, px=ttl_ms or None)
            p.execute()

    @_translate
    def delete_many(self, keys: Sequence[bytes]) -> int:
        return int(self._r.delete(*keys))

    @_translate
    def clear(self, pattern: bytes) -> int:
        if not pattern:
            self._r.flushdb()
            return -1
        n = 0
        for key in self._r.scan_iter(match=pattern, count=1000):
            n += self._r.unlink(key)
        return n

    def herd_ask(self, key: bytes, lock_ms: int) -> tuple[bytes | None, int]:
        data = self.get(key)
        if data is not None:
            return data, 0
        ticket = next(self._tickets)
        self._pending[ticket] = key
        return None, ticket

    @_translate
    def herd_publish(self, ticket: int, value: bytes, value_ms: int, fresh_ms: int) -> None:
        key = self._pending.pop(ticket)
        tag = hashlib.sha256(value).hexdigest()[:32].encode()  # core/herd.Tag
        p = self._r.pipeline()
        p.set(key, value, px=value_ms or None)
        p.set(b"__herd__" + key, tag, px=value_ms or None)
        p.set(b"__fresh__" + key, b"2", px=fresh_ms or None)  # core/herd.Flag
        p.execute()

    def herd_abandon(self, ticket: int) -> tuple[int, Exception | None]:
        self._pending.pop(ticket, None)
        return 0, None  # no flights in the fallback: nobody waits

    def herd_waiting(self) -> int:
        return 0

    def near_stats(self) -> dict[str, int] | None:
        return None  # no near-cache in the fallback: every call goes to Redis


class ForkAware:
    """The native client until a call reports a fork, then (FORK_FALLBACK) the fallback.

    The methods the fallback serves (FallbackClient's: the cache API's calls) are written out
    here: the native client's method, or the fallback's once a call raised ForkedProcessError.
    The native client's other methods (routing, raw commands, locks, key walks, stats: the
    fallback has none) are reached through ``__getattr__``; after a fork they raise
    ForkedProcessError saying so.
    """

    def __init__(self, native: _native_ext.Client, doc: dict[str, Any], describe: str) -> None:
        self._native = native
        self._doc = doc
        self._describe = describe
        self._fallback: FallbackClient | None = None
        self._lock = threading.Lock()

    def _switch(self) -> FallbackClient:
        """The fallback, built by the first call that found itself in a forked child."""
        fallback = self._fallback
        if fallback is not None:
            return fallback
        with self._lock:
            if self._fallback is None:
                self._fallback = FallbackClient.for_document(self._doc, self._describe)
                _warn_once(self._describe)
            return self._fallback

    # -- served by the fallback after a fork ---------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        if self._fallback is None:
            try:
                return self._native.get(key)
            except exc.ForkedProcessError:
                pass
        return self._switch().get(key)

    def set(self, key: bytes, value: bytes, ttl_ms: int, nx: bool = False) -> bool:
        if self._fallback is None:
            try:
                return self._native.set(key, value, ttl_ms, nx)
            except exc.ForkedProcessError:
                pass
        return self._switch().set(key, value, ttl_ms, nx)

    def delete(self, key: bytes) -> bool:
        if self._fallback is None:
            try:
                return self._native.delete(key)
            except exc.ForkedProcessError:
                pass
        return self._switch().delete(key)

    def exists(self, key: bytes) -> bool:
        if self._fallback is None:
            try:
                return self._native.exists(key)
            except exc.ForkedProcessError:
                pass
        return self._switch().exists(key)

    def expire(self, key: bytes, ttl_ms: int) -> bool:
        if self._fallback is None:
            try:
                return self._native.expire(key, ttl_ms)
            except exc.ForkedProcessError:
                pass
        return self._switch().expire(key, ttl_ms)

    def persist(self, key: bytes) -> bool:
        if self._fallback is None:
            try:
                return self._native.persist(key)
            except exc.ForkedProcessError:
                pass
        return self._switch().persist(key)

    def ttl(self, key: bytes) -> tuple[bool, int]:
        if self._fallback is None:
            try:
                return self._native.ttl(key)
            except exc.ForkedProcessError:
                pass
        return self._switch().ttl(key)

    def incr(self, key: bytes, delta: int) -> tuple[bool, int]:
        if self._fallback is None:
            try:
                return self._native.incr(key, delta)
            except exc.ForkedProcessError:
                pass
        return self._switch().incr(key, delta)

    def rename(self, src: bytes, dst: bytes) -> bool:
        if self._fallback is None:
            try:
                return self._native.rename(src, dst)
            except exc.ForkedProcessError:
                pass
        return self._switch().rename(src, dst)

    def get_many(self, keys: Sequence[bytes]) -> list[bytes | None]:
        if self._fallback is None:
            try:
                return self._native.get_many(keys)
            except exc.ForkedProcessError:
                pass
        return self._switch().get_many(keys)

    def set_many(self, pairs: Sequence[bytes], ttl_ms: int) -> None:
        if self._fallback is None:
            try:
                self._native.set_many(pairs, ttl_ms)
                return
            except exc.ForkedProcessError:
                pass
        self._switch().set_many(pairs, ttl_ms)

    def delete_many(self, keys: Sequence[bytes]) -> int:
        if self._fallback is None:
            try:
                return self._native.delete_many(keys)
            except exc.ForkedProcessError:
                pass
        return self._switch().delete_many(keys)

    def clear(self, pattern: bytes) -> int:
        if self._fallback is None:
            try:
                return self._native.clear(pattern)
            except exc.ForkedProcessError:
                pass
        return self._switch().clear(pattern)

    def herd_ask(self, key: bytes, lock_ms: int) -> tuple[bytes | None, int]:
        if self._fallback is None:
            try:
                return self._native.herd_ask(key, lock_ms)
            except exc.ForkedProcessError:
                pass
        return self._switch().herd_ask(key, lock_ms)

    def herd_publish(self, ticket: int, value: bytes, value_ms: int, fresh_ms: int) -> None:
        if self._fallback is None:
            try:
                self._native.herd_publish(ticket, value, value_ms, fresh_ms)
                return
            except exc.ForkedProcessError:
                pass
        self._switch().herd_publish(ticket, value, value_ms, fresh_ms)

    def herd_abandon(self, ticket: int) -> tuple[int, Exception | None]:
        if self._fallback is None:
            try:
                return self._native.herd_abandon(ticket)
            except exc.ForkedProcessError:
                pass
        return self._switch().herd_abandon(ticket)

    def herd_waiting(self) -> int:
        if self._fallback is None:
            try:
                return self._native.herd_waiting()
            except exc.ForkedProcessError:
                pass
        return self._switch().herd_waiting()

    def near_stats(self) -> dict[str, int] | None:
        if self._fallback is None:
            try:
                return self._native.near_stats()
            except exc.ForkedProcessError:
                pass
        return self._switch().near_stats()

    def close(self) -> None:
        if self._fallback is None:
            try:
                self._native.close()
                return
            except exc.ForkedProcessError:
                pass
        self._switch().close()

    # -- the native client's other methods: none after a fork ----------------------------
    def __getattr__(self, name: str) -> Any:
        method = getattr(self._native, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._fallback is None:
                try:
                    return method(*args, **kwargs)
                except exc.ForkedProcessError:
                    self._switch()
            raise exc.ForkedProcessError(
                f"{self._describe}: {name} is not available through FORK_FALLBACK; make the "
                "first cache call after the fork (gunicorn without --preload, uWSGI lazy-apps)")

        return call

"""Fail-open: ``OPTIONS: {"IGNORE_EXCEPTIONS": True}`` (django-redis' name).

With it, a connection or timeout error (the server is down, restarting, slow, or its circuit
breaker is open) and a value that cannot be decoded turn into a miss or a no-op instead of an
exception: ``get`` returns its default, ``set``/``add``/``touch``/``delete`` return False,
``get_many`` returns ``{}``, ``get_or_set`` returns (or computes) its default without storing it,
and so on (the table :data:`FALLBACKS`). Other errors (bad arguments, server error replies,
authentication, a fork without FORK_FALLBACK) still raise: they are bugs or configuration
mistakes that a miss would hide.

Each ignored error is logged through the ``redis_cache_go`` logger at WARNING, at most once per
:data:`LOG_INTERVAL` seconds per server; the next message says how many were suppressed.
``LOG_IGNORED_EXCEPTIONS: False`` silences the log (default: True, unlike django-redis, because
an outage nobody hears about is worse than a log line every few seconds).
"""
from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from typing import Any, Callable

from redis_cache_go import exceptions as exc

logger = logging.getLogger("redis_cache_go")

LOG_INTERVAL = 10.0  # seconds between two log lines about the same server

# Errors that fail-open turns into misses.
IGNORED = (exc.ConnectionError, exc.TimeoutError, exc.DecodeError)


def _arg(index: int, name: str, default: Any = None) -> Callable[..., Any]:
    """The fallback result: the call's argument ``name`` (positional ``index`` after self)."""

    def pick(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if name in kwargs:
            return kwargs[name]
        return args[index] if len(args) > index else default

    return pick


def _const(value: Any) -> Callable[..., Any]:
    return lambda args, kwargs: value() if callable(value) else value


def _default_of_get_or_set(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    value = _arg(1, "default")(args, kwargs)
    return value() if callable(value) else value


def _keys_of_set_many(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    data = _arg(0, "data", {})(args, kwargs)
    return list(data)  # Django's contract: set_many returns the keys that were not stored


# method name -> what it returns when the server cannot be reached
FALLBACKS: dict[str, Callable[[tuple[Any, ...], dict[str, Any]], Any]] = {
    "get": _arg(1, "default"),
    "get_many": _const(dict),
    "get_or_set": _default_of_get_or_set,
    "has_key": _const(False),
    "add": _const(False),
    "set": _const(False),
    "set_many": _keys_of_set_many,
    "touch": _const(False),
    "delete": _const(False),
    "delete_many": _const(None),
    "clear": _const(False),
    "incr": _const(None),
    "decr": _const(None),
    "incr_version": _const(None),
    "decr_version": _const(None),
    "ttl": _const(None),
    "pttl": _const(None),
    "expire": _const(False),
    "pexpire": _const(False),
    "expire_at": _const(False),
    "pexpire_at": _const(False),
    "persist": _const(False),
    "delete_pattern": _const(0),
    "keys": _const(list),
    "reinsert_keys": _const(0),
    "execute_command": _const(None),
}


class _RateLimitedLog:
    """One WARNING per server per LOG_INTERVAL; counts what it held back."""

    def __init__(self, servers: list[str], enabled: bool) -> None:
        self._servers = servers  # describe() strings; an error message starts with its server's
        self._enabled = enabled
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def _server_of(self, message: str) -> str:
        for name in self._servers:
            if name in message:
                return name
        return self._servers[0] if self._servers else ""

    def __call__(self, method: str, error: BaseException) -> None:
        if not self._enabled:
            return
        message = str(error)
        server = self._server_of(message)
        now = time.monotonic()
        with self._lock:
            last = self._last.get(server)
            if last is not None and now - last < LOG_INTERVAL:
                self._held[server] = self._held.get(server, 0) + 1
                return
            self._last[server] = now
            held = self._held.pop(server, 0)
        more = f" ({held} more suppressed in the last {LOG_INTERVAL:g}s)" if held else ""
        logger.warning("redis_cache_go: %s ignored (IGNORE_EXCEPTIONS): %s: %s%s", method, type(error).__name__, message, more)


def install(cache: Any, servers: list[str], log: bool) -> None:
    """Shadow ``cache``'s methods in FALLBACKS with fail-open wrappers (instance attributes)."""
    record = _RateLimitedLog(servers, log)
    for name, fallback in FALLBACKS.items():
        method = getattr(cache, name, None)
        if method is not None:
            setattr(cache, name, _wrap(name, method, fallback, record))
        amethod = getattr(cache, "a" + name, None)  # the native async twin (aget, aset, ...)
        if amethod is not None and inspect.iscoroutinefunction(amethod):
            setattr(cache, "a" + name, _awrap(name, amethod, fallback, record))
    cache._ignored_log = record


def _wrap(name: str, method: Callable[..., Any], fallback: Callable[..., Any], record: _RateLimitedLog) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except IGNORED as e:
            record(name, e)
            return fallback(args, kwargs)

    return call


def _awrap(name: str, method: Callable[..., Any], fallback: Callable[..., Any], record: _RateLimitedLog) -> Callable[..., Any]:
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except IGNORED as e:
            record(name, e)
            return fallback(args, kwargs)

    return call

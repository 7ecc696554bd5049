"""Fail-open: ``OPTIONS: {"IGNORE_EXCEPTIONS": True}`` (django-redis' name).

With it, a connection or timeout error (the server is down, restarting, slow, or its circuit
breaker is open) and a value that cannot be decoded turn into a miss or a no-op instead of an
exception: ``get`` returns its default, ``set``/``add``/``touch``/``delete`` return False,
``get_many`` returns ``{}``, ``get_or_set`` returns (or computes) its default without storing it,
and so on: each method says what in its ``except`` clause (see :class:`FailOpen`). Other errors
(bad arguments, server error replies, authentication, a fork without FORK_FALLBACK) still raise:
they are bugs or configuration mistakes that a miss would hide.

Each ignored error is logged through the ``redis_cache_go`` logger at WARNING, at most once per
:data:`LOG_INTERVAL` seconds per server; the next message says how many were suppressed.
``LOG_IGNORED_EXCEPTIONS: False`` silences the log (default: True, unlike django-redis, because
an outage nobody hears about is worse than a log line every few seconds).
"""
from __future__ import annotations

import logging
import threading
import time
import functools
import inspect
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from redis_cache_go import exceptions as exc

if TYPE_CHECKING:
    from redis_cache_go._settings import Settings

logger = logging.getLogger("redis_cache_go")
_T = TypeVar("_T")
_M = TypeVar("_M", bound=Callable[..., Any])

LOG_INTERVAL = 10.0  # seconds between two log lines about the same server

# Errors that fail-open turns into misses.
IGNORED = (exc.ConnectionError, exc.TimeoutError, exc.DecodeError)


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


class FailOpen:
    """Fail-open in the class: the policy every guarded method applies.

    A backend calls :meth:`_init_fail_open` with its settings. Each method that reaches the
    server ends in ``except self._fail_open_errors as e: return self._failed(<name>, e, <what it
    returns when the server cannot be reached>)``: written out in Django's cache API (backend.py,
    the hot path), and by :func:`fails_open` for the extended API (_extended.py, _commands.py).
    ``_fail_open_errors`` is :data:`IGNORED` with IGNORE_EXCEPTIONS and ``()`` without it, so an
    error then passes through untouched, and a call that raises nothing costs nothing more.
    The ``a*`` twins log under the sync method's name.
    """

    _fail_open_errors: tuple[type[Exception], ...] = ()  # IGNORED with IGNORE_EXCEPTIONS
    _fail_open_log: _RateLimitedLog | None = None

    def _init_fail_open(self, settings: Settings) -> None:
        if settings.ignore_exceptions:
            self._fail_open_errors = IGNORED
            self._fail_open_log = _RateLimitedLog([s.describe() for s in settings.servers], settings.log_ignored_exceptions)

    def _failed(self, method: str, error: Exception, result: _T) -> _T:
        """The policy, for an error in ``_fail_open_errors``: log it (rate-limited), return ``result``."""
        if self._fail_open_log is not None:
            self._fail_open_log(method, error)
        return result


def fails_open(result: Any = None, *, computed: Callable[..., Any] | None = None) -> Callable[[_M], _M]:
    """Make a method of the extended API fail open, where it is defined.

    ``@fails_open(False)`` on a method: under IGNORE_EXCEPTIONS, an error of :data:`IGNORED` is
    logged (rate-limited) and the call returns ``result``, or ``computed(*args, **kwargs)`` of the
    call's arguments when given (a fresh list, or get_or_set's default). Without
    IGNORE_EXCEPTIONS the error passes through. An async method ``a<name>`` logs as ``<name>``.
    The class the method ends up in must have :class:`FailOpen` in its MRO.
    """

    def fallback(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return result if computed is None else computed(*args, **kwargs)

    def mark(method: _M) -> _M:
        if inspect.iscoroutinefunction(method):
            name = method.__name__[1:]

            @functools.wraps(method)
            async def guarded_async(self: FailOpen, *args: Any, **kwargs: Any) -> Any:
                try:
                    return await method(self, *args, **kwargs)
                except self._fail_open_errors as e:
                    return self._failed(name, e, fallback(args, kwargs))

            return guarded_async  # type: ignore[return-value]
        name = method.__name__

        @functools.wraps(method)
        def guarded(self: FailOpen, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except self._fail_open_errors as e:
                return self._failed(name, e, fallback(args, kwargs))

        return guarded  # type: ignore[return-value]

    return mark

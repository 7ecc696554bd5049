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
from typing import TYPE_CHECKING, Any, TypeVar

from redis_cache_go import exceptions as exc

if TYPE_CHECKING:
    from redis_cache_go._commands import CommandsMixin
    from redis_cache_go._extended import ExtendedMixin
    from redis_cache_go._settings import Settings

    class _Guarded(ExtendedMixin, CommandsMixin):
        """What FailOpen's methods call through super() (the mixins after it in the backend's MRO)."""
else:
    _Guarded = object

logger = logging.getLogger("redis_cache_go")
_T = TypeVar("_T")

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


class FailOpen(_Guarded):
    """Fail-open in the class: the policy, and the extended API's methods routed through it.

    A backend calls :meth:`_init_fail_open` with its settings. Each method that reaches the
    server ends in ``except self._fail_open_errors as e: return self._failed(<name>, e, <what it
    returns when the server cannot be reached>)``: Django's cache API in backend.py, the extended
    API (defined in _extended.py and _commands.py, after this class in the MRO) here.
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

    # -- the extended API (ExtendedMixin, CommandsMixin) -------------------------------------
    def get_or_set(self, key: Any, default: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().get_or_set(key, default, *args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("get_or_set", e, default() if callable(default) else default)

    def ttl(self, *args: Any, **kwargs: Any) -> int | None:
        try:
            return super().ttl(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("ttl", e, None)

    def pttl(self, *args: Any, **kwargs: Any) -> int | None:
        try:
            return super().pttl(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("pttl", e, None)

    def expire(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return super().expire(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("expire", e, False)

    def pexpire(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return super().pexpire(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("pexpire", e, False)

    def expire_at(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return super().expire_at(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("expire_at", e, False)

    def pexpire_at(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return super().pexpire_at(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("pexpire_at", e, False)

    def persist(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return super().persist(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("persist", e, False)

    def delete_pattern(self, *args: Any, **kwargs: Any) -> int:
        try:
            return super().delete_pattern(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("delete_pattern", e, 0)

    def keys(self, *args: Any, **kwargs: Any) -> list[str]:
        try:
            return super().keys(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("keys", e, [])

    def reinsert_keys(self, *args: Any, **kwargs: Any) -> int:
        try:
            return super().reinsert_keys(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("reinsert_keys", e, 0)

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_command(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("execute_command", e, None)

    async def attl(self, *args: Any, **kwargs: Any) -> int | None:
        try:
            return await super().attl(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("ttl", e, None)

    async def apttl(self, *args: Any, **kwargs: Any) -> int | None:
        try:
            return await super().apttl(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("pttl", e, None)

    async def aexpire(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return await super().aexpire(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("expire", e, False)

    async def apexpire(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return await super().apexpire(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("pexpire", e, False)

    async def aexpire_at(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return await super().aexpire_at(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("expire_at", e, False)

    async def apexpire_at(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return await super().apexpire_at(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("pexpire_at", e, False)

    async def apersist(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return await super().apersist(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("persist", e, False)

    async def adelete_pattern(self, *args: Any, **kwargs: Any) -> int:
        try:
            return await super().adelete_pattern(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("delete_pattern", e, 0)

    async def akeys(self, *args: Any, **kwargs: Any) -> list[str]:
        try:
            return await super().akeys(*args, **kwargs)
        except self._fail_open_errors as e:
            return self._failed("keys", e, [])


# The methods that fail open, sync and async (backend.py and FailOpen above); the tests call each
# against a server that is down, and check that every a* twin of one of them is listed too.
GUARDED = frozenset("""
    get get_many get_or_set has_key add set set_many touch delete delete_many clear
    incr decr incr_version decr_version
    ttl pttl expire pexpire expire_at pexpire_at persist delete_pattern keys reinsert_keys execute_command
    aget aget_many aget_or_set ahas_key aadd aset aset_many atouch adelete adelete_many aclear
    aincr adecr aincr_version adecr_version
    attl apttl aexpire apexpire aexpire_at apexpire_at apersist adelete_pattern akeys
""".split())

"""``cache.lock(key)``: a distributed lock held by one token (core/lock does the Redis side).

Shaped like redis-py's ``Lock``, which django-redis-cache and django-redis hand out: ``acquire``,
``release`` (an atomic compare-and-delete, so an expired owner never deletes someone else's lock),
``extend``, ``locked``, ``owned``, and use as a context manager. ``cache.alock(key)`` is its async
twin (:class:`AsyncLock`, shaped like redis-py's ``redis.asyncio.lock.Lock``): the same arguments,
checks and errors, every method awaitable, ``async with``.
"""
from __future__ import annotations

import math
from types import TracebackType
from typing import Any

from redis_cache_go._ttl import MAX_TTL_MS, whole_ms
from redis_cache_go.exceptions import LockError, LockNotOwnedError


def _ms(seconds: float | None, what: str, wait: bool = False) -> int:
    """Seconds to whole milliseconds (rounded up); None and 0 give 0. A time to live past the
    longest one Redis stores is a ValueError (_ttl.py); a wait that long (``wait``) is as good as
    forever and is capped there."""
    if seconds is None:
        return 0
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"{what} must be a non-negative number of seconds or None, not {seconds!r}")
    if wait:
        return math.ceil(min(seconds * 1000, MAX_TTL_MS))
    return whole_ms(seconds * 1000, what, seconds)


class _LockState:
    """What Lock and AsyncLock share: the arguments, their checks, the token."""

    def __init__(
        self,
        client: Any,
        name: bytes,
        timeout: float | None = None,
        sleep: float = 0.1,
        blocking: bool = True,
        blocking_timeout: float | None = None,
    ) -> None:
        self._client = client
        self.name = name
        self.timeout = timeout
        self.sleep = sleep
        self.blocking = blocking
        self.blocking_timeout = blocking_timeout
        self._ttl_ms = _ms(timeout, "timeout")
        self.token: bytes | None = None

    def _acquiring(self, blocking: bool | None, blocking_timeout: float | None) -> tuple[int, int, int, bool]:
        """The client's lock_acquire arguments after the key: (ttl_ms, sleep_ms, wait_ms, blocking)."""
        if blocking is None:
            blocking = self.blocking
        if blocking_timeout is None:
            blocking_timeout = self.blocking_timeout
        wait_ms = _ms(blocking_timeout, "blocking_timeout", wait=True)
        if blocking and blocking_timeout is not None and wait_ms == 0:
            wait_ms = 1  # 0 s means "try once more", not "forever"
        return self._ttl_ms, _ms(self.sleep, "sleep", wait=True) or 1, wait_ms, blocking

    def _releasing(self) -> bytes:
        """The token to release (the lock no longer holds it here); LockError when there is none."""
        token, self.token = self.token, None
        if token is None:
            raise LockError("cannot release an unlocked lock")
        return token

    def _token_for(self, what: str) -> bytes:
        """The token, for extend and reacquire (LockError without one, or without a timeout)."""
        if self.token is None:
            raise LockError(f"cannot {what} an unlocked lock")
        if self.timeout is None:
            raise LockError(f"cannot {what} a lock with no timeout")
        return self.token


class Lock(_LockState):
    """A lock on the made key ``name``, on that key's server.

    ``timeout`` is the lock's TTL in seconds (None: no expiry, as in redis-py); ``sleep`` the
    pause between attempts while blocking; ``blocking_timeout`` bounds the wait (None: no bound).
    """

    def acquire(self, blocking: bool | None = None, blocking_timeout: float | None = None) -> bool:
        """Take the lock; True when it was acquired. Blocks (in Go, GIL released) when blocking."""
        token = self._client.lock_acquire(self.name, *self._acquiring(blocking, blocking_timeout))
        if token is None:
            return False
        self.token = token
        return True

    def release(self) -> None:
        """Release the lock; LockError when not held, LockNotOwnedError when it expired or moved on."""
        if not self._client.lock_release(self.name, self._releasing()):
            raise LockNotOwnedError("cannot release a lock that is no longer owned")

    def extend(self, additional_time: float, replace_ttl: bool = False) -> bool:
        """Add ``additional_time`` seconds to the TTL (or set it, with replace_ttl)."""
        token = self._token_for("extend")
        if not self._client.lock_extend(self.name, token, _ms(additional_time, "additional_time"), replace_ttl):
            raise LockNotOwnedError("cannot extend a lock that is no longer owned")
        return True

    def reacquire(self) -> bool:
        """Reset the TTL to ``timeout``."""
        if not self._client.lock_extend(self.name, self._token_for("reacquire"), self._ttl_ms, True):
            raise LockNotOwnedError("cannot reacquire a lock that is no longer owned")
        return True

    def locked(self) -> bool:
        """Whether anyone holds the lock."""
        held: bool = self._client.lock_held(self.name)
        return held

    def owned(self) -> bool:
        """Whether this object holds the lock (its token is still stored)."""
        if self.token is None:
            return False
        # extend by 0 ms without replacing: a no-op that answers whether our token is there
        owned: bool = self._client.lock_extend(self.name, self.token, 0, False)
        return owned

    def __enter__(self) -> Lock:
        if self.acquire():
            return self
        raise LockError("unable to acquire the lock within the time specified")

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


class AsyncLock(_LockState):
    """Lock's async twin on the cache's native async client (``_native_async.AsyncClient``):
    every Redis call is one natively async operation. A blocking ``acquire`` waits on the event
    loop between attempts (``sleep``), so it occupies no thread and cancelling it (``wait_for``,
    a cancelled task) stops the attempts; a lock that the attempt in flight at that moment took
    is released."""

    async def acquire(self, blocking: bool | None = None, blocking_timeout: float | None = None) -> bool:
        """Take the lock; True when it was acquired."""
        token = await self._client.lock_acquire(self.name, *self._acquiring(blocking, blocking_timeout))
        if token is None:
            return False
        self.token = token
        return True

    async def release(self) -> None:
        """Release the lock; LockError when not held, LockNotOwnedError when it expired or moved on."""
        if not await self._client.lock_release(self.name, self._releasing()):
            raise LockNotOwnedError("cannot release a lock that is no longer owned")

    async def extend(self, additional_time: float, replace_ttl: bool = False) -> bool:
        """Add ``additional_time`` seconds to the TTL (or set it, with replace_ttl)."""
        token = self._token_for("extend")
        if not await self._client.lock_extend(self.name, token, _ms(additional_time, "additional_time"), replace_ttl):
            raise LockNotOwnedError("cannot extend a lock that is no longer owned")
        return True

    async def reacquire(self) -> bool:
        """Reset the TTL to ``timeout``."""
        if not await self._client.lock_extend(self.name, self._token_for("reacquire"), self._ttl_ms, True):
            raise LockNotOwnedError("cannot reacquire a lock that is no longer owned")
        return True

    async def locked(self) -> bool:
        """Whether anyone holds the lock."""
        held: bool = await self._client.lock_held(self.name)
        return held

    async def owned(self) -> bool:
        """Whether this object holds the lock (its token is still stored)."""
        if self.token is None:
            return False
        owned: bool = await self._client.lock_extend(self.name, self.token, 0, False)  # as Lock.owned
        return owned

    async def __aenter__(self) -> AsyncLock:
        if await self.acquire():
            return self
        raise LockError("unable to acquire the lock within the time specified")

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        await self.release()

"""``cache.lock(key)``: a distributed lock held by one token (core/lock does the Redis side).

Shaped like redis-py's ``Lock``, which django-redis-cache and django-redis hand out: ``acquire``,
``release`` (an atomic compare-and-delete, so an expired owner never deletes someone else's lock),
``extend``, ``locked``, ``owned``, and use as a context manager.
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


class Lock:
    """A lock on the made key ``name``, on that key's server.

    ``timeout`` is the lock's TTL in seconds (None: no expiry, as in redis-py); ``sleep`` the
    pause between attempts while blocking; ``blocking_timeout`` bounds the wait (None: no bound).
    """

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

    def acquire(self, blocking: bool | None = None, blocking_timeout: float | None = None) -> bool:
        """Take the lock; True when it was acquired. Blocks (in Go, GIL released) when blocking."""
        if blocking is None:
            blocking = self.blocking
        if blocking_timeout is None:
            blocking_timeout = self.blocking_timeout
        wait_ms = _ms(blocking_timeout, "blocking_timeout", wait=True)
        if blocking and blocking_timeout is not None and wait_ms == 0:
            wait_ms = 1  # 0 s means "try once more", not "forever"
        token = self._client.lock_acquire(self.name, self._ttl_ms, _ms(self.sleep, "sleep", wait=True) or 1, wait_ms, blocking)
        if token is None:
            return False
        self.token = token
        return True

    def release(self) -> None:
        """Release the lock; LockError when not held, LockNotOwnedError when it expired or moved on."""
        token, self.token = self.token, None
        if token is None:
            raise LockError("cannot release an unlocked lock")
        if not self._client.lock_release(self.name, token):
            raise LockNotOwnedError("cannot release a lock that is no longer owned")

    def extend(self, additional_time: float, replace_ttl: bool = False) -> bool:
        """Add ``additional_time`` seconds to the TTL (or set it, with replace_ttl)."""
        if self.token is None:
            raise LockError("cannot extend an unlocked lock")
        if self.timeout is None:
            raise LockError("cannot extend a lock with no timeout")
        if not self._client.lock_extend(self.name, self.token, _ms(additional_time, "additional_time"), replace_ttl):
            raise LockNotOwnedError("cannot extend a lock that is no longer owned")
        return True

    def reacquire(self) -> bool:
        """Reset the TTL to ``timeout``."""
        if self.token is None:
            raise LockError("cannot reacquire an unlocked lock")
        if self.timeout is None:
            raise LockError("cannot reacquire a lock with no timeout")
        if not self._client.lock_extend(self.name, self.token, self._ttl_ms, True):
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

"""``redis_cache_go.RedisDummyCache``: Django's DummyCache plus the extended API as no-ops.

For development and test settings: code written against the extended API (``ttl``, ``lock``,
``delete_pattern``, ``get_or_set(..., lock_timeout=...)`` …) runs unchanged and caches nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, AsyncIterator, Iterator

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.dummy import DummyCache

from redis_cache_go._extended import _DEFAULT as _STALE_DEFAULT
from redis_cache_go._extended import InlineAsync, herd_arguments


class DummyLock:
    """A lock that is always free: acquire succeeds at once and nothing is stored."""

    def __init__(self, name: str | bytes, timeout: float | None = None) -> None:
        self.name = name
        self.timeout = timeout
        self.token: bytes | None = None

    def acquire(self, blocking: bool | None = None, blocking_timeout: float | None = None) -> bool:
        self.token = b"dummy"
        return True

    def release(self) -> None:
        self.token = None

    def extend(self, additional_time: float, replace_ttl: bool = False) -> bool:
        return True

    def reacquire(self) -> bool:
        return True

    def locked(self) -> bool:
        return False

    def owned(self) -> bool:
        return self.token is not None

    def __enter__(self) -> DummyLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class DummyAsyncLock:
    """DummyLock's async twin (``alock``)."""

    def __init__(self, name: str | bytes, timeout: float | None = None) -> None:
        self._lock = DummyLock(name, timeout)
        self.name = name
        self.timeout = timeout

    @property
    def token(self) -> bytes | None:
        return self._lock.token

    async def acquire(self, blocking: bool | None = None, blocking_timeout: float | None = None) -> bool:
        return self._lock.acquire()

    async def release(self) -> None:
        self._lock.release()

    async def extend(self, additional_time: float, replace_ttl: bool = False) -> bool:
        return True

    async def reacquire(self) -> bool:
        return True

    async def locked(self) -> bool:
        return False

    async def owned(self) -> bool:
        return self._lock.owned()

    async def __aenter__(self) -> DummyAsyncLock:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()


class RedisDummyCache(InlineAsync, DummyCache):
    """Caches nothing; every extended method answers as for a missing key (the async ones as
    their sync twins here: InlineAsync)."""

    def get_or_set(  # as RedisCache's (see herd_arguments)
        self,
        key: Any,
        default: Any,
        timeout: Any = DEFAULT_TIMEOUT,
        *extra: Any,
        version: int | None = None,
        lock_timeout: float | None = None,
        stale_cache_timeout: Any = _STALE_DEFAULT,
    ) -> Any:
        version, _, _ = herd_arguments(extra, version, lock_timeout, stale_cache_timeout)  # as RedisCache's
        self.make_and_validate_key(key, version=version)
        return default() if callable(default) else default

    def lock(self, key: str | bytes, timeout: float | None = None, sleep: float = 0.1,
             blocking: bool = True, blocking_timeout: float | None = None) -> DummyLock:
        return DummyLock(key, timeout)

    def alock(self, key: str | bytes, timeout: float | None = None, sleep: float = 0.1,
              blocking: bool = True, blocking_timeout: float | None = None) -> DummyAsyncLock:
        return DummyAsyncLock(key, timeout)

    def ttl(self, key: Any, version: int | None = None) -> int:
        self.make_and_validate_key(key, version=version)
        return 0

    def pttl(self, key: Any, version: int | None = None) -> int:
        self.make_and_validate_key(key, version=version)
        return 0

    def expire(self, key: Any, timeout: float, version: int | None = None) -> bool:
        self.make_and_validate_key(key, version=version)
        return False

    def pexpire(self, key: Any, timeout: int, version: int | None = None) -> bool:
        return self.expire(key, timeout, version)

    def expire_at(self, key: Any, when: datetime | int | float, version: int | None = None) -> bool:
        return self.expire(key, 0, version)

    def pexpire_at(self, key: Any, when: datetime | int, version: int | None = None) -> bool:
        return self.expire(key, 0, version)

    def persist(self, key: Any, version: int | None = None) -> bool:
        return self.expire(key, 0, version)

    def delete_pattern(self, pattern: str, version: int | None = None, itersize: int | None = None) -> int:
        return 0

    def iter_keys(self, search: str, itersize: int | None = None, version: int | None = None) -> Iterator[str]:
        return iter(())

    def keys(self, search: str, version: int | None = None) -> list[str]:
        return []

    def clear(self, version: int | None = None) -> None:
        return None

    def reinsert_keys(self, itersize: int | None = None) -> int:
        return 0

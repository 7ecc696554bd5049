"""Every error redis-cache-go raises. All derive from :class:`RedisCacheError`.

Connection and timeout errors also derive from Python's own ``ConnectionError`` and
``TimeoutError``, so generic handlers keep working. Messages name the server
(address and db) and never contain a password. Bad settings raise Django's
``ImproperlyConfigured`` instead, at construction, without touching the network.
"""
from __future__ import annotations

import builtins
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from redis_cache_go import _secrets


class RedisCacheError(Exception):
    """Base class of every redis-cache-go error."""


class ConnectionError(RedisCacheError, builtins.ConnectionError):
    """The server could not be reached, or the connection broke."""


class ClientClosedError(ConnectionError):
    """The native client was closed while the call was in flight."""


class TimeoutError(RedisCacheError, builtins.TimeoutError):
    """Connecting, a read, a write or waiting for a pooled connection timed out."""


class AuthenticationError(RedisCacheError):
    """The server rejected the credentials (user name or password) or a permission."""


class ServerError(RedisCacheError):
    """The server answered with an error reply (e.g. INCR of a non-integer)."""


class NotAnIntegerError(ServerError, TypeError):
    """``incr``/``decr`` of a value that is not a 64-bit integer (the message is the server's).
    Also a ``TypeError``, as Django's own backends raise for it."""


class DecodeError(RedisCacheError, ValueError):
    """A stored value could not be decoded; the message names the key."""


class ProtectionError(RedisCacheError, ValueError):
    """A stored value failed its protection check (OPTIONS['VALUE_PROTECTION'] with
    ``PROTECTION_ERRORS = "raise"``): unsigned, forged, written for another key, or under a secret
    this site no longer has. The message names the key and the reason; the value was not
    deserialized."""


class ForkedProcessError(RedisCacheError):
    """The cache was used in a process forked after its first use in the parent."""


class InternalError(RedisCacheError):
    """A bug inside the native library (a recovered Go panic)."""


class LibraryError(RedisCacheError):
    """The native library could not be found or loaded."""


class MissingDependencyError(RedisCacheError, ImportError):
    """An optional dependency a feature needs is not installed; the message names the extra to install."""


class LockError(RedisCacheError):
    """A lock could not be acquired, or was released or extended without being held
    (redis-py's LockError has the same meaning)."""


class LockNotOwnedError(LockError):
    """The lock expired or another owner holds it, so it cannot be released or extended."""


__all__ = [
    "RedisCacheError",
    "ConnectionError",
    "ClientClosedError",
    "TimeoutError",
    "AuthenticationError",
    "ServerError",
    "NotAnIntegerError",
    "DecodeError",
    "ForkedProcessError",
    "InternalError",
    "LibraryError",
    "MissingDependencyError",
    "LockError",
    "LockNotOwnedError",
]


def setting_error(what: str, value: Any, why: str) -> ImproperlyConfigured:
    """The ``ImproperlyConfigured`` every settings check raises: names the setting, its value, why
    (the value masked when the setting's name looks like a secret; no password of a URL)."""
    return ImproperlyConfigured(f"redis_cache_go: {_secrets.setting_message(what, value, why)}")

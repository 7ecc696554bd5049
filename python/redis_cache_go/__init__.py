"""redis-cache-go: a Redis cache backend for Django with a Go core.

Use it as ``CACHES = {"default": {"BACKEND": "redis_cache_go.RedisCache", ...}}``.
Importing this package loads nothing native and opens no connection: the shared
library is loaded, and the Go runtime started, on the first cache operation.
"""
from __future__ import annotations

__version__ = "0.1.0"

from redis_cache_go._raw import get_redis_connection
from redis_cache_go.backend import RedisCache
from redis_cache_go.dummy import RedisDummyCache
from redis_cache_go.multi import RedisCopyCache, ShardedRedisCache

__all__ = ["RedisCache", "ShardedRedisCache", "RedisCopyCache", "RedisDummyCache", "get_redis_connection", "__version__"]

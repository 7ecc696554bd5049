"""Backends over several servers: ``ShardedRedisCache`` and ``RedisCopyCache``.

Both are ``RedisCache`` with another layout (see _layout.py and the README); the routing itself
happens in Go (core/shard).
"""
from __future__ import annotations

from redis_cache_go.backend import RedisCache


class ShardedRedisCache(RedisCache):
    """Each key on one server, placed exactly as django-redis-cache's ShardedRedisCache placed it.

    ``OPTIONS["HASH_RING"] = "kidoredis"`` places keys as django-kidoredis' RedisRing did instead;
    ``OPTIONS["WEIGHTS"]`` gives uneven servers a larger share. ``get_many``, ``set_many``,
    ``delete_many`` and ``clear`` run one batch per server, concurrently.
    """

    _mode = "ring"


class RedisCopyCache(RedisCache):
    """Every key on every server, like django-kidoredis' RedisCopy.

    Writes go to all servers in parallel; a write that fails on some servers raises an error that
    names them (the others keep it). Reads go to one server and fall back to the next when it is down.
    """

    _mode = "copy"

"""Redis commands beyond Django's cache API, routed like the cache's own keys.

``cache.execute_command("HSET", "h", "f", "v")`` and attribute access for common data-structure
commands (``cache.hset("h", "f", "v")``, ``cache.zadd("z", {"a": 1})``). As django-kidoredis did,
keys here are the caller's **raw** keys: no KEY_PREFIX, no version. A command is routed by its
first key: to the key's server (sharding), to the primary for writes and a replica for reads
(primary/replica), or, in copy mode, reads to one server and writes to every server, returning one
reply per server in LOCATION order. Replies come back as Redis sent them (bytes, int, None, lists).
"""
from __future__ import annotations

from typing import Any, Callable

from redis_cache_go._failopen import fails_open

# Commands offered as methods (lower case). Each takes (key, *args) as Redis does, except the
# redis-py style conveniences below. ``ttl``, ``pttl``, ``expire``, ``pexpire``, ``expireat`` and
# ``persist`` are left out on purpose: in django-redis-cache and django-redis they are cache-API
# methods taking a cache key (prefixed, versioned), and a drop-in must not give those names
# another meaning. Use execute_command("EXPIRE", raw_key, seconds) for the raw command.
COMMANDS = frozenset("""
    exists type rename unlink
    append getrange setrange strlen getset getdel getex incrby incrbyfloat decrby setnx setex psetex
    hset hsetnx hget hmget hgetall hkeys hvals hlen hexists hdel hincrby hincrbyfloat hstrlen hscan
    lpush rpush lpushx rpushx lpop rpop lrange llen lindex lset lrem ltrim linsert lpos
    sadd srem smembers sismember smismember scard spop srandmember sscan
    zadd zrem zrange zrangebyscore zrevrange zrevrangebyscore zscore zmscore zcard zcount
    zincrby zrank zrevrank zremrangebyrank zremrangebyscore zpopmin zpopmax zscan
    pfadd pfcount setbit getbit bitcount
""".split())


def _arg(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        raise TypeError("a Redis argument cannot be a bool; pass 0/1 or a string")
    if isinstance(value, (int, float)):
        return repr(value).encode()
    raise TypeError(f"a Redis argument must be bytes, str, int or float, not {type(value).__name__}")


class CommandsMixin:
    """execute_command() and the data-structure commands for a backend with ``_client``."""

    _client: Any
    _aclient: Any  # the native async client (_native_async.AsyncClient)

    @fails_open(None)
    def execute_command(self, name: str, key: Any, *args: Any) -> Any:
        """Run the Redis command ``name key *args``, routed by the raw ``key`` (no prefix)."""
        k = _arg(key)
        reply, _ = self._client.command(k, [_arg(name), k, *map(_arg, args)])
        return reply

    @fails_open(None)
    async def aexecute_command(self, name: str, key: Any, *args: Any) -> Any:
        """execute_command, natively async (one command on the key's server, or on every server
        for a copy-mode write)."""
        k = _arg(key)
        reply, _ = await self._aclient.command(k, [_arg(name), k, *map(_arg, args)])
        return reply

    def server_index(self, key: Any) -> int:
        """Index into LOCATION of the server that holds ``key``, a raw (already made) key.

        Sharded: the ring's choice (for a cache key, pass ``cache.make_key(key)``);
        primary/replica: the primary; copy mode: 0. Never touches the network.
        """
        index: int = self._client.locate(_arg(key))
        return index

    def zadd(self, key: Any, mapping: dict[Any, float], *flags: str) -> Any:
        """ZADD key [flags] score member … from ``{member: score}`` (redis-py's signature)."""
        args: list[Any] = list(flags)
        for member, score in mapping.items():
            args += [score, member]
        return self.execute_command("ZADD", key, *args)

    def hset(self, key: Any, field: Any = None, value: Any = None, mapping: dict[Any, Any] | None = None) -> Any:
        """HSET key field value [field value …] (redis-py's signature, with ``mapping``)."""
        args: list[Any] = [] if field is None else [field, value]
        for f, v in (mapping or {}).items():
            args += [f, v]
        return self.execute_command("HSET", key, *args)

    # The data-structure commands of COMMANDS only (cache.hget, cache.lpush, ...): reached when
    # normal lookup fails, so never on the cache API's path (tests/python/test_prefork.py checks).
    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name in COMMANDS:
            command = name.upper()

            def run(key: Any, *args: Any) -> Any:
                return self.execute_command(command, key, *args)

            run.__name__ = name
            run.__doc__ = f"{command} key *args, routed by the raw key (see redis_cache_go._commands)."
            return run
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

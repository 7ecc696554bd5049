#!/usr/bin/env python3
"""Where a gather of 100 ``aget``s spends its time: asyncio's own floor against ours.

Rows (median ms per gather of 100, 7 x 30 gathers each, one loop): a coroutine awaiting a future
that the loop resolves (what any async client pays at least), the same behind three coroutine
layers, and ``cache.aget`` on a throw-away redis-server; then the µs per submission of our batched
path (``_LoopQueue.submit`` without awaiting). Run: .venv/bin/python bench/async_floor.py
"""
from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any, Awaitable, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (os.path.join(HERE, "..", "python"), os.path.join(HERE, "..", "tests", "harness")):
    sys.path.insert(0, os.path.abspath(_p))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

from redisproc import RedisServer  # noqa: E402


async def resolved(loop: asyncio.AbstractEventLoop) -> Any:
    f = loop.create_future()
    loop.call_soon(f.set_result, 1)
    return await f


async def layered(loop: asyncio.AbstractEventLoop) -> Any:
    async def two() -> Any:
        return await resolved(loop)

    async def one() -> Any:
        return await two()

    return await one()


async def measure(name: str, make: Callable[[str], Awaitable[Any]], keys: list[str]) -> None:
    for _ in range(30):
        await asyncio.gather(*(make(k) for k in keys))
    times = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(30):
            await asyncio.gather(*(make(k) for k in keys))
        times.append((time.perf_counter() - t) / 30 * 1e3)
    times.sort()
    print(f"{name:44s} {times[3]:7.3f} ms per gather of {len(keys)}")


async def main(cache: Any) -> None:
    from redis_cache_go import _native_async

    loop = asyncio.get_running_loop()
    keys = [f"k{i}" for i in range(100)]
    await measure("floor: a coroutine awaiting a future", lambda k: resolved(loop), keys)
    await measure("floor: the same, three coroutines deep", lambda k: layered(loop), keys)
    await measure("ours: cache.aget", cache.aget, keys)
    q = _native_async._queue_for(loop)
    handle = cache._client._handle or cache._client._open()
    per = []
    for _ in range(7):
        await cache.aget("k0")  # something in flight makes the rest batch, as in a gather
        t = time.perf_counter()
        futures = [q.submit(loop, handle, _native_async.GET, f":1:{k}".encode(), b"", 0, 0, 0, 0) for k in keys]
        per.append((time.perf_counter() - t) / len(keys) * 1e6)
        await asyncio.gather(*futures)
    per.sort()
    print(f"{'ours: one submission (batched, not awaited)':44s} {per[3]:7.2f} µs")


if __name__ == "__main__":
    with RedisServer() as server:
        settings.configure(CACHES={"default": {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": server.location}})
        django.setup()
        from django.core.cache import cache

        cache.set_many({f"k{i}": "x" * 100 for i in range(100)})
        asyncio.run(main(cache))

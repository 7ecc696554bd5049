#!/usr/bin/env python3
"""Per-stage cost of one cache.get (and get_many/set_many of 100 keys), in µs per call.

Client and a throw-away redis-server pinned to one CPU; every stage is timed in rounds that
interleave (A B C ..., then again), and the median over rounds is printed. Stages:

  socket floor      bare Python socket: sendall(precomputed GET) + recv
  ctypes rcg_get    the export called straight through ctypes, key bytes precomputed
  Client.get        _native.Client.get(key bytes)
  _key              RedisCache._key: Django key making + validation + encode
  cache.get         the whole Django API call (ours), and django-redis' for reference

Run: PYTHONPATH=python:tests/harness .venv/bin/python bench/micro_fastpath.py [--rounds 7]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (os.path.join(HERE, "..", "python"), os.path.join(HERE, "..", "tests", "harness")):
    sys.path.insert(0, os.path.abspath(_p))

from redisproc import RedisServer  # noqa: E402


def per_call_us(fn: Callable[[], Any], budget_s: float) -> tuple[float, float]:
    """(wall µs per call, this thread's CPU µs per call: excludes waiting for Redis and
    time other processes had the CPU, so it is stable on a busy machine)."""
    n, start, cpu0 = 0, time.perf_counter(), time.thread_time()
    end = start + budget_s
    while True:
        for _ in range(50):
            fn()
        n += 50
        now = time.perf_counter()
        if now >= end:
            return (now - start) / n * 1e6, (time.thread_time() - cpu0) / n * 1e6


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--ms", type=float, default=150)
    p.add_argument("--cpu", type=int, default=1)
    p.add_argument("--only", default="", help="comma-separated stage name prefixes")
    a = p.parse_args()
    os.sched_setaffinity(0, {a.cpu})
    with RedisServer(cpu=a.cpu) as srv:
        import django
        from django.conf import settings

        settings.configure(CACHES={
            "default": {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": srv.location,
                        "OPTIONS": {"DB": 0}, "KEY_PREFIX": "bo"},
            "peer": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": srv.url, "KEY_PREFIX": "br",
                     "OPTIONS": {"PARSER_CLASS": "redis.connection._HiredisParser"}},
        })
        django.setup()
        from django.core.cache import caches

        from redis_cache_go import _native

        ours, peer = caches["default"], caches["peer"]
        value = "x" * 100
        ours.set("hot", value)
        peer.set("hot", value)
        k = ours._key("hot", None)
        client = ours._client
        client.get(k)  # loads the library, opens the handle
        lib, s, h = _native._lib, _native._scratch, client._handle
        keys = [f"key{i}" for i in range(100)]
        data = {key: value for key in keys}
        ours.set_many(data)
        peer.set_many(data)

        sock = socket.create_connection(("127.0.0.1", srv.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        req = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k)

        def floor() -> None:
            sock.sendall(req)
            sock.recv(65536)

        stages: dict[str, Callable[[], Any]] = {
            "socket floor": floor,
            "ctypes rcg_get": lambda: lib.rcg_get(h, s.ptr, k, len(k)),
            "Client.get": lambda: client.get(k),
            "_key": lambda: ours._key("hot", None),
            "cache.get ours": lambda: ours.get("hot"),
            "cache.get django-redis": lambda: peer.get("hot"),
            "get_many100 ours": lambda: ours.get_many(keys),
            "get_many100 django-redis": lambda: peer.get_many(keys),
            "set_many100 ours": lambda: ours.set_many(data),
            "set_many100 django-redis": lambda: peer.set_many(data),
        }
        if a.only:
            want = a.only.split(",")
            stages = {n: f for n, f in stages.items() if any(n.startswith(w) for w in want)}
        results: dict[str, list[float]] = {n: [] for n in stages}
        cpu: dict[str, list[float]] = {n: [] for n in stages}
        for fn in stages.values():
            per_call_us(fn, 0.05)
        names = list(stages)
        for r in range(a.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                wall, c = per_call_us(stages[n], a.ms / 1000)
                results[n].append(wall)
                cpu[n].append(c)
        fl = statistics.median(results["socket floor"]) if "socket floor" in results else None
        print(f"pinned to CPU {a.cpu} (client and redis-server); median of {a.rounds} rounds, µs per call")
        print(f"  {'stage':26s} {'wall':>8s}  {'(min-max)':17s} {'client CPU':>10s}")
        for n, xs in results.items():
            m = statistics.median(xs)
            extra = f"  {fl / m:5.2f}x floor" if fl and ("get" in n and "many" not in n) else ""
            span = f"({min(xs):.2f}-{max(xs):.2f})"
            print(f"  {n:26s} {m:8.2f}  {span:17s} {statistics.median(cpu[n]):10.2f}{extra}")


if __name__ == "__main__":
    main()

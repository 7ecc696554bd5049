#!/usr/bin/env python3
"""The compression bar: a 256 KiB compressible value, set then get, through Django's cache API.

One throw-away redis-server, one process, interleaved rounds (the starting alias rotates each
round), this process and the server pinned to one CPU like bench.py does. One op is
``cache.set(key, VALUE)`` followed by ``cache.get(key)``. The aliases:

    ours@zlib  redis_cache_go, OPTIONS COMPRESSOR zlib (level 6, in Go)
    ours@zstd  redis_cache_go, OPTIONS COMPRESSOR zstd (level 3, in Go)
    dr@zlib    django-redis, COMPRESSOR django_redis.compressors.zlib.ZlibCompressor (level 6)
    dr@zstd    django-redis, COMPRESSOR django_redis.compressors.zstd.ZStdCompressor (for reference)

The bar compares both of ours with dr@zlib. --stages also prints where our time goes (µs per
stage, medians): pickle, the native set/get of the pickled bytes without and with compression;
--switches the context switches per get (wall time beyond CPU time).

    PYTHONPATH=python:tests/harness .venv/bin/python bench/codec_bench.py [--rounds 9 --round-ms 400]
"""
from __future__ import annotations

import argparse
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (os.path.join(REPO, "python"), os.path.join(REPO, "tests", "harness")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from redisproc import RedisServer  # noqa: E402

pc = time.perf_counter_ns


from bench import COMPRESSIBLE  # noqa: E402  (the same value as bench.py's set/get_256k_* rows)

VALUE = COMPRESSIBLE

DR_OPTS = {"CLIENT_CLASS": "django_redis.client.DefaultClient", "PARSER_CLASS": "redis.connection._HiredisParser"}
ALIASES: dict[str, dict[str, Any]] = {
    "ours@zlib": {"BACKEND": "redis_cache_go.RedisCache", "OPTIONS": {"COMPRESSOR": "zlib"}},
    "ours@zstd": {"BACKEND": "redis_cache_go.RedisCache", "OPTIONS": {"COMPRESSOR": "zstd"}},
    # other levels, for comparison (--aliases)
    "ours@zlib1": {"BACKEND": "redis_cache_go.RedisCache", "OPTIONS": {"COMPRESSOR": "zlib", "COMPRESSOR_LEVEL": 1}},
    "ours@zstd1": {"BACKEND": "redis_cache_go.RedisCache", "OPTIONS": {"COMPRESSOR": "zstd", "COMPRESSOR_LEVEL": 1}},
    "ours@lz4": {"BACKEND": "redis_cache_go.RedisCache", "OPTIONS": {"COMPRESSOR": "lz4"}},
    "ours@s2": {"BACKEND": "redis_cache_go.RedisCache", "OPTIONS": {"COMPRESSOR": "s2"}},
    "dr@zlib": {"BACKEND": "django_redis.cache.RedisCache",
                "OPTIONS": {**DR_OPTS, "COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor"}},
    "dr@zstd": {"BACKEND": "django_redis.cache.RedisCache",
                "OPTIONS": {**DR_OPTS, "COMPRESSOR": "django_redis.compressors.zstd.ZStdCompressor"}},
    # --stages only: no compressor, to separate the codec from the rest of the path
    "ours@none": {"BACKEND": "redis_cache_go.RedisCache", "OPTIONS": {}},
}
PEER = "dr@zlib"


def pin(pids: list[int], cpu: int) -> None:
    """Pin every thread of each process to cpu (threads started later inherit it)."""
    for pid in pids:
        for _ in range(3):
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    os.sched_setaffinity(int(tid), {cpu})
                except (ProcessLookupError, OSError):
                    pass


def configure(srv: RedisServer, names: list[str]) -> None:
    import django  # type: ignore[import-untyped]
    from django.conf import settings  # type: ignore[import-untyped]

    caches: dict[str, Any] = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    for i, n in enumerate(names):
        a = ALIASES[n]
        loc = srv.location if a["BACKEND"].startswith("redis_cache_go") else srv.url
        caches[n] = {"BACKEND": a["BACKEND"], "LOCATION": loc, "OPTIONS": dict(a["OPTIONS"]), "KEY_PREFIX": f"c{i}"}
    settings.configure(CACHES=caches, USE_TZ=True, INSTALLED_APPS=[], LOGGING_CONFIG=None)
    django.setup()


def op_for(c: Any) -> Callable[[], None]:
    def op() -> None:
        c.set("big", VALUE)
        c.get("big")
    return op


def run(op: Callable[[], None], budget_ns: int) -> tuple[float, float]:
    """(ops per second of wall time, this process's CPU µs per op) over budget_ns."""
    n, t0, c0 = 0, pc(), time.process_time_ns()
    end = t0 + budget_ns
    while True:
        op()
        n += 1
        t = pc()
        if t >= end:
            return n * 1e9 / (t - t0), (time.process_time_ns() - c0) / n / 1000


def stages(caches: Any, reps: int) -> None:
    """µs per stage of our path for VALUE: median wall time and this process's median CPU time
    (the CPU column is the steadier one on a shared machine; redis-server is not included)."""
    def med(fn: Callable[[], Any]) -> tuple[float, float]:
        for _ in range(5):
            fn()
        ts, cs = [], []
        for _ in range(reps):
            t, c = pc(), time.process_time_ns()
            fn()
            cs.append(time.process_time_ns() - c)
            ts.append(pc() - t)
        return statistics.median(ts) / 1000, statistics.median(cs) / 1000

    data = pickle.dumps(VALUE, pickle.HIGHEST_PROTOCOL)
    rows: list[tuple[str, tuple[float, float]]] = [("pickle.dumps", med(lambda: pickle.dumps(VALUE, pickle.HIGHEST_PROTOCOL))),
            ("pickle.loads", med(lambda: pickle.loads(data)))]
    for name in ("ours@none", "ours@zlib", "ours@zstd"):
        cl = caches[name]._client
        k = b"stage:" + name.encode()
        rows.append((f"{name} native set (pickled bytes)", med(lambda: cl.set(k, data, 0))))
        rows.append((f"{name} native get", med(lambda: cl.get(k))))
        c = caches[name]
        rows.append((f"{name} cache.set", med(lambda: c.set("stage", VALUE))))
        rows.append((f"{name} cache.get", med(lambda: c.get("stage"))))
    for name in ("dr@zlib",):
        if name in caches.settings:
            c = caches[name]
            rows.append((f"{name} cache.set", med(lambda: c.set("stage", VALUE))))
            rows.append((f"{name} cache.get", med(lambda: c.get("stage"))))
    import zlib
    rows.append(("python zlib.compress level 6 (peer)", med(lambda: zlib.compress(data, 6))))
    z = zlib.compress(data, 6)
    rows.append(("python zlib.decompress (peer)", med(lambda: zlib.decompress(z))))
    print(f"  {'stage':<44} {'wall µs':>9} {'CPU µs':>9}")
    for label, (wall, cpu) in rows:
        print(f"  {label:<44} {wall:9.1f} {cpu:9.1f}")


def _switches() -> tuple[int, int]:
    """Voluntary and involuntary context switches of every thread of this process so far."""
    vol = invol = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        vol += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        invol += int(line.split()[1])
        except OSError:
            pass
    return vol, invol


def switches(caches: Any, names: list[str], reps: int) -> None:
    """Per get of VALUE: wall µs, CPU µs, context switches of the whole process."""
    print(f"  {'get of the value':<12} {'wall µs':>9} {'CPU µs':>9} {'voluntary':>10} {'involuntary':>12}  (per get)")
    for n in names:
        c = caches[n]
        c.set("big", VALUE)
        for _ in range(10):
            c.get("big")
        v0, i0 = _switches()
        t0, c0 = pc(), time.process_time_ns()
        for _ in range(reps):
            c.get("big")
        t1, c1 = pc(), time.process_time_ns()
        v1, i1 = _switches()
        print(f"  {n:<12} {(t1 - t0) / reps / 1000:9.0f} {(c1 - c0) / reps / 1000:9.0f} "
              f"{(v1 - v0) / reps:10.1f} {(i1 - i0) / reps:12.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--round-ms", type=float, default=400)
    ap.add_argument("--warmup-ms", type=float, default=300)
    ap.add_argument("--cpu", type=int, default=1)
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--stages", action="store_true", help="also print µs per stage of our path")
    ap.add_argument("--switches", action="store_true",
                    help="also print context switches per get (ours@zlib, ours@none, dr@zlib)")
    ap.add_argument("--aliases", default="ours@zlib,ours@zstd,dr@zlib,dr@zstd")
    a = ap.parse_args()
    names = a.aliases.split(",")
    if PEER not in names:
        names.append(PEER)
    all_names = names + (["ours@none", "ours@zlib", "ours@zstd"] if a.stages or a.switches else [])
    all_names = list(dict.fromkeys(all_names))

    # a private copy of the .so, so a rebuild in another shell cannot SIGBUS this run
    tmp = None
    if not os.environ.get("RCG_LIBRARY"):
        from redis_cache_go import _native
        tmp = tempfile.mkdtemp(prefix="rcg-codec-bench-")
        shutil.copy2(_native.library_path(), tmp)
        os.environ["RCG_LIBRARY"] = os.path.join(tmp, os.path.basename(_native.library_path()))
    try:
        with RedisServer() as srv:
            configure(srv, all_names)
            from django.core.cache import caches  # type: ignore[import-untyped]
            for n in all_names:  # open, check the round trip (loads our .so before pinning)
                c = caches[n]
                c.set("big", VALUE)
                if c.get("big") != VALUE:
                    raise SystemExit(f"{n}: 256 KiB value did not round-trip")
            if not a.no_pin and srv.proc is not None:
                pin([os.getpid(), srv.proc.pid], a.cpu)
                print(f"this process (every thread) and redis-server pinned to CPU {a.cpu}")
            ops = {n: op_for(caches[n]) for n in names}
            for n in names:
                run(ops[n], int(a.warmup_ms * 1e6))
            res: dict[str, list[float]] = {n: [] for n in names}
            cpu: dict[str, list[float]] = {n: [] for n in names}
            for r in range(a.rounds):
                order = names[r % len(names):] + names[:r % len(names)]
                for n in order:
                    ops_s, cpu_us = run(ops[n], int(a.round_ms * 1e6))
                    res[n].append(ops_s)
                    cpu[n].append(cpu_us)
            print(f"256 KiB compressible value, one op = set then get; {a.rounds} rounds x {a.round_ms:g} ms, "
                  "interleaved. Wall: ops/s (median of rounds); CPU: this process's CPU time per op "
                  "(redis-server not included; steadier than wall time on a shared machine)")
            peer, peer_cpu = statistics.median(res[PEER]), statistics.median(cpu[PEER])
            for n in names:
                m, mc = statistics.median(res[n]), statistics.median(cpu[n])
                lo, hi = min(res[n]), max(res[n])
                print(f"  {n:<10} {m:8.1f} ops/s ({1e6 / m:8.1f} µs/op; rounds {lo:.0f}-{hi:.0f})  "
                      f"× {PEER}: {m / peer:5.2f}   CPU {mc:8.1f} µs/op  × {PEER}: {peer_cpu / mc:5.2f}")
            if a.stages:
                print("stages (µs, median):")
                stages(caches, 200)
            if a.switches:
                print("context switches (200 gets each):")
                switches(caches, ["ours@zlib", "ours@none", PEER], 200)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

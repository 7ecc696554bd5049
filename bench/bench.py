#!/usr/bin/env python3
"""Interleaved benchmark: redis_cache_go.RedisCache vs Django's RedisCache vs django-redis.

One throw-away redis-server, one process, three Django cache aliases, the same workloads.
Every workload runs in rounds; inside a round each backend gets the same time budget, and the
order of the backends rotates from round to round (A B C, B C A, C A B, ...), so slow drift of the
machine lands on every backend alike. See bench/README.md for how to read the table.

Run it with `make bench` (which sets PYTHONPATH), or directly:
    PYTHONPATH=python:tests/harness .venv/bin/python bench/bench.py --quick
"""
from __future__ import annotations

import argparse
import faulthandler
import gc
import json
import math
import os
import pickle
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# `make bench` sets PYTHONPATH; make a direct `python bench/bench.py` work too.
for _p in (os.path.join(REPO, "python"), os.path.join(REPO, "tests", "harness")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from redisproc import RedisServer, RedisServerError  # noqa: E402

import bars  # noqa: E402  (bench/bars.py: the performance bars, evaluated from the results)
import floor  # noqa: E402  (bench/floor.py: the floor rows)
import protection  # noqa: E402  (bench/protection.py: the VALUE_PROTECTION rows)
import sharded  # noqa: E402  (bench/sharded.py: the 3-server section)

pc = time.perf_counter_ns

# --------------------------------------------------------------------------------------------
# Backends

BACKENDS: dict[str, dict[str, Any]] = {
    # Every alias gets its own KEY_PREFIX of the same length, so the three never read each
    # other's keys and every Redis key has the same size.
    "ours": {
        "label": "redis_cache_go",
        "BACKEND": "redis_cache_go.RedisCache",
        "location": lambda srv: srv.location,  # "127.0.0.1:<port>"
        "OPTIONS": {"DB": 0},
        "KEY_PREFIX": "bo",
    },
    "django": {
        "label": "django RedisCache",
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "location": lambda srv: srv.url,  # redis://127.0.0.1:<port>/0
        "OPTIONS": {},  # parser defaults to redis-py's DefaultParser (= hiredis when installed)
        "KEY_PREFIX": "bd",
    },
    "django_redis": {
        "label": "django-redis",
        "BACKEND": "django_redis.cache.RedisCache",
        "location": lambda srv: srv.url,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "PARSER_CLASS": "redis.connection._HiredisParser",  # redis-py 8.x name
        },
        "KEY_PREFIX": "br",
    },
}
# The backend variant hook: ours with a near-cache (OPTIONS LOCAL_CACHE). Optional: when the
# backend refuses the option (it did before LOCAL_CACHE existed) it is reported as unavailable and
# the run still succeeds. Add more variants here the same way ("optional": True).
MIB = 1024 * 1024
BACKENDS["ours_local"] = {
    "label": "redis_cache_go +LOCAL_CACHE",
    "BACKEND": "redis_cache_go.RedisCache",
    "location": lambda srv: srv.location,
    "OPTIONS": {"DB": 0, "LOCAL_CACHE": {"MAX_ENTRIES": 10000, "MAX_BYTES": 64 * MIB, "TTL": 60}},
    "KEY_PREFIX": "bl",
    "optional": True,
}
# The VALUE_PROTECTION variants (bench/protection.py): optional too, and only on the workloads
# their "workloads" entry names (get_hit, get_many_100).
BACKENDS.update(protection.VARIANTS)
BACKENDS = {k: BACKENDS[k] for k in ("ours", *protection.NAMES, "ours_local", "django", "django_redis")}  # table order
BACKEND_ALIASES = {"django-redis": "django_redis", "djangoredis": "django_redis",
                   "redis_cache_go": "ours", "builtin": "django", "local": "ours_local", **protection.ALIASES}
PEERS = ("django", "django_redis")
OURS = ("ours", "ours_local")
# The floor rows (bench/floor.py): not backends, measured in the same rounds for the single-key
# workloads that have a `floor` kind.
FLOORS: dict[str, str] = {"floor": "floor: bare socket", "rb": "floor: redis-benchmark -c1 -P1"}


def runs_on(n: str, wl: "Workload") -> bool:
    """Whether backend n runs workload wl (a variant may name the only workloads it runs)."""
    only = BACKENDS[n].get("workloads") if n in BACKENDS else None
    return only is None or wl.name in only


def label(n: str) -> str:
    return BACKENDS[n]["label"] if n in BACKENDS else FLOORS.get(n, n)

# --------------------------------------------------------------------------------------------
# Workloads

SMALL = bytes(range(100))            # 100-byte value (each backend pickles it the same way)
LARGE = os.urandom(256 * 1024)       # 256 KiB, incompressible


def _compressible(size: int) -> bytes:
    """Text of words drawn from a small vocabulary: compresses about like HTML or JSON (3-5x)."""
    import random
    rng = random.Random(7)
    vocab = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10))))
             for _ in range(400)] + ["<div>", "</div>", '"id":', "\n", "the", "and"]
    out, n = [], 0
    while n < size:
        w = rng.choice(vocab) + rng.choice("  ,.")
        out.append(w)
        n += len(w)
    return "".join(out).encode()[:size]


COMPRESSIBLE = _compressible(256 * 1024)  # 256 KiB, compressible
# Compression rows: the same settings on each side that has the compressor (Django's own
# RedisCache has none, so it sits these rows out). Ours runs the compressor in Go.
COMPRESSED: dict[str, dict[str, dict[str, Any]]] = {
    "zlib": {"ours": {"COMPRESSOR": "zlib"},
             "django_redis": {"COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor"}},
    "zstd": {"ours": {"COMPRESSOR": "zstd"},
             "django_redis": {"COMPRESSOR": "django_redis.compressors.zstd.ZStdCompressor"}},
    "lz4": {"ours": {"COMPRESSOR": "lz4"},
            "django_redis": {"COMPRESSOR": "django_redis.compressors.lz4.Lz4Compressor"}},
}


def comp_of(name: str, wl: "Workload") -> str | None:
    """The compressor backend `name` runs workload wl with (peers may use a different one)."""
    if not wl.compressor:
        return None
    return wl.compressor if name == "ours" else (wl.peer_compressor or wl.compressor)


def alias(name: str, wl: "Workload") -> str:
    comp = comp_of(name, wl)
    return f"{name}@{comp}" if comp else name
NKEYS = 1024                          # keys cycled by the single-key workloads (power of two)
MASK = NKEYS - 1
NBATCH = 16                           # distinct 100-key batches cycled by get_many / set_many
NLARGE = 8                            # distinct keys cycled by the 256 KiB workloads
THREADS = 8

Op = Callable[[int], Any]


@dataclass
class Workload:
    name: str
    what: str
    prepare: Callable[[Any], Op]          # fills the cache, returns op(i); or op-factory for threads
    check: Callable[[Any], None]          # one correctness check before anything is timed
    threads: int = 1
    unit: str = "op"
    compressor: str | None = None        # run on the "<backend>@<compressor>" aliases (see COMPRESSED)
    peer_compressor: str | None = None   # the peers' compressor when it differs from ours
    floor: str | None = None             # floor kind (bench/floor.py): get_hit, get_miss or set


def _keys(tag: str, n: int = NKEYS) -> list[str]:
    return [f"{tag}:{i}" for i in range(n)]


def _expect(cond: bool, msg: str) -> None:
    if not cond:
        raise AssertionError(msg)


HIT = _keys("hit")
MISS = _keys("miss")
SETK = _keys("set")
INCR = _keys("ctr")
BATCH_GET = [[f"gm:{b}:{i}" for i in range(100)] for b in range(NBATCH)]
BATCH_SET = [{f"sm:{b}:{i}": SMALL for i in range(100)} for b in range(NBATCH)]
LARGE_GET = _keys("lg", NLARGE)
LARGE_SET = _keys("ls", NLARGE)


def _prep_hit(c: Any) -> Op:
    c.set_many({k: SMALL for k in HIT})
    get = c.get
    return lambda i: get(HIT[i & MASK])


def _check_hit(c: Any) -> None:
    _expect(c.get(HIT[0]) == SMALL and c.get(HIT[MASK]) == SMALL, "get of a stored key did not return the value")


def _prep_miss(c: Any) -> Op:
    c.delete_many(MISS[:8])
    get = c.get
    return lambda i: get(MISS[i & MASK])


def _check_miss(c: Any) -> None:
    _expect(c.get(MISS[0]) is None, "get of a missing key did not return None")
    _expect(c.get(MISS[1], "dflt") == "dflt", "get of a missing key ignored the default")


def _prep_set(c: Any) -> Op:
    set_ = c.set
    return lambda i: set_(SETK[i & MASK], SMALL)


def _check_set(c: Any) -> None:
    c.set(SETK[0], SMALL)
    _expect(c.get(SETK[0]) == SMALL, "set then get did not round-trip")


def _prep_get_many(c: Any) -> Op:
    for b in BATCH_GET:
        c.set_many({k: SMALL for k in b})
    gm = c.get_many
    return lambda i: gm(BATCH_GET[i % NBATCH])


def _check_get_many(c: Any) -> None:
    got = c.get_many(BATCH_GET[0])
    _expect(len(got) == 100 and all(v == SMALL for v in got.values()), f"get_many returned {len(got)} of 100 keys")


def _prep_set_many(c: Any) -> Op:
    sm = c.set_many
    return lambda i: sm(BATCH_SET[i % NBATCH])


def _check_set_many(c: Any) -> None:
    failed = c.set_many(BATCH_SET[0]) or []  # django-redis returns None
    _expect(not failed, f"set_many reported failed keys: {failed[:3]}")
    _expect(len(c.get_many(list(BATCH_SET[0]))) == 100, "set_many did not store all 100 keys")


def _prep_incr(c: Any) -> Op:
    c.set_many({k: 0 for k in INCR})
    incr = c.incr
    return lambda i: incr(INCR[i & MASK])


def _check_incr(c: Any) -> None:
    c.set(INCR[0], 41)
    _expect(c.incr(INCR[0]) == 42 and c.get(INCR[0]) == 42, "incr 41 -> 42 did not hold")


def _prep_large_set(c: Any) -> Op:
    set_ = c.set
    return lambda i: set_(LARGE_SET[i % NLARGE], LARGE)


def _check_large_set(c: Any) -> None:
    c.set(LARGE_SET[0], LARGE)
    _expect(c.get(LARGE_SET[0]) == LARGE, "256 KiB value did not round-trip")


def _prep_large_get(c: Any) -> Op:
    for k in LARGE_GET:
        c.set(k, LARGE)
    get = c.get
    return lambda i: get(LARGE_GET[i % NLARGE])


def _check_large_get(c: Any) -> None:
    c.set(LARGE_GET[0], LARGE)
    _expect(c.get(LARGE_GET[0]) == LARGE, "256 KiB value did not round-trip")


def _prep_c_set(c: Any) -> Op:
    set_ = c.set
    return lambda i: set_(LARGE_SET[i % NLARGE], COMPRESSIBLE)


def _prep_c_get(c: Any) -> Op:
    for k in LARGE_GET:
        c.set(k, COMPRESSIBLE)
    get = c.get
    return lambda i: get(LARGE_GET[i % NLARGE])


def _check_c(c: Any) -> None:
    c.set(LARGE_GET[0], COMPRESSIBLE)
    _expect(c.get(LARGE_GET[0]) == COMPRESSIBLE, "256 KiB compressible value did not round-trip")


def _prep_c_setget(c: Any) -> Op:
    set_, get = c.set, c.get

    def op(i: int) -> None:
        k = LARGE_SET[i % NLARGE]
        set_(k, COMPRESSIBLE)
        get(k)
    return op


HOT = "hot:0"


def _prep_hot(c: Any) -> Op:
    c.set(HOT, SMALL)
    get = c.get
    return lambda i: get(HOT)


def _check_hot(c: Any) -> None:
    _expect(c.get(HOT) == SMALL, "get of the hot key did not return the value")


def _prep_threads(c: Any) -> Callable[[int], Op]:
    c.set_many({k: SMALL for k in HIT})

    def make(t: int) -> Op:
        get = c.get
        off = t * (NKEYS // THREADS)
        return lambda i: get(HIT[(i + off) & MASK])
    return make


WORKLOADS = [
    Workload("get_hit", "get of a stored key, 100-byte value", _prep_hit, _check_hit, floor="get_hit"),
    Workload("get_miss", "get of a key that does not exist", _prep_miss, _check_miss, floor="get_miss"),
    Workload("set", "set of a 100-byte value (default timeout)", _prep_set, _check_set, floor="set"),
    Workload("get_hot", "get of one hot key, over and over (the near-cache bar)", _prep_hot, _check_hot,
             floor="get_hit"),
    Workload("get_many_100", "get_many of 100 stored keys (1 op = 1 call)", _prep_get_many, _check_get_many,
             unit="call"),
    Workload("set_many_100", "set_many of 100 keys, 100-byte values (1 op = 1 call)", _prep_set_many,
             _check_set_many, unit="call"),
    Workload("incr", "incr of an existing integer key", _prep_incr, _check_incr),
    Workload("set_256k", "set of a 256 KiB value", _prep_large_set, _check_large_set),
    Workload("get_256k", "get of a 256 KiB value", _prep_large_get, _check_large_get),
    *[Workload(f"{op}_256k_{comp}", f"{op} of a 256 KiB compressible value, {comp} compressor",
               _prep_c_set if op == "set" else _prep_c_get, _check_c, compressor=comp)
      for comp in COMPRESSED for op in ("set", "get")],
    # the compression bar: set then get of the compressible value as one op; both against django-redis'
    # ZlibCompressor (ours zstd is compared with that same zlib peer, as the bar says)
    Workload("setget_256k_zlib", "set then get (1 op) of a 256 KiB compressible value; ours zlib vs "
             "django-redis ZlibCompressor", _prep_c_setget, _check_c, compressor="zlib"),
    Workload("setget_256k_zstd", "set then get (1 op) of a 256 KiB compressible value; ours zstd vs "
             "django-redis ZlibCompressor", _prep_c_setget, _check_c, compressor="zstd", peer_compressor="zlib"),
    Workload("get_hit_8thr", f"{THREADS} threads doing get hits; total ops/s (unpinned)", _prep_threads,
             _check_hit, threads=THREADS),
]
WORKLOAD_NAMES = [w.name for w in WORKLOADS]

# --------------------------------------------------------------------------------------------
# CPU affinity


def _tasks(pid: int | str) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return [int(pid)] if pid != "self" else [0]


def set_affinity(pid: int | str, cpus: set[int]) -> None:
    """Set the affinity of every thread of a process (sched_setaffinity acts on one thread).

    Threads created afterwards inherit it from their creator; repeat until no new thread shows
    up, for runtimes (Go) that may be starting threads meanwhile.
    """
    done: set[int] = set()
    for _ in range(5):
        todo = [t for t in _tasks(pid) if t not in done]
        if not todo:
            return
        for tid in todo:
            try:
                os.sched_setaffinity(tid, cpus)
            except ProcessLookupError:
                pass
            done.add(tid)


def affinity_of(pid: int | str) -> str:
    """Union of the Cpus_allowed_list of every thread of a process, e.g. "1" or "0-1"."""
    seen = set()
    for tid in _tasks(pid):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("Cpus_allowed_list:"):
                        seen.add(line.split(":", 1)[1].strip())
        except OSError:
            pass
    return ",".join(sorted(seen)) or "?"


def cpu_list(cpus: set[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


# --------------------------------------------------------------------------------------------
# Measurement


@dataclass
class Result:
    rounds: list[float] = field(default_factory=list)   # ops/s of each round
    lat: list[int] = field(default_factory=list)        # ns per op, pooled over rounds
    ops: int = 0
    error: str | None = None
    ext_p50: list[float] = field(default_factory=list)  # µs per round, from redis-benchmark
    ext_p99: list[float] = field(default_factory=list)


def run_single(op: Op, budget_ns: int, lat: list[int]) -> tuple[int, int]:
    append = lat.append
    i = 0
    start = t = pc()
    deadline = start + budget_ns
    while t < deadline:
        a = pc()
        op(i)
        t = pc()
        append(t - a)
        i += 1
    return i, t - start


def run_threads(make_op: Callable[[int], Op], n: int, budget_ns: int, lat: list[int]) -> tuple[int, int]:
    barrier = threading.Barrier(n + 1)
    spans: list[tuple[int, int, int]] = [(0, 0, 0)] * n
    lats: list[list[int]] = [[] for _ in range(n)]
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        op = make_op(t)
        mine = lats[t]
        append = mine.append
        i = 0
        try:
            barrier.wait()
            start = now = pc()
            deadline = start + budget_ns
            while now < deadline:
                a = pc()
                op(i)
                now = pc()
                append(now - a)
                i += 1
            spans[t] = (start, now, i)
        except BaseException as e:  # reported by the main thread
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(t,), daemon=True, name=f"bench-{t}") for t in range(n)]
    for th in threads:
        th.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    for th in threads:
        while th.is_alive():
            th.join(0.2)  # short joins keep Ctrl-C responsive
    if errors:
        raise errors[0]
    for mine in lats:
        lat.extend(mine)
    start = min(s[0] for s in spans)
    end = max(s[1] for s in spans)
    return sum(s[2] for s in spans), end - start


def measure(wl: Workload, op: Any, budget_ns: int, lat: list[int]) -> tuple[int, int]:
    if wl.threads > 1:
        return run_threads(op, wl.threads, budget_ns, lat)
    return run_single(op, budget_ns, lat)


def percentile(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile in µs."""
    if not sorted_ns:
        return float("nan")
    k = max(0, min(len(sorted_ns) - 1, math.ceil(q / 100 * len(sorted_ns)) - 1))
    return sorted_ns[k] / 1000


def short_error(exc: BaseException) -> str:
    text = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}".replace("builtins.", "")
    return text if len(text) < 400 else text[:400] + "…"


# --------------------------------------------------------------------------------------------
# Setup helpers


def versions() -> dict[str, str]:
    from importlib import metadata
    out = {"python": platform.python_version()}
    for dist in ("Django", "redis", "hiredis", "django-redis", "redis-cache-go"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    if "redis-cache-go" not in out:
        try:
            import redis_cache_go  # importing must not load the .so (design: lazy load)
            out["redis-cache-go"] = str(getattr(redis_cache_go, "__version__", "source tree"))
        except Exception:
            pass
    return out


def git_head() -> str | None:
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5).stdout.strip() or None
    except Exception:
        return None


def server_version(srv: RedisServer) -> str:
    try:
        info = srv.command("INFO", "server")
        text = info.decode() if isinstance(info, bytes) else str(info)
        for line in text.splitlines():
            if line.startswith("redis_version:"):
                return line.split(":", 1)[1].strip()
    except Exception:
        pass
    return "?"


def configure_django(names: list[str], srv: RedisServer) -> None:
    import django
    from django.conf import settings

    caches: dict[str, dict[str, Any]] = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    for n in names:
        b = BACKENDS[n]
        caches[n] = {"BACKEND": b["BACKEND"], "LOCATION": b["location"](srv),
                     "OPTIONS": dict(b["OPTIONS"]), "KEY_PREFIX": b["KEY_PREFIX"]}
        for comp, per_backend in COMPRESSED.items():
            if n in per_backend:
                caches[f"{n}@{comp}"] = {**caches[n], "OPTIONS": {**b["OPTIONS"], **per_backend[n]},
                                         "KEY_PREFIX": b["KEY_PREFIX"] + comp[0]}
    settings.configure(CACHES=caches, USE_TZ=True, INSTALLED_APPS=[], LOGGING_CONFIG=None)
    django.setup()


def parser_in_use(name: str, cache: Any) -> str | None:
    """Which RESP parser the redis-py based peers really use (for the report)."""
    try:
        if name == "django":
            cls = cache._cache._get_connection_pool(False).connection_kwargs["parser_class"]
        elif name == "django_redis":
            cls = cache.client.get_client(write=False).connection_pool.connection_kwargs["parser_class"]
        else:
            return None
        return f"{cls.__module__}.{cls.__qualname__}"
    except Exception:
        return None


def explain(exc: BaseException, name: str) -> str:
    """The exception chain, one line each, innermost frame last; plus a hint for ours."""
    lines: list[str] = []
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        lines.append("    " + short_error(e))
        e = e.__cause__ or e.__context__
    tb = traceback.extract_tb(exc.__traceback__)
    if tb:
        f = tb[-1]
        lines.append(f"    at {f.filename}:{f.lineno} in {f.name}")
    if name == "ours":
        lib = os.path.join(REPO, "python", "redis_cache_go", "libredis_cache_go.so")
        if not os.path.exists(lib):
            lines.append(f"    hint: {os.path.relpath(lib, REPO)} does not exist; run `make build`")
    return "\n".join(lines)


def snapshot_library() -> tuple[str | None, str | None]:
    """Load our .so from a private copy, so a `make build` in another shell cannot rewrite the
    mapped file under us (that kills the process with SIGBUS). Honours an RCG_LIBRARY already set.
    Returns (source path, temp dir to remove)."""
    if os.environ.get("RCG_LIBRARY"):
        return os.environ["RCG_LIBRARY"], None
    try:
        from redis_cache_go import _native
        src = _native.library_path()
    except Exception:
        return None, None  # the import error is reported when the backend is opened
    if not os.path.exists(src):
        return src, None
    tmp = tempfile.mkdtemp(prefix="rcg-bench-lib-")
    dst = os.path.join(tmp, os.path.basename(src))
    shutil.copy2(src, dst)
    os.environ["RCG_LIBRARY"] = dst
    return src, tmp


FLOOR_VALUE = pickle.dumps(SMALL, pickle.HIGHEST_PROTOCOL)  # what the backends put on the wire
FLOOR_VALUE_LEN = len(FLOOR_VALUE)


def prepare_floor(sock: floor.Socket, wl: Workload) -> Op:
    """The bare-socket op for a floor workload: same key length, value bytes as the pickle."""
    value = FLOOR_VALUE
    if wl.name == "get_hot":
        return sock.prepare_get([b"bf:1:" + HOT.encode()], value)
    if wl.floor == "get_hit":
        return sock.prepare_get([b"bf:1:" + k.encode() for k in HIT], value)
    if wl.floor == "get_miss":
        return sock.prepare_get_miss([b"bf:1:" + k.encode() for k in MISS])
    return sock.prepare_set([b"bf:1:" + k.encode() for k in SETK], value)


def prepare_rb(sock: floor.Socket, wl: Workload) -> tuple[list[str], int]:
    """redis-benchmark's command and keyspace for a floor workload (stores the GET keys first)."""
    keys = 1 if wl.name == "get_hot" else NKEYS
    if wl.floor == "get_hit":
        sock.prepare_get([b"fb:%012d" % i for i in range(keys)], b"v" * FLOOR_VALUE_LEN)
    return floor.rb_args(wl.floor or "", FLOOR_VALUE_LEN), keys


def open_backend(name: str) -> Any:
    """Instantiate the alias and do real round trips (ours loads its .so on first use)."""
    from django.core.cache import caches
    c = caches[name]
    c.set("bench:ping", b"pong")
    if c.get("bench:ping") != b"pong":
        raise AssertionError("set/get of b'pong' did not round-trip")
    c.delete("bench:ping")
    return c


# --------------------------------------------------------------------------------------------
# Output


def fmt_ops(x: float) -> str:
    if x != x:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:,.1f}"


def fmt_us(x: float) -> str:
    if x != x:
        return "-"
    return f"{x:,.0f}" if x >= 1000 else f"{x:.1f}"


def summarize(res: Result) -> dict[str, Any]:
    lat = sorted(res.lat)
    r = res.rounds
    p50 = percentile(lat, 50) if lat else (statistics.median(res.ext_p50) if res.ext_p50 else None)
    p99 = percentile(lat, 99) if lat else (statistics.median(res.ext_p99) if res.ext_p99 else None)
    return {
        "ops_per_s_median": statistics.median(r) if r else None,
        "ops_per_s_min": min(r) if r else None,
        "ops_per_s_max": max(r) if r else None,
        "ops_per_s_rounds": [round(x, 1) for x in r],
        "p50_us": round(p50, 2) if p50 is not None else None,
        "p99_us": round(p99, 2) if p99 is not None else None,
        "ops": res.ops,
        "error": res.error,
    }


def _ok(summ: dict[str, dict[str, Any]], n: str) -> float | None:
    s = summ.get(n)
    if not s or s.get("error") or not s.get("ops_per_s_median"):
        return None
    return float(s["ops_per_s_median"])


def ratio_to_best_peer(summ: dict[str, dict[str, Any]], ours: str = "ours") -> tuple[float | None, str | None]:
    mine = _ok(summ, ours)
    peers = [(v, p) for p in PEERS if (v := _ok(summ, p))]
    if not mine or not peers:
        return None, None
    best, who = max(peers)
    return mine / best, who


def ratios(summ: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Ours (and ours_local) over the best peer and over each floor, for results.json."""
    out: dict[str, Any] = {}
    for o in OURS:
        mine = _ok(summ, o)
        if not mine:
            continue
        sfx = "" if o == "ours" else "_" + o.removeprefix("ours_")
        r, who = ratio_to_best_peer(summ, o)
        out[f"ours{sfx}_over_best_peer"] = round(r, 3) if r else None
        out["best_peer"] = who
        for f in FLOORS:
            if (v := _ok(summ, f)):
                out[f"ours{sfx}_over_{f}"] = round(mine / v, 3)
    return out


def print_table(wls: list[Workload], names: list[str], summary: dict[str, dict[str, dict[str, Any]]],
                pin_note: dict[str, str]) -> None:
    head = ("workload", "backend", "ops/s", "spread (min-max)", "p50 µs", "p99 µs", "ours ÷ best peer; ÷ floors")
    rows: list[tuple[str, ...]] = []
    for wl in wls:
        summ = summary.get(wl.name)
        if not summ:
            continue
        first = True
        for n in names:
            s = summ.get(n)
            if s is None:
                continue
            if s.get("error") and not s.get("ops_per_s_median"):
                cells = ("FAILED", "", "", "", "")
            else:
                cells = (fmt_ops(s["ops_per_s_median"]),
                         f"{fmt_ops(s['ops_per_s_min'])}-{fmt_ops(s['ops_per_s_max'])}",
                         fmt_us(s["p50_us"] if s["p50_us"] is not None else float("nan")),
                         fmt_us(s["p99_us"] if s["p99_us"] is not None else float("nan")),
                         "")
                if s.get("error"):
                    cells = (cells[0] + "!",) + cells[1:]
            rc = protection.table_cell(summ, n) if n in protection.VARIANTS else ""
            if n in OURS:
                ratio, who = ratio_to_best_peer(summ, n)
                rc = f"{ratio:.2f}x vs {label(who)}" if ratio and who else "n/a"
                mine = _ok(summ, n)
                for f, short in (("floor", "socket"), ("rb", "r-benchmark")):
                    if mine and (v := _ok(summ, f)):
                        rc += f"; {mine / v:.2f}x {short}"
            rows.append((wl.name if first else "", label(n)) + cells[:4] + (rc,))
            first = False
        rows.append(("",) * len(head))
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(len(head))]
    right = {2, 3, 4, 5}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i])
                         for i, c in enumerate(cells)).rstrip()

    print(line(head))
    print("  ".join("-" * w for w in widths))
    for r in rows[:-1]:
        print(line(r))
    print()
    print("ops/s = median over rounds of each round's ops/s; spread = slowest and fastest round; "
          "p50/p99 = latency of one call, pooled over all rounds.")
    print(f"Pinning: {pin_note['single']}")
    print(f"         {pin_note['threads']}")
    print_compression(wls, summary)
    protection.print_block(summary)


def print_compression(wls: list[Workload], summary: dict[str, dict[str, dict[str, Any]]]) -> None:
    """One line per compression workload: speed ratio and stored size on each side."""
    rows = [w for w in wls if w.compressor and w.name in summary]
    if not rows:
        return
    print()
    print(f"Compression rows (value: {len(COMPRESSIBLE):,} bytes of word text; ours compresses in Go):")
    for w in rows:
        summ = summary[w.name]
        ours, dr = summ.get("ours", {}), summ.get("django_redis", {})
        ratio = (ours["ops_per_s_median"] / dr["ops_per_s_median"]
                 if ours.get("ops_per_s_median") and dr.get("ops_per_s_median") else None)
        sizes = ", ".join(f"{label(n)} ({s.get('compressor')}) {s['stored_bytes']:,} B" for n, s in summ.items()
                          if s.get("stored_bytes"))
        print(f"  {w.name:<16} ours/django-redis ops/s = {f'{ratio:.2f}x' if ratio else 'n/a':>6};  stored: {sizes}")


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="workloads: " + ", ".join(WORKLOAD_NAMES)
                                + "\nbackends: " + ", ".join(BACKENDS))
    p.add_argument("--quick", action="store_true", help="3 short rounds: a smoke test, not a measurement")
    p.add_argument("--rounds", type=int, help="rounds per workload (default 9, --quick 3)")
    p.add_argument("--round-ms", type=float, help="time per backend per round in ms (default 250, --quick 40)")
    p.add_argument("--warmup-ms", type=float, help="warm-up per backend per workload in ms (default 300, --quick 40)")
    p.add_argument("--only", help="comma-separated workloads to run (default: all)")
    p.add_argument("--backends", help="comma-separated backends (default: ours,django,django_redis)")
    p.add_argument("--cpu", type=int, help="CPU for the pinned single-thread workloads (default 1, or the last allowed)")
    p.add_argument("--no-pin", action="store_true", help="do not pin anything")
    p.add_argument("--no-shard", action="store_true", help="skip the 3-server section (bench/sharded.py)")
    p.add_argument("--no-floor", dest="floors", action="store_false",
                   help="skip the floor rows (bare socket, redis-benchmark)")
    p.add_argument("--shard-only", action="store_true", help="run only the 3-server section")
    p.add_argument("--json", default=os.path.join(HERE, "results.json"), help="results file (default bench/results.json)")
    a = p.parse_args(argv)

    a.rounds = a.rounds if a.rounds is not None else (3 if a.quick else 9)
    a.round_ms = a.round_ms if a.round_ms is not None else (40.0 if a.quick else 250.0)
    a.warmup_ms = a.warmup_ms if a.warmup_ms is not None else (40.0 if a.quick else 300.0)
    if a.rounds < 1 or a.round_ms <= 0 or a.warmup_ms < 0:
        p.error("--rounds must be >= 1, --round-ms > 0, --warmup-ms >= 0")

    if a.only:
        want = [w.strip() for w in a.only.split(",") if w.strip()]
        bad = [w for w in want if w not in WORKLOAD_NAMES]
        if bad:
            p.error(f"unknown workload(s) {', '.join(bad)}; choose from {', '.join(WORKLOAD_NAMES)}")
        a.workloads = [w for w in WORKLOADS if w.name in want]
    else:
        a.workloads = list(WORKLOADS)
    if a.shard_only:
        a.workloads = []

    names = [b.strip() for b in (a.backends or ",".join(BACKENDS)).split(",") if b.strip()]
    names = [BACKEND_ALIASES.get(n, n) for n in names]
    bad = [n for n in names if n not in BACKENDS]
    if bad or not names:
        p.error(f"unknown backend(s) {', '.join(bad)}; choose from {', '.join(BACKENDS)}")
    a.names = [n for n in BACKENDS if n in names]  # fixed order: ours, django, django_redis

    allowed = os.sched_getaffinity(0)
    a.all_cpus = set(allowed)
    if a.cpu is None:
        a.cpu = 1 if 1 in allowed else max(allowed)
    elif a.cpu not in allowed:
        p.error(f"--cpu {a.cpu} is not in this process's allowed CPUs ({cpu_list(allowed)})")
    return a


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    failures: dict[str, str] = {}     # backend -> why it could not run at all
    unavailable: dict[str, str] = {}  # optional variant (ours_local) -> why it is not available
    floor_sock: floor.Socket | None = None
    rb_why: str | None = None if a.floors else "--no-floor"
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    srv: RedisServer | None = None
    lib_src: str | None = None
    lib_tmp: str | None = None
    faulthandler.enable()  # a crash inside a native library still shows where Python was
    pinned = not a.no_pin and len(a.all_cpus) >= 1
    me = os.getpid()
    meta: dict[str, Any] = {}
    sharded_out: dict[str, Any] | None = None
    bars_out: list[dict[str, Any]] = []
    t_begin = time.monotonic()

    try:
        srv = RedisServer(cpu=None if a.no_pin else a.cpu).start()
        configure_django(a.names, srv)
        if "ours" in a.names:
            lib_src, lib_tmp = snapshot_library()

        # Open every backend before pinning: ours starts the Go runtime on its first call, and Go
        # sizes GOMAXPROCS from the affinity it sees then.
        caches: dict[str, Any] = {}
        for n in a.names:
            try:
                caches[n] = open_backend(n)
            except Exception as e:
                if BACKENDS[n].get("optional"):
                    unavailable[n] = short_error(e)
                    print(f"UNAVAILABLE (optional variant, not an error): {BACKENDS[n]['label']} ({n}): "
                          f"{unavailable[n]}", flush=True)
                    continue
                failures[n] = short_error(e)
                print(f"\n*** {BACKENDS[n]['label']} ({n}) cannot run:\n{explain(e, n)}\n", file=sys.stderr,
                      flush=True)
        names = [n for n in a.names if n in caches]
        for wl in a.workloads:  # compressor aliases, opened before pinning too
            for n in names:
                key = alias(n, wl)
                comp = comp_of(n, wl)
                if comp and n in COMPRESSED[comp] and key not in caches and key not in failures:
                    try:
                        caches[key] = open_backend(key)
                    except Exception as e:
                        failures[key] = short_error(e)
                        print(f"\n*** {BACKENDS[n]['label']} with {wl.compressor} cannot run:\n{explain(e, n)}\n",
                              file=sys.stderr, flush=True)
        if not names:
            print("no backend could run; nothing to measure", file=sys.stderr)
            return 1
        if a.floors:
            floor_sock = floor.Socket(srv.host, srv.port)
            rb_why = floor.redis_benchmark_available()
            if rb_why:
                print(f"*** floor: {rb_why}", file=sys.stderr)

        meta = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "git": git_head(),
            "host": {"machine": platform.machine(), "cpus_allowed": cpu_list(a.all_cpus),
                     "os_cpu_count": os.cpu_count(), "kernel": platform.release()},
            "versions": {**versions(), "redis-server": server_version(srv)},
            "env": {k: os.environ[k] for k in ("MALLOC_ARENA_MAX", "PYTHONMALLOC", "GOMAXPROCS", "GOGC",
                                               "GODEBUG") if k in os.environ},
            "parsers": {n: p for n in names if (p := parser_in_use(n, caches[n]))},
            "ours_library": ({"source": lib_src, "loaded_from": os.environ.get("RCG_LIBRARY")}
                             if "ours" in names else None),
            "rounds": a.rounds, "round_ms": a.round_ms, "warmup_ms": a.warmup_ms, "quick": a.quick,
            "threads": THREADS,
            "order": "backends rotate each round: round r starts at backend r mod n",
        }
        pin_note = {
            "single": (f"single-thread workloads: this process (every thread) and redis-server (pid "
                       f"{srv.proc.pid if srv.proc else '?'}) pinned to CPU {a.cpu} "
                       f"(taskset -c {a.cpu} / sched_setaffinity)") if pinned else
                      "single-thread workloads: nothing pinned (--no-pin)",
            "threads": (f"{THREADS}-thread workload: unpinned (client and the same redis-server re-set to "
                        f"CPUs {cpu_list(a.all_cpus)}, every thread)"),
        }
        meta["pinning"] = pin_note
        v = meta["versions"]
        print(f"redis-cache-go bench  (git {meta['git'] or '?'}; Python {v['python']}, Django {v.get('Django')}, "
              f"redis-py {v.get('redis')}, hiredis {v.get('hiredis')}, django-redis {v.get('django-redis')}, "
              f"redis-server {v['redis-server']}, ours {v.get('redis-cache-go', '?')})")
        print(f"{a.rounds} rounds x {a.round_ms:g} ms per backend, warm-up {a.warmup_ms:g} ms; "
              f"backends: {', '.join(BACKENDS[n]['label'] for n in names)}; server {srv.location}")
        if meta["parsers"]:
            print("RESP parser: " + "; ".join(f"{BACKENDS[n]['label']} {p}" for n, p in meta["parsers"].items()))
        if meta["env"]:
            print("env: " + " ".join(f"{k}={v}" for k, v in meta["env"].items()))
        print(pin_note["single"])
        print(pin_note["threads"])
        if a.quick:
            print("--quick: a smoke test; do not quote these numbers")
        print(flush=True)

        budget = int(a.round_ms * 1e6)
        warm = int(a.warmup_ms * 1e6)
        state: str | None = None  # first workload always sets both affinities
        for wl in sorted(a.workloads, key=lambda w: w.threads > 1):  # pinned ones first
            want = "pinned" if (pinned and wl.threads == 1) else "free"
            if want != state:
                cpus = {a.cpu} if want == "pinned" else a.all_cpus
                set_affinity("self", cpus)
                if srv.proc is not None:
                    set_affinity(srv.proc.pid, cpus)
                was, state = state, want
                got_me, got_srv = affinity_of("self"), affinity_of(srv.proc.pid) if srv.proc else "?"
                meta.setdefault("affinity_seen", {})[want] = {"client": got_me, "server": got_srv}
                if want == "pinned" and (got_me != str(a.cpu) or got_srv != str(a.cpu)):
                    print(f"warning: pinning incomplete (client {got_me}, server {got_srv})", file=sys.stderr)
                if want == "free" and was == "pinned":
                    time.sleep(1.2)  # let the Go runtime notice the wider affinity (GOMAXPROCS refresh)

            print(f"{wl.name:<14} {wl.what} ...", end="", flush=True)
            srv.command("FLUSHALL")
            ops: dict[str, Any] = {}
            res = {n: Result() for n in names}
            rb_cmd: list[str] | None = None
            rb_rate, rb_keys = 30000.0, NKEYS  # ops/s estimate sizes each redis-benchmark round
            if wl.floor and wl.threads == 1 and floor_sock is not None:
                res["floor"] = Result()
                try:
                    ops["floor"] = prepare_floor(floor_sock, wl)
                    run_single(ops["floor"], warm, [])
                except Exception as e:
                    res["floor"].error = short_error(e)
                if not rb_why:
                    res["rb"] = Result()
                    try:
                        rb_cmd, rb_keys = prepare_rb(floor_sock, wl)
                        got = floor.redis_benchmark(srv.port, a.cpu if pinned else None, rb_cmd, 2000, rb_keys)
                        rb_rate = got["rps"]
                        ops["rb"] = rb_cmd
                    except Exception as e:
                        res["rb"].error = short_error(e)
            for n in names:
                if not runs_on(n, wl):
                    continue
                if n in failures or alias(n, wl) not in caches:
                    if alias(n, wl) in failures:
                        res[n].error = failures[alias(n, wl)]
                    continue
                try:
                    ops[n] = wl.prepare(caches[alias(n, wl)])
                    wl.check(caches[alias(n, wl)])
                    if n in protection.VARIANTS:  # the value in Redis really is signed / encrypted
                        probe = HIT[0] if wl.name == "get_hit" else BATCH_GET[0][0]
                        protection.verify_stored(n, srv.command("GET", f"{BACKENDS[n]['KEY_PREFIX']}:1:{probe}"))
                    measure(wl, ops[n], warm, [])            # warm-up, thrown away
                except Exception as e:
                    res[n].error = short_error(e)
                    print(f"\n  ! {BACKENDS[n]['label']}: {res[n].error}", end="")
            order = [n for n in names if runs_on(n, wl)] + [f for f in FLOORS if f in res]
            for r in range(a.rounds):
                k = r % len(order)
                for n in order[k:] + order[:k]:
                    if n not in ops or res[n].error:
                        continue
                    gc.collect()
                    lat: list[int] = []
                    try:
                        if n == "rb":  # an external process: its own ops/s and percentiles
                            n_ops = int(rb_rate * a.round_ms / 1000)  # about round_ms of work
                            got = floor.redis_benchmark(srv.port, a.cpu if pinned else None, ops[n], n_ops, rb_keys)
                            rb_rate = got["rps"]
                            res[n].rounds.append(got["rps"])
                            res[n].ext_p50.append(got["p50_us"])
                            res[n].ext_p99.append(got["p99_us"])
                            res[n].ops += n_ops
                            continue
                        count, elapsed = measure(wl, ops[n], budget, lat)
                    except Exception as e:
                        res[n].error = f"round {r + 1}: {short_error(e)}"
                        print(f"\n  ! {label(n)}: {res[n].error}", end="")
                        continue
                    res[n].rounds.append(count * 1e9 / elapsed)
                    res[n].lat.extend(lat)
                    res[n].ops += count
            summary[wl.name] = {n: summarize(res[n]) for n in order if n in ops or res[n].error}
            if wl.compressor:  # how big the 256 KiB value is in Redis, per backend
                for n in summary[wl.name]:
                    comp = comp_of(n, wl) or ""
                    prefix = BACKENDS[n]["KEY_PREFIX"] + comp[:1]
                    stored = srv.command("GET", f"{prefix}:1:{LARGE_GET[0] if wl.name.startswith('get') else LARGE_SET[0]}")
                    summary[wl.name][n]["stored_bytes"] = len(stored) if isinstance(stored, bytes) else None
                    summary[wl.name][n]["compressor"] = comp
            summary[wl.name]["_ratio"] = {**ratios(summary[wl.name]), **protection.ratios(summary[wl.name])}
            lead = "\n  ->" if any(r.error for r in res.values()) else ""
            print(lead + " " + "  ".join(f"{label(n)} {fmt_ops(s['ops_per_s_median'] or float('nan'))}/s"
                                  + (f" ({s['stored_bytes']:,} B stored)" if s.get("stored_bytes") else "")
                                  for n, s in summary[wl.name].items() if not n.startswith("_")), flush=True)
        print()
        table_summary = {w: {n: s for n, s in d.items() if not n.startswith("_")} for w, d in summary.items()}
        if a.workloads:
            print_table(a.workloads, names + list(FLOORS), table_summary, pin_note)
        if not a.no_shard:
            set_affinity("self", a.all_cpus)  # fan-out over 3 servers runs unpinned
            sharded_out = sharded.run(a.rounds, a.round_ms, a.warmup_ms)
        bars_out = bars.evaluate(summary, sharded_out, unavailable)
        bars.print_bars(bars_out, " ".join(["bench/bench.py", *(argv if argv is not None else sys.argv[1:])]))
        for n, why in failures.items():
            print(f"NOT MEASURED: {BACKENDS[n.split('@')[0]]['label']} ({n}) could not run: {why}")
        for n, why in unavailable.items():
            print(f"UNAVAILABLE (optional): {BACKENDS[n]['label']} ({n}): {why}")
    except KeyboardInterrupt:
        print("\ninterrupted; redis-server stopped, no results written", file=sys.stderr)
        return 130
    except RedisServerError as e:
        print(f"\ncannot start redis-server: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if floor_sock is not None:
            floor_sock.close()
        if srv is not None:
            srv.stop()
        if lib_tmp:
            shutil.rmtree(lib_tmp, ignore_errors=True)
        try:
            set_affinity("self", a.all_cpus)
        except Exception:
            pass

    errors = {w: {n: s["error"] for n, s in d.items() if not n.startswith("_") and s.get("error")}
              for w, d in summary.items()}
    errors = {w: e for w, e in errors.items() if e}
    out: dict[str, Any] = {"meta": {**meta, "elapsed_s": round(time.monotonic() - t_begin, 1)},
           "backends": {n: {"label": BACKENDS[n]["label"], "BACKEND": BACKENDS[n]["BACKEND"],
                            "OPTIONS": BACKENDS[n]["OPTIONS"]} for n in a.names},
           "workloads": {w.name: w.what for w in a.workloads},
           "floors": FLOORS, "results": summary, "unavailable": {**failures, **unavailable},
           "errors": errors, "sharded": sharded_out, "bars": bars_out}
    try:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2, default=str)
            f.write("\n")
        print(f"\nresults: {os.path.relpath(a.json)}  ({out['meta']['elapsed_s']} s); chart: make bench-plot")
    except OSError as e:
        print(f"cannot write {a.json}: {e}", file=sys.stderr)
        return 1

    if failures or errors:
        print("\nFAILED:", file=sys.stderr)
        for n, why in failures.items():
            print(f"  {BACKENDS[n.split('@')[0]]['label']} ({n}) could not run: {why}", file=sys.stderr)
        for w, errs in errors.items():
            for n, why in errs.items():
                print(f"  {w} / {label(n)}: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

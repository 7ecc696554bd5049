#!/usr/bin/env python3
"""Same-run before/after comparison of our backend: A (an older revision) vs B (this tree).

`make bench` measures ours against the peers within one run; comparing two separate runs of it
(before and after a change) on a shared machine mixes the change with the load of the moment.
This tool measures both versions in ONE run, on the same redis-server(s):

- A is a git revision (``--before REV``): its tree is extracted with ``git archive`` into
  build/ab/tree-<sha>/ and its library built there with ``go build``; B is this working tree
  (its python/ and a library built from its Go code into build/ab/B/). Each side runs in its
  own subprocess with its own python/ first on sys.path and ``RCG_LIBRARY`` set to its library.
- The workloads are bench/bench.py's (imported, not copied: get hit/miss, set, hot-key get with
  and without the near-cache, get_many/set_many 100, incr, 256 KiB values, the compressors, 8
  threads) and bench/sharded.py's 3-server get_many/set_many, plus a control row: the bench's
  bare-socket GET floor, the same code in both processes, so its B/A shows the method's noise.
- Every round starts a fresh A and a fresh B process; workload by workload they take turns (the
  order flips every workload and every round), each running the workload for ``--round-ms`` after
  a warm-up. Single-thread workloads run with the worker (every thread) and the redis-server
  pinned to one CPU, as bench.py pins them; the threaded and 3-server ones run unpinned.
- Per call the worker records wall µs, this thread's CPU µs (``time.thread_time``: our Go code
  runs on the calling thread, so this is the client's own cost and does not count time spent
  waiting for Redis or for the CPU; it is what stays comparable on a busy machine) and the
  process's CPU µs (``time.process_time``: all threads, Go's included).

Within a round, a workload's time per side is cut into ``--slices`` slices taken A B B A A B ...,
so each round's A and B figures share the load of the same second. The table shows, per
workload, the median over rounds of A and of B and B/A of those medians, and the median and
interquartile range of the per-round ratios B/A ("paired"). A row is flagged when that paired
median says B is more than ``--threshold`` percent (default 5) slower in CPU per call (thread CPU
for single-thread rows, process CPU for the threaded and 3-server rows). Wall-clock ratios are
printed for reference: on a loaded machine they carry the load of the moment.

Run it with `make bench-ab BEFORE=<rev>` or directly:
    .venv/bin/python bench/ab.py --before 9269b1a --rounds 9
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import threading
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
HARNESS = os.path.join(REPO, "tests", "harness")
LIBNAME = "libredis_cache_go.so"

# name -> (bench.py workload or sharded name, backend alias in the worker, pin, what)
# Filled from bench.py in the worker and the orchestrator alike (see _ab_workloads).
SHARD_WORKLOADS = ("shard3_get_many_100", "shard3_set_many_100")
CONTROL = "floor_get_hit"
# glibc's malloc adjusts its mmap threshold as a process frees mmap'd chunks; depending on the
# process's allocation history, a 256 KiB value then either comes from the heap or from a fresh
# mmap per call (64+ page faults, ~2x the CPU of the call), and which state a worker ends up in
# flips with small differences in what ran before (seen: the same workload 2.3x slower in A or in
# B depending only on the run's workload list). Fixed thresholds take that out of the comparison.
FIXED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "4194304", "MALLOC_TRIM_THRESHOLD_": "67108864"}


def _ab_workloads(bench: Any) -> list[dict[str, Any]]:
    """The A/B rows, in run order: pinned single-thread rows first, then the unpinned ones."""
    rows: list[dict[str, Any]] = [{"name": CONTROL, "backend": None, "pin": True, "threads": 1,
                                   "what": "control: bench's bare-socket GET floor, same code in A and B"}]
    for wl in bench.WORKLOADS:
        if wl.threads > 1:
            continue
        backend = bench.alias("ours", wl)
        rows.append({"name": wl.name, "backend": backend, "pin": True, "threads": 1, "what": wl.what})
        if wl.name == "get_hot":  # the near-cache bar's row
            rows.append({"name": "get_hot_local", "backend": "ours_local", "pin": True, "threads": 1,
                         "what": wl.what + ", with LOCAL_CACHE"})
    # The library call alone (the package's _native client: ctypes and Go), without Django's key
    # making and the unpickling around it: where a change in capi or core shows least diluted.
    rows.append({"name": "native_get_hit", "backend": "ours", "pin": True, "threads": 1,
                 "what": "_client.get(key bytes) of a stored key: ctypes + Go only"})
    rows.append({"name": "native_get_hot_local", "backend": "ours_local", "pin": True, "threads": 1,
                 "what": "_client.get(key bytes) of the hot key, LOCAL_CACHE hit: ctypes + Go only"})
    for wl in bench.WORKLOADS:
        if wl.threads > 1:
            rows.append({"name": wl.name, "backend": "ours", "pin": False, "threads": wl.threads,
                         "what": wl.what})
    for name in SHARD_WORKLOADS:
        rows.append({"name": name, "backend": "shard", "pin": False, "threads": 1,
                     "what": f"{name.split('_', 1)[1]} over 3 servers (ShardedRedisCache)"})
    return rows


# --------------------------------------------------------------------------------------------
# Worker: one side (A or B) in its own process. Protocol: JSON lines on stdin/stdout.


def _go_total_alloc() -> int:
    """Bytes the Go runtime has allocated so far (rcg_stats: runtime.MemStats.TotalAlloc); -1 if unknown."""
    try:
        from redis_cache_go import _native
        return int(_native.stats().get("total_alloc", -1))
    except Exception:
        return -1


def _go_alloc_per_call(before: int, n: int) -> float:
    after = _go_total_alloc()
    return (after - before) / n if before >= 0 and after >= 0 and n else float("nan")


def _measure(op: Callable[[int], Any], budget_s: float, batch: int) -> dict[str, float]:
    n, i = 0, 0
    gc.collect()
    go0 = _go_total_alloc()
    flt0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start, cpu0, pcpu0 = time.perf_counter(), time.thread_time(), time.process_time()
    end = start + budget_s
    while True:
        for _ in range(batch):
            op(i)
            i += 1
        n += batch
        now = time.perf_counter()
        if now >= end:
            got = {"n": n, "wall_us": (now - start) / n * 1e6,
                   "cpu_us": (time.thread_time() - cpu0) / n * 1e6,
                   "proc_cpu_us": (time.process_time() - pcpu0) / n * 1e6,
                   "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - flt0) / n}
            got["go_alloc"] = _go_alloc_per_call(go0, n)
            return got


def _measure_threads(make_op: Callable[[int], Callable[[int], Any]], nthreads: int,
                     budget_s: float) -> dict[str, float]:
    barrier = threading.Barrier(nthreads + 1)
    counts = [0] * nthreads
    errors: list[BaseException] = []
    stop = [0.0]

    def worker(t: int) -> None:
        op = make_op(t)
        i = 0
        try:
            barrier.wait()
            while True:  # at least one batch per thread, however short the slice
                for _ in range(10):
                    op(i)
                    i += 1
                if time.perf_counter() >= stop[0]:
                    break
            counts[t] = i
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(nthreads)]
    for th in threads:
        th.start()
    gc.collect()
    go0 = _go_total_alloc()
    flt0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    pcpu0 = time.process_time()
    start = time.perf_counter()
    stop[0] = start + budget_s
    barrier.wait()
    for th in threads:
        th.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    n = sum(counts)
    got = {"n": n, "wall_us": wall / n * 1e6, "cpu_us": float("nan"),
           "proc_cpu_us": (time.process_time() - pcpu0) / n * 1e6,
           "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - flt0) / n}
    got["go_alloc"] = _go_alloc_per_call(go0, n)
    return got


def worker_main(a: argparse.Namespace) -> int:
    proto = sys.stdout
    sys.stdout = sys.stderr  # anything printed by the code under test stays off the protocol
    tree_python = os.path.abspath(a.tree_python)
    sys.path[:0] = [tree_python, HARNESS, HERE]
    import redis_cache_go  # the side's package: imported before bench.py adds this tree's python/

    import bench  # noqa: E402  (bench/bench.py: workloads, backends, affinity helpers)
    import floor
    import sharded
    if tree_python != os.path.join(REPO, "python"):  # bench.py put this tree's python/ first: undo
        sys.path[:] = [p for p in sys.path if os.path.abspath(p) != os.path.join(REPO, "python")]
    pkg_dir = os.path.dirname(os.path.abspath(redis_cache_go.__file__))
    if os.path.dirname(pkg_dir) != tree_python:
        raise SystemExit(f"worker {a.side}: imported redis_cache_go from {pkg_dir}, not from {tree_python}")

    import django
    from django.conf import settings
    from django.utils.module_loading import import_string

    host = "127.0.0.1"
    caches_conf: dict[str, dict[str, Any]] = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    for n in ("ours", "ours_local"):
        b = bench.BACKENDS[n]
        # same-length prefixes, one per side: A and B never read each other's keys
        caches_conf[n] = {"BACKEND": b["BACKEND"], "LOCATION": f"{host}:{a.port}", "OPTIONS": dict(b["OPTIONS"]),
                          "KEY_PREFIX": a.side + b["KEY_PREFIX"]}
    for comp, per in bench.COMPRESSED.items():
        caches_conf[f"ours@{comp}"] = {**caches_conf["ours"], "OPTIONS": {**caches_conf["ours"]["OPTIONS"], **per["ours"]},
                                       "KEY_PREFIX": caches_conf["ours"]["KEY_PREFIX"] + comp[0]}
    settings.configure(CACHES=caches_conf, USE_TZ=True, INSTALLED_APPS=[], LOGGING_CONFIG=None)
    django.setup()
    from django.core.cache import caches

    opened: dict[str, Any] = {}

    def cache(alias: str) -> Any:
        if alias not in opened:
            if alias == "shard":
                b = sharded.BACKENDS["ours"]
                c = import_string(b["BACKEND"])([f"{host}:{p}" for p in a.shard_ports.split(",")],
                                                {"OPTIONS": dict(b["OPTIONS"]), "KEY_PREFIX": a.side + b["KEY_PREFIX"]})
            else:
                c = caches[alias]
            c.set("ab:ping", b"pong")
            if c.get("ab:ping") != b"pong":
                raise AssertionError(f"{alias}: set/get of b'pong' did not round-trip")
            opened[alias] = c
        return opened[alias]

    rows = {r["name"]: r for r in _ab_workloads(bench)}
    wls = {w.name: w for w in bench.WORKLOADS}
    shard_wls = sharded._workloads()
    # Open what this run needs before pinning: Go sizes GOMAXPROCS from the affinity it sees then.
    for name in a.workloads.split(","):
        r = rows[name]
        if r["backend"] == "shard" and not a.shard_ports:
            continue
        if r["backend"]:
            cache(r["backend"])
    all_cpus = os.sched_getaffinity(0)
    ops: dict[str, Any] = {}
    pinned: bool | None = None
    lib = os.environ.get("RCG_LIBRARY", "")
    ready = {"ready": a.side, "pid": os.getpid(), "package": pkg_dir, "library": lib,
             "version": str(getattr(redis_cache_go, "__version__", "?"))}
    proto.write(json.dumps(ready) + "\n")
    proto.flush()
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("quit"):
            break
        name = req["run"]
        try:
            r = rows[name]
            want = bool(r["pin"] and a.cpu is not None)
            if want != pinned:
                bench.set_affinity("self", {a.cpu} if want else all_cpus)
                if pinned and not want:
                    time.sleep(1.2)  # let the Go runtime notice the wider affinity, as bench.py does
                pinned = want
            if name not in ops:
                if name == CONTROL:
                    sock = floor.Socket(host, a.port)
                    keys = [(a.side + "f:1:" + k).encode() for k in bench.HIT]
                    ops[name] = sock.prepare_get(keys, bench.FLOOR_VALUE)
                elif r["backend"] == "shard":
                    _what, prep, check = shard_wls[name]
                    c = cache("shard")
                    ops[name] = prep(c)
                    check(c)
                elif name.startswith("native_"):
                    c = cache(r["backend"])
                    hot = name == "native_get_hot_local"
                    wls["get_hot" if hot else "get_hit"].prepare(c)  # stores the values
                    keys = [c._key(k, None) for k in ([bench.HOT] * len(bench.HIT) if hot else bench.HIT)]
                    client_get, mask = c._client.get, bench.MASK
                    if client_get(keys[0]) is None:
                        raise AssertionError(f"{name}: the stored key reads as missing")
                    ops[name] = lambda i: client_get(keys[i & mask])
                else:
                    wl = wls[name if name != "get_hot_local" else "get_hot"]
                    c = cache(r["backend"])
                    ops[name] = wl.prepare(c)
                    wl.check(c)
                if req["warm_ms"] > 0 and r["threads"] > 1:
                    _measure_threads(ops[name], r["threads"], req["warm_ms"] / 1000)
                elif req["warm_ms"] > 0:
                    _measure(ops[name], req["warm_ms"] / 1000, 10)
            if r["threads"] > 1:
                got = _measure_threads(ops[name], r["threads"], req["ms"] / 1000)
            else:
                got = _measure(ops[name], req["ms"] / 1000, 10)
        except Exception as e:  # reported in the table; the run goes on
            got = {"error": f"{type(e).__name__}: {e}"[:300]}
        proto.write(json.dumps(got) + "\n")
        proto.flush()
    return 0


# --------------------------------------------------------------------------------------------
# Orchestrator


def sh(*args: str, cwd: str = REPO) -> str:
    return subprocess.run(list(args), cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def build_library(tree: str, out_dir: str, go: str) -> str:
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, LIBNAME)
    tmp = os.path.join(out_dir, "stage")
    os.makedirs(tmp, exist_ok=True)
    cmd = [go, "build", "-trimpath", "-buildvcs=false", "-buildmode=c-shared", "-o", os.path.join(tmp, LIBNAME), "./capi"]
    print(f"  go build in {os.path.relpath(tree, REPO) or '.'} -> {os.path.relpath(out, REPO)}", flush=True)
    subprocess.run(cmd, cwd=tree, check=True)
    os.replace(os.path.join(tmp, LIBNAME), out)
    return out


def prepare_before(rev: str, work: str, go: str) -> tuple[str, str, str]:
    """(tree, library, full sha) for revision rev: git archive into build/ab/tree-<sha>/, built once."""
    sha = sh("git", "rev-parse", "--verify", rev + "^{commit}")
    tree = os.path.join(work, f"tree-{sha[:12]}")
    lib = os.path.join(tree, "build", "ab", LIBNAME)
    if not os.path.exists(os.path.join(tree, ".complete")):
        shutil.rmtree(tree, ignore_errors=True)
        os.makedirs(tree)
        print(f"  git archive {sha[:12]} -> {os.path.relpath(tree, REPO)}", flush=True)
        data = subprocess.run(["git", "archive", "--format=tar", sha], cwd=REPO, check=True, capture_output=True).stdout
        import io
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            tf.extractall(tree, filter="data")
        open(os.path.join(tree, ".complete"), "w").close()
    if not os.path.exists(lib):
        build_library(tree, os.path.dirname(lib), go)
    return tree, lib, sha


def side_paths(work: str, side: str, tree: str, lib: str) -> tuple[str, str]:
    """(tree, library) for a worker as paths of the same length for A and B: build/ab/side-X/python
    and build/ab/side-X/libredis_cache_go.so, symlinks to the real ones. The worker's argv and
    environment then have the same size on both sides, so neither side's stack starts at a
    different alignment (a known source of a few percent of bias between identical programs)."""
    d = os.path.join(work, f"side-{side}")
    os.makedirs(d, exist_ok=True)
    for name, target in (("python", os.path.join(tree, "python")), (LIBNAME, lib)):
        link = os.path.join(d, name)
        if os.path.islink(link) or os.path.exists(link):
            os.remove(link)
        os.symlink(os.path.abspath(target), link)
    return d, os.path.join(d, LIBNAME)


class Worker:
    def __init__(self, side: str, tree: str, lib: str, a: argparse.Namespace, port: int, shard_ports: str,
                 workloads: list[str]) -> None:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)  # the worker puts its side's python/ first itself
        env["RCG_LIBRARY"] = lib
        env.update(a.malloc_env)
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--side", side,
               "--tree-python", os.path.join(tree, "python"), "--port", str(port),
               "--shard-ports", shard_ports, "--workloads", ",".join(workloads)]
        if a.cpu is not None:
            cmd += ["--cpu", str(a.cpu)]
        self.side = side
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise RuntimeError(f"worker {side} did not start (exit {self.proc.wait()})")
        self.info = json.loads(line)

    def run(self, name: str, ms: float, warm_ms: float) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"run": name, "ms": ms, "warm_ms": warm_ms}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.side} died (exit {self.proc.wait()}) during {name}")
        return json.loads(line)

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
                self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def add_slice(acc: dict[str, Any], got: dict[str, Any]) -> None:
    """Adds one slice's per-call figures to acc (per-call figures over all its slices)."""
    if "error" in got or "error" in acc:
        acc.setdefault("error", got.get("error"))
        return
    n0, n = acc.get("n", 0), got["n"]
    for m in ("wall_us", "cpu_us", "proc_cpu_us", "faults", "go_alloc"):
        acc[m] = (acc.get(m, 0.0) * n0 + got[m] * n) / (n0 + n)
    acc["n"] = n0 + n


def quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 2:
        return (xs[0], xs[0]) if xs else (float("nan"), float("nan"))
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def machine() -> dict[str, str]:
    out = {"kernel": platform.release(), "cpus": str(os.cpu_count())}
    try:
        for line in sh("lscpu").splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU(s)", "Hypervisor vendor"):
                out[k.strip()] = v.strip()
    except Exception:
        pass
    try:
        with open("/proc/loadavg") as f:
            out["loadavg"] = " ".join(f.read().split()[:3])
    except OSError:
        pass
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", help="git revision for side A (default: main)")
    p.add_argument("--rounds", type=int, default=9, help="rounds, each with a fresh A and B process (default 9)")
    p.add_argument("--round-ms", type=float, default=250, help="measured time per side per workload per round (default 250)")
    p.add_argument("--slices", type=int, default=5,
                   help="a round's time per side is cut into this many slices, taken A B B A A ... (default 5)")
    p.add_argument("--warmup-ms", type=float, default=150, help="warm-up per side per workload per process (default 150)")
    p.add_argument("--only", help="comma-separated workloads (default: all; see --list)")
    p.add_argument("--skip", help="comma-separated workloads to leave out")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--cpu", type=int, help="CPU for the pinned rows (default 1, or the last allowed)")
    p.add_argument("--no-pin", action="store_true", help="pin nothing")
    p.add_argument("--threshold", type=float, default=5.0, help="flag B slower than A by more than this %% of CPU per call")
    p.add_argument("--malloc", choices=("fixed", "default"), default="fixed",
                   help="fixed (default): both workers run with glibc's mmap and trim thresholds fixed "
                        f"({' '.join(f'{k}={v}' for k, v in FIXED_MALLOC.items())}), so a 256 KiB value "
                        "never lands in fresh pages per call; default: glibc's dynamic thresholds")
    p.add_argument("--go", default=os.environ.get("GO", "go"))
    p.add_argument("--json", default=os.path.join(REPO, "build", "ab", "ab-results.json"))
    # worker mode (internal)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--side", help=argparse.SUPPRESS)
    p.add_argument("--tree-python", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--shard-ports", default="", help=argparse.SUPPRESS)
    p.add_argument("--workloads", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        return worker_main(a)

    sys.path[:0] = [HARNESS, HERE, os.path.join(REPO, "python")]
    import bench
    from redisproc import RedisServer

    rows = _ab_workloads(bench)
    if a.list:
        for r in rows:
            print(f"{r['name']:<20} {r['what']}")
        return 0
    names = [r["name"] for r in rows]
    if a.only:
        want = [w.strip() for w in a.only.split(",") if w.strip()]
        bad = [w for w in want if w not in names]
        if bad:
            p.error(f"unknown workload(s) {', '.join(bad)}; see --list")
        rows = [r for r in rows if r["name"] in want]
    if a.skip:
        rows = [r for r in rows if r["name"] not in {w.strip() for w in a.skip.split(",")}]
    a.malloc_env = {k: os.environ.get(k, v) for k, v in FIXED_MALLOC.items()} if a.malloc == "fixed" else {}
    allowed = os.sched_getaffinity(0)
    if a.no_pin:
        a.cpu = None
    elif a.cpu is None:
        a.cpu = 1 if 1 in allowed else max(allowed)

    work = os.path.join(REPO, "build", "ab")
    before = a.before or "main"
    print(f"preparing A = {before}, B = this tree ({REPO})", flush=True)
    tree_a, lib_a, sha_a = prepare_before(before, work, a.go)
    lib_b = build_library(REPO, os.path.join(work, "B"), a.go)
    sides = {"A": side_paths(work, "A", tree_a, lib_a), "B": side_paths(work, "B", REPO, lib_b)}
    head_b = sh("git", "rev-parse", "--short=12", "HEAD")
    dirty = bool(sh("git", "status", "--porcelain", "--untracked-files=no"))
    label_b = head_b + ("+uncommitted changes" if dirty else "")

    mach = machine()
    need_shard = any(r["backend"] == "shard" for r in rows)
    srv = RedisServer(cpu=a.cpu).start()
    shards = [RedisServer().start() for _ in range(3)] if need_shard else []
    shard_ports = ",".join(str(s.port) for s in shards)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {r["name"]: {"A": [], "B": []} for r in rows}
    infos: dict[str, Any] = {}
    t0 = time.monotonic()
    print(f"machine: {mach.get('Model name', '?')}, {mach.get('CPU(s)', '?')} CPUs; load average {mach.get('loadavg')}")
    print(f"A = {sha_a[:12]} ({os.path.relpath(tree_a, REPO)}), B = {label_b}; redis-server {srv.location}"
          + (f", 3 shard servers {shard_ports}" if shards else ""))
    print(f"{a.rounds} rounds x {a.round_ms:g} ms per side per workload in {a.slices} alternating slices "
          f"(warm-up {a.warmup_ms:g} ms per process); "
          + (f"pinned rows: workers and redis-server on CPU {a.cpu}" if a.cpu is not None else "nothing pinned"))
    print("malloc: " + (" ".join(f"{k}={v}" for k, v in a.malloc_env.items()) or "glibc defaults (dynamic thresholds)"),
          flush=True)
    try:
        for rnd in range(a.rounds):
            workers: dict[str, Worker] = {}
            try:
                for side in ("A", "B")[:: 1 if rnd % 2 == 0 else -1]:
                    tree, lib = sides[side]
                    workers[side] = Worker(side, tree, lib, a, srv.port, shard_ports, [r["name"] for r in rows])
                    infos[side] = workers[side].info
                srv_pinned: bool | None = None
                for wi, r in enumerate(rows):
                    want = bool(r["pin"] and a.cpu is not None)
                    if want != srv_pinned and srv.proc is not None:
                        bench.set_affinity(srv.proc.pid, {a.cpu} if want else allowed)
                        srv_pinned = want
                    order = ("A", "B") if (rnd + wi) % 2 == 0 else ("B", "A")
                    acc: dict[str, dict[str, Any]] = {"A": {}, "B": {}}
                    for sl in range(a.slices):  # A B B A A B ...: the pair shares the moment's load
                        for side in order if sl % 2 == 0 else order[::-1]:
                            got = workers[side].run(r["name"], a.round_ms / a.slices, a.warmup_ms if sl == 0 else 0)
                            add_slice(acc[side], got)
                    for side in "AB":
                        acc[side]["round"] = rnd
                        results[r["name"]][side].append(acc[side])
            finally:
                for w in workers.values():
                    w.close()
            print(f"  round {rnd + 1}/{a.rounds} done ({time.monotonic() - t0:.0f} s)", flush=True)
    finally:
        srv.stop()
        for s in shards:
            s.stop()
    mach["loadavg_end"] = machine().get("loadavg", "?")

    table = report(rows, results, a.threshold)
    out = {"machine": mach, "A": {"rev": sha_a, "tree": tree_a, "library": lib_a, "worker": infos.get("A")},
           "B": {"rev": label_b, "tree": REPO, "library": lib_b, "worker": infos.get("B")},
           "malloc_env": a.malloc_env, "slices": a.slices, "rounds": a.rounds, "round_ms": a.round_ms, "warmup_ms": a.warmup_ms, "cpu": a.cpu,
           "threshold_pct": a.threshold, "table": table, "raw": results,
           "elapsed_s": round(time.monotonic() - t0, 1), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
    print(f"\nload average at the end: {mach['loadavg_end']}; results: {os.path.relpath(a.json, REPO)}")
    return 1 if any(t.get("flag") for t in table) else 0


def report(rows: list[dict[str, Any]], results: dict[str, dict[str, list[dict[str, Any]]]],
           threshold: float) -> list[dict[str, Any]]:
    table: list[dict[str, Any]] = []
    print()
    head = (f"{'workload':<20} {'CPU µs/call: A':>14} {'B':>9} {'B/A':>6} {'paired: median (IQR)':>22}   "
            f"{'wall µs/call: A':>15} {'B':>9} {'B/A':>6}  {'faults/call A':>13} {'B':>6}  {'Go B/call A':>11} {'B':>8}  flag")
    print(head)
    print("-" * len(head))
    for r in rows:
        res = results[r["name"]]
        errs = [x["error"] for s in "AB" for x in res[s] if "error" in x]
        if errs or not res["A"] or not res["B"]:
            print(f"{r['name']:<20} ERROR: {errs[0] if errs else 'no result'}")
            table.append({"workload": r["name"], "error": errs[0] if errs else "no result"})
            continue
        metric = "cpu_us" if r["threads"] == 1 and r["pin"] else "proc_cpu_us"
        row: dict[str, Any] = {"workload": r["name"], "cpu_metric": "thread" if metric == "cpu_us" else "process"}
        for m in ("cpu_us", "proc_cpu_us", "wall_us", "faults", "go_alloc"):
            xa = [x[m] for x in res["A"] if m in x]
            xb = [x[m] for x in res["B"] if m in x]
            if len(xa) != len(res["A"]) or len(xb) != len(res["B"]) or any(x != x for x in xa + xb):
                continue
            ma, mb = statistics.median(xa), statistics.median(xb)
            paired = [b / a_ for a_, b in zip(xa, xb) if a_]
            q1, q3 = quartiles(paired)
            row[m] = {"A": round(ma, 3), "B": round(mb, 3), "ratio": round(mb / ma, 4) if ma else None,
                      "paired_median": round(statistics.median(paired), 4) if paired else None,
                      "paired_q1": round(q1, 4), "paired_q3": round(q3, 4),
                      "A_rounds": [round(x, 3) for x in xa], "B_rounds": [round(x, 3) for x in xb]}
        nan = {"A": float("nan"), "B": float("nan")}
        c, w, f, g = row[metric], row["wall_us"], row.get("faults", nan), row.get("go_alloc", nan)
        row["flag"] = c["paired_median"] > 1 + threshold / 100
        note = "" if metric == "cpu_us" else " (process CPU)"
        flag = f"SLOWER by {100 * (c['paired_median'] - 1):.1f}%" if row["flag"] else ""
        print(f"{r['name']:<20} {c['A']:>14.2f} {c['B']:>9.2f} {c['ratio']:>6.3f} "
              f"{format(c['paired_median'], '.3f') + ' (' + format(c['paired_q1'], '.3f') + '-' + format(c['paired_q3'], '.3f') + ')':>22}   "
              f"{w['A']:>15.2f} {w['B']:>9.2f} {w['ratio']:>6.3f}  {f['A']:>13.2f} {f['B']:>6.2f}  {g['A']:>11,.0f} {g['B']:>8,.0f}  {flag}{note}")
        table.append(row)
    print()
    print("CPU µs/call: the calling thread's CPU time per call (time.thread_time), median over rounds; for the "
          "threaded and 3-server rows the whole process's CPU (time.process_time). B/A > 1 = B costs more "
          "(ratio of the medians). paired: median and quartiles of the per-round ratios B/A, A and B measured in "
          "alternating slices of the same round; a row is flagged when that median is above the threshold. "
          "faults/call: minor page faults of the process per call. Go B/call: bytes the Go runtime allocated per call "
          "(MemStats.TotalAlloc). The control row runs identical code on both sides.")
    return table


if __name__ == "__main__":
    sys.exit(main())

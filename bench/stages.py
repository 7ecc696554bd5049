#!/usr/bin/env python3
"""Where the time goes: µs per stage of one get hit, one set, get_many 100 and set_many 100.

`make profile` (or `.venv/bin/python bench/stages.py`) prints a markdown table that goes into
bench/README.md ("Where the time goes"), then the evidence behind it: a cProfile of the Python
side, a Go pprof CPU profile of the export bodies (through the test-only export
rcg_debug_repeat), context switches per call (the Go scheduler hand-off), and a
GODEBUG=schedtrace=1000 sample from a child process. Client and redis-server are pinned to one
CPU, as in the bench's single-thread rows.

Each stage is timed on its own, in a loop, as the median of several repeats:
- end to end: the Django API call (cache.get / set / get_many / set_many)
- key making: cache._key() = Django's make_and_validate_key + UTF-8 encode (x100 for the batches)
- encode / decode: cache._encode() (pickle; raw ints) and cache._decode() (unpickle)
- frame: encode_frame / decode_frame of the batch calls (Python side of the C boundary)
- ctypes: the same argtypes, calling a C no-op (libc labs) instead of Go: argument conversion
- cgo crossing: rcg_get / rcg_set / rcg_get_many on handle 0 (refused at once inside Go) minus ctypes
- Go export body: rcg_debug_repeat runs the real export (rcgx_get, ...) N times inside Go, no
  crossing per call; includes the network round trip
- wire: the same command over loopback from C (redis-benchmark -c 1 -P 1, µs = 1e6/rps) and from a
  bare Python socket loop; "Go besides the wire" = Go export body - the C round trip
- the rest: end to end - everything above (Python glue in _native: scratch buffer, string_at copy,
  result list/dict building, BaseCache defaults)

Options: --json PATH (default bench/profile.json), --quick, --no-pprof, --no-schedtrace, --cpu N.
"""
from __future__ import annotations

import argparse
import cProfile
import ctypes
import io
import itertools
import json
import os
import pstats
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (HERE, os.path.join(REPO, "python"), os.path.join(REPO, "tests", "harness")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from redisproc import RedisServer  # noqa: E402

import floor  # noqa: E402

pc = time.perf_counter_ns
SMALL = bytes(range(100))
TTL_MS = 300_000  # the default timeout, as the backend passes it
REPEAT_NOOP, REPEAT_GET, REPEAT_SET, REPEAT_GET_MANY, REPEAT_SET_MANY = range(5)
OPS = ("get", "set", "get_many", "set_many")
HEAD = {"get": "get hit", "set": "set", "get_many": "get_many 100", "set_many": "set_many 100"}


# ------------------------------------------------------------------------------------------
# timing

def per_call_us(fn: Callable[[], Any], target_ms: float, repeats: int) -> float:
    """The fastest of `repeats` loops of about target_ms each, in mean µs per call.

    The minimum, as timeit reports it: on a shared machine a slower loop was interrupted by other
    work, and every stage is timed the same way, so the stages add up (roughly) to the whole."""
    n, t0 = 1, pc()
    fn()
    one = max(pc() - t0, 200)
    n = max(3, int(target_ms * 1e6 / one))
    rep = itertools.repeat
    out = []
    for _ in range(repeats):
        t = pc()
        for _ in rep(None, n):
            fn()
        out.append((pc() - t) / n / 1000)
    return min(out)


def affinity(pid: int | str, cpus: set[int]) -> None:
    """Every thread of a process (sched_setaffinity acts on one thread)."""
    for _ in range(3):
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                os.sched_setaffinity(int(t), cpus)
            except ProcessLookupError:
                pass


def ctx_switches(pid: int | str) -> int:
    """Voluntary + involuntary context switches summed over every thread of a process."""
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/status") as f:
                for line in f:
                    if "ctxt_switches" in line:
                        total += int(line.split(":")[1])
        except OSError:
            pass
    return total


# ------------------------------------------------------------------------------------------
# set-up

def open_cache(srv: RedisServer) -> Any:
    import django
    from django.conf import settings

    settings.configure(CACHES={
        "default": {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": srv.location,
                    "OPTIONS": {"DB": 0}, "KEY_PREFIX": "pf"}},
        USE_TZ=True, INSTALLED_APPS=[], LOGGING_CONFIG=None)
    django.setup()
    from django.core.cache import cache
    cache.set("profile:ping", b"pong")
    assert cache.get("profile:ping") == b"pong", "set/get did not round-trip"
    return cache


def private_library() -> str | None:
    """Load the .so from a private copy (a concurrent `make build` must not rewrite it under us)."""
    if os.environ.get("RCG_LIBRARY"):
        return None
    from redis_cache_go import _native
    src = _native.library_path()
    tmp = tempfile.mkdtemp(prefix="rcg-profile-lib-")
    shutil.copy2(src, os.path.join(tmp, os.path.basename(src)))
    os.environ["RCG_LIBRARY"] = os.path.join(tmp, os.path.basename(src))
    return tmp


class Native:
    """ctypes handles for the stages below the backend."""

    def __init__(self, cache: Any) -> None:
        from redis_cache_go import _native
        self.n = _native
        self.lib = _native.library()
        self.client = cache._client
        self.h = self.client._handle or self.client._open()
        self.s = _native._scratch
        fn = self.lib.rcg_debug_repeat
        fn.argtypes = [ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
                       ctypes.c_int64, ctypes.c_int64, ctypes.c_char_p, ctypes.c_size_t]
        fn.restype = ctypes.c_int
        self.repeat_fn = fn
        # a C no-op with each export's argtypes: libc labs() ignores the extra registers
        labs = ctypes.cast(ctypes.CDLL(None).labs, ctypes.c_void_p).value
        assert labs is not None
        self.noop: dict[str, Any] = {}
        for name in ("rcg_get", "rcg_set", "rcg_get_many", "rcg_set_many"):
            self.noop[name] = ctypes.CFUNCTYPE(ctypes.c_int, *_native._SIGNATURES[name])(labs)

    def repeat(self, op: int, items: list[bytes], count: int, profile: str = "") -> float:
        """µs per call of the export body inside Go."""
        fr = self.n.encode_frame(items)
        p = profile.encode()
        st = self.repeat_fn(self.h, self.s.ptr, op, fr, len(fr), TTL_MS, count, p, len(p))
        if st != 0:
            raise RuntimeError(f"rcg_debug_repeat status {st}: {self.n._take(self.lib, self.s)!r}")
        return int(self.s.out.num) / count / 1000


# ------------------------------------------------------------------------------------------
# the wire, without any client library

def wire_python_us(srv: RedisServer, cmd: bytes, reply_len: int, target_ms: float, repeats: int) -> float:
    with socket.create_connection((srv.host, srv.port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sendall, recv = s.sendall, s.recv

        def op() -> None:
            sendall(cmd)
            n = 0
            while n < reply_len:
                n += len(recv(1 << 20))
        op()
        return per_call_us(op, target_ms, repeats)


def wire_c_us(srv: RedisServer, cpu: int | None, args: list[str], n: int, keys: int = 1) -> float | None:
    """µs per command from redis-benchmark -c 1 -P 1 (the fastest of 5 runs), or None without it."""
    if floor.redis_benchmark_available():
        return None
    got = [floor.redis_benchmark(srv.port, cpu, args, n, keys)["rps"] for _ in range(5)]
    return 1e6 / max(got)


# ------------------------------------------------------------------------------------------

def measure(cache: Any, nat: Native, srv: RedisServer, cpu: int | None, ms: float, reps: int) -> dict[str, dict[str, Any]]:
    from django.core.cache.backends.base import DEFAULT_TIMEOUT
    n = nat.n
    t: dict[str, dict[str, Any]] = {op: {} for op in OPS}

    # -- get hit
    key = "hit:7"
    cache.set(key, SMALL)
    kb = cache._key(key, None)
    data = nat.client.get(kb)
    assert data is not None
    g = t["get"]
    g["end to end"] = per_call_us(lambda: cache.get(key), ms, reps)
    g["key making (make_and_validate_key + encode)"] = per_call_us(lambda: cache._key(key, None), ms, reps)
    g["decode (unpickle)"] = per_call_us(lambda: cache._decode(data, kb), ms, reps)
    s = nat.s
    noop = nat.noop["rcg_get"]
    g["ctypes argument conversion + C call (no-op)"] = per_call_us(lambda: noop(0, s.ptr, kb, len(kb)), ms, reps)
    rg = nat.lib.rcg_get
    g["_cross"] = per_call_us(lambda: rg(0, s.ptr, kb, len(kb)), ms, reps)
    g["Go export body (rcgx_get, inside Go)"] = min(
        nat.repeat(REPEAT_GET, [kb], max(200, int(ms * 40))) for _ in range(reps))
    get_cmd = floor.resp(b"GET", kb)
    g["wire, bare Python socket"] = wire_python_us(srv, get_cmd, len(b"$%d\r\n" % len(data)) + len(data) + 2, ms, reps)
    g["wire, C (redis-benchmark -c1 -P1)"] = wire_c_us(srv, cpu, ["GET", kb.decode()], int(ms * 60))

    # -- set
    enc = cache._encode(SMALL)
    st = t["set"]
    st["end to end"] = per_call_us(lambda: cache.set(key, SMALL), ms, reps)
    st["key making (make_and_validate_key + encode)"] = g["key making (make_and_validate_key + encode)"]
    st["encode (pickle)"] = per_call_us(lambda: cache._encode(SMALL), ms, reps)
    st["timeout arithmetic (_ttl_ms)"] = per_call_us(lambda: cache._ttl_ms(DEFAULT_TIMEOUT), ms, reps)
    noop_s = nat.noop["rcg_set"]
    st["ctypes argument conversion + C call (no-op)"] = per_call_us(
        lambda: noop_s(0, s.ptr, kb, len(kb), enc, len(enc), TTL_MS, 0), ms, reps)
    rs = nat.lib.rcg_set
    st["_cross"] = per_call_us(lambda: rs(0, s.ptr, kb, len(kb), enc, len(enc), TTL_MS, 0), ms, reps)
    st["Go export body (rcgx_set, inside Go)"] = min(
        nat.repeat(REPEAT_SET, [kb, enc], max(200, int(ms * 40))) for _ in range(reps))
    set_cmd = floor.resp(b"SET", kb, enc, b"EX", b"300")
    st["wire, bare Python socket"] = wire_python_us(srv, set_cmd, 5, ms, reps)
    st["wire, C (redis-benchmark -c1 -P1)"] = wire_c_us(  # another key: the get rows read kb
        srv, cpu, ["SET", kb.decode() + "w", "v" * len(enc), "EX", "300"], int(ms * 60))

    # -- get_many 100
    keys = [f"gm:{i}" for i in range(100)]
    cache.set_many({k: SMALL for k in keys})
    made = [cache._key(k, None) for k in keys]
    fr = n.encode_frame(made)
    res = nat.client.get_many(made)
    st_, big = nat.lib.rcg_get_many(nat.h, s.ptr, fr, len(fr)), None
    raw = n._take(nat.lib, s)
    gm = t["get_many"]
    gm["end to end"] = per_call_us(lambda: cache.get_many(keys), ms, reps)
    gm["key making (make_and_validate_key + encode)"] = per_call_us(
        lambda: {cache._key(k, None): k for k in keys}, ms, reps)
    gm["frame encode + decode (Python)"] = (per_call_us(lambda: n.encode_frame(made), ms, reps)
                                            + per_call_us(lambda: n.decode_frame(raw), ms, reps))

    def dec_all() -> None:
        for k, d in zip(made, res):
            cache._decode(d, k)
    gm["decode (unpickle)"] = per_call_us(dec_all, ms, reps)
    noop_gm = nat.noop["rcg_get_many"]
    gm["ctypes argument conversion + C call (no-op)"] = per_call_us(lambda: noop_gm(0, s.ptr, fr, len(fr)), ms, reps)
    rgm = nat.lib.rcg_get_many
    gm["_cross"] = per_call_us(lambda: rgm(0, s.ptr, fr, len(fr)), ms, reps)
    gm["Go export body (rcgx_get_many, inside Go)"] = min(
        nat.repeat(REPEAT_GET_MANY, made, max(50, int(ms * 4))) for _ in range(reps))
    mget = floor.resp(b"MGET", *made)
    reply = len(b"*100\r\n") + sum(len(b"$%d\r\n" % len(d)) + len(d) + 2 for d in res if d is not None)
    gm["wire, bare Python socket"] = wire_python_us(srv, mget, reply, ms, reps)
    gm["wire, C (redis-benchmark -c1 -P1)"] = wire_c_us(srv, cpu, ["MGET", *[m.decode() for m in made]], int(ms * 10))

    # -- set_many 100
    data_many = {k: SMALL for k in keys}
    pairs: list[bytes] = []
    for k in keys:
        pairs += [cache._key(k, None), cache._encode(SMALL)]
    frs = n.encode_frame(pairs)
    sm = t["set_many"]
    sm["end to end"] = per_call_us(lambda: cache.set_many(data_many), ms, reps)
    sm["key making (make_and_validate_key + encode)"] = per_call_us(lambda: [cache._key(k, None) for k in keys], ms, reps)
    sm["encode (pickle)"] = per_call_us(lambda: [cache._encode(v) for v in data_many.values()], ms, reps)
    sm["frame encode + decode (Python)"] = per_call_us(lambda: n.encode_frame(pairs), ms, reps)
    noop_sm = nat.noop["rcg_set_many"]
    sm["ctypes argument conversion + C call (no-op)"] = per_call_us(lambda: noop_sm(0, s.ptr, frs, len(frs), TTL_MS), ms, reps)
    rsm = nat.lib.rcg_set_many
    sm["_cross"] = per_call_us(lambda: rsm(0, s.ptr, frs, len(frs), TTL_MS), ms, reps)
    sm["Go export body (rcgx_set_many, inside Go)"] = min(
        nat.repeat(REPEAT_SET_MANY, pairs, max(50, int(ms * 4))) for _ in range(reps))
    pipe = b"".join(floor.resp(b"SET", pairs[i], pairs[i + 1], b"EX", b"300") for i in range(0, 200, 2))
    sm["wire, bare Python socket"] = wire_python_us(srv, pipe, 500, ms, reps)
    sm["wire, C (redis-benchmark -c1 -P1)"] = None  # redis-benchmark cannot send a 100-command pipeline of distinct keys

    # derived rows
    for op, d in t.items():
        d["cgo crossing into Go and back (handle refused at once)"] = max(0.0, d.pop("_cross") - d["ctypes argument conversion + C call (no-op)"])
        body = next(v for k, v in d.items() if k.startswith("Go export body"))
        wire = d["wire, C (redis-benchmark -c1 -P1)"] or d["wire, bare Python socket"]
        d["Go besides the wire (body - C wire)"] = body - wire
        parts = [v for k, v in d.items() if v is not None and k not in ("end to end",) and not k.startswith("wire")
                 and not k.startswith("Go besides")]
        d["the rest (Python glue: _native wrapper, result copy, dict/list building)"] = d["end to end"] - sum(parts)
    return t


ROWS = [
    "end to end",
    "key making (make_and_validate_key + encode)",
    "encode (pickle)",
    "timeout arithmetic (_ttl_ms)",
    "frame encode + decode (Python)",
    "ctypes argument conversion + C call (no-op)",
    "cgo crossing into Go and back (handle refused at once)",
    "Go export body",
    "  of which wire, C (redis-benchmark -c1 -P1)",
    "  of which Go besides the wire (body - C wire)",
    "decode (unpickle)",
    "the rest (Python glue: _native wrapper, result copy, dict/list building)",
    "wire, bare Python socket (for reference: the floor)",
]


def _cell(d: dict[str, Any], row: str) -> float | None:
    if row == "Go export body":
        return next((v for k, v in d.items() if k.startswith("Go export body")), None)
    if row.startswith("  of which "):
        row = row.removeprefix("  of which ")
    if row.startswith("wire, bare Python socket"):
        row = "wire, bare Python socket"
    return d.get(row)


def table(t: dict[str, dict[str, Any]]) -> str:
    lines = ["| stage (µs per call) | " + " | ".join(HEAD[o] for o in OPS) + " |",
             "| --- | " + " | ".join("---:" for _ in OPS) + " |"]
    for row in ROWS:
        cells = []
        for op in OPS:
            v = _cell(t[op], row)
            cells.append("–" if v is None else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}")
        name = row if not row.startswith("  ") else "&nbsp;&nbsp;" + row.strip()
        if row == "end to end":
            name = "**end to end** (Django API call)"
            cells = [f"**{c}**" for c in cells]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# evidence: cProfile, pprof, context switches, schedtrace

def cprofile_top(cache: Any, n: int = 12) -> str:
    keys = [f"gm:{i}" for i in range(100)]
    pr = cProfile.Profile()
    pr.enable()
    for i in range(20000):
        cache.get("hit:7")
    for i in range(300):
        cache.get_many(keys)
    pr.disable()
    buf = io.StringIO()
    pstats.Stats(pr, stream=buf).sort_stats("tottime").print_stats(n)
    text = buf.getvalue()
    start = text.find("   ncalls")
    return text[start:].rstrip() if start >= 0 else text


def pprof_top(nat: Native, cache: Any, lines: int = 14) -> str:
    go = shutil.which("go")
    if go is None:
        return "(go not found: no pprof)"
    out = []
    kb = cache._key("hit:7", None)
    made = [cache._key(f"gm:{i}", None) for i in range(100)]
    with tempfile.TemporaryDirectory(prefix="rcg-pprof-") as d:
        for name, op, items, count in (("get hit", REPEAT_GET, [kb], 60000), ("get_many 100", REPEAT_GET_MANY, made, 6000)):
            path = os.path.join(d, f"{op}.pprof")
            us = nat.repeat(op, items, count, profile=path)
            r = subprocess.run([go, "tool", "pprof", "-top", "-nodecount", str(lines), path],
                               capture_output=True, text=True, timeout=120)
            body = r.stdout if r.returncode == 0 else r.stderr
            keep = [ln for ln in body.splitlines() if ln.strip() and not ln.startswith(("File:", "Type:", "Time:", "Build ID"))]
            out.append(f"--- Go pprof, {name}: {count} calls of the export inside Go, {us:.1f} µs each\n" + "\n".join(keep))
    return "\n".join(out)


def switches_per_call(cache: Any, srv: RedisServer, calls: int = 20000) -> dict[str, float]:
    me = os.getpid()
    a, b = ctx_switches(me), ctx_switches(srv.proc.pid) if srv.proc else 0
    for _ in range(calls):
        cache.get("hit:7")
    return {"client": (ctx_switches(me) - a) / calls,
            "redis-server": ((ctx_switches(srv.proc.pid) if srv.proc else 0) - b) / calls,
            "client threads": len(os.listdir(f"/proc/{me}/task"))}


def schedtrace(srv: RedisServer, cpu: int | None) -> str:
    """Run gets for ~2.5 s in a child with GODEBUG=schedtrace=1000; return its SCHED lines."""
    env = {**os.environ, "GODEBUG": "schedtrace=1000"}
    cmd = [sys.executable, os.path.abspath(__file__), "--child-schedtrace", srv.location]
    if cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(cpu), *cmd]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("SCHED")]
    return "\n".join(lines) + f"\n(child: {r.stdout.strip()})" if lines else f"(no SCHED lines; rc {r.returncode}: {r.stderr[-300:]})"


def child_schedtrace(location: str) -> None:
    import django
    from django.conf import settings
    settings.configure(CACHES={"default": {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": location,
                                           "OPTIONS": {"DB": 0}, "KEY_PREFIX": "pf"}},
                       USE_TZ=True, INSTALLED_APPS=[], LOGGING_CONFIG=None)
    django.setup()
    from django.core.cache import cache
    cache.set("hit:7", SMALL)
    n, end = 0, time.monotonic() + 2.6
    while time.monotonic() < end:
        for _ in range(200):
            cache.get("hit:7")
        n += 200
    print(f"{n} gets in 2.6 s, pinned with taskset")


# ------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--child-schedtrace":
        child_schedtrace(sys.argv[2])
        return 0
    p = argparse.ArgumentParser(description="µs per stage of our hot path (see the module docstring)")
    p.add_argument("--json", default=os.path.join(HERE, "profile.json"))
    p.add_argument("--quick", action="store_true", help="short loops: checks that it runs")
    p.add_argument("--no-pprof", action="store_true")
    p.add_argument("--no-schedtrace", action="store_true")
    p.add_argument("--cpu", type=int, help="CPU to pin client and server to (default 1, or the last allowed)")
    a = p.parse_args(argv)
    allowed = os.sched_getaffinity(0)
    cpu = a.cpu if a.cpu is not None else (1 if 1 in allowed else max(allowed))
    ms, reps = (10.0, 3) if a.quick else (25.0, 15)

    tmp = private_library()
    srv = RedisServer(cpu=cpu).start()
    try:
        cache = open_cache(srv)
        nat = Native(cache)  # loads the library, starts Go (before pinning, as the bench does)
        from redis_cache_go import _native
        version = _native.version()
        affinity("self", {cpu})
        if srv.proc:
            affinity(srv.proc.pid, {cpu})
        git = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        print(f"where the time goes — git {git}, library {version}; client and redis-server pinned to CPU {cpu}; "
              f"each stage: the fastest of {reps} loops of ~{ms:g} ms; shared machine: compare columns of one run\n")
        t = measure(cache, nat, srv, cpu, ms, reps)
        print(table(t))
        sw = switches_per_call(cache, srv, 3000 if a.quick else 20000)
        print(f"\ncontext switches per get (all threads, /proc): client {sw['client']:.2f}, "
              f"redis-server {sw['redis-server']:.2f}; client threads: {sw['client threads']}")
        print("\n--- cProfile (Python side; 20,000 get + 300 get_many 100), by own time")
        print(cprofile_top(cache))
        pp = "" if a.no_pprof else pprof_top(nat, cache)
        if pp:
            print("\n" + pp)
        sched = "" if a.no_schedtrace else schedtrace(srv, cpu)
        if sched:
            print("\n--- GODEBUG=schedtrace=1000, a child doing gets (pinned to the same CPU)\n" + sched)
        out = {"git": git, "library": version, "cpu": cpu, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "us_per_call": t, "context_switches_per_get": sw, "schedtrace": sched, "pprof": pp}
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
        print(f"\nresults: {os.path.relpath(a.json)}")
    finally:
        srv.stop()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

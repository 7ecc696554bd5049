#!/usr/bin/env python3
"""Where the time goes: µs per stage of one get hit, one set, get_many 100 and set_many 100.

`make profile` (or `make build-debug` and `.venv/bin/python bench/stages.py`) prints a markdown table that goes into
bench/README.md ("Where the time goes"), then the evidence behind it: a cProfile of the Python
side, a Go pprof CPU profile of the export bodies (through the test-only export
rcg_debug_repeat, which only the library built with -tags rcgdebug has: `make build-debug`),
context switches per call (the Go scheduler hand-off), and a
GODEBUG=schedtrace=1000 sample from a child process. Client and redis-server are pinned to one
CPU, as in the bench's single-thread rows.

Each stage is timed on its own, in a loop of about 3 ms; every stage runs once per round (60
rounds), the starting stage rotates, and the table shows the fastest round of each stage (the
medians go to the JSON file). On a shared machine a slower loop was interrupted by other work; the
fastest is the estimate of the cost itself, as timeit reports it. Stages that never wait (key
making, pickling, frames, the ctypes and cgo calls) are timed in thread CPU time, so that other
processes on the shared CPU do not count; the end-to-end call, the Go body and the wire are wall
time.
The stages:
- end to end: the Django API call (cache.get / set / get_many / set_many)
- key making: cache._key() = Django's make_and_validate_key + UTF-8 encode (x100 for the batches)
- encode / decode: cache._encode() (pickle; raw ints) and cache._decode() (unpickle)
- frame: encode_frame / decode_frame of the batch calls (Python side of the C boundary)
- ctypes: the same argtypes, calling a C no-op (libc labs) instead of Go: argument conversion
- cgo crossing: rcg_get / rcg_set / rcg_get_many on handle 0 (refused at once inside Go) minus ctypes
- Go export body: rcg_debug_repeat runs the real export (rcgx_get, ...) N times inside Go, no
  crossing per call; includes the network round trip
- cgo re-entry: rcg_debug_repeat with a count of 1, called once per operation from Python, minus
  the in-Go loop's time per call, the ctypes and the crossing rows: what entering Go again after
  a blocking call costs (the runtime may have handed the P to another thread meanwhile)
- wire from Go: the same command's bare round trip timed inside Go (rcg_debug_repeat, a connection
  of its own): through net.Conn (Go's netpoller, as go-redis does) and through blocking
  read/write syscalls on the calling thread. Their difference is the netpoller/scheduler
  hand-off; Go export body - the net.Conn wire is go-redis' and our own Go work
- wire, for reference: from C (redis-benchmark -c 1 -P 1, µs = 1e6/rps) and from a bare Python
  socket loop (the bench's floor)
- the rest: end to end - everything above (Python glue in _native: scratch buffer, string_at copy,
  result list/dict building, BaseCache defaults)

Options: --json PATH (default bench/profile.json), --quick, --rounds N, --no-pprof, --no-schedtrace,
--cpu N.
"""
from __future__ import annotations

import argparse
import cProfile
import ctypes
import io
import itertools
import json
import os
import pickle
import pstats
import re
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
REPEAT_NOOP, REPEAT_GET, REPEAT_SET, REPEAT_GET_MANY, REPEAT_SET_MANY, REPEAT_NETCONN, REPEAT_SYSCALL = range(7)
OPS = ("get", "set", "get_many", "set_many")
HEAD = {"get": "get hit", "set": "set", "get_many": "get_many 100", "set_many": "set_many 100"}


# ------------------------------------------------------------------------------------------
# timing: every stage is a loop of about `ms`; all stages run once per round, rounds rotate

Loop = Callable[[], float]  # runs one loop, returns mean µs per call


def py_loop(fn: Callable[[], Any], ms: float, cpu: bool = False) -> Loop:
    """A loop of fn() sized to about ms (calibrated once, here).

    cpu=True times the loop in this thread's CPU time (CLOCK_THREAD_CPUTIME_ID) instead of wall
    time: for stages that never wait (key making, pickling, the ctypes and cgo calls), so that time
    the scheduler gave to other processes on the shared CPU is not counted."""
    clock = time.thread_time_ns if cpu else pc
    fn()
    t0 = pc()
    for _ in range(3):
        fn()
    one = max((pc() - t0) / 3, 100)
    n = max(3, int(ms * 1e6 / one))
    rep = itertools.repeat

    def loop() -> float:
        t = clock()
        for _ in rep(None, n):
            fn()
        return (clock() - t) / n / 1000
    return loop


def run_rounds(plan: list[tuple[str, str, Loop]], rounds: int) -> dict[tuple[str, str], list[float]]:
    """Every loop once per round; the starting stage rotates each round (drift hits all alike)."""
    got: dict[tuple[str, str], list[float]] = {(op, st): [] for op, st, _ in plan}
    for r in range(rounds):
        k = (r * 7) % len(plan)
        for op, st, loop in plan[k:] + plan[:k]:
            got[(op, st)].append(loop())
    return got


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
    from django.core.cache import caches
    cache = caches["default"]  # the backend itself: `django.core.cache.cache` is a proxy that costs
    #                            ~1 µs per attribute access, which would be charged to every stage
    cache.set("profile:ping", b"pong")
    assert cache.get("profile:ping") == b"pong", "set/get did not round-trip"
    return cache


def private_library() -> str | None:
    """Load the .so from a private copy (a concurrent `make build` must not rewrite it under us) of
    the library built with -tags rcgdebug, whose rcg_debug_repeat times the Go stages: `make
    build-debug` (`make profile` runs it) writes it to $RCG_DEBUG_LIBRARY, by default
    build/debug/. An RCG_LIBRARY already set is used as it is (it must be such a build)."""
    if os.environ.get("RCG_LIBRARY"):
        return None
    src = os.environ.get("RCG_DEBUG_LIBRARY") or os.path.join(REPO, "build", "debug", "libredis_cache_go.so")
    if not os.path.exists(src):
        raise SystemExit(f"{src} not found: run `make build-debug` (`make profile` does)")
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
        if not _native.has_debug_exports(self.lib):
            raise SystemExit(f"{_native.library_path()} has no rcg_debug_repeat: load the library built "
                             "with -tags rcgdebug (`make build-debug`)")
        self.repeat_fn = self.lib.rcg_debug_repeat  # its argtypes: _native._DEBUG_SIGNATURES
        # a C no-op with each export's argtypes: libc labs() ignores the extra registers
        labs = ctypes.cast(ctypes.CDLL(None).labs, ctypes.c_void_p).value
        assert labs is not None
        self.noop: dict[str, Any] = {}
        for name in ("rcg_get", "rcg_set", "rcg_get_many", "rcg_set_many"):
            restype, argtypes = _native._SIGNATURES[name]
            self.noop[name] = ctypes.CFUNCTYPE(restype, *argtypes)(labs)

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

# ------------------------------------------------------------------------------------------

def measure(cache: Any, nat: Native, srv: RedisServer, cpu: int | None, ms: float,
            rounds: int) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(fastest round per stage, median round per stage), µs per call, per operation."""
    from django.core.cache.backends.base import DEFAULT_TIMEOUT
    n = nat.n
    s = nat.s
    plan: list[tuple[str, str, Loop]] = []
    socks: list[socket.socket] = []

    wall = ("end to end", "wire, bare Python socket", "_body_percall")

    def add(op: str, stage: str, fn: Callable[[], Any]) -> None:
        plan.append((op, stage, py_loop(fn, ms, cpu=stage not in wall)))

    def add_go(op: str, stage: str, code: int, items: list[bytes]) -> None:
        one = nat.repeat(code, items, 20)
        count = max(20, int(ms * 1000 / max(one, 1.0)))
        plan.append((op, stage, lambda: nat.repeat(code, items, count)))
        if stage.startswith("Go export body"):
            # the same export, one ctypes/cgo call per operation (count 1): what the loop inside
            # Go does not pay is re-entering Go after each blocking call
            fr = n.encode_frame(items)
            fn, h, ptr = nat.repeat_fn, nat.h, s.ptr
            add(op, "_body_percall", lambda: fn(h, ptr, code, fr, len(fr), TTL_MS, 1, None, 0))

    def add_wire(op: str, cmd: bytes, reply_len: int) -> None:
        sock = socket.create_connection((srv.host, srv.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(sock)
        sendall, recv = sock.sendall, sock.recv

        def one() -> None:
            sendall(cmd)
            got = 0
            while got < reply_len:
                got += len(recv(1 << 20))
        add(op, "wire, bare Python socket", one)
        frame = [srv.location.encode(), cmd, b"%d" % reply_len]
        add_go(op, "_wire_netconn", REPEAT_NETCONN, frame)
        add_go(op, "_wire_syscall", REPEAT_SYSCALL, frame)

    # -- get hit
    key = "hit:7"
    cache.set(key, SMALL)
    kb = cache._key(key, None)
    data = nat.client.get(kb)
    assert data is not None
    add("get", "end to end", lambda: cache.get(key))
    add("get", "key making (make_and_validate_key + encode)", lambda: cache._key(key, None))
    add("get", "decode (unpickle)", lambda: cache._decode(data, kb))
    noop_g, rg = nat.noop["rcg_get"], nat.lib.rcg_get
    add("get", "ctypes argument conversion + C call (no-op)", lambda: noop_g(0, s.ptr, kb, len(kb)))
    add("get", "_cross", lambda: rg(0, s.ptr, kb, len(kb)))
    add_go("get", "Go export body (rcgx_get, inside Go)", REPEAT_GET, [kb])
    add_wire("get", floor.resp(b"GET", kb), len(b"$%d\r\n" % len(data)) + len(data) + 2)

    # -- set
    enc = cache._encode(SMALL)
    add("set", "end to end", lambda: cache.set(key, SMALL))
    add("set", "key making (make_and_validate_key + encode)", lambda: cache._key(key, None))
    add("set", "encode (pickle)", lambda: cache._encode(SMALL))
    add("set", "timeout arithmetic (_ttl_ms)", lambda: cache._ttl_ms(DEFAULT_TIMEOUT))
    noop_s, rs = nat.noop["rcg_set"], nat.lib.rcg_set
    add("set", "ctypes argument conversion + C call (no-op)", lambda: noop_s(0, s.ptr, kb, len(kb), enc, len(enc), TTL_MS, 0))
    add("set", "_cross", lambda: rs(0, s.ptr, kb, len(kb), enc, len(enc), TTL_MS, 0))
    add_go("set", "Go export body (rcgx_set, inside Go)", REPEAT_SET, [kb, enc])
    add_wire("set", floor.resp(b"SET", kb, enc, b"EX", b"300"), 5)

    # -- get_many 100
    keys = [f"gm:{i}" for i in range(100)]
    cache.set_many({k: SMALL for k in keys})
    made = [cache._key(k, None) for k in keys]
    fr = n.encode_frame(made)
    res = nat.client.get_many(made)
    assert all(d is not None for d in res)
    nat.lib.rcg_get_many(nat.h, s.ptr, fr, len(fr))
    raw = n._take(nat.lib, s)
    add("get_many", "end to end", lambda: cache.get_many(keys))
    add("get_many", "key making (make_and_validate_key + encode)", lambda: {cache._key(k, None): k for k in keys})
    add("get_many", "_frame_enc", lambda: n.encode_frame(made))
    add("get_many", "_frame_dec", lambda: n.decode_frame(raw))

    def dec_all() -> None:
        for k, d in zip(made, res):
            cache._decode(d, k)
    add("get_many", "decode (unpickle)", dec_all)
    noop_gm, rgm = nat.noop["rcg_get_many"], nat.lib.rcg_get_many
    add("get_many", "ctypes argument conversion + C call (no-op)", lambda: noop_gm(0, s.ptr, fr, len(fr)))
    add("get_many", "_cross", lambda: rgm(0, s.ptr, fr, len(fr)))
    add_go("get_many", "Go export body (rcgx_get_many, inside Go)", REPEAT_GET_MANY, made)
    add_wire("get_many", floor.resp(b"MGET", *made),
             len(b"*100\r\n") + sum(len(b"$%d\r\n" % len(d)) + len(d) + 2 for d in res if d is not None))

    # -- set_many 100
    data_many = {k: SMALL for k in keys}
    pairs: list[bytes] = []
    for k in keys:
        pairs += [cache._key(k, None), cache._encode(SMALL)]
    frs = n.encode_frame(pairs)
    add("set_many", "end to end", lambda: cache.set_many(data_many))
    add("set_many", "key making (make_and_validate_key + encode)", lambda: [cache._key(k, None) for k in keys])
    add("set_many", "encode (pickle)", lambda: [cache._encode(v) for v in data_many.values()])
    add("set_many", "frame encode + decode (Python)", lambda: n.encode_frame(pairs))
    noop_sm, rsm = nat.noop["rcg_set_many"], nat.lib.rcg_set_many
    add("set_many", "ctypes argument conversion + C call (no-op)", lambda: noop_sm(0, s.ptr, frs, len(frs), TTL_MS))
    add("set_many", "_cross", lambda: rsm(0, s.ptr, frs, len(frs), TTL_MS))
    add_go("set_many", "Go export body (rcgx_set_many, inside Go)", REPEAT_SET_MANY, pairs)
    add_wire("set_many", b"".join(floor.resp(b"SET", pairs[i], pairs[i + 1], b"EX", b"300") for i in range(0, 200, 2)), 500)

    # redis-benchmark in the same rounds: one process per round, ~4x the loop length of requests
    if not floor.redis_benchmark_available():
        for op, args, per_ms in (("get", ["GET", kb.decode()], 80), ("set", ["SET", kb.decode() + "w", "v" * len(enc), "EX", "300"], 80),
                                 ("get_many", ["MGET", *[m.decode() for m in made]], 15)):
            def rb(args: list[str] = args, count: int = max(3000 if op != "get_many" else 600, int(ms * per_ms))) -> float:
                return 1e6 / floor.redis_benchmark(srv.port, cpu, args, count, 1)["rps"]
            plan.append((op, "_wire_c", rb))
    try:
        got = run_rounds(plan, rounds)
    finally:
        for sock in socks:
            sock.close()

    wire_c: dict[str, float | None] = {op: None for op in OPS}  # set_many: redis-benchmark cannot
    #                                        pipeline 100 distinct SETs as one request
    for op, st in got:
        if st == "_wire_c":
            wire_c[op] = min(got[(op, st)])
    got = {k: v for k, v in got.items() if k[1] != "_wire_c"}

    def table_of(pick: Callable[[list[float]], float]) -> dict[str, dict[str, Any]]:
        t: dict[str, dict[str, Any]] = {op: {} for op in OPS}
        for (op, st), vals in got.items():
            t[op][st] = pick(vals)
        for op, d in t.items():
            if "_frame_enc" in d:
                d["frame encode + decode (Python)"] = d.pop("_frame_enc") + d.pop("_frame_dec")
            d["wire, C (redis-benchmark -c1 -P1)"] = wire_c[op]
            noop = d["ctypes argument conversion + C call (no-op)"]
            d["cgo crossing into Go and back (handle refused at once)"] = d.pop("_cross") - noop
            body = next(v for k, v in d.items() if k.startswith("Go export body"))
            d["cgo re-entry after a blocking call (export per call - in-Go loop - ctypes - crossing)"] = (
                d.pop("_body_percall") - body - noop - d["cgo crossing into Go and back (handle refused at once)"])
            netconn, sysc = d.pop("_wire_netconn"), d.pop("_wire_syscall")
            d["wire from Go, blocking syscalls"] = sysc
            d["netpoller hand-off (net.Conn wire - syscall wire)"] = netconn - sysc
            d["go-redis + our Go code (body - net.Conn wire)"] = body - netconn
            parts = [v for k, v in d.items() if v is not None and k != "end to end" and not k.startswith("wire")
                     and not k.startswith(("netpoller", "go-redis"))]
            d["the rest (Python glue: _native wrapper, result copy, dict/list building)"] = d["end to end"] - sum(parts)
        return t

    return table_of(min), table_of(statistics.median)


ROWS = [
    "end to end",
    "key making (make_and_validate_key + encode)",
    "encode (pickle)",
    "timeout arithmetic (_ttl_ms)",
    "frame encode + decode (Python)",
    "ctypes argument conversion + C call (no-op)",
    "cgo crossing into Go and back (handle refused at once)",
    "cgo re-entry after a blocking call (export per call - in-Go loop - ctypes - crossing)",
    "Go export body",
    "  of which wire from Go, blocking syscalls",
    "  of which netpoller hand-off (net.Conn wire - syscall wire)",
    "  of which go-redis + our Go code (body - net.Conn wire)",
    "decode (unpickle)",
    "the rest (Python glue: _native wrapper, result copy, dict/list building)",
    "wire, C (redis-benchmark -c1 -P1), for reference",
    "wire, bare Python socket (the bench's floor), for reference",
]


def _cell(d: dict[str, Any], row: str) -> float | None:
    if row == "Go export body":
        return next((v for k, v in d.items() if k.startswith("Go export body")), None)
    if row.startswith("  of which "):
        row = row.removeprefix("  of which ")
    if row.startswith("wire, bare Python socket"):
        row = "wire, bare Python socket"
    if row.startswith("wire, C ("):
        row = "wire, C (redis-benchmark -c1 -P1)"
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


def perf_profile(cache: Any, seconds: float = 3.0) -> str:
    """`perf record` of this process while it does gets: CPU share per library and top symbols."""
    perf = shutil.which("perf")
    if perf is None:
        return "(perf not installed: apt-get install linux-perf / linux-tools; skipped)"
    with tempfile.TemporaryDirectory(prefix="rcg-perf-") as d:
        data = os.path.join(d, "perf.data")
        proc = subprocess.Popen([perf, "record", "-F", "1999", "-g", "-p", str(os.getpid()), "-o", data,
                                 "--", "sleep", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        calls = 0
        end = time.monotonic() + seconds + 0.5
        while proc.poll() is None and time.monotonic() < end + 5:
            for _ in range(200):
                cache.get("hit:7")
            calls += 200
        err = proc.communicate()[1]
        if proc.returncode != 0 or not os.path.exists(data):
            return f"(perf record failed, rc {proc.returncode}: {err.strip()[-300:]})"
        out = []
        for sort, n in (("dso", 8), ("dso,symbol", 18)):
            r = subprocess.run([perf, "report", "-i", data, "--stdio", "--no-children", "--sort", sort, "-g", "none",
                                "--percent-limit", "0.5"], capture_output=True, text=True, timeout=120)
            rows = [re.sub(r"(\s+-)*\s*$", "", ln) for ln in r.stdout.splitlines()
                    if ln.strip() and not ln.startswith("#")]
            out.append("\n".join(rows[:n]) if rows else f"(perf report: {r.stderr.strip()[-200:]})")
        return f"{calls} gets; CPU samples of this process by library, then by symbol:\n" + "\n\n".join(out)


def switches_per_call(cache: Any, srv: RedisServer, calls: int = 20000) -> dict[str, float]:
    """Context switches per get (every thread, /proc) for ours and, for reference, the bare socket."""
    me = os.getpid()
    server = srv.proc.pid if srv.proc else None

    def count(op: Callable[[], Any]) -> tuple[float, float]:
        a, b = ctx_switches(me), ctx_switches(server) if server else 0
        for _ in range(calls):
            op()
        return (ctx_switches(me) - a) / calls, ((ctx_switches(server) if server else 0) - b) / calls

    ours = count(lambda: cache.get("hit:7"))
    kb = cache._key("hit:7", None)
    sock = floor.Socket(srv.host, srv.port)
    try:
        get = sock.prepare_get([kb], pickle.dumps(SMALL, pickle.HIGHEST_PROTOCOL))
        bare = count(lambda: get(0))
    finally:
        sock.close()
    return {"client": ours[0], "redis-server": ours[1], "bare socket client": bare[0],
            "bare socket redis-server": bare[1], "client threads": len(os.listdir(f"/proc/{me}/task"))}


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
    from django.core.cache import caches
    cache = caches["default"]
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
    p.add_argument("--rounds", type=int, help="rounds (default 60, --quick 3)")
    p.add_argument("--no-pprof", action="store_true")
    p.add_argument("--no-schedtrace", action="store_true")
    p.add_argument("--no-perf", action="store_true", help="skip `perf record` (used when perf is installed)")
    p.add_argument("--cpu", type=int, help="CPU to pin client and server to (default 1, or the last allowed)")
    a = p.parse_args(argv)
    allowed = os.sched_getaffinity(0)
    cpu = a.cpu if a.cpu is not None else (1 if 1 in allowed else max(allowed))
    ms, reps = (3.0, 3) if a.quick else (3.0, 60)
    reps = a.rounds or reps

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
              f"each stage: a loop of ~{ms:g} ms, every stage once per round, {reps} rounds; shared machine\n")
        t, t_med = measure(cache, nat, srv, cpu, ms, reps)
        print(table(t))
        print(f"\n(fastest of {reps} interleaved rounds per stage; the medians are in the JSON file. "
              f"\"the rest\" = end to end - every stage above it; wire rows are for reference)")
        sw = switches_per_call(cache, srv, 3000 if a.quick else 20000)
        print(f"\ncontext switches per get (all threads, /proc): ours: client {sw['client']:.2f}, "
              f"redis-server {sw['redis-server']:.2f} (client threads: {sw['client threads']:.0f}); "
              f"bare socket: client {sw['bare socket client']:.2f}, redis-server {sw['bare socket redis-server']:.2f}")
        print("\n--- cProfile (Python side; 20,000 get + 300 get_many 100), by own time")
        print(cprofile_top(cache))
        pp = "" if a.no_pprof else pprof_top(nat, cache)
        if pp:
            print("\n" + pp)
        pf = "" if a.no_perf else perf_profile(cache, 1.0 if a.quick else 3.0)
        if pf:
            print("\n--- perf record -g of the client process doing gets (pinned)\n" + pf)
        sched = "" if a.no_schedtrace else schedtrace(srv, cpu)
        if sched:
            print("\n--- GODEBUG=schedtrace=1000, a child doing gets (pinned to the same CPU)\n" + sched)
        out = {"git": git, "library": version, "cpu": cpu, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "us_per_call": t, "us_per_call_median": t_med, "context_switches_per_get": sw, "schedtrace": sched, "pprof": pp, "perf": pf}
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

#!/usr/bin/env python3
"""Concurrency bars: our native async methods against the async Redis/Valkey clients of Python.

Clients (each the most direct async GET its library offers):
  ours           redis_cache_go.RedisCache (this tree's python/), Django API: ``aget`` / ``aset``
  glide          valkey-glide's asyncio client: ``GlideClient.get`` / ``set`` (one multiplexed connection)
  redis_py       redis-py's ``redis.asyncio.Redis`` over a ``ConnectionPool`` of up to 1000 connections
                 (hiredis parser when installed)
  django_valkey  django-valkey's async backend ``AsyncValkeyCache``: ``aget`` / ``aset`` (valkey-py
                 asyncio underneath, libvalkey parser when installed)

Sections (each against throw-away redis-servers on free loopback ports, torn down at the end):
  gather   ``await asyncio.gather(*(get(k_i) for i in range(N)))`` on one event loop, N = 100 and
           1000 distinct keys holding 100-byte values; rounds rotate the order of the clients;
           median milliseconds per gather. Bars: ours >= 2x the fastest async peer.
  conn     500 callers started by one gather, each ``aset(own key, own unique value)`` then
           ``aget(own key)``, checking it got exactly its own value; a thread polls
           ``INFO clients`` every ~1 ms on its own connection (not counted) and keeps the largest
           connected_clients seen during the burst. Each client gets a fresh server, so the count
           is that client's connections alone. Bar: ours <= 2 connections, 0 wrong values.
  threads  8 threads doing sync ``cache.get`` for ~1 s on ours, django-redis and Django's RedisCache;
           total ops/s and the largest connected_clients during the run. Bar: ours <= 2 connections.
           (Throughput against an earlier revision is bench/ab.py's job; here it is information.)

Unpinned: the point is how concurrent calls share connections, threads and the loop.
Run: make bench-async-peers   (or: .venv/bin/python bench/async_peers.py [--quick] [--rounds N])
Results: bench/results_async.json. Exit status 1 when a client failed or any caller read a value
that was not its own (a missed bar alone does not fail the run), 130 on Ctrl-C.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (os.path.join(REPO, "python"), os.path.join(REPO, "tests", "harness")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
                       USE_TZ=True, INSTALLED_APPS=[], LOGGING_CONFIG=None)
    django.setup()

from redisproc import RedisServer  # noqa: E402
from machine import cpu_model  # noqa: E402

ASYNC_CLIENTS = ("ours", "glide", "redis_py", "django_valkey")
ASYNC_PEERS = ASYNC_CLIENTS[1:]
SYNC_BACKENDS = ("ours", "django_redis", "django")
LABELS = {"ours": "redis_cache_go", "glide": "valkey-glide", "redis_py": "redis-py asyncio",
          "django_valkey": "django-valkey AsyncValkeyCache", "django_redis": "django-redis",
          "django": "Django RedisCache"}
DISTS = ("Django", "asgiref", "redis", "hiredis", "django-redis", "valkey-glide", "valkey", "libvalkey",
         "django-valkey")
VALUE_LEN = 100
GATHER_SIZES = (100, 1000)
CONN_CALLERS = 500
THREADS = 8
NKEYS = 1024


def value_for(tag: str, i: int) -> bytes:
    """100 bytes that name their key: a value read for the wrong key never compares equal."""
    head = f"{tag}:{i}:".encode()
    return head + b"v" * (VALUE_LEN - len(head))


# --------------------------------------------------------------------------------------------
# Connection counting


class ClientCounter:
    """Polls ``INFO clients`` over its own connection (which it does not count) every ~interval.

    ``window()`` opens a measuring window: the largest count seen until ``close()``. ``now()`` asks
    once, from the calling thread (the socket is shared under a lock)."""

    def __init__(self, srv: RedisServer, interval: float = 0.001) -> None:
        self.sock = socket.create_connection((srv.host, srv.port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")
        self.interval = interval
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.measuring = False
        self.peak = 0
        self.samples = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="client-counter", daemon=True)
        self.thread.start()

    def _info(self, section: str) -> dict[str, str]:
        sec = section.encode()
        with self.lock:
            self.sock.sendall(b"*2\r\n$4\r\nINFO\r\n$%d\r\n%s\r\n" % (len(sec), sec))
            head = self.rfile.readline()
            if not head.startswith(b"$"):
                raise OSError(f"unexpected INFO reply {head!r}")
            body = self.rfile.read(int(head[1:]) + 2)
        out = {}
        for line in body.decode().splitlines():
            k, sep, v = line.partition(":")
            if sep:
                out[k] = v.strip()
        return out

    def now(self) -> int:
        return int(self._info("clients")["connected_clients"]) - 1

    def accepted(self) -> int:
        """total_connections_received: connections the server accepted so far (catches short-lived
        ones the 1 ms sampling can miss)."""
        return int(self._info("stats")["total_connections_received"])

    def _run(self) -> None:
        try:
            while not self.stop_event.is_set():
                n = self.now()
                if self.measuring:
                    self.samples += 1
                    if n > self.peak:
                        self.peak = n
                self.stop_event.wait(self.interval)
        except BaseException as e:  # reported by close()
            self.error = e

    def window(self) -> None:
        self.peak, self.samples = 0, 0
        self.measuring = True

    def close_window(self) -> tuple[int, int]:
        self.measuring = False
        if self.error is not None:
            raise RuntimeError(f"the INFO poller failed: {self.error!r}")
        return self.peak, self.samples

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join(5)
        try:
            self.rfile.close()
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------------------------
# Clients


@dataclass
class AsyncClient:
    name: str
    get: Callable[[Any], Awaitable[Any]]
    set: Callable[[Any, bytes], Awaitable[Any]]
    key: Callable[[str], Any]          # our key name -> what this client's get takes
    close: Callable[[], Awaitable[None]]
    note: str = ""


async def open_async(name: str, srv: RedisServer) -> AsyncClient:
    if name == "ours":
        import redis_cache_go

        c = redis_cache_go.RedisCache(srv.location, {"OPTIONS": {"DB": 0}, "KEY_PREFIX": "o"})

        async def close_ours() -> None:
            c.disconnect()
        return AsyncClient(name, c.aget, c.aset, str, close_ours)
    if name == "glide":
        from glide import GlideClient, GlideClientConfiguration, NodeAddress

        # request_timeout: glide's default is 250 ms per request, which a 1000-wide gather on a
        # loaded 2-vCPU machine can exceed; 10 s keeps a slow round a slow round, not an error.
        cfg = GlideClientConfiguration([NodeAddress(srv.host, srv.port)], request_timeout=10_000)
        g = await GlideClient.create(cfg)

        async def close_glide() -> None:
            await g.close()
        return AsyncClient(name, g.get, g.set, lambda k: "g:" + k, close_glide)
    if name == "redis_py":
        import redis.asyncio as aredis
        from redis.utils import HIREDIS_AVAILABLE

        # redis-py 8's asyncio ConnectionPool allows 100 connections by default and raises
        # MaxConnectionsError past that; sized here for the widest gather, so every concurrent call
        # gets a connection (a BlockingConnectionPool of 50 or 100 measured about the same).
        pool = aredis.ConnectionPool(host=srv.host, port=srv.port, db=0, max_connections=max(GATHER_SIZES))
        r = aredis.Redis(connection_pool=pool)

        async def close_redis() -> None:
            await r.aclose()
            await pool.disconnect()
        parser = pool.connection_kwargs.get("parser_class") or aredis.connection.DefaultParser
        return AsyncClient(name, r.get, r.set, lambda k: "r:" + k, close_redis,
                           f"parser {parser.__name__} (hiredis available: {HIREDIS_AVAILABLE})")
    if name == "django_valkey":
        from django_valkey.async_cache.cache import AsyncValkeyCache
        from valkey.utils import LIBVALKEY_AVAILABLE

        v = AsyncValkeyCache(srv.url, {"KEY_PREFIX": "v"})
        # AsyncBackendCommands maps aget/aset onto its async get/set: take the bound methods once
        aget, aset = v.aget, v.aset

        async def close_valkey() -> None:
            await v.client._close()  # its close() is a no-op unless CLOSE_CONNECTION is set
        return AsyncClient(name, aget, aset, str, close_valkey, f"libvalkey parser: {LIBVALKEY_AVAILABLE}")
    raise ValueError(name)


def open_sync(name: str, srv: RedisServer) -> Any:
    if name == "ours":
        import redis_cache_go
        return redis_cache_go.RedisCache(srv.location, {"OPTIONS": {"DB": 0}, "KEY_PREFIX": "o"})
    if name == "django_redis":
        from django_redis.cache import RedisCache as DjangoRedis
        return DjangoRedis(srv.url, {"KEY_PREFIX": "r", "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "PARSER_CLASS": "redis.connection._HiredisParser"}})
    if name == "django":
        from django.core.cache.backends.redis import RedisCache as DjangoCache
        return DjangoCache(srv.url, {"KEY_PREFIX": "d"})
    raise ValueError(name)


def close_sync(name: str, cache: Any) -> None:
    if name == "ours":
        cache.disconnect()
    elif name == "django_redis":
        cache.client.get_client().connection_pool.disconnect()
    elif name == "django":
        cache._cache._get_connection_pool(False).disconnect()


# --------------------------------------------------------------------------------------------
# Section 1: gather


async def timed_gathers(c: AsyncClient, keys: list[Any], want: list[bytes], budget_s: float) -> float:
    """Median milliseconds of one gather over keys, for budget_s (at least 3 gathers)."""
    get = c.get
    times: list[int] = []
    stop = time.perf_counter() + budget_s
    while time.perf_counter() < stop or len(times) < 3:
        t = time.perf_counter_ns()
        got = await asyncio.gather(*(get(k) for k in keys))
        times.append(time.perf_counter_ns() - t)
        if got != want:
            bad = sum(1 for a, b in zip(got, want) if a != b)
            raise AssertionError(f"{c.name}: {bad} of {len(keys)} values read back wrong, e.g. {got[0]!r:.60}")
    return statistics.median(times) / 1e6


async def section_gather(srv: RedisServer, args: argparse.Namespace, names: list[str],
                         failures: dict[str, str]) -> dict[str, Any]:
    clients: dict[str, AsyncClient] = {}
    out: dict[str, Any] = {"rounds": args.rounds, "round_ms": args.round_ms, "workloads": {}}
    n_max = max(GATHER_SIZES)
    want = [value_for("gk", i) for i in range(n_max)]
    try:
        for n in names:
            try:
                c = await open_async(n, srv)
                clients[n] = c
                keys = [c.key(f"gk:{i}") for i in range(n_max)]
                for i in range(0, n_max, 100):
                    await asyncio.gather(*(c.set(keys[j], want[j]) for j in range(i, i + 100)))
            except Exception as e:
                failures[n] = f"gather: {explain(e)}"
                clients.pop(n, None)
        if not clients:
            return out
        per: dict[int, dict[str, list[float]]] = {size: {n: [] for n in clients} for size in GATHER_SIZES}
        keysets = {n: [c.key(f"gk:{i}") for i in range(n_max)] for n, c in clients.items()}
        for size in GATHER_SIZES:  # warm-up: connections, pools, the Go runtime's threads
            for n, c in list(clients.items()):
                try:
                    await timed_gathers(c, keysets[n][:size], want[:size], args.warmup_ms / 1e3)
                except Exception as e:
                    failures[n] = f"gather{size} warm-up: {explain(e)}"
                    clients.pop(n)
        order = list(clients)
        for r in range(args.rounds):
            rot = order[r % len(order):] + order[:r % len(order)] if order else []
            for size in GATHER_SIZES:
                for n in rot:
                    if n not in clients:
                        continue
                    try:
                        per[size][n].append(await timed_gathers(clients[n], keysets[n][:size], want[:size],
                                                                args.round_ms / 1e3))
                    except Exception as e:
                        failures[n] = f"gather{size} round {r + 1}: {explain(e)}"
                        clients.pop(n)
        for size in GATHER_SIZES:
            wl = out["workloads"][f"gather{size}"] = {}
            for n, vals in per[size].items():
                if vals and n not in failures:
                    wl[n] = {"ms_median": round(statistics.median(vals), 4), "ms_rounds": [round(v, 4) for v in vals],
                             "gets_per_s": round(size / statistics.median(vals) * 1e3)}
                else:
                    wl[n] = {"error": failures.get(n, "not measured")}
        out["notes"] = {n: c.note for n, c in clients.items() if c.note}
        return out
    finally:
        for c in clients.values():
            try:
                await c.close()
            except Exception:
                pass


# --------------------------------------------------------------------------------------------
# Section 2: conn500


async def one_burst(c: AsyncClient, counter: ClientCounter, tag: str) -> dict[str, Any]:
    keys = [c.key(f"{tag}:{i}") for i in range(CONN_CALLERS)]
    vals = [value_for(tag, i) for i in range(CONN_CALLERS)]

    async def caller(i: int) -> bool:
        await c.set(keys[i], vals[i])
        return bool(await c.get(keys[i]) == vals[i])

    before = counter.now()
    accepted0 = counter.accepted()
    counter.window()
    t = time.perf_counter_ns()
    try:
        got = await asyncio.gather(*(caller(i) for i in range(CONN_CALLERS)), return_exceptions=True)
    finally:
        elapsed = (time.perf_counter_ns() - t) / 1e6
        peak, samples = counter.close_window()
    right_after = counter.now()
    accepted = counter.accepted() - accepted0
    await asyncio.sleep(0.2)
    errors = [g for g in got if isinstance(g, BaseException)]
    return {"before": before, "peak": max(peak, right_after), "samples": samples, "right_after": right_after,
            "after_200ms": counter.now(), "accepted": accepted, "ms": round(elapsed, 3),
            "wrong": sum(1 for g in got if g is False), "errors": len(errors),
            "first_error": short_error(errors[0]) if errors else None}


async def section_conn(args: argparse.Namespace, names: list[str], failures: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"callers": CONN_CALLERS, "bursts": args.bursts, "clients": {}}
    for n in names:
        srv = RedisServer().start()
        counter: ClientCounter | None = None
        c: AsyncClient | None = None
        try:
            counter = ClientCounter(srv)
            c = await open_async(n, srv)
            await c.set(c.key("warm"), b"x")  # connected and idle: the "before" figure
            await c.get(c.key("warm"))
            bursts = [await one_burst(c, counter, f"cb{b}") for b in range(args.bursts)]
            out["clients"][n] = {
                "idle_before": bursts[0]["before"],
                "peak_during": max(b["peak"] for b in bursts),
                # the first burst meets a client holding one idle connection; the later ones meet
                # whatever it kept from the first
                "peak_first": bursts[0]["peak"],
                "peak_later": max((b["peak"] for b in bursts[1:]), default=None),
                "after_200ms": bursts[-1]["after_200ms"],
                "accepted_first": bursts[0]["accepted"],
                "accepted_later": max((b["accepted"] for b in bursts[1:]), default=None),
                "wrong": sum(b["wrong"] for b in bursts),
                "errors": sum(b["errors"] for b in bursts),
                "burst_ms_median": round(statistics.median(b["ms"] for b in bursts), 3),
                "bursts": bursts,
            }
            errs = [b["first_error"] for b in bursts if b["first_error"]]
            if errs:
                out["clients"][n]["first_error"] = errs[0]
        except Exception as e:
            failures[n] = f"conn{CONN_CALLERS}: {explain(e)}"
            out["clients"][n] = {"error": failures[n]}
        finally:
            if c is not None:
                try:
                    await c.close()
                except Exception:
                    pass
            if counter is not None:
                counter.close()
            srv.stop()
    return out


# --------------------------------------------------------------------------------------------
# Section 3: threads8


def run_threads(cache: Any, keys: list[str], budget_s: float) -> tuple[int, float]:
    """THREADS threads calling cache.get over keys for budget_s: (calls, seconds)."""
    barrier = threading.Barrier(THREADS + 1)
    spans: list[tuple[float, float, int]] = [(0.0, 0.0, 0)] * THREADS
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        get = cache.get
        mask = len(keys) - 1
        j = t * 131
        n = 0
        try:
            barrier.wait()
            start = now = time.perf_counter()
            stop = start + budget_s
            while now < stop:
                get(keys[j & mask])
                j += 1
                n += 1
                if not n & 63:
                    now = time.perf_counter()
            spans[t] = (start, time.perf_counter(), n)
        except BaseException as e:
            errors.append(e)
            barrier.abort()

    ths = [threading.Thread(target=worker, args=(t,), daemon=True, name=f"get-{t}") for t in range(THREADS)]
    for th in ths:
        th.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    for th in ths:
        while th.is_alive():
            th.join(0.2)
    if errors:
        raise errors[0]
    return sum(s[2] for s in spans), max(s[1] for s in spans) - min(s[0] for s in spans)


def section_threads(args: argparse.Namespace, names: list[str], failures: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"threads": THREADS, "rounds": args.thread_rounds, "seconds": args.thread_s, "backends": {}}
    servers: dict[str, RedisServer] = {}
    caches: dict[str, Any] = {}
    counters: dict[str, ClientCounter] = {}
    keys = [f"tk:{i}" for i in range(NKEYS)]
    try:
        for n in names:
            try:
                servers[n] = RedisServer().start()
                counters[n] = ClientCounter(servers[n])
                cache = open_sync(n, servers[n])
                cache.set_many({k: value_for("tk", i) for i, k in enumerate(keys)}, None)
                for i in (0, NKEYS - 1):
                    got = cache.get(keys[i])
                    if got != value_for("tk", i):
                        raise AssertionError(f"{n}: get({keys[i]!r}) returned {got!r:.60}")
                run_threads(cache, keys, 0.1)  # warm-up
                caches[n] = cache
                out["backends"][n] = {"idle_before": counters[n].now(), "ops_per_s": [], "peak": 0, "after": None}
            except Exception as e:
                failures[n + "(sync)"] = f"threads{THREADS}: {explain(e)}"
                out["backends"][n] = {"error": failures[n + "(sync)"]}
        order = list(caches)
        for r in range(args.thread_rounds):
            for n in order[r % len(order):] + order[:r % len(order)]:
                b = out["backends"][n]
                if "error" in b:
                    continue
                counters[n].window()
                try:
                    calls, secs = run_threads(caches[n], keys, args.thread_s)
                except Exception as e:
                    failures[n + "(sync)"] = f"threads{THREADS} round {r + 1}: {explain(e)}"
                    out["backends"][n] = {"error": failures[n + "(sync)"]}
                    counters[n].close_window()
                    continue
                peak, _ = counters[n].close_window()
                b["ops_per_s"].append(round(calls / secs))
                b["peak"] = max(b["peak"], peak)
                b["after"] = counters[n].now()
        for n, b in out["backends"].items():
            if b.get("ops_per_s"):
                b["ops_per_s_median"] = round(statistics.median(b["ops_per_s"]))
        return out
    finally:
        for n, cache in caches.items():
            try:
                close_sync(n, cache)
            except Exception:
                pass
        for counter in counters.values():
            counter.close()
        for srv in servers.values():
            srv.stop()


# --------------------------------------------------------------------------------------------
# Bars and report


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    bars: list[dict[str, Any]] = []
    g = results.get("gather", {}).get("workloads", {})
    for size, bid in zip(GATHER_SIZES, ("A1", "A2")):
        wl = g.get(f"gather{size}", {})
        what = f"{size} concurrent aget: >= 2x fastest async peer"
        ours = wl.get("ours", {}).get("ms_median")
        peers = [(v["ms_median"], p) for p in ASYNC_PEERS if (v := wl.get(p)) and v.get("ms_median")]
        best = min(peers) if peers else None
        why = None
        if not wl:
            why = f"gather{size} not run"
        elif ours is None:
            why = "ours: " + str(wl.get("ours", {}).get("error", "not measured"))
        elif best is None:
            why = "no async peer measured"
        ratio = best[0] / ours if (ours and best) else None
        bars.append({"bar": bid, "what": what, "kind": "ratio", "value": round(ratio, 3) if ratio else None,
                     "target": 2.0, "holds": (ratio >= 2.0) if ratio else None, "against": best[1] if best else None,
                     "why_not_measured": why})
    c = results.get("conn", {}).get("clients", {}).get("ours")
    what = f"{CONN_CALLERS} concurrent aset+aget: <= 2 connections, 0 wrong"
    if c and "peak_during" in c:
        holds = c["peak_during"] <= 2 and c["wrong"] == 0 and c["errors"] == 0
        bars.append({"bar": "A3", "what": what, "kind": "connections", "value": c["peak_during"], "target": 2,
                     "holds": holds, "wrong": c["wrong"], "errors": c["errors"], "opened": c["accepted_first"],
                     "why_not_measured": None})
    else:
        bars.append({"bar": "A3", "what": what, "kind": "connections", "value": None, "target": 2, "holds": None,
                     "why_not_measured": (c or {}).get("error", "conn section not run")})
    t = results.get("threads", {}).get("backends", {}).get("ours")
    what = f"{THREADS} threads doing sync get: <= 2 connections"
    if t and t.get("ops_per_s"):
        bars.append({"bar": "A4", "what": what, "kind": "connections", "value": t["peak"], "target": 2,
                     "holds": t["peak"] <= 2, "why_not_measured": None})
    else:
        bars.append({"bar": "A4", "what": what, "kind": "connections", "value": None, "target": 2, "holds": None,
                     "why_not_measured": (t or {}).get("error", "threads section not run")})
    return bars


def print_bars(bars: list[dict[str, Any]]) -> None:
    print()
    print("Async concurrency bars (from this one run: bench/async_peers.py)")
    w = max(len(b["what"]) for b in bars)
    for b in bars:
        if b["value"] is None:
            val, verdict, note = "   -  ", "NOT MEASURED", f"  ({b['why_not_measured']})"
        else:
            verdict = "holds" if b["holds"] else "MISSED"
            if b["kind"] == "ratio":
                val = f"{b['value']:5.2f}x"
                if f"{b['value']:.2f}" == f"{b['target']:.2f}":
                    val = f"{b['value']:.3f}x"
                note = f"  (vs {LABELS.get(b['against'], b['against'])})"
            else:
                val = f"{b['value']:3d} conn"
                note = "  (largest connected_clients during the run)"
                if "wrong" in b:
                    note = (f"  (most connected_clients in any burst; {b['opened']} opened in the first; "
                            f"{b['wrong']} wrong, {b['errors']} errors)")
        print(f"  {b['bar']:<4} {b['what']:<{w}}  {val}  {verdict}{note}")


def print_tables(results: dict[str, Any]) -> None:
    g = results.get("gather")
    if g and g.get("workloads"):
        print(f"\ngather: median ms per gather, {g['rounds']} interleaved rounds x {g['round_ms']} ms per client")
        print(f"  {'client':32s}" + "".join(f"{w:>24s}" for w in g["workloads"]))
        for n in ASYNC_CLIENTS:
            cells = []
            for wl in g["workloads"].values():
                v = wl.get(n)
                if v is None:
                    cells.append(f"{'-':>24s}")
                elif "error" in v:
                    cells.append(f"{'FAILED':>24s}")
                else:
                    cells.append(f"{v['ms_median']:9.2f} ms {v['gets_per_s']:>8,d}/s")
            if any(n in wl for wl in g["workloads"].values()):
                print(f"  {LABELS[n]:32s}" + "".join(f"{c:>24s}" for c in cells))
        for n, note in g.get("notes", {}).items():
            print(f"    {LABELS[n]}: {note}")
    c = results.get("conn")
    if c and c.get("clients"):
        print(f"\nconn{c['callers']}: {c['callers']} callers each aset+aget own key, {c['bursts']} bursts, "
              "fresh server per client; connected_clients (the poller's own connection not counted)")
        print(f"  {'':32s} {'':5s} {'peak conns':>12s} {'':6s} {'opened':>12s}")
        print(f"  {'client':32s} {'idle':>5s} {'1st':>5s} {'later':>6s} {'after':>6s} {'1st':>5s} {'later':>6s} "
              f"{'wrong':>6s} {'errors':>7s} {'burst ms':>9s}")
        for n, v in c["clients"].items():
            if "error" in v:
                print(f"  {LABELS[n]:32s} FAILED: {v['error'].splitlines()[0]}")
                continue
            later = "-" if v["peak_later"] is None else str(v["peak_later"])
            opened_later = "-" if v["accepted_later"] is None else str(v["accepted_later"])
            print(f"  {LABELS[n]:32s} {v['idle_before']:5d} {v['peak_first']:5d} {later:>6s} {v['after_200ms']:6d} "
                  f"{v['accepted_first']:5d} {opened_later:>6s} {v['wrong']:6d} {v['errors']:7d} "
                  f"{v['burst_ms_median']:9.1f}")
            if v.get("first_error"):
                print(f"    first error: {v['first_error']}")
        print("  (idle: connected before the first burst; peak: the most connected_clients seen during the first"
              " burst / the later ones, polled every ~1 ms;\n   after: 200 ms after the last burst; opened: connections"
              " the server accepted during the first burst / the most during a later one (total_connections_received),"
              "\n   which counts short-lived connections the polling can miss; burst ms: median time of one burst)")
    t = results.get("threads")
    if t and t.get("backends"):
        print(f"\nthreads{t['threads']}: sync get from {t['threads']} threads, {t['rounds']} rounds x "
              f"{t['seconds']} s, fresh server per backend")
        print(f"  {'backend':32s} {'ops/s (median)':>15s} {'peak conns':>11s} {'after':>6s}   rounds")
        for n, v in t["backends"].items():
            if "error" in v:
                print(f"  {LABELS[n]:32s} FAILED: {v['error'].splitlines()[0]}")
                continue
            print(f"  {LABELS[n]:32s} {v['ops_per_s_median']:>15,d} {v['peak']:>11d} {v['after']:>6d}   "
                  + " ".join(f"{x:,d}" for x in v["ops_per_s"]))


def ratios(results: dict[str, Any]) -> None:
    g = results.get("gather", {}).get("workloads", {})
    for wl, per in g.items():
        ours = per.get("ours", {}).get("ms_median")
        if not ours:
            continue
        parts = [f"{LABELS[p]} {v['ms_median'] / ours:.2f}x" for p in ASYNC_PEERS
                 if (v := per.get(p)) and v.get("ms_median")]
        print(f"  {wl}: " + ", ".join(parts))


# --------------------------------------------------------------------------------------------
# Setup helpers


def short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 300 else text[:300] + "…"


def explain(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {os.path.relpath(tb[-1].filename, REPO)}:{tb[-1].lineno})" if tb else ""
    return short_error(exc) + where


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def versions() -> dict[str, str]:
    from importlib import metadata
    out = {"python": platform.python_version()}
    for d in DISTS:
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            out[d] = "not installed"
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        out["redis-cache-go"] = f"source tree at git {head}{' (modified)' if dirty else ''}"
    except Exception:
        out["redis-cache-go"] = "source tree"
    try:
        out["redis-server"] = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                                             timeout=10).stdout.split()[2].removeprefix("v=")
    except Exception:
        out["redis-server"] = "?"
    return out


_LIB: dict[str, str | None] = {"source": None, "tmp": None}


def library_path() -> str | None:
    return _LIB["source"]


def snapshot_library() -> None:
    """Load our .so from a private copy: a `make build` elsewhere must not rewrite the mapped file
    under this process (SIGBUS). An RCG_LIBRARY already set is used as it is."""
    if os.environ.get("RCG_LIBRARY"):
        _LIB["source"] = os.environ["RCG_LIBRARY"]
        return
    from redis_cache_go import _native
    src = _native.library_path()
    _LIB["source"] = os.path.relpath(src, REPO) if src.startswith(REPO) else src
    if os.path.exists(src):
        tmp = tempfile.mkdtemp(prefix="rcg-apeers-lib-")
        shutil.copy2(src, os.path.join(tmp, os.path.basename(src)))
        os.environ["RCG_LIBRARY"] = os.path.join(tmp, os.path.basename(src))
        _LIB["tmp"] = tmp


def raise_fd_limit() -> None:
    """redis-py and django-valkey open one socket per concurrent call (1000 in gather1000)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def pick(arg: str | None, known: tuple[str, ...], what: str) -> list[str]:
    if not arg:
        return list(known)
    got = [a.strip() for a in arg.split(",") if a.strip()]
    bad = [a for a in got if a not in known]
    if bad:
        raise SystemExit(f"unknown {what}: {', '.join(bad)} (known: {', '.join(known)})")
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds of 60 ms, 1 burst, 0.2 s threads: a smoke test")
    ap.add_argument("--rounds", type=int, default=7, help="gather rounds (default 7)")
    ap.add_argument("--round-ms", type=int, default=300, help="ms per client per gather workload and round (300)")
    ap.add_argument("--warmup-ms", type=int, default=200, help="untimed gathers per client and size (200)")
    ap.add_argument("--bursts", type=int, default=3, help="conn bursts per client (3)")
    ap.add_argument("--thread-rounds", type=int, default=3, help="threads rounds (3)")
    ap.add_argument("--thread-s", type=float, default=1.0, help="seconds per backend and threads round (1.0)")
    ap.add_argument("--only", help="sections: gather,conn,threads (default all)")
    ap.add_argument("--clients", help=f"async clients: {','.join(ASYNC_CLIENTS)} (default all)")
    ap.add_argument("--backends", help=f"threads backends: {','.join(SYNC_BACKENDS)} (default all)")
    ap.add_argument("--json", default=os.path.join(HERE, "results_async.json"))
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.round_ms, args.warmup_ms, args.bursts, args.thread_rounds, args.thread_s = 2, 60, 60, 1, 1, 0.2
    sections = pick(args.only, ("gather", "conn", "threads"), "section")
    clients = pick(args.clients, ASYNC_CLIENTS, "client")
    backends = pick(args.backends, SYNC_BACKENDS, "backend")

    raise_fd_limit()
    snapshot_library()
    vers = versions()
    load_before = loadavg()
    t0 = time.monotonic()
    print(f"bench/async_peers.py: {cpu_model()}, {os.cpu_count()} CPUs, unpinned; load average {load_before} (1/5/15 min)")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    print(f"ours: library {library_path()}")
    failures: dict[str, str] = {}
    results: dict[str, Any] = {}
    try:
        if "gather" in sections or "conn" in sections:
            async def run_async() -> None:
                if "gather" in sections:
                    srv = RedisServer().start()
                    try:
                        results["gather"] = await section_gather(srv, args, clients, failures)
                    finally:
                        srv.stop()
                if "conn" in sections:
                    results["conn"] = await section_conn(args, clients, failures)
            asyncio.run(run_async())
        if "threads" in sections:
            results["threads"] = section_threads(args, backends, failures)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        if _LIB["tmp"]:
            shutil.rmtree(_LIB["tmp"], ignore_errors=True)
    load_after = loadavg()

    print_tables(results)
    if results.get("gather"):
        print("\nratios, peer ms / ours ms (above 1: ours is faster):")
        ratios(results)
    bars = evaluate(results)
    print_bars(bars)
    wrong = {n: v["wrong"] for n, v in results.get("conn", {}).get("clients", {}).items() if v.get("wrong")}
    print(f"\nload average {load_before} before, {load_after} after; {time.monotonic() - t0:.0f} s")
    if failures:
        print("\nFAILED:")
        for n, why in failures.items():
            print(f"  {n}: {why}")
    if wrong:
        print(f"\nWRONG VALUES read back: {wrong}")
    doc = {"cpu": cpu_model(), "cpus": os.cpu_count(), "load_before": load_before, "load_after": load_after,
           "versions": vers, "library": library_path(), "args": vars(args), "results": results, "bars": bars,
           "failures": failures}
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
    print(f"results: {os.path.relpath(args.json)}")
    return 1 if failures or wrong else 0


if __name__ == "__main__":
    sys.exit(main())

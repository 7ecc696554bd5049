"""Scaling figures for docs/scaling.md (`make bench-scaling`): connections, server memory per
connection, invalidation traffic of LOCAL_CACHE, and the limits, measured on throw-away
redis-servers (tests/harness/redisproc.py, free loopback ports).

Sections (--only a,b,...; all by default, ~3-4 minutes on 2 vCPUs):
  conns      connections per server that one process holds, by how the cache is reached (one
             shared backend object, Django's per-thread `caches[alias]`, async, ASGI-style tasks),
             with and without LOCAL_CACHE, and by layout (ring, copy, primary/replica, Cluster,
             Sentinel)
  memory     server memory per connection from INFO memory (mem_clients_normal) and CLIENT LIST
             (tot-mem, qbuf, omem) with K = 100 and 1,000 raw connections: idle, after a burst of
             pipelined calls, RESP3 + BCAST tracking; and the backend's own connections by kind
  table      the server's tracking table: default-mode tracking vs BCAST (INFO tracking_total_*)
  pushbytes  bytes pushed per write per tracking client (total_net_output_bytes delta) with
             N = 0, 1, 10, 100, 1,000 BCAST clients, one write per event-loop turn and pipelined
  pushrate   redis-benchmark SET throughput with N BCAST tracking clients on the keys' prefix,
             as ratios to N = 0, interleaved rounds (the tracking clients are read by a thread of
             this process, on the same CPUs)
  absorb     our tracker under a write storm: invalidations applied per second and CPU per
             invalidation in the backend's process (LOCAL_CACHE counters)
  slow       a tracking client that stops reading (SIGSTOP) under a write storm: its output
             buffer, whether Redis disconnects it, and what our near-cache does on resume
  limits     maxclients, the fd limit, what Redis says at startup with a low `ulimit -n`, and the
             connections refused past maxclients
Every figure is printed; ratios are within one run. The machine (CPU model, nproc) and the load
average are printed per section.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (os.path.join(REPO, "python"), os.path.join(REPO, "tests", "harness"), HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from machine import cpu_model  # noqa: E402
from redisproc import RedisServer  # noqa: E402
from scaling_raw import (  # noqa: E402
    Conn, Drainer, Push, ReplyError, client_list, close_all, encode, info, my_ports, open_many, rows_from, text,
)

THREADS = 8
PREFIX = "key"  # KEY_PREFIX of our caches; redis-benchmark writes key:__rand_int__, under "key:"
TRACK = ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", PREFIX + ":")
HELLO3 = ("HELLO", "3")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def header(name: str) -> None:
    print(f"\n== {name}  (load average {load()})", flush=True)


def ctl_of(srv: RedisServer) -> Conn:
    return Conn(srv.host, srv.port)


def ours(handler_conf: dict[str, Any]) -> Any:
    from django.core.cache import CacheHandler

    return CacheHandler({"default": handler_conf})


def conf(location: str | list[str], backend: str = "redis_cache_go.RedisCache", **options: Any) -> dict[str, Any]:
    return {"BACKEND": backend, "LOCATION": location, "KEY_PREFIX": PREFIX, "OPTIONS": options}


def wait_tracking(c: Any, timeout: float = 20.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        st = c.local_cache_stats()
        if st["tracking"]:
            return st
        if time.monotonic() > deadline:
            raise RuntimeError("invalidation tracking not confirmed")
        c.get("warm")
        time.sleep(0.01)


# ---------------------------------------------------------------------------------------------
# conns


def our_conns(ctls: list[Conn]) -> list[tuple[int, int]]:
    """Per server: (RESP2, RESP3) connections from this process, the control connections excepted
    (CLIENT LIST rows whose peer port is a socket of this process)."""
    ports = my_ports() - {int(c.local_addr.rsplit(":", 1)[1]) for c in ctls}
    out = []
    for ctl in ctls:
        rows = rows_from(client_list(ctl), ports)
        r3 = sum(1 for r in rows if r.get("resp") == "3")
        out.append((len(rows) - r3, r3))
    return out


def threads_do(n: int, fn: Callable[[int], None]) -> None:
    errs: list[BaseException] = []

    def run(i: int) -> None:
        try:
            fn(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errs.append(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise errs[0]


def workload_cases(local: bool) -> list[tuple[str, Callable[[Any, list[Any]], None]]]:
    """(name, run(handler, instances)): each run appends every backend instance it used."""
    lock = threading.Lock()

    def hot(c: Any, i: int) -> None:
        for j in range(200):
            c.set(f"t{i}:{j % 20}", j)
            c.get(f"t{i}:{j % 20}")
        if local:
            wait_tracking(c)

    def shared(h: Any, used: list[Any]) -> None:
        c = h["default"]
        used.append(c)
        threads_do(THREADS, lambda i: hot(c, i))

    def per_thread(h: Any, used: list[Any]) -> None:
        def run(i: int) -> None:
            c = h["default"]  # Django's handler: one backend object per thread
            with lock:
                used.append(c)
            hot(c, i)
        threads_do(THREADS, run)

    def slow_path(h: Any, used: list[Any]) -> None:
        c = h["default"]
        used.append(c)
        c.set("t", 1, 60)

        def run(i: int) -> None:
            for _ in range(200):
                c.touch("t", 60)
                c.ttl("t")
        threads_do(THREADS, run)

    def gathered(h: Any, used: list[Any]) -> None:
        c = h["default"]
        used.append(c)

        async def main() -> None:
            await asyncio.gather(*(c.aset(f"a{i}", i) for i in range(200)))
            await asyncio.gather(*(c.aget(f"a{i}") for i in range(200)))
        asyncio.run(main())
        if local:
            wait_tracking(c)

    def asgi_tasks(h: Any, used: list[Any]) -> None:
        async def request(i: int) -> None:
            c = h["default"]  # as a view would, in its own task (its own context)
            used.append(c)
            await c.aset(f"r{i}", i)
            await c.aget(f"r{i}")

        async def main() -> None:
            await asyncio.gather(*(request(i) for i in range(50)))
        asyncio.run(main())

    return [
        ("one backend object shared by 8 threads (get/set)", shared),
        ("Django caches[alias] from 8 threads (get/set)", per_thread),
        ("one backend object, 8 threads of touch/ttl (go-redis pool)", slow_path),
        ("one backend object, gathers of 200 aset/aget", gathered),
        ("Django caches[alias] in 50 concurrent asyncio tasks (ASGI-style)", asgi_tasks),
    ]


def count_case(locations: list[RedisServer], handler_conf: dict[str, Any],
               run: Callable[[Any, list[Any]], None],
               probe: Callable[[], Any] | None = None) -> tuple[list[tuple[int, int]], int]:
    ctls = [ctl_of(s) for s in locations]
    h = ours(handler_conf)
    used: list[Any] = []
    try:
        run(h, used)
        if probe is not None:
            probe()
        return our_conns(ctls), len({id(u) for u in used})
    finally:
        for u in {id(u): u for u in used}.values():
            u.disconnect()
        close_all(ctls)


def section_conns(results: dict[str, Any]) -> None:
    header(f"conns: connections held per server by one process ({THREADS} threads)")
    out: dict[str, Any] = {}
    print(f"  {'how the cache is reached':80} {'objects':>7} {'RESP2':>6} {'RESP3':>6}")
    for local in (False, True):
        for name, run in workload_cases(local):
            opts: dict[str, Any] = {"LOCAL_CACHE": {}} if local else {}
            with RedisServer() as srv:
                per, objs = count_case([srv], conf(srv.location, **opts), run)
            label = name + (" + LOCAL_CACHE" if local else "")
            out[label] = {"objects": objs, "resp2": per[0][0], "resp3": per[0][1]}
            print(f"  {label:80} {objs:7d} {per[0][0]:6d} {per[0][1]:6d}", flush=True)
    results["conns"] = out


def section_layouts(results: dict[str, Any]) -> None:
    from topology import RedisCluster, SentinelDeployment

    header("conns by layout: connections per server (RESP2) for one process, 8 threads of get/set")
    cases = [c for c in workload_cases(False) if c[0].startswith(("one backend object shared", "Django caches[alias] from"))]
    out: dict[str, Any] = {}
    servers = [RedisServer() for _ in range(3)]
    for s in servers:
        s.start()
    try:
        locs = [s.location for s in servers]
        for layout, hc in (
            ("ring (ShardedRedisCache, 3 servers)", conf(locs, "redis_cache_go.ShardedRedisCache")),
            ("copies (RedisCopyCache, 3 servers)", conf(locs, "redis_cache_go.RedisCopyCache")),
            ("primary + 2 replicas (RedisCache, 3 LOCATIONs)", conf(locs)),
        ):
            for name, run in cases:
                per, objs = count_case(servers, hc, run)
                label = f"{layout}: {name}"
                out[label] = {"objects": objs, "per_server": [p[0] for p in per]}
                print(f"  {label:100} per server {[p[0] for p in per]}", flush=True)
    finally:
        for s in servers:
            s.stop()
    cl = RedisCluster(nodes=3, replicas=0).start()
    try:
        for name, run in cases:
            per, objs = count_case(cl.nodes, conf(cl.location, CLUSTER=True), run)
            label = f"Cluster (3 primaries): {name}"
            out[label] = {"objects": objs, "per_server": [p[0] for p in per]}
            print(f"  {label:100} per node {[p[0] for p in per]}", flush=True)
    finally:
        cl.stop()
    sd = SentinelDeployment().start()
    try:
        sconf = conf(f"redis://127.0.0.1/0", SENTINELS=sd.sentinel_addrs, SENTINEL_SERVICE=sd.service)
        for name, run in cases:
            nodes = [sd.primary, *sd.replicas]
            seen: list[list[int]] = []
            per, objs = count_case(nodes, sconf, run, lambda: seen.append(sentinel_clients(sd)))
            sent = seen[0]
            label = f"Sentinel (primary + 2 replicas): {name}"
            out[label] = {"objects": objs, "per_server": [p[0] for p in per], "sentinels_after": sent}
            print(f"  {label:100} primary, replicas {[p[0] for p in per]}; connections to each Sentinel {sent}",
                  flush=True)
    finally:
        sd.stop()
    results["layouts"] = out


def sentinel_clients(sd: Any) -> list[int]:
    """Per Sentinel: the connections this process holds to it."""
    out = []
    for s in sd.sentinels:
        ctl = Conn(s.host, s.port)
        try:
            ports = my_ports() - {int(ctl.local_addr.rsplit(":", 1)[1])}
            out.append(len(rows_from(client_list(ctl), ports)))
        finally:
            ctl.close()
    return out


# ---------------------------------------------------------------------------------------------
# memory


def conn_rows(ctl: Conn, conns: list[Conn]) -> list[dict[str, str]]:
    mine = {c.local_addr for c in conns}
    return [r for r in client_list(ctl) if r.get("addr") in mine]


def med(rows: list[dict[str, str]], field: str) -> int:
    return int(statistics.median(int(r[field]) for r in rows)) if rows else 0


def settled(ctl: Conn, field: str = "mem_clients_normal", timeout: float = 8.0) -> dict[str, str]:
    """INFO memory once field has not changed over 3 readings 0.3 s apart (Redis updates its
    per-client memory figures in clientsCron, a share of the clients per 100 ms tick)."""
    last: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        m = info(ctl, "memory")
        last = (last + [m[field]])[-3:]
        if (len(last) == 3 and len(set(last)) == 1) or time.monotonic() > deadline:
            return m
        time.sleep(0.3)


def mem_figures(ctl: Conn, conns: list[Conn], base: dict[str, str], settle: bool = True) -> dict[str, Any]:
    m = settled(ctl) if settle else info(ctl, "memory")
    rows = conn_rows(ctl, conns)
    k = len(conns)
    return {"mem_clients_normal_per_conn": round((int(m["mem_clients_normal"]) - int(base["mem_clients_normal"])) / k),
            "used_memory_per_conn": round((int(m["used_memory"]) - int(base["used_memory"])) / k),
            "tot_mem_median": med(rows, "tot-mem"), "tot_mem_max": max(int(r["tot-mem"]) for r in rows),
            "qbuf_median": med(rows, "qbuf"), "qbuf_free_median": med(rows, "qbuf-free"),
            "omem_median": med(rows, "omem"), "seen": len(rows)}


def burst_cmds(value_size: int, calls: int) -> bytes:
    value = b"v" * value_size
    return b"".join(encode("SET", f"b:{i}", value) for i in range(calls)) + \
        b"".join(encode("GET", f"b:{i}") for i in range(calls))


def read_burst(conns: list[Conn], calls: int) -> None:
    for c in conns:
        for _ in range(2 * calls):
            c.reply()


def idle_until(ctl: Conn, conns: list[Conn], timeout: float = 10.0) -> None:
    """Wait (polling CLIENT LIST) until Redis shrank the buffers of idle connections: the
    median tot-mem stops falling (clientsCron frees the query buffer and the reply buffer of a
    client idle for 2 s)."""
    prev, deadline = -1, time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = med(conn_rows(ctl, conns), "tot-mem")
        if now == prev and now < 10000:
            return
        prev = now


def section_memory(results: dict[str, Any], ks: list[int]) -> None:
    header("memory: server memory per connection (INFO memory, CLIENT LIST; mem_clients_normal lags until clientsCron"
           " passed: read the active rows' used_memory and tot-mem)")
    out: dict[str, Any] = {}
    calls, size = 50, 8192
    with RedisServer() as srv:
        ctl = ctl_of(srv)
        for k in ks:
            base = settled(ctl)
            conns = open_many(srv.host, srv.port, k)
            out[f"data, just opened (active), K={k}"] = mem_figures(ctl, conns, base, settle=False)
            idle_until(ctl, conns)
            out[f"data, idle > 2 s, K={k}"] = mem_figures(ctl, conns, base)
            if k <= 100:  # replies not read yet: the output buffers hold them (K x 400 KB)
                for c in conns:
                    c.send(burst_cmds(size, calls))
                time.sleep(0.5)  # measured, not a synchronisation: Redis has processed the burst
                out[f"data, {calls} SET+GET of {size} B unread, K={k}"] = mem_figures(ctl, conns, base, settle=False)
                read_burst(conns, calls)
                out[f"data, burst read, K={k}"] = mem_figures(ctl, conns, base)
            close_all(conns)
            wait_idle(ctl)
            base = settled(ctl)
            conns = open_many(srv.host, srv.port, k, [HELLO3, TRACK])
            name = f"tracking RESP3 BCAST, K={k}"
            out[name] = mem_figures(ctl, conns, base, settle=False)
            out[name]["tracking_total_prefixes"] = int(info(ctl, "stats").get("tracking_total_prefixes", -1))
            idle_until(ctl, conns)
            out[f"tracking, idle > 2 s, K={k}"] = mem_figures(ctl, conns, base)
            close_all(conns)
            wait_idle(ctl)
        ctl.close()
    print(f"  {'kind':42} {'clients_normal/conn':>19} {'used_memory/conn':>16} {'tot-mem med':>11} {'max':>7} "
          f"{'qbuf':>6} {'qbuf-free':>9} {'omem':>7}")
    for name, f in out.items():
        print(f"  {name:42} {f['mem_clients_normal_per_conn']:19d} {f['used_memory_per_conn']:16d} "
              f"{f['tot_mem_median']:11d} {f['tot_mem_max']:7d} {f['qbuf_median']:6d} {f['qbuf_free_median']:9d} "
              f"{f['omem_median']:7d}")
    results["memory"] = out
    section_backend_mem(results)


def wait_idle(ctl: Conn) -> None:
    deadline = time.monotonic() + 10
    while int(info(ctl, "clients")["connected_clients"]) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)


def section_backend_mem(results: dict[str, Any]) -> None:
    print("\n  the backend's own connections (one object, LOCAL_CACHE, after get/set, get_many of 100, an aget and"
          " a touch):")
    out = []
    with RedisServer() as srv:
        ctl = ctl_of(srv)
        h = ours(conf(srv.location, LOCAL_CACHE={}))
        c = h["default"]
        try:
            st = wait_tracking(c)
            c.set_many({f"m{i}": "x" * 1000 for i in range(100)})
            c.get_many([f"m{i}" for i in range(100)])
            asyncio.run(c.aget("m1"))
            c.touch("m1", 60)
            rows_now = client_list(ctl)
            ours_rows = [r for r in rows_now if r.get("cmd") != "client|list"]
            time.sleep(3)  # measured, not a synchronisation: 2 s idle, then clientsCron shrinks buffers
            idle = {r["id"]: r["tot-mem"] for r in client_list(ctl)}
            for r in ours_rows:
                kind = "tracking (RESP3 BCAST)" if int(r["id"]) == st["tracking_id"] else f"data, last cmd {r['cmd']}"
                out.append({"kind": kind, "resp": r.get("resp"), "flags": r.get("flags"), "tot_mem": int(r["tot-mem"]),
                            "qbuf": int(r["qbuf"]), "qbuf_free": int(r["qbuf-free"]), "omem": int(r["omem"]),
                            "tot_mem_idle_3s": int(idle.get(r["id"], -1))})
                print(f"    {kind:36} resp={r.get('resp')} flags={r.get('flags'):4} tot-mem={r['tot-mem']:>6} "
                      f"qbuf={r['qbuf']:>5} qbuf-free={r['qbuf-free']:>6} omem={r['omem']}; "
                      f"3 s later tot-mem={idle.get(r['id'])}")
        finally:
            c.disconnect()
            ctl.close()
    results["backend_mem"] = out


# ---------------------------------------------------------------------------------------------
# tracking table


def section_table(results: dict[str, Any], clients: int = 100, keys: int = 1000) -> None:
    header(f"table: the server's tracking table, {clients} RESP3 clients each reading the same {keys} keys")
    out: dict[str, Any] = {}
    for mode, setup in (("default (per-key)", [HELLO3, ("CLIENT", "TRACKING", "ON")]),
                        ("BCAST PREFIX", [HELLO3, TRACK])):
        with RedisServer() as srv:
            ctl = ctl_of(srv)
            ctl.send(b"".join(encode("SET", f"{PREFIX}:{i}", "x") for i in range(keys)))
            for _ in range(keys):
                ctl.reply()
            before = int(info(ctl, "memory")["used_memory"])
            conns = open_many(srv.host, srv.port, clients, setup)
            mid = int(info(ctl, "memory")["used_memory"])
            reads = b"".join(encode("GET", f"{PREFIX}:{i}") for i in range(keys))
            for c in conns:
                c.send(reads)
            for c in conns:
                for _ in range(keys):
                    c.reply()
            st = info(ctl, "stats")
            after = int(info(ctl, "memory")["used_memory"])
            f = {k: int(st.get(k, -1)) for k in ("tracking_total_keys", "tracking_total_items", "tracking_total_prefixes")}
            f["used_memory_by_reads"] = after - mid
            f["used_memory_by_clients"] = mid - before
            f["tracking_table_max_keys"] = int(text(ctl.call("CONFIG", "GET", "tracking-table-max-keys")[1]))
            out[mode] = f
            print(f"  {mode:18} " + "  ".join(f"{k}={v}" for k, v in f.items()), flush=True)
            close_all(conns)
            ctl.close()
    results["table"] = out


# ---------------------------------------------------------------------------------------------
# invalidation traffic


def set_trackers(conns: list[Conn], n: int) -> None:
    """Tracking (BCAST on the prefix) on the first n connections, off on the others."""
    off = encode("CLIENT", "TRACKING", "OFF")
    for i, c in enumerate(conns):
        c.send(off + encode(*TRACK) if i < n else off)
    for i, c in enumerate(conns):
        for _ in range(2 if i < n else 1):
            c.reply()


def section_pushbytes(results: dict[str, Any], ns: list[int], writes: int = 1000) -> None:
    header(f"pushbytes: bytes pushed per write per tracking client ({writes} SETs of a 10-byte key under the prefix)")
    out: dict[str, Any] = {}
    key_len = len(f"{PREFIX}:000000")
    print(f"  a RESP3 invalidation push of one {key_len}-byte key is {30 + len(str(key_len)) + key_len} bytes "
          "(>2, $10 invalidate, *1, the key)")
    with RedisServer() as srv:
        ctl = ctl_of(srv)
        trackers = open_many(srv.host, srv.port, max(ns), [HELLO3])
        writer = Conn(srv.host, srv.port)
        for n in ns:
            set_trackers(trackers, n)
            dr = Drainer(trackers)
            row = {}
            for mode in ("one per turn", "pipelined"):
                i0 = info(ctl, "stats")
                if mode == "pipelined":
                    writer.send(b"".join(encode("SET", f"{PREFIX}:{j:06d}", "x") for j in range(writes)))
                    for _ in range(writes):
                        writer.reply()
                else:
                    for j in range(writes):
                        writer.call("SET", f"{PREFIX}:{j:06d}", "x")
                dr.quiet()
                i1 = info(ctl, "stats")
                pushed = int(i1["total_net_output_bytes"]) - int(i0["total_net_output_bytes"]) \
                    - int(i0["_bytes"]) - 5 * writes
                per_write = pushed / writes
                row[mode] = {"bytes_per_write": round(per_write, 1),
                             "bytes_per_write_per_client": round(per_write / n, 1) if n else None}
            dr.stop()
            out[str(n)] = row
            a, b = row["one per turn"], row["pipelined"]
            print(f"  N={n:5d}  one write per event-loop turn: {a['bytes_per_write']:>9} B/write"
                  f" ({a['bytes_per_write_per_client']} per client);  {writes} pipelined: {b['bytes_per_write']:>9}"
                  f" B/write ({b['bytes_per_write_per_client']} per client)", flush=True)
        close_all(trackers + [writer, ctl])
    results["pushbytes"] = out


def bench_set(srv: RedisServer, n_ops: int) -> float:
    """redis-benchmark SET, 4 clients, 100-byte values, random keys key:<12 digits>; SET/s."""
    res = subprocess.run(["redis-benchmark", "-h", srv.host, "-p", str(srv.port), "-t", "set", "-n", str(n_ops),
                          "-c", "4", "-r", "100000", "-d", "100", "--csv"],
                         capture_output=True, text=True, timeout=300, check=True)
    for line in res.stdout.splitlines():
        if line.startswith('"SET"'):
            return float(line.split(",")[1].strip('"'))
    raise RuntimeError(f"no SET line in redis-benchmark's output: {res.stdout[-300:]}")


def section_pushrate(results: dict[str, Any], ns: list[int], rounds: int) -> None:
    header(f"pushrate: redis-benchmark -t set -c 4 with N BCAST trackers on 'key:', {rounds} interleaved rounds")
    out: dict[str, list[float]] = {str(n): [] for n in ns}
    with RedisServer() as srv:
        trackers = open_many(srv.host, srv.port, max(ns), [HELLO3])
        ops = {n: 20000 if n <= 10 else 10000 if n <= 100 else 3000 for n in ns}
        for r in range(rounds):
            for n in ns[r % len(ns):] + ns[:r % len(ns)]:
                set_trackers(trackers, n)
                dr = Drainer(trackers)
                out[str(n)].append(bench_set(srv, ops[n]))
                dr.quiet()
                dr.stop()
            print(f"  round {r + 1}: " + "  ".join(f"N={n}: {out[str(n)][-1]:,.0f}/s" for n in ns)
                  + f"  (load {load()})", flush=True)
        close_all(trackers)
    base = statistics.median(out[str(ns[0])])
    for n in ns:
        m = statistics.median(out[str(n)])
        print(f"  N={n:5d}: median {m:10,.0f} SET/s  x{m / base:.2f} of N={ns[0]}  (rounds {', '.join(f'{x:,.0f}' for x in out[str(n)])})")
    results["pushrate"] = {"set_per_s": out, "ratio_to_first": {str(n): statistics.median(out[str(n)]) / base for n in ns}}


def section_absorb(results: dict[str, Any], writes: int = 200000) -> None:
    header(f"absorb: our tracker under redis-benchmark -t set -n {writes} -P 16 -c 2 on its prefix")
    with RedisServer() as srv:
        h = ours(conf(srv.location, LOCAL_CACHE={}))
        c = h["default"]
        try:
            st0 = wait_tracking(c)
            raw = open_many(srv.host, srv.port, 1, [HELLO3, TRACK])[0]  # a control, read after the storm
            ru0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.monotonic()
            res = subprocess.run(["redis-benchmark", "-h", srv.host, "-p", str(srv.port), "-t", "set", "-n",
                                  str(writes), "-P", "16", "-c", "2", "-r", "100000000", "-d", "100", "--csv"],
                                 capture_output=True, text=True, timeout=300, check=True)
            t_writer = time.monotonic() - t0
            rate = next(float(ln.split(",")[1].strip('"')) for ln in res.stdout.splitlines() if ln.startswith('"SET"'))
            got, t_last = 0, time.monotonic()
            while True:  # until every write's push is applied, or the count stops moving for 2 s
                st = c.local_cache_stats()
                now = st["invalidations"] - st0["invalidations"]
                if now != got:
                    got, t_last = now, time.monotonic()
                if got >= writes or time.monotonic() - t_last > 2:
                    break
                time.sleep(0.005)
            ru1 = resource.getrusage(resource.RUSAGE_SELF)
            raw_keys = count_pushed(raw)
            t_all = t_last - t0
            cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
            f = {"writes": writes, "writer_set_per_s": rate, "writer_s": round(t_writer, 3),
                 "keys_pushed_to_a_raw_client": raw_keys, "applied": got,
                 "applied_s": round(t_all, 3), "applied_per_s": round(got / t_all), "process_cpu_s": round(cpu, 3),
                 "cpu_us_per_invalidation": round(cpu / max(got, 1) * 1e6, 2),
                 "failures": st["failures"] - st0["failures"], "connects": st["connects"] - st0["connects"],
                 "flushes": st["flushes"] - st0["flushes"]}
            print("  " + "  ".join(f"{k}={v}" for k, v in f.items()), flush=True)
            results["absorb"] = f
        finally:
            c.disconnect()


# ---------------------------------------------------------------------------------------------
# slow tracking client

CHILD = r"""
import json, sys
import django
from django.conf import settings
settings.configure(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
django.setup()
from redis_cache_go import RedisCache
c = RedisCache(sys.argv[1], {"KEY_PREFIX": "key", "OPTIONS": {"LOCAL_CACHE": {}, "SOCKET_TIMEOUT": 30}})
for line in sys.stdin:
    c.get("warm")
    print(json.dumps(c.local_cache_stats()), flush=True)
"""


def count_pushed(c: Conn, quiet_s: float = 1.0) -> int:
    """Keys in the invalidation pushes c receives until it has been quiet for quiet_s."""
    c.sock.settimeout(quiet_s)
    keys = 0
    try:
        while True:
            f = c.read()
            if isinstance(f, Push) and f and f[0] == b"invalidate" and f[1] is not None:
                keys += len(f[1])
    except (TimeoutError, OSError):
        pass
    c.close()
    return keys


class Child:
    """A process with our backend and LOCAL_CACHE; each line on stdin: one get, then its stats."""

    def __init__(self, location: str) -> None:
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
        self.p = subprocess.Popen([sys.executable, "-c", CHILD, location], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=env)

    def stats(self) -> dict[str, int]:
        assert self.p.stdin and self.p.stdout
        self.p.stdin.write("\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def wait(self, cond: Callable[[dict[str, int]], bool], timeout: float = 60.0) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while True:
            st = self.stats()
            if cond(st) or time.monotonic() > deadline:
                return st
            time.sleep(0.01)

    def stop(self) -> None:
        self.p.kill()
        self.p.wait()


def section_slow(results: dict[str, Any], writes: int = 300000) -> None:
    header(f"slow: a tracking client stopped (SIGSTOP) during redis-benchmark -t set -n {writes} -P 16 on its prefix")
    out: dict[str, Any] = {}
    for limit in ("normal 0 0 0", "normal 1mb 0 0"):
        with RedisServer() as srv:
            ctl = ctl_of(srv)
            ctl.call("CONFIG", "SET", "client-output-buffer-limit", limit)
            child = Child(srv.location)
            try:
                st0 = child.wait(lambda s: s["tracking"] == 1)
                tid = st0["tracking_id"]
                raw = open_many(srv.host, srv.port, 1, [HELLO3, TRACK])[0]  # a control: read after the storm
                os.kill(child.p.pid, signal.SIGSTOP)
                peak_omem, peak_clients_mem = 0, 0
                bench = subprocess.Popen(["redis-benchmark", "-h", srv.host, "-p", str(srv.port), "-t", "set", "-n",
                                          str(writes), "-P", "16", "-c", "2", "-r", "100000000", "-d", "10", "-q"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                while bench.poll() is None:
                    row = next((r for r in client_list(ctl) if r.get("id") == str(tid)), None)
                    if row:
                        peak_omem = max(peak_omem, int(row["omem"]))
                    peak_clients_mem = max(peak_clients_mem, int(info(ctl, "memory")["mem_clients_normal"]))
                    time.sleep(0.05)
                row = next((r for r in client_list(ctl) if r.get("id") == str(tid)), None)
                keys = int(ctl.call("DBSIZE"))
                os.kill(child.p.pid, signal.SIGCONT)
                t_resume = time.monotonic()
                st1 = child.wait(lambda s: s["invalidations"] - st0["invalidations"] >= keys or s["connects"] > st0["connects"],
                                 timeout=15)
                raw_keys = count_pushed(raw)
                resumed_s = round(time.monotonic() - t_resume, 2)
                if st1["connects"] > st0["connects"]:
                    st1 = child.wait(lambda s: s["tracking"] == 1)
                f = {"limit": limit, "distinct_keys_written": keys, "keys_pushed_to_a_raw_client": raw_keys, "resume_wait_s": resumed_s, "peak_omem": peak_omem, "peak_mem_clients_normal": peak_clients_mem,
                     "connected_after_storm": row is not None, "omem_after_storm": int(row["omem"]) if row else None,
                     "after_resume": {k: st1[k] - st0[k] for k in ("invalidations", "flushes", "connects", "failures")},
                     "tracking_after": st1["tracking"]}
                out[limit] = f
                print(f"  client-output-buffer-limit {limit!r}: " + "  ".join(f"{k}={v}" for k, v in f.items() if k != "limit"),
                      flush=True)
            finally:
                child.stop()
                ctl.close()
    results["slow"] = out


# ---------------------------------------------------------------------------------------------
# limits


def section_limits(results: dict[str, Any]) -> None:
    header("limits: maxclients and the fd limit")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    out: dict[str, Any] = {"ulimit_n": soft, "ulimit_hn": hard}
    with RedisServer() as srv:
        ctl = ctl_of(srv)
        mc = int(text(ctl.call("CONFIG", "GET", "maxclients")[1]))
        out["maxclients"] = mc
        out["client_output_buffer_limit"] = text(ctl.call("CONFIG", "GET", "client-output-buffer-limit")[1])
        conns, refused = [], 0
        for _ in range(mc + 20):  # the control connection is one of the mc
            c = Conn(srv.host, srv.port)
            try:
                c.call("PING")
                conns.append(c)
            except (ReplyError, OSError) as e:
                refused += 1
                out["refusal"] = str(e)
                c.close()
        out["accepted_besides_control"] = len(conns)
        out["refused"] = refused
        out["rejected_connections"] = int(info(ctl, "stats")["rejected_connections"])
        out["used_memory_with_all_connected"] = int(settled(ctl, "used_memory")["used_memory"])
        close_all(conns + [ctl])
    # more than the hard fd limit allows: Redis lowers maxclients and says so at startup
    asked = hard + 1000
    with RedisServer(extra=["--maxclients", str(asked)]) as srv:
        ctl = ctl_of(srv)
        out[f"maxclients_asked_{asked}_got"] = int(text(ctl.call("CONFIG", "GET", "maxclients")[1]))
        out["startup_log"] = [ln.split("# ", 1)[-1] for ln in srv.log().splitlines()
                              if "maxclients" in ln or "open files" in ln]
        ctl.close()
    for k, v in out.items():
        print(f"  {k}: {v}")
    results["limits"] = out


SECTIONS = ["conns", "layouts", "memory", "table", "pushbytes", "pushrate", "absorb", "slow", "limits"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections: " + ", ".join(SECTIONS))
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of pushrate (default 5)")
    ap.add_argument("--trackers", default="0,1,10,100,1000", help="N tracking clients (pushbytes, pushrate)")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "scaling.json"), help="results as JSON")
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s]
    bad = [s for s in only if s not in SECTIONS]
    if bad:
        ap.error(f"unknown section(s) {bad}; known: {SECTIONS}")
    ns = [int(x) for x in args.trackers.split(",")]

    import django
    from django.conf import settings

    settings.configure(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
    django.setup()
    server = text(subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip())
    print(f"machine: {cpu_model()}, nproc {os.cpu_count()}, load average {load()}; {server}")
    print(f"ulimit -n {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}; unpinned; client and servers share the CPUs")
    results: dict[str, Any] = {"cpu": cpu_model(), "nproc": os.cpu_count(), "server": server}
    for s in only:
        if s == "conns":
            section_conns(results)
        elif s == "layouts":
            section_layouts(results)
        elif s == "memory":
            section_memory(results, [100, 1000])
        elif s == "table":
            section_table(results)
        elif s == "pushbytes":
            section_pushbytes(results, ns)
        elif s == "pushrate":
            section_pushrate(results, ns, args.rounds)
        elif s == "absorb":
            section_absorb(results)
        elif s == "slow":
            section_slow(results)
        elif s == "limits":
            section_limits(results)
    results["load_end"] = load()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, default=str)
    print(f"\nload average at the end {load()}; results in {args.out}")


if __name__ == "__main__":
    main()

"""Leak soak (`make soak`, not part of `make test`).

1,000,000 mixed cache operations from 8 threads against a throw-away redis-server. After the first
100,000 and after the whole run it records the process RSS, the Go goroutine count (rcg_stats), the
process's open file descriptors and the server's connected clients, each time with no call in
flight (the run is two phases, 100,000 then 900,000 operations, with all threads joined between);
every final number must be within 10% of its 100,000 mark (an absolute slack of 2 for tiny counts).
Exit status 1 if not.
"""
from __future__ import annotations

import os
import sys
import threading
import time

import django
from django.conf import settings

settings.configure(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
django.setup()

from redisproc import RedisServer  # noqa: E402
from redis_cache_go import RedisCache, _native  # noqa: E402

TOTAL = int(os.environ.get("SOAK_OPS", "1000000"))
THREADS = 8
MARK = TOTAL // 10
KEYS = 5000


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def snapshot(server: RedisServer) -> dict[str, int]:
    info = server.command("INFO", "clients").decode()
    clients = next(int(line.split(":")[1]) for line in info.splitlines() if line.startswith("connected_clients:"))
    return {"rss_kib": rss_kib(), "goroutines": _native.stats()["goroutines"],
            "open_fds": len(os.listdir("/proc/self/fd")), "server_connections": clients - 1}


def main() -> int:
    server = RedisServer().start()
    try:
        cache = RedisCache(server.location, {"OPTIONS": {"DB": 0}, "KEY_PREFIX": "soak"})
        marks: dict[str, dict[str, int]] = {}

        def work(seed: int, first: int, count: int) -> None:
            i = seed
            for n in range(first, first + count):
                k = f"k{(i * 7919 + n) % KEYS}"
                op = n % 10
                if op < 4:
                    cache.get(k)
                elif op < 6:
                    cache.set(k, {"n": n, "pad": "x" * (n % 200)}, timeout=60)
                elif op == 6:
                    cache.get_many([k, f"k{(n + 1) % KEYS}", f"k{(n + 2) % KEYS}"])
                elif op == 7:
                    cache.set_many({f"m{n % KEYS}": n, k: "v"}, timeout=60)
                elif op == 8:
                    cache.delete(k)
                else:
                    cache.add(f"c{n % KEYS}", 0, timeout=60)
                    try:
                        cache.incr(f"c{n % KEYS}")
                    except ValueError:
                        pass

        def phase(first: int, total: int) -> None:
            per = total // THREADS
            threads = [threading.Thread(target=work, args=(t, first, per)) for t in range(THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        started = time.monotonic()
        phase(0, MARK)
        marks["after_100k"] = snapshot(server)
        phase(MARK, TOTAL - MARK)
        elapsed = time.monotonic() - started
        marks["after_run"] = snapshot(server)
        first, last = marks["after_100k"], marks["after_run"]
        print(f"soak: {TOTAL} ops from {THREADS} threads in {elapsed:.1f}s ({TOTAL / elapsed:,.0f} ops/s)")
        ok = True
        for name in first:
            a, b = first[name], last[name]
            slack = max(a * 0.10, 2 if name != "rss_kib" else 0)
            within = abs(b - a) <= slack
            ok &= within
            print(f"  {name:20s} after {MARK:,}: {a:>10,}   after {TOTAL:,}: {b:>10,}   {'ok' if within else 'LEAK?'}")
        cache.disconnect()
        print("soak:", "PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())

"""The bar of issue 20: `manage.py redis_cache copy` of 200,000 keys from a 3-server ring to a 6-node
Redis Cluster (3 primaries + 3 replicas), on servers the harness starts on loopback.

Values are mixed (a third each: small ints, pickled dicts, 2-20 KB strings), half of the keys with a
TTL. The script times the copy (keys/s), checks every value through the Cluster cache and the
remaining TTL of a sample against the source (within 1 s), runs the copy again (must write nothing:
0 copied, every key already there, no write counted on any primary), then empties the Cluster and
copies again in a `manage.py` process interrupted with SIGINT (Ctrl-C) mid-way, resumed in-process,
and checks every value again.

    PYTHONPATH=python:tests/harness .venv/bin/python bench/copy_keys.py [--keys 200000] [--itersize 1000]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "python"), os.path.join(ROOT, "tests", "harness"), HERE]

import django  # noqa: E402
from django.conf import settings  # noqa: E402

from machine import cpu_model  # noqa: E402
from redisproc import RedisServer  # noqa: E402
from topology import RedisCluster  # noqa: E402


def value(i: int) -> Any:
    return [i % 1000, {"id": i, "name": f"user {i}", "tags": ["a", "b", "c"]}, "s" * (2000 + (i * 7919) % 18001)][i % 3]


def changes(nodes: list[RedisServer]) -> list[int]:
    out = []
    for n in nodes:
        text = n.command("INFO", "persistence")
        text = text.decode() if isinstance(text, bytes) else str(text)
        out.append(int(text.split("rdb_changes_since_last_save:")[1].split()[0]))
    return out


def full_syncs(nodes: list[RedisServer]) -> int:
    """Full resynchronisations the primaries served (INFO stats sync_full): a replica whose
    output buffer overflowed during the copy resyncs from an RDB snapshot."""
    total = 0
    for n in nodes:
        text = n.command("INFO", "stats")
        text = text.decode() if isinstance(text, bytes) else str(text)
        total += int(text.split("sync_full:")[1].split()[0])
    return total


def copy(itersize: int, **extra: Any) -> tuple[str, float]:
    from django.core.management import call_command

    from redis_cache_go.management.commands.redis_cache import Command

    out = io.StringIO()
    start = time.perf_counter()
    call_command(Command(), "copy", stdout=out, stderr=io.StringIO(), interactive=False,
                 itersize=itersize, **{"from": "ring3", "to": "cluster"}, **extra)
    return out.getvalue().strip(), time.perf_counter() - start


def verify(keys: list[str], sample: int) -> tuple[int, int]:
    """(keys whose value reads back equal through the Cluster, TTLs sampled within 1 s)."""
    from django.core.cache import caches

    src, dst = caches["ring3"], caches["cluster"]
    good = 0
    for start in range(0, len(keys), 2000):
        part = keys[start:start + 2000]
        got = dst.get_many(part)
        good += sum(1 for k in part if k in got and got[k] == value(int(k[2:])))
    ttl_ok = 0
    for k in keys[:: max(1, len(keys) // sample)]:
        made = src.make_key(k)
        a, b = src.execute_command("PTTL", made), dst.execute_command("PTTL", made)
        if (a == b == -1) or (a > 0 and b > 0 and abs(a - b) <= 1000):
            ttl_ok += 1
        else:
            print(f"  TTL differs: {k}: source {a} ms, destination {b} ms")
    return good, ttl_ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=200_000)
    ap.add_argument("--itersize", type=int, default=1000)
    ap.add_argument("--ttl-sample", type=int, default=2000)
    a = ap.parse_args()
    ring = [RedisServer().start() for _ in range(3)]
    cluster = RedisCluster().start()
    work = tempfile.mkdtemp(prefix="rcg-copy-bench-")
    os.chdir(work)
    caches_conf = {
        "default": {"BACKEND": "redis_cache_go.ShardedRedisCache", "LOCATION": [s.location for s in ring],
                    "KEY_PREFIX": "bench", "OPTIONS": {"DB": 0}},
        "cluster": {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": cluster.location, "KEY_PREFIX": "bench",
                    "OPTIONS": {"CLUSTER": True}},
    }
    caches_conf["ring3"] = caches_conf["default"]
    settings.configure(SECRET_KEY="x", USE_TZ=True, INSTALLED_APPS=["redis_cache_go"], CACHES=caches_conf)
    django.setup()
    from django.core.cache import caches

    try:
        print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at start")
        keys = [f"k-{i}" for i in range(a.keys)]
        start = time.perf_counter()
        src = caches["ring3"]
        for s in range(0, a.keys, 1000):
            part = keys[s:s + 1000]
            src.set_many({k: value(int(k[2:])) for k in part if int(k[2:]) % 2}, timeout=None)
            src.set_many({k: value(int(k[2:])) for k in part if not int(k[2:]) % 2}, timeout=7200)
        used = sum(int(n.command("DBSIZE")) for n in ring)  # type: ignore[call-overload]
        print(f"filled {used} keys into the ring in {time.perf_counter() - start:.1f}s")

        syncs = full_syncs(cluster.primaries())
        out, took = copy(a.itersize)
        print(f"copy: {took:.1f}s, {a.keys / took:,.0f} keys/s, replica full resyncs meanwhile: "
              f"{full_syncs(cluster.primaries()) - syncs}\n  {out}")
        good, ttl_ok = verify(keys, a.ttl_sample)
        sampled = len(keys[:: max(1, len(keys) // a.ttl_sample)])
        print(f"verified: {good}/{a.keys} values equal through the Cluster, {ttl_ok}/{sampled} TTLs within 1 s")

        before = changes(cluster.primaries())
        out, took = copy(a.itersize)
        print(f"re-run: {took:.1f}s, writes on the primaries: {sum(changes(cluster.primaries())) - sum(before)}\n  {out}")

        for n in cluster.primaries():
            n.command("FLUSHALL")
        settings_dir = tempfile.mkdtemp(prefix="rcg-copy-settings-")
        with open(os.path.join(settings_dir, "copy_bench_settings.py"), "w") as f:
            f.write(f"SECRET_KEY = 'x'\nUSE_TZ = True\nINSTALLED_APPS = ['redis_cache_go']\nCACHES = {caches_conf!r}\n")
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="copy_bench_settings",
                   PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), settings_dir]))
        state = os.path.join(work, "redis_cache_copy.ring3.cluster.json")
        proc = subprocess.Popen([sys.executable, "-m", "django", "redis_cache", "copy", "--from", "ring3", "--to",
                                 "cluster", "--noinput", "--itersize", str(a.itersize)], env=env, cwd=work,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        scanned = 0
        while proc.poll() is None and scanned < a.keys // 3:  # about a third done: Ctrl-C
            if os.path.exists(state):
                try:
                    scanned = json.load(open(state))["counts"]["scanned"]
                except (ValueError, OSError):
                    pass  # being replaced
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        pout, perr = proc.communicate(timeout=120)
        print(f"interrupted run: exit status {proc.returncode}; {perr.strip().splitlines()[-1]}")
        out, took = copy(a.itersize)
        print(f"resumed: {took:.1f}s\n  {out}")
        good, ttl_ok = verify(keys, a.ttl_sample)
        print(f"verified after resume: {good}/{a.keys} values, {ttl_ok}/{sampled} TTLs within 1 s")
        print(f"load at end {os.getloadavg()[0]:.2f}")
    finally:
        for c in caches.all():
            c.close()
        cluster.stop()
        for s in ring:
            s.stop()


if __name__ == "__main__":
    main()

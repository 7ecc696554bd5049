"""Interpreter exit while other threads are inside cache calls.

CPython frees a daemon thread's locals while it shuts down, even when that thread is blocked in
a native call. Whatever Go writes a reply into must survive that: the process has to exit with
status 0 every time, never with a Go "fatal error" or a segfault. Each scenario runs in a fresh
interpreter against the session's redis-server, with values far larger than the initial 64 KiB
scratch buffer so that every worker grows its buffer and big replies are in flight at exit.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

PYTHONPATH = os.environ.get("PYTHONPATH", "")
RUNS = 20

# The child: N_WORKERS workers loop on the cache until the main thread exits. Each worker
# records its iterations and whether its scratch buffer grew; the main thread waits (polling)
# until every worker did a few rounds, prints a summary and returns, with the workers running.
PRELUDE = """
import asyncio, os, sys, threading, time
import django
from django.conf import settings
settings.configure(CACHES={"default": {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": sys.argv[1],
                                       "OPTIONS": {"DB": 0}}})
django.setup()
from django.core.cache import cache
from redis_cache_go import _native

N_WORKERS = 8
BIG = os.urandom(3 * _native.SCRATCH_SIZE)  # about 200 KiB: every get of it grows the buffer
SMALL = b"s" * 100
cache.set("big", BIG, None)
cache.set("small", SMALL, None)
rounds = [0] * N_WORKERS
grown = [False] * N_WORKERS
wrong = []

def one_round(i, n):
    key = f"own{i}"
    value = BIG if n % 2 else SMALL
    cache.set(key, value, None)
    if cache.get(key) != value or cache.get("big") != BIG:
        wrong.append(i)
    got = cache.get_many(["big", "small", key, "absent"])
    if got != {"big": BIG, "small": SMALL, key: value}:
        wrong.append(i)
    grown[i] = _native._scratch.out.cap > _native.SCRATCH_SIZE

async def one_async_round(i, n):
    key = f"own{i}"
    value = BIG if n % 2 else SMALL
    await cache.aset(key, value, None)
    got = await asyncio.gather(cache.aget(key), cache.aget("big"), cache.aget_many(["big", "small", key]))
    if got != [value, BIG, {"big": BIG, "small": SMALL, key: value}]:
        wrong.append(i)
    grown[i] = _native._scratch.out.cap > _native.SCRATCH_SIZE

def finish():
    while min(rounds) < 3:  # every worker is looping, with big replies
        time.sleep(0.005)
    print(f"rounds>=3 grown={sum(grown)} wrong={len(wrong)}", flush=True)
"""

SCENARIOS = {
    # 8 daemon threads looping on get / get_many / set.
    "daemon-threads": """
def work(i):
    n = 0
    while True:
        one_round(i, n)
        n += 1
        rounds[i] = n

for i in range(N_WORKERS):
    threading.Thread(target=work, args=(i,), daemon=True).start()
finish()
""",
    # Daemon threading.Timer chains (a metrics-style thread): each timer does a round and starts
    # the next one, so threads end (their scratch memory goes back) while others are in calls.
    "timers": """
def tick(i, n):
    one_round(i, n)
    rounds[i] = n + 1
    t = threading.Timer(0, tick, args=(i, n + 1))
    t.daemon = True
    t.start()

for i in range(N_WORKERS):
    t = threading.Timer(0, tick, args=(i, 0))
    t.daemon = True
    t.start()
finish()
""",
    # Daemon threads each running an event loop of async calls (replies come through
    # rcg_async_drain into the loop thread's scratch buffer).
    "asyncio-threads": """
async def work_async(i):
    n = 0
    while True:
        await one_async_round(i, n)
        n += 1
        rounds[i] = n

for i in range(N_WORKERS):
    threading.Thread(target=asyncio.run, args=(work_async(i),), daemon=True).start()
finish()
""",
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_exit_with_threads_inside_cache_calls_is_clean(redis_server, scenario):
    code = textwrap.dedent(PRELUDE) + SCENARIOS[scenario]
    env = dict(os.environ, PYTHONPATH=PYTHONPATH)
    failures = []
    for run in range(RUNS):
        done = subprocess.run([sys.executable, "-c", code, redis_server.location], capture_output=True, text=True,
                              timeout=120, env=env)
        crashed = done.returncode != 0 or any(s in done.stderr for s in ("fatal error", "SIGSEGV", "SIGABRT", "Traceback"))
        if crashed:
            failures.append(f"run {run}: exit status {done.returncode}: {done.stderr.strip()[-3000:]}")
            continue
        # The scenario really had every worker looping with grown buffers and correct values.
        assert done.stdout.strip() == f"rounds>=3 grown={8} wrong=0", done.stdout + done.stderr
    assert not failures, f"{len(failures)} of {RUNS} runs did not exit cleanly:\n" + "\n".join(failures)

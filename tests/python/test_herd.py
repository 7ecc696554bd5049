"""Herd-protected get_or_set (core/herd) against real redis-servers.

Storage matches django-redis-cache 3.0.1 (tests/fixtures/herd_seed.json): the value with TTL
timeout + stale, ``__fresh__<key>`` with TTL timeout, ``__lock__<key>`` holding a token while one
worker computes; in addition ``__herd__<key>`` holds a digest of the value (Django's contract:
tests/python/test_herd_contract.py) and our fresh flag holds "2" where the seed's holds "1". Where
we deviate from the seed on purpose, the test says so.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import redis_cache_go

FIXTURE = json.loads((pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "herd_seed.json").read_text())
SCENARIOS = {s["name"]: s for s in FIXTURE["scenarios"]}
REPO = pathlib.Path(__file__).resolve().parent.parent.parent
VALUE, FRESH, LOCK, TAG = "pre:7:h", "__fresh__pre:7:h", "__lock__pre:7:h", "__herd__pre:7:h"


@pytest.fixture
def herd_cache(make_cache):
    return make_cache(KEY_PREFIX="pre", VERSION=7)


@pytest.fixture
def seed_cache(redis_server):
    from redis_cache import RedisCache as SeedCache

    cache = SeedCache(redis_server.location, {"KEY_PREFIX": "pre", "VERSION": 7, "OPTIONS": {"DB": 0}})
    yield cache
    for client in cache.clients.values():  # the seed's close() keeps its pools; drop them
        client.connection_pool.disconnect()


def _state(raw) -> dict[str, tuple[bytes, int]]:
    return {k.decode(): (raw.command("GET", k), raw.command("TTL", k)) for k in raw.command("KEYS", "*")}


# --------------------------------------------------------------------------- the fixture scenarios

# Scenarios whose stored state we reproduce (same keys, bytes, TTLs, return, calls), plus the tag
# of the value wherever a fresh flag ends up, and our flag "2" where this call wrote the flag.
# stale_recompute is not among them: a value without a fresh flag and without our tag is returned
# as it is (Django's contract), where the seed recomputed it (test_herd_contract.py).
EXACT = ["stale60_lock10", "stale_none_lock10", "int_value", "non_callable_default", "fresh_hit",
         "lock_held_stale_served", "timeout_none_stale_none", "callable_raises"]


def _setup(raw, scenario):
    for entry in scenario["state_before"]:
        key = entry["key"]
        value = b"other-worker-token" if key == LOCK else bytes.fromhex(entry["raw_hex"])
        raw.command("SET", key, value, "PX", str(entry["pttl"]) if entry["pttl"] > 0 else "100000000")
        if entry["ttl"] == -1:
            raw.command("PERSIST", key)


def _callable(scenario, during, raw):
    def f():
        during.update(_state(raw))
        if scenario["name"] == "callable_raises":
            raise RuntimeError("callable failed")
        if scenario["name"] == "int_value":
            return 42
        if "'new'" in scenario["call"]:
            return "new"
        return {"answer": 42, "computed": 1}

    return f


@pytest.mark.parametrize("name", EXACT)
def test_get_or_set_leaves_the_seeds_state(herd_cache, raw, name):
    scenario = SCENARIOS[name]
    _setup(raw, scenario)
    during: dict = {}
    calls = []
    f = _callable(scenario, during, raw)

    def counted():
        calls.append(1)
        return f()

    call = scenario["call"].split("#")[0].strip().replace("cache.get_or_set('h', f", "herd_cache.get_or_set('h', counted")
    call = call.replace("cache.get_or_set('h', 'plain'", "herd_cache.get_or_set('h', 'plain'")
    if scenario.get("raised"):
        with pytest.raises(RuntimeError, match="callable failed"):
            eval(call, {"herd_cache": herd_cache, "counted": counted})
    else:
        got = eval(call, {"herd_cache": herd_cache, "counted": counted})
        assert repr(got) == scenario["returned_repr"]
    assert len(calls) == scenario["callable_calls"]
    after = _state(raw)
    want = {e["key"]: dict(e) for e in scenario["state_after"]}
    if FRESH in want:  # the value is get_or_set's: its tag lives with it (adopted on fresh_hit)
        value = want[VALUE]
        want[TAG] = {"raw_hex": hashlib.sha256(bytes.fromhex(value["raw_hex"])).hexdigest()[:32].encode().hex(),
                     "ttl": value["ttl"]}
        if name != "fresh_hit":  # the flag this call wrote: ours says "2" (the seed's "1")
            want[FRESH]["raw_hex"] = b"2".hex()
    assert set(after) == set(want)
    for key, (value, ttl) in after.items():
        if key == LOCK:
            assert value == b"other-worker-token"
        else:
            assert value.hex() == want[key]["raw_hex"], key
        assert abs(ttl - want[key]["ttl"]) <= 1, (key, ttl, want[key]["ttl"])
    want_during = {e["key"]: e for e in scenario.get("state_during_callable") or []}
    if LOCK in want_during:
        token, ttl = during[LOCK]
        assert len(token) == 32 and int(token, 16) >= 0  # a 32-hex-char token, like redis-py's
        assert ttl == want_during[LOCK]["ttl"]


def test_deliberate_deviations_from_the_seed(herd_cache, raw):
    # The lock always has a TTL: lock_timeout=None means the default (30 s), not "forever".
    during: dict = {}
    herd_cache.get_or_set("h", lambda: during.update(_state(raw)) or 1, timeout=30, lock_timeout=None)
    assert 29 <= during[LOCK][1] <= 30
    # The stale window defaults to 60 s (the seed's default None kept values forever).
    assert raw.command("TTL", VALUE) == 90 and raw.command("TTL", FRESH) == 30
    # timeout=None with a stale window: nothing expires (the seed raised TypeError after computing).
    raw.command("FLUSHALL")
    assert herd_cache.get_or_set("h", 5, timeout=None, stale_cache_timeout=60) == 5
    assert raw.command("TTL", VALUE) == -1 and raw.command("TTL", FRESH) == -1


# --------------------------------------------------------------------------- bar 1: one computation


@pytest.mark.parametrize("backend", ["RedisCache", "ShardedRedisCache"])
def test_32_threads_on_a_cold_key_run_the_callable_once(redis_server, backend):
    cache = getattr(redis_cache_go, backend)([redis_server.location], {"OPTIONS": {"DB": 0}})
    calls = []
    start = threading.Barrier(32)
    results = [None] * 32

    def slow():
        calls.append(threading.get_ident())
        time.sleep(0.2)  # the slow computation itself, not synchronisation
        return {"computed": len(calls)}

    def worker(i):
        start.wait()
        results[i] = cache.get_or_set("cold", slow, 30)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    assert len(calls) == 1
    assert all(r == {"computed": 1} for r in results), results
    # Nobody waited for the lock TTL (30 s by default); typically 0.2 s. Only a clock shows a wait,
    # so the bound is half the TTL: far above a loaded machine's delays, far below the failure.
    assert elapsed < 15.0
    cache.disconnect()


_PROCESS = textwrap.dedent("""
    import sys, threading, time, django
    from django.conf import settings
    settings.configure(); django.setup()
    import redis_cache_go
    cache = redis_cache_go.RedisCache(sys.argv[1], {"OPTIONS": {"DB": 0}})
    def slow():
        cache.execute_command("INCR", "computations")
        time.sleep(0.2)
        return "value-%d" % int(cache.execute_command("GET", "computations"))
    cache.execute_command("INCR", "ready")
    while cache.execute_command("GET", "go") is None:
        time.sleep(0.002)
    out = []
    threads = [threading.Thread(target=lambda: out.append(cache.get_or_set("shared", slow, 30))) for _ in range(16)]
    [t.start() for t in threads]; [t.join() for t in threads]
    print(repr(sorted(set(out))), len(out))
""")


def _python(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'python'}{os.pathsep}{REPO / 'tests' / 'harness'}")
    return subprocess.Popen([sys.executable, "-c", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_two_processes_with_threads_compute_once_per_expiry(raw, redis_server, wait_until):
    for round_ in (1, 2):
        raw.command("DEL", "ready", "go")
        procs = [_python(_PROCESS, redis_server.location) for _ in range(2)]
        wait_until(lambda: int(raw.command("GET", "ready") or 0) == 2, timeout=60, message="workers ready")
        raw.command("SET", "go", "1")
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err
            assert out.strip() == f"['value-{round_}'] 16"
        assert int(raw.command("GET", "computations")) == round_
        raw.command("DEL", "__fresh__:1:shared", ":1:shared")  # everything expired: one more computation


# --------------------------------------------------------------------------- bar 2: stale serving


def test_stale_value_is_served_at_once_while_one_caller_recomputes(make_cache, raw, wait_until):
    cache, other = make_cache(), make_cache()  # two handles: two independent herd groups
    cache.get_or_set("k", "old", 30)
    raw.command("DEL", "__fresh__:1:k")  # the fresh flag expired
    events: list[str] = []
    release = threading.Event()

    def recompute():
        events.append("compute-start")
        release.wait(60)
        events.append("compute-end")
        return "new"

    leader = threading.Thread(target=lambda: events.append("leader got " + cache.get_or_set("k", recompute, 30)))
    leader.start()
    wait_until(lambda: "compute-start" in events, message="the leader computes")
    served = []
    readers = [threading.Thread(target=lambda c=c: served.append(c.get_or_set("k", lambda: pytest.fail("second computation"), 30)))
               for c in (cache, other) * 4]
    for t in readers:
        t.start()
    deadline = time.monotonic() + 30  # readers must not need the leader: a generous bound, shared
    for t in readers:
        t.join(max(deadline - time.monotonic(), 0))
    events.append("readers done")
    release.set()
    leader.join(30)
    assert served == ["old"] * 8
    assert events == ["compute-start", "readers done", "compute-end", "leader got new"]
    assert cache.get_or_set("k", lambda: pytest.fail("fresh again"), 30) == "new"


def test_a_raising_callable_releases_the_lock_and_its_waiters_get_the_failure(cache, raw, wait_until):
    entered, release = threading.Event(), threading.Event()

    def boom():
        entered.set()
        release.wait(60)
        raise ValueError("no")

    errors = []

    def call(default):
        try:
            cache.get_or_set("k", default)
        except ValueError as e:
            errors.append(e)

    t = threading.Thread(target=call, args=(boom,))
    t.start()
    assert entered.wait(30)
    f = threading.Thread(target=call, args=("from follower",))
    f.start()
    wait_until(lambda: cache._client.herd_waiting() == 1, message="the follower waits")
    release.set()
    t.join(30)
    f.join(30)
    assert len(errors) == 2 and errors[0] is errors[1]  # one failure, raised in both threads
    assert raw.command("EXISTS", "__lock__:1:k", ":1:k") == 0
    assert cache.get_or_set("k", "after the failure") == "after the failure"


# --------------------------------------------------------------------------- bar 3: killed holder

_HOLDER = textwrap.dedent("""
    import sys, time, django
    from django.conf import settings
    settings.configure(); django.setup()
    import redis_cache_go
    cache = redis_cache_go.RedisCache(sys.argv[1], {"OPTIONS": {"DB": 0}})
    def forever():
        # The lock's PTTL, read by the holder right after taking it: read later by the test, a
        # 1 s lock could be gone on a loaded machine.
        cache.execute_command("SET", "holder-computing", cache.execute_command("PTTL", "__lock__:1:k"))
        time.sleep(3600)
    cache.get_or_set("k", forever, 30, lock_timeout=1)
""")


def test_a_killed_lock_holder_blocks_nobody_past_the_lock_ttl(raw, redis_server, cache, wait_until):
    holder = _python(_HOLDER, redis_server.location)
    try:
        wait_until(lambda: raw.command("GET", "holder-computing"), timeout=60, message="holder computing")
        assert 0 < int(raw.command("GET", "holder-computing")) <= 1000
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
    began = time.monotonic()
    assert cache.get_or_set("k", "recomputed", 30, lock_timeout=1) == "recomputed"
    # Waited at most for the dead holder's 1 s lock TTL, not for the 30 s timeout or forever: only a
    # clock shows it, so the bound is 10x the lock TTL, for a loaded machine.
    assert time.monotonic() - began < 10.0


# --------------------------------------------------------------------------- bar 4: seed interop


def test_each_backend_honours_the_others_fresh_value(herd_cache, seed_cache):
    assert seed_cache.get_or_set("a", lambda: "seed wrote", 30, lock_timeout=10, stale_cache_timeout=60) == "seed wrote"
    assert herd_cache.get_or_set("a", lambda: pytest.fail("ours recomputed"), 30) == "seed wrote"
    assert herd_cache.get_or_set("b", lambda: "we wrote", 30) == "we wrote"
    assert seed_cache.get_or_set("b", lambda: pytest.fail("seed recomputed"), 30, lock_timeout=10) == "we wrote"


def _hold_while(cache_get_or_set, entered, release, result):
    def compute():
        entered.set()
        release.wait(60)
        return "holder's value"

    return threading.Thread(target=lambda: result.append(cache_get_or_set(compute)))


def test_we_honour_the_seeds_lock(herd_cache, seed_cache, raw):
    seed_cache.get_or_set("s", "stale", 30, lock_timeout=10, stale_cache_timeout=60)
    raw.command("DEL", "__fresh__pre:7:s")
    entered, release, result = threading.Event(), threading.Event(), []
    t = _hold_while(lambda f: seed_cache.get_or_set("s", f, 30, lock_timeout=10, stale_cache_timeout=60), entered, release, result)
    t.start()
    assert entered.wait(30)
    assert herd_cache.get_or_set("s", lambda: pytest.fail("computed under the seed's lock"), 30) == "stale"
    # No value at all: we wait for the seed's result instead of answering None.
    t2_entered, t2_result = threading.Event(), []
    t2 = _hold_while(lambda f: seed_cache.get_or_set("n", f, 30, lock_timeout=10, stale_cache_timeout=60), t2_entered, release, t2_result)
    t2.start()
    assert t2_entered.wait(30)
    waiter_result = []
    waiter = threading.Thread(target=lambda: waiter_result.append(herd_cache.get_or_set("n", lambda: pytest.fail("computed"), 30, lock_timeout=10)))
    waiter.start()
    release.set()
    for th in (t, t2, waiter):
        th.join(30)
    assert result == t2_result == waiter_result == ["holder's value"]


def test_the_seed_honours_our_lock(herd_cache, seed_cache, raw):
    herd_cache.get_or_set("s", "stale", 30)
    raw.command("DEL", "__fresh__pre:7:s")
    entered, release, result = threading.Event(), threading.Event(), []
    t = _hold_while(lambda f: herd_cache.get_or_set("s", f, 30, lock_timeout=10), entered, release, result)
    t.start()
    assert entered.wait(30)
    assert raw.command("EXISTS", "__lock__pre:7:s") == 1
    assert seed_cache.get_or_set("s", lambda: pytest.fail("seed computed under our lock"), 30, lock_timeout=10) == "stale"
    release.set()
    t.join(30)
    assert result == ["holder's value"]
    assert seed_cache.get_or_set("s", lambda: pytest.fail("seed recomputed a fresh value"), 30) == "holder's value"

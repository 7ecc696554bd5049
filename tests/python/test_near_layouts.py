"""The near-cache (LOCAL_CACHE) where the layout moves under it: a Redis Cluster slot migrated to
another primary while its key is cached, and a stress run (4 threads, another process writing the
same keys, every tracking connection killed over and over) on a ring and on a Cluster.

Values are versions that only grow (INCR on the server), so a reader that sees a smaller one than
it saw before has been served a stale value. Synchronisation is by polling; no sleeps.
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from near_layouts import start_layout

DEADLINE = 30.0  # bounds a failing wait only


def wait_for(what: str, cond) -> None:
    end = time.monotonic() + DEADLINE
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def layouts(redis_server):
    """start(name) starts a layout once per module; all are stopped at the end."""
    started: dict = {}

    def start(name: str):
        if name not in started:
            started[name] = start_layout(name, lambda: redis_server)
        return started[name]

    yield start
    for layout in started.values():
        layout.stop()


@pytest.fixture
def near(layouts, request):
    layout = layouts(request.param)
    yield layout
    layout.stop_caches()


def tracking(cache) -> None:
    wait_for("tracking confirmed", lambda: cache.get("__warm__") is None and cache.local_cache_stats()["tracking"] == 1)


def cached(cache, key) -> None:
    def hit() -> bool:
        cache.get(key)
        before = cache.local_cache_stats()["hits"]
        cache.get(key)
        return cache.local_cache_stats()["hits"] > before
    wait_for(f"{key!r} cached", hit)


def _text(reply) -> str:
    return reply.decode() if isinstance(reply, bytes) else str(reply)


# --------------------------------------------------------------------------- slot migration


def _migrate(cluster, slot: int, source, target, keys: list[str]) -> None:
    """Move slot from source to target by hand, as redis-cli --cluster reshard does, stopping
    after the keys moved and before the slot's owner changes (the ASK window): returns then;
    _finish_migration ends it."""
    source_id, target_id = _text(source.command("CLUSTER", "MYID")), _text(target.command("CLUSTER", "MYID"))
    target.command("CLUSTER", "SETSLOT", str(slot), "IMPORTING", source_id)
    source.command("CLUSTER", "SETSLOT", str(slot), "MIGRATING", target_id)
    source.command("MIGRATE", target.host, str(target.port), "", "0", "5000", "KEYS", *keys)


def _finish_migration(cluster, slot: int, source, target) -> None:
    target_id = _text(target.command("CLUSTER", "MYID"))
    for node in (target, source, *[p for p in cluster.primaries() if p not in (source, target)]):
        node.command("CLUSTER", "SETSLOT", str(slot), "NODE", target_id)


@pytest.mark.parametrize("near", ["cluster"], indirect=True)
def test_slot_migrated_under_the_near_cache_never_serves_stale(near):
    from topology_raw import key_slot

    cache = near.make({"LOCAL_CACHE": {}}, KEY_PREFIX="mig")
    tracking(cache)
    key = cache.make_key("k")
    slot = key_slot(key.encode())
    source = near.owner(key)
    target = next(p for p in near.primaries() if p is not source)
    source.command("SET", key, "1")
    cached(cache, "k")

    _migrate(near.cluster, slot, source, target, [key])  # MIGRATE deleted it on source: source pushes
    wait_for("the migrated key dropped", lambda: cache.local_cache_stats()["entries"] == 0)
    fills = cache.local_cache_stats()["fills"]
    for _ in range(50):  # the ASK window: the key is on target, the slot still source's
        assert cache.get("k") == 1
    assert cache.local_cache_stats()["fills"] == fills, "a value read through an ASK redirect was kept"
    _finish_migration(near.cluster, slot, source, target)
    target.command("SET", key, "2")  # on the new owner, after the migration
    seen = 1
    end = time.monotonic() + DEADLINE
    while seen < 2 or cache.local_cache_stats()["fills"] == fills:  # 2 seen, and kept from target
        got = cache.get("k")
        assert got >= seen, f"read {got} after {seen}"
        seen = got
        assert time.monotonic() < end, f"stuck at {seen} (fills {cache.local_cache_stats()['fills']})"
    commands = cache.stats()[0]["commands"]
    target.command("SET", key, "3")
    wait_for("3 seen", lambda: cache.get("k") == 3)  # a miss read straight from target's node
    assert cache.stats()[0]["commands"] > commands, "a direct node read was not counted in stats()"
    for n in range(4, 40):  # target's invalidations now guard the entry
        target.command("SET", key, str(n))
        wait_for(f"{n} seen", lambda: cache.get("k") == n)
        for _ in range(10):
            assert cache.get("k") == n
    assert cache.local_cache_stats()["hits"] > 0


# --------------------------------------------------------------------------- stress

# The other process: INCR every key on its server, round after round, until its stdin closes;
# prints how many rounds it made.
WRITER = """
import os, select, sys, redis
targets = [line.split() for line in sys.argv[1].splitlines() if line]
clients = {}
for host, port, key in targets:
    clients.setdefault((host, port), redis.Redis(host=host, port=int(port)))
n = 0
while not select.select([sys.stdin], [], [], 0)[0]:
    for host, port, key in targets:
        clients[(host, port)].incr(key)
    n += 1
print(n)
"""


@pytest.mark.parametrize("near", ["ring", "cluster"], indirect=True)
def test_stress_monotonic_under_writes_and_tracking_kills(near):
    # a local TTL longer than the run: a lost invalidation would keep a stale value to the end
    cache = near.make({"LOCAL_CACHE": {"TTL": 3600}}, KEY_PREFIX="stress")
    tracking(cache)
    threads_n, keys_per_thread, rounds = 4, 4, 400
    keys = [[f"t{t}-k{k}" for k in range(keys_per_thread)] for t in range(threads_n)]
    for row in keys:
        for k in row:
            cache.set(k, 0, None)
    targets = "\n".join(f"{near.owner(cache.make_key(k)).host} {near.owner(cache.make_key(k)).port} {cache.make_key(k)}"
                        for row in keys for k in row)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, targets], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    violations: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    connects = cache.local_cache_stats()["connects"]

    def worker(t: int) -> None:
        seen = {k: 0 for k in keys[t]}
        owners = {k: near.owner(cache.make_key(k)) for k in keys[t]}
        try:
            for r in range(rounds):
                for k in keys[t]:
                    floor = seen[k]
                    if r % 8 == 0:
                        floor = max(floor, cache.incr(k))  # our write, acknowledged
                    if r % 2 == 1:
                        # the other writer's acknowledged state: shown once its push arrived
                        stored = int(owners[k].command("GET", cache.make_key(k)))
                        end = time.monotonic() + DEADLINE
                        while (got := cache.get(k)) < stored:
                            if time.monotonic() > end:
                                violations.append(f"thread {t} {k}: {got} still served after {stored} was stored")
                                break
                        floor = max(floor, stored)
                    got = cache.get(k)
                    if got < floor:
                        violations.append(f"thread {t} {k}: read {got} after {floor}")
                    seen[k] = max(seen[k], got)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    def killer() -> None:
        while not stop.is_set():
            near.kill_tracking()
            end = time.monotonic() + DEADLINE
            while not stop.is_set() and cache.local_cache_stats()["tracking"] != 1:
                if time.monotonic() > end:
                    errors.append(AssertionError("tracking never came back"))
                    return
                cache.get("__warm__")

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    kill = threading.Thread(target=killer)
    kill.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    kill.join()
    writer.stdin.close()
    out = writer.stdout.read()
    writer.wait(timeout=DEADLINE)
    assert writer.returncode == 0 and int(out) > 10, f"the other writer made {out!r} rounds"
    assert not errors, errors
    assert violations == [], violations[:10]
    st = cache.local_cache_stats()
    assert st["hits"] > 0, "the near-cache served nothing: the run proved nothing"
    assert st["connects"] > connects, "no tracking connection was killed and re-made"
    flat = [k for row in keys for k in row]
    for cycle in range(5):  # kills with writes in the gap, then quiet: every key must settle
        for k in flat:
            cached(cache, k)
        near.kill_tracking()
        for k in flat:  # while the tracking connections are down: these pushes are lost
            near.owner(cache.make_key(k)).command("INCR", cache.make_key(k))
        tracking(cache)
        for k in flat:
            stored = int(near.owner(cache.make_key(k)).command("GET", cache.make_key(k)))
            wait_for(f"cycle {cycle}: {k} shows {stored}", lambda k=k, stored=stored: cache.get(k) == stored)

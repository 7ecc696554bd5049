"""Redis Cluster and Redis Sentinel deployments, each started by the test on loopback.

The Django-API suites themselves run against both deployments through RCG_TEST_DEPLOYMENT (see
conftest.py and the Makefile); this file holds what only a multi-node deployment can show:
per-node pipelining, keys where ``redis-cli -c`` expects them, and failover under load.
"""
from __future__ import annotations

import re
import subprocess
import threading
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from redis_cache_go import exceptions
from redisproc import cli_binary
from topology import RedisCluster, SentinelDeployment, wait_for
from topology_raw import key_slot

# The documented errors while a primary is being replaced (README "Cluster and Sentinel").
SWITCH_ERRORS = (exceptions.ConnectionError, exceptions.TimeoutError, exceptions.ServerError)


@pytest.fixture(scope="module")
def cluster():
    c = RedisCluster().start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def cluster_cache(cluster, make_cache):
    for n in cluster.primaries():
        n.command("FLUSHALL")
    return make_cache(cluster.location, options={"CLUSTER": True})


def _stat(node, section: str, name: str) -> int:
    m = re.search(rb"^%s:(\d+)" % re.escape(name.encode()), node.command("INFO", section), re.M)
    return int(m.group(1)) if m else 0


def _calls(node, command: str) -> int:
    m = re.search(rb"^cmdstat_%s:calls=(\d+)" % command.encode(), node.command("INFO", "commandstats"), re.M)
    return int(m.group(1)) if m else 0


# --------------------------------------------------------------------------- settings


def test_cluster_scheme_and_option_are_the_same_thing(cluster, make_cache):
    by_scheme = make_cache(f"redis+cluster://{cluster.location}", options={})
    by_option = make_cache(cluster.location, options={"CLUSTER": True})
    by_scheme.set("both", 1)
    assert by_option.get("both") == 1
    assert "cluster" in repr(by_scheme)


@pytest.mark.parametrize("options, needle", [
    ({"CLUSTER": True, "DB": 3}, "database 0"),
    ({"CLUSTER": "yes"}, "True or False"),
    ({"SENTINELS": ["127.0.0.1:1"]}, "SENTINEL_SERVICE"),
    ({"SENTINELS": ["nohost"], "SENTINEL_SERVICE": "m"}, "host:port"),
    ({"SENTINEL_SERVICE": "m"}, "SENTINELS"),
    ({"READ_FROM_REPLICAS": True}, "CLUSTER or SENTINELS"),
    ({"CLUSTER": True, "SENTINELS": ["127.0.0.1:1"], "SENTINEL_SERVICE": "m"}, "cannot be combined"),
])
def test_bad_topology_settings_are_improperly_configured(make_cache, options, needle):
    with pytest.raises(ImproperlyConfigured, match=re.escape(needle)):
        make_cache("127.0.0.1:1", options=options)


# --------------------------------------------------------------------------- bar 2


def test_thousand_keys_over_all_slots_one_pipeline_per_node(cluster, cluster_cache):
    keys = [f"many-{i}" for i in range(1000)]
    data = {k: i for i, k in enumerate(keys)}
    cluster_cache.get("warm-up")  # topology discovery, connections
    primaries = cluster.primaries()
    slots = {key_slot(f":1:{k}".encode()) for k in keys}
    assert len(slots) > 900 and min(slots) < 200 and max(slots) > 16184  # spread over the slot space
    per_node = {n.port: 0 for n in primaries}
    for k in keys:
        per_node[cluster.node_for_slot(key_slot(f":1:{k}".encode())).port] += 1
    for n in primaries:
        n.command("CONFIG", "RESETSTAT")
    before = {n.port: _stat(n, "stats", "total_reads_processed") for n in primaries}

    assert cluster_cache.set_many(data) == []
    got = cluster_cache.get_many(keys)

    assert got == data
    for n in primaries:
        reads = _stat(n, "stats", "total_reads_processed") - before[n.port]
        sets, gets = _calls(n, "set"), _calls(n, "get")
        print(f"node {n.port}: {per_node[n.port]} keys, SET calls {sets}, GET calls {gets}, read events {reads}")
        assert sets == per_node[n.port] and gets == per_node[n.port]
        assert _calls(n, "mget") == 0 and _calls(n, "mset") == 0
        # One pipeline each for set_many and get_many (a large pipeline may arrive in a few
        # 16 KiB reads), plus the INFO calls and replica ACKs: far from one read per key.
        assert reads <= 12, f"node {n.port}: {reads} read events for {per_node[n.port]} keys"


def test_cross_slot_operations(cluster, cluster_cache):
    cluster_cache.set_many({"a": 1, "b": "two", "c": [3]})
    assert key_slot(b":1:a") != key_slot(b":2:a")
    assert cluster_cache.incr_version("a") == 2
    assert cluster_cache.get("a", version=2) == 1 and cluster_cache.get("a") is None
    cluster_cache.delete_many(["b", "c"])
    assert cluster_cache.get_many(["a", "b", "c"], version=2) == {"a": 1}
    cluster_cache.set_many({f"it-{i}": i for i in range(50)})
    assert sorted(cluster_cache.iter_keys("it-*")) == sorted(f"it-{i}" for i in range(50))
    assert cluster_cache.delete_pattern("it-*") == 50
    cluster_cache.clear()
    assert sum(n.command("DBSIZE") for n in cluster.primaries()) == 0


def test_read_from_replicas_reads_what_was_written(cluster, make_cache, wait_until):
    writer = make_cache(cluster.location, options={"CLUSTER": True})
    reader = make_cache(cluster.location, options={"CLUSTER": True, "READ_FROM_REPLICAS": True})
    writer.set_many({f"r{i}": i for i in range(100)})
    wait_until(lambda: reader.get_many([f"r{i}" for i in range(100)]) == {f"r{i}": i for i in range(100)},
               message="replica reads")


# --------------------------------------------------------------------------- bar 4


def test_keys_are_where_redis_cli_expects_them(cluster, cluster_cache):
    cli = cli_binary()  # redis-cli, or RCG_REDIS_CLI (valkey-cli under `make test-valkey`)
    for i in range(20):
        cluster_cache.set(f"cli-{i}", 1000 + i)
    for i in range(20):
        key = f":1:cli-{i}"
        slot = key_slot(key.encode())
        out = subprocess.run([cli, "-c", "-p", str(cluster.nodes[0].port), "CLUSTER", "KEYSLOT", key],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert int(out) == slot
        got = subprocess.run([cli, "-c", "-p", str(cluster.nodes[0].port), "GET", key],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert got == str(1000 + i)
        assert cluster.node_for_slot(slot).command("GET", key) == str(1000 + i).encode()  # no MOVED


# --------------------------------------------------------------------------- bar 3: failover


class Load:
    """Two threads writing and reading back their own keys through one cache, recording outcomes."""

    def __init__(self, cache, keys: list[str]) -> None:
        self.cache, self.keys = cache, keys
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.errors: list[tuple[float, BaseException]] = []
        self.oks: list[float] = []
        self.wrong: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True) for t in range(2)]

    def _run(self, t: int) -> None:
        n = 0
        while not self.stop.is_set():
            key = self.keys[(n * 2 + t) % len(self.keys)]
            n += 1
            try:
                self.cache.set(key, n)
                got = self.cache.get(key)
                with self.lock:
                    if got != n:
                        self.wrong.append(f"{key}: {got!r} != {n}")
                    self.oks.append(time.monotonic())
            except Exception as e:  # noqa: BLE001 - recorded and checked below
                with self.lock:
                    self.errors.append((time.monotonic(), e))
                time.sleep(0.01)

    def __enter__(self) -> "Load":
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for th in self.threads:
            th.join(30)

    def ok_after(self, t: float) -> int:
        with self.lock:
            return sum(1 for x in self.oks if x > t)


def _check_failover(load: Load, killed: float, promoted: float, label: str) -> None:
    last_error = max((t for t, _ in load.errors), default=killed)
    first_error = min((t for t, _ in load.errors), default=killed)
    gap = last_error - first_error
    oks = sorted(load.oks)
    stall = max((b - a for a, b in zip(oks, oks[1:]) if b > killed), default=0.0)
    print(f"{label}: promotion {promoted - killed:.2f}s after the kill; errors {len(load.errors)} "
          f"from +{first_error - killed:.2f}s to +{last_error - killed:.2f}s (observed gap {gap:.2f}s; "
          f"longest stretch without a successful set+get {stall:.2f}s); "
          f"service correct again {max(last_error - promoted, 0):.2f}s after promotion")
    bad = [e for _, e in load.errors if not isinstance(e, SWITCH_ERRORS)]
    assert not bad, f"undocumented errors during the switch: {bad[:3]}"
    assert not load.wrong, load.wrong[:5]
    # Only a clock shows how soon the client follows the promotion (typically under a second);
    # the bound is 10x that, for a loaded machine.
    assert last_error - promoted < 10, f"errors went on {last_error - promoted:.1f}s after promotion"


@pytest.mark.timeout(120)
def test_cluster_primary_failover_under_load(make_cache, wait_until):
    c = RedisCluster().start()
    try:
        victim = c.node_for_slot(0)
        cache = make_cache(c.location, options={"CLUSTER": True, "SOCKET_TIMEOUT": 1, "SOCKET_CONNECT_TIMEOUT": 0.5})
        hi = next(n for n in c.primaries() if n is not victim)
        keys = [k for k in (f"fo-{i}" for i in range(400)) if c.node_for_slot(key_slot(f":1:{k}".encode())) is victim][:20]
        keys += [f"fo-other-{i}" for i in range(4)]
        assert len(keys) >= 10 and hi is not None
        with Load(cache, keys) as load:
            wait_until(lambda: load.ok_after(0) > 50, message="load running")
            killed = time.monotonic()
            victim.proc.kill()
            victim.proc.wait()
            victim.proc = None
            wait_for("a replica promoted for slot 0", lambda: c.node_for_slot(0) is not victim, 60, 0.02)
            promoted = time.monotonic()
            c.wait_ok()
            settled = time.monotonic()
            wait_until(lambda: load.ok_after(settled) > 50, message="load served again after promotion")
        _check_failover(load, killed, promoted, "cluster failover")
        assert cache.get_many(keys[:5]) is not None
    finally:
        c.stop()


@pytest.mark.timeout(120)
def test_sentinel_primary_failover_under_load(make_cache, wait_until):
    dep = SentinelDeployment().start()
    try:
        cache = make_cache("redis://sentinel-named-primary/0", options={
            "SENTINELS": dep.sentinel_addrs, "SENTINEL_SERVICE": dep.service,
            "SOCKET_TIMEOUT": 1, "SOCKET_CONNECT_TIMEOUT": 0.5})
        reader = make_cache("redis://sentinel-named-primary/0", options={
            "SENTINELS": dep.sentinel_addrs, "SENTINEL_SERVICE": dep.service, "READ_FROM_REPLICAS": True})
        cache.set_many({f"rep-{i}": i for i in range(30)})
        wait_until(lambda: reader.get_many([f"rep-{i}" for i in range(30)]) == {f"rep-{i}": i for i in range(30)},
                   message="replica reads through the Sentinels")
        assert sorted(reader.iter_keys("rep-*")) == sorted(f"rep-{i}" for i in range(30))
        reader.clear()
        assert cache.get("rep-1") is None
        old = dep.primary.port
        with Load(cache, [f"s{i}" for i in range(20)]) as load:
            wait_until(lambda: load.ok_after(0) > 50, message="load running")
            killed = time.monotonic()
            dep.primary.proc.kill()
            dep.primary.proc.wait()
            wait_for("sentinels to promote a replica", lambda: dep.current_primary_port() != old, 60, 0.02)
            promoted = time.monotonic()
            settled = time.monotonic()
            wait_until(lambda: load.ok_after(settled) > 50, message="load served again after promotion")
        _check_failover(load, killed, promoted, "sentinel failover")
        cache.set("after", 1)
        new = next(s for s in dep.replicas if s.port == dep.current_primary_port())
        assert new.command("GET", ":1:after") == b"1"

        # the replica-reading client follows the promotion too: its one-shard slot map is
        # reloaded from the Sentinels after the old primary fails
        def reader_writes() -> bool:
            try:
                reader.set("after-reader", 2)
                return True
            except SWITCH_ERRORS:
                return False
        wait_until(reader_writes, message="writes through the replica-reading client after promotion")
        assert new.command("GET", ":1:after-reader") == b"2"
        wait_until(lambda: reader.get("after-reader") == 2, message="the replica-reading client reads its write")
    finally:
        dep.stop()

"""READ_FROM_REPLICAS: where reads and writes go, by the servers' own counters.

The replicas a client may read from are the ones its slot map lists: Redis Cluster's CLUSTER SLOTS
(which leaves out a replica that is failed or not yet synced, e.g. for the first seconds of a new
cluster) or the Sentinels' SENTINEL REPLICAS (which flags one that is down). A client keeps that map
until something makes it reload. Here one replica is paused (SIGSTOP) until the deployment reports
it down, the cache loads its map without it, then the replica is resumed and the deployment lists it
again: reads through the cache must come to reach it (and every other replica) without any error to
prompt a reload. Writes must all reach the primaries, none a replica.
"""
from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from redisproc import RedisServer
from topology import RedisCluster, SentinelDeployment, wait_for


def _calls(node: RedisServer, command: str) -> int:
    m = re.search(rb"^cmdstat_%s:calls=(\d+)" % command.encode(), node.command("INFO", "commandstats"), re.M)
    return int(m.group(1)) if m else 0


def _errors(node: RedisServer) -> dict[str, int]:
    """The node's error replies by prefix (MOVED, READONLY, ...) since its last CONFIG RESETSTAT."""
    found = re.findall(rb"^errorstat_(\w+):count=(\d+)", node.command("INFO", "errorstats"), re.M)
    return {name.decode(): int(count) for name, count in found}


@contextmanager
def _paused(node: RedisServer) -> Iterator[None]:
    """node stopped (SIGSTOP) for the block; resumed whatever happens."""
    assert node.proc is not None
    node.proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        node.proc.send_signal(signal.SIGCONT)


def _listed_replicas(node: RedisServer) -> set[int]:
    """Ports of the replicas node's CLUSTER SLOTS lists (the ones a cluster client may read from)."""
    return {int(r[1]) for rng in node.command("CLUSTER", "SLOTS") for r in rng[3:]}


def _reads_reach(cache, data: dict[str, int], replicas: list[RedisServer]) -> bool:
    """One round of reads (get, get_many, has_key, ttl) returning what was written; True once
    every replica has served GETs and the replicas EXISTS and PTTL."""
    for k, v in data.items():
        assert cache.get(k) == v
    assert cache.get_many(list(data)) == data
    for k in list(data)[:20]:
        assert cache.has_key(k)
        assert 0 < cache.ttl(k) <= 300
    return (all(_calls(r, "get") > 0 for r in replicas)
            and sum(_calls(r, "exists") for r in replicas) > 0 and sum(_calls(r, "pttl") for r in replicas) > 0)


def _check_writes(cache, primaries: list[RedisServer], replicas: list[RedisServer]) -> None:
    """Writes through the cache land on the primaries: their SET count is the number of SETs sent,
    and no replica refused or redirected one (a replica counts the SETs it replays from its primary,
    so its own SET count says nothing)."""
    for n in primaries + replicas:
        n.command("CONFIG", "RESETSTAT")
    cache.set_many({f"w{i}": i for i in range(50)})
    for i in range(50):
        cache.set(f"x{i}", i)
    assert sum(_calls(p, "set") for p in primaries) == 100
    for r in replicas:
        assert _errors(r) == {}, f"replica {r.port} refused or redirected a command"


@pytest.mark.timeout(180)
def test_cluster_reads_reach_a_replica_listed_after_the_map_was_loaded(make_cache, wait_until):
    cluster = RedisCluster().start()
    try:
        primaries = cluster.primaries()
        replicas = [n for n in cluster.nodes if n not in primaries]
        others = [n for n in cluster.nodes if n is not replicas[0]]
        data = {f"r{i}": i for i in range(100)}
        cache = make_cache(cluster.location, options={"CLUSTER": True, "READ_FROM_REPLICAS": True})
        with _paused(replicas[0]):
            wait_for("the cluster to leave the paused replica out of CLUSTER SLOTS",
                     lambda: all(replicas[0].port not in _listed_replicas(n) for n in others))
            assert cache.set_many(data) == []  # the first command: loads the slot map
        wait_for("CLUSTER SLOTS to list every replica on every node",
                 lambda: all(_listed_replicas(n) == {r.port for r in replicas} for n in cluster.nodes))
        for n in cluster.nodes:
            n.command("CONFIG", "RESETSTAT")
        wait_until(lambda: _reads_reach(cache, data, replicas), message="GETs on every replica")
        print({n.port: (_calls(n, "get"), _calls(n, "exists"), _calls(n, "pttl"), "replica" if n in replicas
                        else "primary") for n in cluster.nodes})
        _check_writes(cache, primaries, replicas)
    finally:
        cluster.stop()


def _sentinel_replica_up(dep: SentinelDeployment, replica: RedisServer, up: bool) -> bool:
    """Whether every Sentinel reports replica as usable (up=True) or as down (up=False)."""
    for s in dep.sentinels:
        listed = s.command("SENTINEL", "REPLICAS", dep.service)
        flags = None
        for entry in listed:
            d = dict(zip((x.decode() for x in entry[::2]), (x.decode() for x in entry[1::2])))
            if d.get("port") == str(replica.port):
                flags = set(d.get("flags", "").split(","))
        is_up = flags is not None and not flags & {"s_down", "o_down", "disconnected"}
        if is_up != up:
            return False
    return True


@pytest.mark.timeout(180)
def test_sentinel_reads_reach_a_replica_back_after_the_map_was_loaded(make_cache, wait_until):
    dep = SentinelDeployment().start()
    try:
        paused = dep.replicas[0]
        data = {f"r{i}": i for i in range(100)}
        cache = make_cache("redis://sentinel-named-primary/0", options={
            "SENTINELS": dep.sentinel_addrs, "SENTINEL_SERVICE": dep.service, "READ_FROM_REPLICAS": True})
        with _paused(paused):
            wait_for("every Sentinel to flag the paused replica down",
                     lambda: _sentinel_replica_up(dep, paused, up=False))
            assert cache.set_many(data) == []  # the first command: loads the map from the Sentinels
        wait_for("every Sentinel to report the replica up again", lambda: _sentinel_replica_up(dep, paused, up=True))
        for n in dep.servers:
            n.command("CONFIG", "RESETSTAT")
        wait_until(lambda: _reads_reach(cache, data, dep.replicas), message="GETs on every replica")
        print({n.port: (_calls(n, "get"), _calls(n, "exists"), _calls(n, "pttl")) for n in dep.servers},
              "primary", dep.primary.port)
        _check_writes(cache, [dep.primary], dep.replicas)
    finally:
        dep.stop()

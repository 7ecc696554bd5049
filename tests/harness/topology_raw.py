"""A deployment-wide stand-in for the harness' one-server RESP client (``RedisServer.command``).

Tests that check what Redis holds call ``raw.command(...)``. Against a Cluster or a Sentinel
deployment, ``DeploymentRaw`` sends key commands to the node that owns the key (the slot's primary,
or Sentinel's current primary), answers DBSIZE/KEYS/FLUSHALL over every primary, and answers
``INFO`` with the two connection counters the tests read, computed as one server would report
them: the connections the cache opened, plus one for the INFO call itself.
"""
from __future__ import annotations

import re
from typing import Callable

from redisproc import RedisReplyError, RedisServer

KEY_COMMANDS = {"GET", "SET", "EXISTS", "PTTL", "TTL", "STRLEN", "DEL", "TYPE", "OBJECT", "DEBUG"}


class DeploymentRaw:
    def __init__(self, primaries: Callable[[], list[RedisServer]], owner: Callable[[bytes], RedisServer]) -> None:
        self._primaries = primaries
        self._owner = owner
        self._extra = 0  # connections this object opened beyond one per logical call

    def _send(self, node: RedisServer, *args) -> object:
        return node.command(*args)

    def command(self, *args: str | bytes, timeout: float = 30.0) -> object:
        name = (args[0].decode() if isinstance(args[0], bytes) else args[0]).upper()
        if name in KEY_COMMANDS and len(args) > 1:
            key = args[1] if name not in ("OBJECT", "DEBUG") else args[2]
            key = key.encode() if isinstance(key, str) else key
            return self._owner(key).command(*args, timeout=timeout)
        nodes = self._primaries()
        self._extra += len(nodes) - 1
        if name == "DBSIZE":
            return sum(n.command("DBSIZE") for n in nodes)
        if name == "KEYS":
            return [k for n in nodes for k in n.command(*args)]
        if name in ("FLUSHALL", "FLUSHDB"):
            for n in nodes:
                n.command(*args)
            return b"OK"
        if name == "INFO":
            return self._info(nodes)
        if name == "PING":
            return nodes[0].command("PING")
        raise RedisReplyError(f"DeploymentRaw does not route {name}")

    def _info(self, nodes: list[RedisServer]) -> bytes:
        total = 0
        clients = 1  # this INFO call, as a one-server INFO counts itself
        for n in nodes:
            for line in n.command("CLIENT", "LIST").decode().splitlines():
                fields = dict(f.split("=", 1) for f in line.split(" ") if "=" in f)
                if fields.get("name", "").startswith("sentinel") or set(fields.get("flags", "")) & {"S", "M"}:
                    continue
                if fields.get("cmd") == "client|list":
                    continue
                clients += 1
            info = n.command("INFO", "stats")
            total += int(re.search(rb"total_connections_received:(\d+)", info).group(1))
        self._extra += len(nodes)  # the CLIENT LIST connections
        # Count this object's own connections as one per logical call.
        return b"connected_clients:%d\r\ntotal_connections_received:%d\r\n" % (clients, total - self._extra)

    def location_of(self, key: bytes) -> RedisServer:
        return self._owner(key)


def key_slot(key: bytes) -> int:
    """Redis Cluster's hash slot of key (CRC16/XMODEM of the hash tag or the key, mod 16384)."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    crc = 0
    for byte in key:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc % 16384


def cluster_raw(cluster) -> DeploymentRaw:
    """raw.command routed over a RedisCluster whose slot map does not change (read once here)."""
    primaries = cluster.primaries()
    owners = [cluster.node_for_slot(lo) for lo in (0, 5461, 10923)]
    table = []
    for rng in owners[0].command("CLUSTER", "SLOTS"):
        node = next(n for n in cluster.nodes if n.port == int(rng[2][1]))
        table.append((rng[0], rng[1], node))

    def owner(key: bytes) -> RedisServer:
        slot = key_slot(key)
        return next(node for lo, hi, node in table if lo <= slot <= hi)

    return DeploymentRaw(lambda: primaries, owner)


def sentinel_raw(dep) -> DeploymentRaw:
    """raw.command sent to a SentinelDeployment's current primary."""
    def primary() -> RedisServer:
        port = dep.current_primary_port()
        return next(s for s in dep.servers if s.port == port)
    return DeploymentRaw(lambda: [primary()], lambda key: primary())

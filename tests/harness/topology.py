"""Throw-away Redis Cluster and Sentinel deployments on loopback ports, for tests.

``RedisCluster``: 6 redis-server nodes in cluster mode, joined by ``redis-cli --cluster create
--cluster-replicas 1`` (3 primaries, 3 replicas). ``SentinelDeployment``: a primary, 2 replicas
and 3 sentinels watching it as ``mymaster``. Every process is a child that dies with its parent
(redisproc's PR_SET_PDEATHSIG); ``stop()`` ends them all.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

from redisproc import RedisReplyError, RedisServer, RedisServerError, _binary, _die_with_parent, cli_binary, free_port


def _redis_cli() -> str:
    return cli_binary()  # RCG_REDIS_CLI or redis-cli


def wait_for(what: str, cond, timeout: float = 60.0, step: float = 0.05):
    """Poll cond() until it returns a true value; fail naming what was awaited. The deadline only
    bounds a failure (a deployment converging on a loaded machine can take a while)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = cond()
        except (OSError, RuntimeError, RedisReplyError):
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise RedisServerError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def _text(reply: object) -> str:
    return reply.decode() if isinstance(reply, bytes) else str(reply)


def _info(server: RedisServer, section: str) -> dict[str, str]:
    out = {}
    for line in _text(server.command("INFO", section)).splitlines():
        if ":" in line and not line.startswith("#"):
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def _cluster_port(taken: set[int] | None = None) -> int:
    """A free port whose cluster bus port (+10000) is free too and below 65536, neither of them in
    ``taken`` (the ports and bus ports of the cluster's other nodes: a node whose port is another
    node's bus port fails to start, "Address already in use"); both are added to it."""
    import socket

    taken = set() if taken is None else taken
    while True:
        port = free_port()
        if port > 55535 or port in taken or port + 10000 in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        taken.update((port, port + 10000))
        return port


class RedisCluster:
    """A 6-node Redis Cluster (3 primaries with one replica each) on 127.0.0.1."""

    def __init__(self, nodes: int = 6, replicas: int = 1) -> None:
        taken: set[int] = set()
        self._taken = taken
        self.nodes = [
            RedisServer(_cluster_port(taken), extra=["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                               "--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0"])
            for _ in range(nodes)
        ]
        self.replicas = replicas

    @property
    def location(self) -> str:
        return self.nodes[0].location

    def start(self) -> "RedisCluster":
        try:
            for n in self.nodes:
                try:
                    n.start()
                except RedisServerError as e:
                    # its port (or bus port) was free when picked and taken since (a client's
                    # ephemeral port): the cluster is not formed yet, so another port will do
                    if "Address already in use" not in str(e):
                        raise
                    n.port = _cluster_port(self._taken)
                    stale = os.path.join(n.dir, "nodes.conf")  # written with the old port, if at all
                    if os.path.exists(stale):
                        os.remove(stale)
                    n.start()
            cmd = [_redis_cli(), "--cluster", "create", *[n.location for n in self.nodes],
                   "--cluster-replicas", str(self.replicas), "--cluster-yes"]
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, preexec_fn=_die_with_parent)
            if res.returncode != 0:
                raise RedisServerError(f"redis-cli --cluster create failed: {res.stdout}{res.stderr}")
            self.wait_ok()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ok(self, timeout: float = 60.0) -> None:
        """Wait until every live node reports cluster_state:ok and sees 3 primaries with slots."""
        def ok() -> bool:
            for n in self.live():
                info = _text(n.command("CLUSTER", "INFO"))
                if "cluster_state:ok" not in info or "cluster_slots_assigned:16384" not in info:
                    return False
            return True
        wait_for("cluster_state:ok on every node", ok, timeout)

    def live(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    def primaries(self) -> list[RedisServer]:
        return [n for n in self.live() if _info(n, "replication").get("role") == "master"]

    def node_for_slot(self, slot: int) -> RedisServer:
        """The live primary that serves slot (as CLUSTER SLOTS says)."""
        for n in self.live():
            for rng in n.command("CLUSTER", "SLOTS"):
                lo, hi, master = rng[0], rng[1], rng[2]
                if lo <= slot <= hi:
                    port = int(master[1])
                    return next(x for x in self.nodes if x.port == port)
        raise RedisServerError(f"no node serves slot {slot}")

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


class Sentinel:
    """One redis-server --sentinel process watching ``service`` at primary."""

    def __init__(self, primary: RedisServer, service: str) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.dir = tempfile.mkdtemp(prefix="rcg-sentinel-")
        self.conf = os.path.join(self.dir, "sentinel.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(
                f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                f"logfile {os.path.join(self.dir, 'sentinel.log')}\n"
                f"sentinel monitor {service} 127.0.0.1 {primary.port} 2\n"
                f"sentinel down-after-milliseconds {service} 1000\n"
                f"sentinel failover-timeout {service} 5000\n"
                f"sentinel parallel-syncs {service} 2\n"
            )
        self.proc: subprocess.Popen[bytes] | None = None
        self._client = RedisServer(self.port)  # for command()/ping() only; never started

    @property
    def location(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "Sentinel":
        self.proc = subprocess.Popen([_binary(), self.conf, "--sentinel"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        wait_for(f"sentinel on port {self.port}", self._client.ping, 30)
        return self

    def command(self, *args: str) -> object:
        return self._client.command(*args)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self._client.dir, ignore_errors=True)  # the never-started stand-in's empty dir


class SentinelDeployment:
    """A primary with 2 replicas and 3 sentinels watching it as ``service``."""

    def __init__(self, service: str = "mymaster") -> None:
        self.service = service
        self.primary = RedisServer()
        self.replicas = [RedisServer() for _ in range(2)]
        self.sentinels: list[Sentinel] = []

    @property
    def servers(self) -> list[RedisServer]:
        return [self.primary, *self.replicas]

    def start(self) -> "SentinelDeployment":
        try:
            self.primary.start()
            for r in self.replicas:
                r.extra += ["--replicaof", "127.0.0.1", str(self.primary.port)]
                r.start()
            wait_for("2 replicas in sync", lambda: _info(self.primary, "replication").get("connected_slaves") == "2"
                     and all(_info(r, "replication").get("master_link_status") == "up" for r in self.replicas))
            self.sentinels = [Sentinel(self.primary, self.service) for _ in range(3)]
            for s in self.sentinels:
                s.start()
            wait_for("sentinels to see each other and both replicas", self._settled)
        except BaseException:
            self.stop()
            raise
        return self

    def _settled(self) -> bool:
        for s in self.sentinels:
            m = s.command("SENTINEL", "MASTER", self.service)
            d = dict(zip(map(_text, m[::2]), map(_text, m[1::2])))
            if d.get("num-other-sentinels") != "2" or d.get("num-slaves") != "2":
                return False
        return True

    def current_primary_port(self) -> int:
        addr = self.sentinels[0].command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        return int(_text(addr[1]))

    @property
    def sentinel_addrs(self) -> list[str]:
        return [s.location for s in self.sentinels]

    def stop(self) -> None:
        for s in self.sentinels:
            s.stop()
        for r in self.servers:
            r.stop()

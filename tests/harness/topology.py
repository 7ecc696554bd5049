"""Throw-away Redis Cluster and Sentinel deployments on loopback ports, for tests.

``RedisCluster``: 6 redis-server nodes in cluster mode, joined by ``redis-cli --cluster create
--cluster-replicas 1`` (3 primaries, 3 replicas); it can add nodes and move slots under load
(``add_node``, ``reshard``, ``rebalance``, ``wait_converged``, ``check``). ``SentinelDeployment``: a primary, 2 replicas
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


_NODE_ARGS = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
              "--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0"]


def _start_node(node: RedisServer, taken: set[int]) -> None:
    """Start a cluster node that has not joined a cluster yet; a port (or bus port) taken since it
    was picked (a client's ephemeral port) is replaced by another free pair."""
    try:
        node.start()
    except RedisServerError as e:
        if "Address already in use" not in str(e):
            raise
        node.port = _cluster_port(taken)
        stale = os.path.join(node.dir, "nodes.conf")  # written with the old port, if at all
        if os.path.exists(stale):
            os.remove(stale)
        node.start()


def _nodes_table(node: RedisServer) -> list[list[str]]:
    """``CLUSTER NODES`` of node, one list of fields per known node."""
    return [line.split() for line in _text(node.command("CLUSTER", "NODES")).splitlines() if line.strip()]


class RedisCluster:
    """A 6-node Redis Cluster (3 primaries with one replica each) on 127.0.0.1.

    It can grow and move slots while clients use it: ``add_node`` joins a new (empty) primary or a
    replica, ``reshard`` and ``rebalance`` move slots with ``redis-cli --cluster`` (keys migrate
    with MIGRATE, clients meanwhile get ASK/TRYAGAIN/MOVED replies), ``wait_converged`` polls
    until every node agrees on one slot map, and ``check`` runs ``redis-cli --cluster check``.
    Added nodes are stopped with the cluster.
    """

    def __init__(self, nodes: int = 6, replicas: int = 1) -> None:
        taken: set[int] = set()
        self._taken = taken
        self.nodes = [RedisServer(_cluster_port(taken), extra=_NODE_ARGS) for _ in range(nodes)]
        self.replicas = replicas

    @property
    def location(self) -> str:
        return self.nodes[0].location

    def start(self) -> "RedisCluster":
        try:
            for n in self.nodes:
                _start_node(n, self._taken)
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

    # ----------------------------------------------------------------- growth and slot moves

    def node_id(self, node: RedisServer) -> str:
        """The node's cluster id (``CLUSTER MYID``), as ``redis-cli --cluster`` options take it."""
        return _text(node.command("CLUSTER", "MYID"))

    def _cli(self, *args: str, timeout: float = 600.0) -> str:
        """Run ``redis-cli --cluster <args>`` and return its output; a failure (exit status, or an
        ``[ERR]`` line: some sub-commands exit 0 after one) is a RedisServerError quoting it."""
        cmd = [_redis_cli(), "--cluster", *args]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=_die_with_parent)
        out = res.stdout + res.stderr
        if res.returncode != 0 or "[ERR]" in out:
            raise RedisServerError(f"redis-cli --cluster {' '.join(args)} failed ({res.returncode}): {out[-3000:]}")
        return out

    def add_node(self, replica_of: RedisServer | None = None) -> RedisServer:
        """Start a new cluster node on a free port (its bus port free too) and join it with
        ``redis-cli --cluster add-node``: an empty primary, or a replica of ``replica_of``. Returns
        once every node knows it (and, for a replica, once it replicates); it is stopped with the
        cluster."""
        self.wait_converged()
        node = RedisServer(_cluster_port(self._taken), extra=_NODE_ARGS)
        self.nodes.append(node)  # from here on, stop() ends it
        _start_node(node, self._taken)
        args = ["add-node", node.location, self.location]
        if replica_of is not None:
            args += ["--cluster-slave", "--cluster-master-id", self.node_id(replica_of)]
        self._cli(*args, timeout=120)
        new_id = self.node_id(node)
        if replica_of is not None:
            wait_for(f"node {node.port} to replicate {replica_of.port}",
                     lambda: _info(node, "replication").get("master_link_status") == "up")
        self.wait_converged()
        assert all(any(f[0] == new_id for f in _nodes_table(n)) for n in self.live())
        return node

    def reshard(self, src: RedisServer | str, dst: RedisServer | str, slots: int, pipeline: int | None = None) -> str:
        """Move ``slots`` slots from src (a node, a node id, or "all": every primary but dst) to
        dst (a node or a node id) with ``redis-cli --cluster reshard``: slot by slot, lowest
        first, its keys MIGRATEd in batches of ``pipeline`` (redis-cli's default: 10). Waits for
        convergence before and after; returns redis-cli's output."""
        self.wait_converged()
        src_id = src if isinstance(src, str) else self.node_id(src)
        dst_id = dst if isinstance(dst, str) else self.node_id(dst)
        args = ["reshard", self.location, "--cluster-from", src_id, "--cluster-to", dst_id,
                "--cluster-slots", str(slots), "--cluster-yes"]
        if pipeline is not None:
            args += ["--cluster-pipeline", str(pipeline)]
        out = self._cli(*args)
        self.wait_converged()
        return out

    def rebalance(self, use_empty_masters: bool = True, weights: dict[str, float] | None = None,
                  threshold: float | None = None, pipeline: int | None = None) -> str:
        """``redis-cli --cluster rebalance``: spread the slots over the primaries by weight (node
        id -> weight; default 1 each), empty primaries included when use_empty_masters. Waits for
        convergence before and after; returns redis-cli's output."""
        self.wait_converged()
        args = ["rebalance", self.location]
        if use_empty_masters:
            args.append("--cluster-use-empty-masters")
        if weights:
            args += ["--cluster-weight", *(f"{k}={v:g}" for k, v in weights.items())]
        if threshold is not None:
            args += ["--cluster-threshold", f"{threshold:g}"]
        if pipeline is not None:
            args += ["--cluster-pipeline", str(pipeline)]
        out = self._cli(*args)
        self.wait_converged()
        return out

    def slot_counts(self) -> dict[int, int]:
        """Slots served per primary, by port (as the first live node's ``CLUSTER SLOTS`` says)."""
        counts: dict[int, int] = {}
        for rng in self.live()[0].command("CLUSTER", "SLOTS"):
            port = int(rng[2][1])
            counts[port] = counts.get(port, 0) + rng[1] - rng[0] + 1
        return counts

    def slots_of(self, node: RedisServer) -> list[int]:
        """The slots node serves, ascending (from its own ``CLUSTER NODES`` line)."""
        me = next(f for f in _nodes_table(node) if "myself" in f[2].split(","))
        out: list[int] = []
        for part in me[8:]:
            if part.startswith("["):
                continue  # a slot being migrated or imported
            lo, _, hi = part.partition("-")
            out.extend(range(int(lo), int(hi or lo) + 1))
        return out

    def _agreed(self) -> bool:
        """Every live node knows the same nodes (none in handshake or failing), no slot is open
        (migrating/importing), all 16384 slots are assigned and every node has the same map."""
        live = self.live()
        maps = []
        for n in live:
            table = _nodes_table(n)
            if len(table) != len(live):
                return False
            slots = []
            for f in table:
                flags = set(f[2].split(","))
                if flags & {"handshake", "fail", "fail?", "noaddr"} or f[7] != "connected" and "myself" not in flags:
                    return False
                if any(p.startswith("[") for p in f[8:]):
                    return False
                slots.append((f[0], tuple(f[8:])))
            maps.append(sorted(slots))
        if any(m != maps[0] for m in maps):
            return False
        for n in live:
            info = _text(n.command("CLUSTER", "INFO"))
            if "cluster_state:ok" not in info or "cluster_slots_assigned:16384" not in info:
                return False
        return True

    def wait_converged(self, timeout: float = 60.0) -> None:
        """Poll until the cluster has converged (see ``_agreed``): what ``redis-cli --cluster``
        needs before a reshard, and what a finished one leads to."""
        wait_for("every cluster node to agree on one slot map", self._agreed, timeout)

    def check(self) -> str:
        """``redis-cli --cluster check``: all slots covered, nodes agree, no open slot; raises a
        RedisServerError quoting its output otherwise. Returns the output."""
        out = self._cli("check", self.location, timeout=60)
        if "[OK] All 16384 slots covered" not in out or "[WARNING]" in out:
            raise RedisServerError(f"redis-cli --cluster check: {out[-3000:]}")
        return out


class Sentinel:
    """One redis-server --sentinel process watching ``service`` at primary."""

    def __init__(self, primary: RedisServer, service: str) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.id = os.urandom(20).hex()  # its run id, set in its config (sentinel myid)
        self.primary, self.service = primary, service
        self.dir = tempfile.mkdtemp(prefix="rcg-sentinel-")
        self.conf = os.path.join(self.dir, "sentinel.conf")
        self.configure()
        self.proc: subprocess.Popen[bytes] | None = None
        self._client = RedisServer(self.port)  # for command()/ping() only; never started

    def configure(self, peers: list["Sentinel"] = (), replicas: list[RedisServer] = ()) -> None:  # type: ignore[assignment]
        """Write the config: the monitored primary, and (before start) the other sentinels and the
        replicas as already known, so the deployment is settled at once instead of after the
        hello messages (every 2 s) and INFO polls that discover them."""
        service = self.service
        known = "".join(f"sentinel known-sentinel {service} 127.0.0.1 {p.port} {p.id}\n" for p in peers)
        known += "".join(f"sentinel known-replica {service} 127.0.0.1 {r.port}\n" for r in replicas)
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(
                f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                f"logfile {os.path.join(self.dir, 'sentinel.log')}\n"
                f"sentinel myid {self.id}\n"
                f"sentinel monitor {service} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {service} 1000\n"
                f"sentinel failover-timeout {service} 5000\n"
                f"sentinel parallel-syncs {service} 2\n" + known
            )

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
                s.configure([p for p in self.sentinels if p is not s], self.replicas)
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

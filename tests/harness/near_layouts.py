"""The layouts the near-cache suite runs on, each with the server-side helpers its tests need.

``Layout`` builds caches (``make``) and answers, for any key, the server a write of it lands on
(``owner``): the one server; the key's ring server; the primary of a primary/replica layout; the
primary that owns the key's slot in a Redis Cluster. Server-side helpers (``cli``, ``flushall``,
``kill_tracking``, ``tracking_clients``, ``get_calls``, ``acl``) act on the owner or on every node.

``start_layout(name, one_server)`` starts what the layout needs: nothing for ``one`` (the session
server), 3 servers for ``ring``, a primary and 2 replicas for ``replicas``, a 6-node Redis Cluster
for ``cluster``. ``stop()`` ends what it started.
"""
from __future__ import annotations

import subprocess
from typing import Any, Callable

from redisproc import RedisServer, cli_binary
from topology import RedisCluster, _info, wait_for
from topology_raw import key_slot

LAYOUTS = ("one", "ring", "replicas", "cluster")


class Layout:
    def __init__(self, name: str, servers: list[RedisServer], replicas: list[RedisServer] | None = None,
                 cluster: RedisCluster | None = None, started: bool = True) -> None:
        self.name = name
        self.servers = servers  # the servers writes go to (LOCATION order; a Cluster's seed first)
        self.replicas = replicas or []
        self.cluster = cluster
        self._started = started
        self._made: list[Any] = []
        self._locator: Any = None

    # ------------------------------------------------------------------ caches

    def backend(self) -> type:
        from redis_cache_go import RedisCache, ShardedRedisCache
        return ShardedRedisCache if self.name == "ring" else RedisCache

    def location(self, auth: str = "") -> str | list[str]:
        """LOCATION for the layout; auth is "user:password@" or ""."""
        if self.name == "cluster":
            return f"redis://{auth}{self.servers[0].location}/0"
        urls = [f"redis://{auth}{s.location}/0" for s in self.servers + self.replicas]
        return urls[0] if self.name == "one" else urls

    def options(self) -> dict[str, Any]:
        return {"CLUSTER": True} if self.name == "cluster" else {"DB": 0}

    def make(self, options: dict[str, Any] | None = None, auth: str = "", **params: Any) -> Any:
        """A cache on the layout: options are added to the layout's own; closed by stop_caches()."""
        cache = self.backend()(self.location(auth), {"OPTIONS": {**self.options(), **(options or {})}, **params})
        self._made.append(cache)
        return cache

    def stop_caches(self) -> None:
        for c in self._made:
            c.disconnect()
        self._made.clear()

    # ------------------------------------------------------------------ servers

    def nodes(self) -> list[RedisServer]:
        """Every server of the layout, replicas included."""
        if self.cluster is not None:
            return self.cluster.live()
        return self.servers + self.replicas

    def primaries(self) -> list[RedisServer]:
        return self.cluster.primaries() if self.cluster is not None else self.servers

    def owner(self, key: str) -> RedisServer:
        """The server a write of key (a full cache key) goes to."""
        if self.cluster is not None:
            return self.cluster.node_for_slot(key_slot(key.encode()))
        if self.name == "ring":
            if self._locator is None:
                self._locator = self.backend()(self.location(), {"OPTIONS": self.options()})
            return self.servers[self._locator._client.locate(key.encode())]
        return self.servers[0]

    def cli(self, key: str, *args: str) -> str:
        """Run the real redis-cli binary against owner(key); returns its output."""
        s = self.owner(key)
        out = subprocess.run([cli_binary(), "-h", s.host, "-p", str(s.port), *args],
                             check=True, capture_output=True, timeout=30)
        return out.stdout.decode().strip()

    def cli_all(self, *args: str, nodes: list[RedisServer] | None = None) -> list[str]:
        """Run redis-cli with args on every node (or on nodes)."""
        outs = []
        for s in nodes if nodes is not None else self.nodes():
            out = subprocess.run([cli_binary(), "-h", s.host, "-p", str(s.port), *args],
                                 check=True, capture_output=True, timeout=30)
            outs.append(out.stdout.decode().strip())
        return outs

    def flushall(self) -> None:
        """FLUSHALL from redis-cli on every server writes go to (replicas follow their primary)."""
        self.cli_all("FLUSHALL", nodes=self.primaries())

    def get_calls(self) -> int:
        """How many GETs the layout's servers have run (INFO commandstats, summed)."""
        total = 0
        for out in self.cli_all("INFO", "commandstats"):
            for line in out.splitlines():
                if line.startswith("cmdstat_get:"):
                    total += int(line.split("calls=")[1].split(",")[0])
        return total

    def _tracking_ids(self) -> list[tuple[RedisServer, str]]:
        found = []
        for s in self.nodes():
            for line in s.command("CLIENT", "LIST").decode().splitlines():
                fields = dict(f.split("=", 1) for f in line.split(" ") if "=" in f)
                if "t" in fields.get("flags", ""):
                    found.append((s, fields["id"]))
        return found

    def tracking_clients(self) -> int:
        """Connections with client tracking on (CLIENT LIST flags contain "t"), on every node."""
        return len(self._tracking_ids())

    def kill_tracking(self) -> int:
        """CLIENT KILL every tracking connection on every node (from redis-cli); how many."""
        killed = 0
        for s, cid in self._tracking_ids():
            killed += self.cli_all("CLIENT", "KILL", "ID", cid, nodes=[s])[0] == "1"
        return killed

    def writer(self, key: str) -> Any:
        """A redis-py client on owner(key), for writes from another client."""
        import redis
        s = self.owner(key)
        return redis.Redis(host=s.host, port=s.port, db=0)

    def stop(self) -> None:
        self.stop_caches()
        if self._locator is not None:
            self._locator.disconnect()
        if not self._started:
            return
        if self.cluster is not None:
            self.cluster.stop()
        for s in self.servers + self.replicas:
            s.stop()


def start_layout(name: str, one_server: Callable[[], RedisServer]) -> Layout:
    if name == "one":
        return Layout(name, [one_server()], started=False)
    if name == "ring":
        servers: list[RedisServer] = []
        try:
            for _ in range(3):
                servers.append(RedisServer().start())
        except BaseException:
            for s in servers:
                s.stop()
            raise
        return Layout(name, servers)
    if name == "replicas":
        primary = RedisServer().start()
        replicas = [RedisServer(extra=["--replicaof", "127.0.0.1", str(primary.port)]) for _ in range(2)]
        try:
            for r in replicas:
                r.start()
            wait_for("2 replicas in sync", lambda: _info(primary, "replication").get("connected_slaves") == "2"
                     and all(_info(r, "replication").get("master_link_status") == "up" for r in replicas))
        except BaseException:
            for s in [primary, *replicas]:
                s.stop()
            raise
        return Layout(name, [primary], replicas)
    if name == "cluster":
        cluster = RedisCluster().start()
        seed = cluster.primaries()[0]
        return Layout(name, [seed], cluster=cluster)
    raise ValueError(f"unknown layout {name!r}")

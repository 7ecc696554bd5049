"""Redis Cluster and Redis Sentinel settings (routing lives in Go: core/client/topology.go).

Cluster: ``OPTIONS["CLUSTER"] = True`` or ``redis+cluster://`` LOCATION entries; every LOCATION
entry is a seed node (go-redis discovers the rest); the database is always 0.
Sentinel: ``OPTIONS["SENTINELS"]`` = ``["host:port", ...]`` or ``[("host", port), ...]`` plus
``SENTINEL_SERVICE`` (the master name) and optionally ``SENTINEL_PASSWORD``; LOCATION then only
supplies the database and the data nodes' password (its host is not used).
``READ_FROM_REPLICAS`` (either kind) sends reads to replicas as well as primaries.
"""
from __future__ import annotations

from typing import Any

from redis_cache_go.exceptions import setting_error as _bad

KEYS = {"CLUSTER", "READ_FROM_REPLICAS", "SENTINELS", "SENTINEL_SERVICE", "SENTINEL_PASSWORD"}
CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


_SPACE = " \t\n\r\x0b\x0c"  # around an entry (as _settings and core/djcache/location.go strip it)


def strip_cluster_scheme(entries: list[str]) -> tuple[list[str], bool]:
    """LOCATION entries with redis+cluster:// turned into redis:// (and whether any had it)."""
    out, seen = [], False
    for e in entries:
        low = e.strip(_SPACE).lower()
        for scheme in CLUSTER_SCHEMES:
            if low.startswith(scheme):
                e = scheme.replace("+cluster", "") + e.strip(_SPACE)[len(scheme):]
                seen = True
        out.append(e)
    if seen and not all(e.strip(_SPACE).lower().startswith(CLUSTER_SCHEMES) for e in entries):
        raise _bad("LOCATION", entries, "mixes redis+cluster:// entries with others")
    return out, seen


def _addr(what: str, entry: Any) -> str:
    if isinstance(entry, (tuple, list)) and len(entry) == 2:
        host, port = entry
    elif isinstance(entry, str) and ":" in entry:
        host, _, port = entry.strip().rpartition(":")
    else:
        raise _bad(what, entry, "must be 'host:port' or (host, port)")
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise _bad(what, entry, "the port must be a number") from None
    if not 0 < port < 65536 or not host:
        raise _bad(what, entry, "needs a host and a port between 1 and 65535")
    host = str(host).strip("[]")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse(options: dict[str, Any], servers: list[Any], scheme_cluster: bool) -> dict[str, Any] | None:
    """The document's "topology" object, or None for plain servers (see capi/topology.go)."""
    cluster = options.get("CLUSTER", False)
    if not isinstance(cluster, bool):
        raise _bad("OPTIONS['CLUSTER']", cluster, "must be True or False")
    cluster = cluster or scheme_cluster
    replicas = options.get("READ_FROM_REPLICAS", False)
    if not isinstance(replicas, bool):
        raise _bad("OPTIONS['READ_FROM_REPLICAS']", replicas, "must be True or False")
    sentinels = options.get("SENTINELS")
    if cluster and sentinels:
        raise _bad("OPTIONS['SENTINELS']", sentinels, "cannot be combined with a Redis Cluster")
    if cluster:
        for s in servers:
            if s.is_unix:
                raise _bad("LOCATION entry", s.location, "a cluster node needs host:port")
        addrs = [(f"[{s.host}]:{s.port}" if ":" in (s.host or "") else f"{(s.host or '').strip()}:{s.port}") for s in servers]
        return {"kind": "cluster", "addrs": addrs, "service": "", "sentinel_password": "", "read_from_replicas": replicas}
    if sentinels is None:
        for key in ("SENTINEL_SERVICE", "SENTINEL_PASSWORD"):
            if options.get(key) is not None:
                raise _bad(f"OPTIONS[{key!r}]", "***" if "PASSWORD" in key else options[key], "needs OPTIONS['SENTINELS']")
        if replicas:
            raise _bad("OPTIONS['READ_FROM_REPLICAS']", replicas, "needs CLUSTER or SENTINELS")
        return None
    if isinstance(sentinels, str):
        sentinels = sentinels.split(",")
    if not isinstance(sentinels, (list, tuple)) or not sentinels:
        raise _bad("OPTIONS['SENTINELS']", sentinels, "must be a non-empty list of 'host:port' or (host, port)")
    service = options.get("SENTINEL_SERVICE")
    if not isinstance(service, str) or not service:
        raise _bad("OPTIONS['SENTINEL_SERVICE']", service, "must name the master the Sentinels watch")
    password = options.get("SENTINEL_PASSWORD") or ""
    if not isinstance(password, str):
        raise _bad("OPTIONS['SENTINEL_PASSWORD']", "***", "must be a string")
    return {
        "kind": "sentinel",
        "addrs": [_addr("OPTIONS['SENTINELS'] entry", e) for e in sentinels],
        "service": service,
        "sentinel_password": password,
        "read_from_replicas": replicas,
    }


def describe(topology: dict[str, Any], db: int) -> str:
    """Names the deployment for messages (no credentials)."""
    if topology["kind"] == "cluster":
        return "redis cluster " + ",".join(topology["addrs"])
    return f"redis sentinel {topology['service']} via {','.join(topology['addrs'])} db {db}"

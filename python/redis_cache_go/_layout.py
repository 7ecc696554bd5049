"""How a CACHES entry with several LOCATIONs becomes the native configuration document.

Three layouts, chosen by the backend class (see the README):

* ``ring`` (``ShardedRedisCache``): each key on one server, placed by django-redis-cache's ring
  (``HASH_RING: "seed"``, the default) or by hash_ring as django-kidoredis used it
  (``HASH_RING: "kidoredis"``). The seed ring's node names are Python's ``repr()`` of each
  server's identifier tuple, computed here: this module is the reference for them.
* ``copy`` (``RedisCopyCache``): every key on every server.
* ``primary`` (``RedisCache`` with several LOCATIONs): writes to ``MASTER_CACHE`` (default: the
  first entry, as django-redis-cache did), reads spread over the other entries.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

from redis_cache_go import _secrets, _settings, _topology

if TYPE_CHECKING:
    from redis_cache_go._settings import Server, Settings

_redact = _secrets.redact_url

logger = logging.getLogger("redis_cache_go")

HASH_RINGS = ("seed", "kidoredis", "django-redis")
# Per-server keys of the document; the rest of native_config() is shared by every server.
_SERVER_KEYS = ("network", "addr", "db", "username", "password", "tls")


def _address(server: Server) -> tuple[Any, ...]:
    """Where a server is, however its entry was written: ('unix', path) or ('tcp', host, port)."""
    if server.unix_socket_path and not server.tls:
        return ("unix", server.unix_socket_path)
    return ("tcp", (server.host or "").strip().lower(), server.port)


def primary_index(settings: Settings, master_cache: Any) -> int:
    """Index of the MASTER_CACHE entry among the LOCATION servers (0 when it is not set).

    ``"10.0.0.1:6379"`` matches ``"redis://10.0.0.1:6379/2"`` and the other way round; when
    several entries share the address, the one with the same db wins.
    """
    if master_cache is None:
        return 0
    entries = ", ".join(repr(_redact(s.location)) for s in settings.servers)
    if not isinstance(master_cache, str) or not master_cache.strip():
        raise ImproperlyConfigured(
            f"redis_cache_go: OPTIONS['MASTER_CACHE'] = {_secrets.redact(master_cache)!r}: must be one of the LOCATION entries ({entries})"
        )
    want = _settings.parse_server(master_cache.strip(), settings.servers[0].db, None)
    matches = [i for i, s in enumerate(settings.servers) if _address(s) == _address(want)]
    same_db = [i for i in matches if settings.servers[i].db == want.db]
    if same_db or matches:
        return (same_db or matches)[0]
    raise ImproperlyConfigured(
        f"redis_cache_go: OPTIONS['MASTER_CACHE'] = {_redact(master_cache)!r} is not one of the LOCATION entries "
        f"({entries}); write it as one of them, as host:port or as a redis:// URL"
    )


def weights(settings: Settings, value: Any) -> list[int] | None:
    """OPTIONS['WEIGHTS']: a list aligned with LOCATION, or a dict from LOCATION entry to weight."""
    if value is None:
        return None
    servers = settings.servers
    if isinstance(value, dict):
        out = [1] * len(servers)
        for entry, w in value.items():
            want = _settings.parse_server(str(entry).strip(), servers[0].db, None) if isinstance(entry, str) else None
            idx = [i for i, s in enumerate(servers) if want is not None and _address(s) == _address(want)]
            if not idx:
                raise ImproperlyConfigured(
                    f"redis_cache_go: OPTIONS['WEIGHTS'] key {_secrets.redact(entry)!r} is not one of the LOCATION entries "
                    f"({', '.join(repr(_redact(s.location)) for s in servers)})"
                )
            for i in idx:
                out[i] = _weight(w)
        return out
    if isinstance(value, (list, tuple)):
        if len(value) != len(servers):
            raise ImproperlyConfigured(
                f"redis_cache_go: OPTIONS['WEIGHTS'] = {_secrets.redact(value)!r}: {len(value)} weights for {len(servers)} LOCATION entries"
            )
        return [_weight(w) for w in value]
    raise ImproperlyConfigured(
        f"redis_cache_go: OPTIONS['WEIGHTS'] = {_secrets.redact(value)!r}: must be a list aligned with LOCATION or a dict entry -> weight"
    )


def _weight(w: Any) -> int:
    if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 1000:
        raise ImproperlyConfigured(f"redis_cache_go: OPTIONS['WEIGHTS'] weight {w!r}: must be an integer from 1 to 1000")
    return w


def hash_ring(value: Any) -> str:
    if value is None:
        return "seed"
    if value not in HASH_RINGS:
        raise ImproperlyConfigured(f"redis_cache_go: OPTIONS['HASH_RING'] = {value!r}: must be 'seed' (default), 'kidoredis' or 'django-redis'")
    return str(value)


def node_name(server: Server) -> str:
    """The seed ring's node name: repr() of (host, port, db, unix_socket_path)."""
    return repr(server.identifier)


def document(settings: Settings, mode: str, *, primary: int = 0, ring: str = "seed",
             ring_weights: list[int] | None = None) -> dict[str, Any]:
    """The configuration document for rcg_open (capi/config.go, capi/layout.go)."""
    if settings.topology:  # Cluster or Sentinel: go-redis routes (capi/topology.go)
        return settings.native_config(settings.servers[0])
    if len(settings.servers) == 1 and mode != "copy" and not ring_weights:
        return settings.native_config(settings.servers[0])
    doc = settings.native_config(settings.servers[0])
    for key in _SERVER_KEYS:
        doc.pop(key, None)
    # shared by every server: OPTIONS' timeouts, not one URL's ?socket_timeout=
    doc["socket_timeout"] = settings.socket_timeout or 0
    doc["connect_timeout"] = settings.connect_timeout or 0
    servers = []
    for i, server in enumerate(settings.servers):
        one = settings.native_config(server)
        entry = {key: one[key] for key in _SERVER_KEYS}
        entry["name"] = node_name(server)
        entry["weight"] = ring_weights[i] if ring_weights else 1
        servers.append(entry)
    if ring == "django-redis" and mode == "ring":
        if ring_weights and len(set(ring_weights)) > 1:
            raise ImproperlyConfigured(f"redis_cache_go: OPTIONS['WEIGHTS'] = {ring_weights!r}: django-redis' ring has no weights")
        for entry, server in zip(servers, settings.servers):
            entry["name"] = server.location  # django-redis names a node by its LOCATION entry as written
    doc.update(servers=servers, mode=mode, hash_ring=ring, primary=primary)
    return doc


def describe(settings: Settings, mode: str, primary: int = 0) -> str:
    """Names the servers for messages (no credentials)."""
    if settings.topology:
        return _topology.describe(settings.topology, settings.servers[0].db)
    servers = settings.servers
    if len(servers) == 1:
        return servers[0].describe()
    if mode == "primary":
        replicas = ", ".join(s.describe() for i, s in enumerate(servers) if i != primary)
        return f"primary {servers[primary].describe()} with replicas {replicas}"
    return f"{mode} of " + ", ".join(s.describe() for s in servers)

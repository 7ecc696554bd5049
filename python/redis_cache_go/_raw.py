"""Raw Redis access: real redis-py clients on the cache's own servers.

Code written for django-redis-cache calls ``cache.get_client(key, write=...)``,
``cache.get_master_client()`` and walks ``cache.clients``; code written for django-redis calls
``django_redis.get_redis_connection(alias, write=True)`` (which reads ``cache.client.get_client``)
to run hashes, sorted sets, pipelines, Lua scripts and pub/sub beside the cache. Those callers
expect redis-py's API, all of it, so these accessors return redis-py clients (an optional
dependency: ``pip install 'redis-cache-go[redis]'``), connected with the cache's credentials, TLS,
db and timeouts, to the server the cache itself would use: the key's own server on a ring, the
primary for writes, a Cluster client for a Cluster, a Sentinel-managed client under Sentinel.

Each server gets one redis-py client (one pool) per cache object, made on first use; redis-py's
pools reconnect after a fork by themselves, and ``disconnect()`` closes them. Values written
through these clients are plain Redis values, not cache entries (no prefix, no pickling).
"""
from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from redis_cache_go.exceptions import MissingDependencyError

if TYPE_CHECKING:
    from redis_cache_go._settings import Server, Settings

# the default timeouts of core/client (options.go): a raw call never waits longer than the cache's
DEFAULT_TIMEOUT = 5.0


def _redis() -> Any:
    """redis-py, or the error that says how to install it."""
    try:
        import redis
    except ImportError:
        raise MissingDependencyError(
            "redis_cache_go: raw Redis access (get_client, get_master_client, clients, "
            "get_redis_connection) returns redis-py clients, and redis-py is not installed: "
            "pip install 'redis-cache-go[redis]'") from None
    return redis


def connection_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """redis-py connection arguments for one server of the native document (capi/config.go):
    address, db, credentials, timeouts (5 s when unset, as in Go) and TLS files."""
    kwargs: dict[str, Any] = {
        "db": config.get("db", 0),
        "username": config.get("username") or None,
        "password": config.get("password") or None,
        "socket_timeout": config.get("socket_timeout") or DEFAULT_TIMEOUT,
        "socket_connect_timeout": config.get("connect_timeout") or DEFAULT_TIMEOUT,
    }
    if config.get("network") == "unix":
        kwargs["unix_socket_path"] = config["addr"]
    else:
        host, _, port = config["addr"].rpartition(":")
        kwargs["host"], kwargs["port"] = host.strip("[]"), int(port)
    tls = config.get("tls")
    if tls is not None:
        kwargs.update(ssl=True, ssl_ca_certs=tls.get("ca_file"), ssl_certfile=tls.get("cert_file"),
                      ssl_keyfile=tls.get("key_file"), ssl_cert_reqs=tls.get("cert_reqs") or "required")
        if tls.get("server_name"):
            kwargs["ssl_server_name"] = tls["server_name"]
    return kwargs


def _named_ssl_connection(redis: Any) -> Any:
    """An SSLConnection that checks the server's certificate against SSL_SERVER_NAME (and sends it
    as SNI) instead of the host it dials, as the Go dialer does."""

    class NamedSSLConnection(redis.SSLConnection):  # type: ignore[misc]
        def __init__(self, ssl_server_name: str, **kwargs: Any) -> None:
            self._server_name = ssl_server_name
            super().__init__(**kwargs)

        def _wrap_socket_with_ssl(self, sock: Any) -> Any:
            host: str = self.host  # type: ignore[has-type]
            self.host = self._server_name  # only wrap_socket's server_hostname reads it here
            try:
                return super()._wrap_socket_with_ssl(sock)
            finally:
                self.host = host

    return NamedSSLConnection


def server_client(settings: Settings, server: Server) -> Any:
    """A redis-py client of one LOCATION server, with the cache's pool size and pool class."""
    return config_client(settings.native_config(server), settings.max_connections, settings.pool_timeout)


def config_client(config: dict[str, Any], max_connections: int, pool_timeout: float | None) -> Any:
    """A redis-py client of the server one native document describes (``config``): a
    BlockingConnectionPool when ``pool_timeout`` is set, else a ConnectionPool of at most
    ``max_connections`` (0: no limit)."""
    redis = _redis()
    kwargs = connection_kwargs(config)
    if kwargs.pop("ssl", False):
        name = kwargs.pop("ssl_server_name", None)
        kwargs["connection_class"] = _named_ssl_connection(redis) if name else redis.SSLConnection
        if name:
            kwargs["ssl_server_name"] = name
    elif "unix_socket_path" in kwargs:
        kwargs["path"] = kwargs.pop("unix_socket_path")
        kwargs.pop("socket_connect_timeout")
        kwargs["connection_class"] = redis.UnixDomainSocketConnection
    if pool_timeout is not None:
        pool = redis.BlockingConnectionPool(max_connections=max_connections or 50, timeout=pool_timeout, **kwargs)
    else:
        pool = redis.ConnectionPool(max_connections=max_connections or None, **kwargs)
    return redis.Redis(connection_pool=pool)


def _shared_kwargs(settings: Settings, what: str) -> dict[str, Any]:
    """Connection arguments of a Cluster's or Sentinel's data nodes (from the first LOCATION entry)."""
    kwargs = connection_kwargs(settings.native_config(settings.servers[0]))
    for key in ("host", "port", "unix_socket_path"):
        kwargs.pop(key, None)
    if kwargs.pop("ssl_server_name", None):
        raise NotImplementedError(
            f"redis_cache_go: OPTIONS['SSL_SERVER_NAME'] with {what}: the redis-py client that raw access "
            "returns cannot check a certificate against another name there; drop the setting and use a "
            "certificate valid for the node addresses")
    return kwargs


def cluster_client(settings: Settings) -> Any:
    """A redis-py RedisCluster seeded with the LOCATION nodes (it discovers the rest)."""
    _redis()
    from redis.cluster import ClusterNode, RedisCluster

    assert settings.topology is not None
    kwargs = _shared_kwargs(settings, "a Redis Cluster")
    kwargs.pop("db", None)
    if settings.max_connections:
        kwargs["max_connections"] = settings.max_connections
    if settings.topology.get("read_from_replicas"):
        try:
            from redis.cluster import LoadBalancingStrategy

            kwargs["load_balancing_strategy"] = LoadBalancingStrategy.ROUND_ROBIN
        except ImportError:  # redis-py before 5.1
            kwargs["read_from_replicas"] = True
    nodes = []
    for addr in settings.topology["addrs"]:
        host, _, port = addr.rpartition(":")
        nodes.append(ClusterNode(host.strip("[]"), int(port)))  # type: ignore[no-untyped-call]
    return RedisCluster(startup_nodes=nodes, **kwargs)


def sentinel(settings: Settings) -> Any:
    """A redis-py Sentinel watching the OPTIONS['SENTINELS'] addresses."""
    _redis()
    from redis.sentinel import Sentinel

    assert settings.topology is not None
    kwargs = _shared_kwargs(settings, "Redis Sentinel")
    sentinel_kwargs = {"socket_timeout": kwargs["socket_timeout"], "socket_connect_timeout": kwargs["socket_connect_timeout"]}
    if settings.topology.get("sentinel_password"):
        sentinel_kwargs["password"] = settings.topology["sentinel_password"]
    addrs = []
    for addr in settings.topology["addrs"]:
        host, _, port = addr.rpartition(":")
        addrs.append((host.strip("[]"), int(port)))
    return Sentinel(addrs, sentinel_kwargs=sentinel_kwargs, **kwargs)  # type: ignore[no-untyped-call]


class Clients:
    """The redis-py clients of one cache, made on first use and kept until ``close()``.

    ``locate(key)`` is the cache's own routing (the LOCATION index that holds a raw key);
    ``mode`` is the layout ("primary", "ring" or "copy") and ``primary`` its primary's index.
    """

    def __init__(self, settings: Settings, mode: str, primary: int, locate: Callable[[bytes], int]) -> None:
        self._settings = settings
        self._mode = mode
        self._primary = primary
        self._locate = locate
        self._lock = threading.Lock()
        self._made: dict[Any, Any] = {}

    def _get(self, slot: Any, make: Callable[[], Any]) -> Any:
        with self._lock:
            client = self._made.get(slot)
            if client is None:
                client = self._made[slot] = make()
            return client

    def server(self, index: int) -> Any:
        """The client of LOCATION entry ``index`` (a Cluster or the Sentinel primary for topologies)."""
        topology = self._settings.topology
        if topology is None:
            return self._get(index, lambda: server_client(self._settings, self._settings.servers[index]))
        if topology["kind"] == "cluster":
            return self._get("cluster", lambda: cluster_client(self._settings))
        return self._sentinel_client(write=True)

    def _sentinel_client(self, write: bool) -> Any:
        assert self._settings.topology is not None
        service = self._settings.topology["service"]
        watcher = self._get("sentinel", lambda: sentinel(self._settings))
        if write or not self._settings.topology.get("read_from_replicas"):
            return self._get("sentinel-primary", lambda: watcher.master_for(service))
        return self._get("sentinel-replica", lambda: watcher.slave_for(service))

    @property
    def sharded(self) -> bool:
        return self._settings.topology is None and self._mode == "ring" and len(self._settings.servers) > 1

    def for_key(self, key: bytes | None, write: bool) -> Any:
        """The client the cache itself would use for ``key`` (a raw, already made key)."""
        topology = self._settings.topology
        if topology is not None:
            if topology["kind"] == "sentinel":
                return self._sentinel_client(write)
            return self.server(0)
        servers = self._settings.servers
        if len(servers) == 1 or self._mode == "copy":
            return self.server(0)
        if self._mode == "ring":
            if key is None:
                raise ValueError(
                    f"redis_cache_go: this cache shards keys over {len(servers)} servers, so get_client() needs "
                    "the key to pick one: cache.get_client(cache.make_key(key)) for a cache key, the raw key "
                    "otherwise; cache.clients holds every server's client")
            return self.server(self._locate(key))
        if write:
            return self.server(self._primary)
        return self.server(random.choice([i for i in range(len(servers)) if i != self._primary]))

    def primary(self) -> Any:
        """The write server's client: MASTER_CACHE's (default: the first entry), as the seed's."""
        if self._settings.topology is not None:
            return self.for_key(None, write=True)
        return self.server(self._primary if self._mode == "primary" else 0)

    def mapping(self) -> ClientMap:
        return ClientMap(self)

    def close(self) -> None:
        """Disconnect every client made so far; the next access makes new ones."""
        with self._lock:
            made, self._made = self._made, {}
        for client in made.values():
            close = getattr(client, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # closing is best effort: the clients are dropped either way
                    pass

    def identifiers(self) -> list[tuple[Any, ...]]:
        if self._settings.topology is not None:
            return [self._settings.servers[0].identifier]
        return [s.identifier for s in self._settings.servers]

    def index_of(self, identifier: tuple[Any, ...]) -> int:
        ids = self.identifiers()
        if identifier not in ids:
            raise KeyError(identifier)
        return ids.index(identifier)


class ClientMap(Mapping[Any, Any]):
    """``cache.clients``: django-redis-cache's dict from a server's identifier, the tuple
    ``(host, port, db, unix_socket_path)``, to its client; one entry per LOCATION server, made
    on first access (a Cluster or Sentinel cache has one entry, its Cluster / primary client)."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def __getitem__(self, identifier: Any) -> Any:
        return self._clients.server(self._clients.index_of(identifier))

    def __iter__(self) -> Iterator[Any]:
        return iter(self._clients.identifiers())

    def __len__(self) -> int:
        return len(self._clients.identifiers())

    def __repr__(self) -> str:
        return f"<clients of {', '.join(map(repr, self))}>"


def _raw_key(key: Any) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    return str(key).encode()  # str, and the seed's CacheKey (a str)


class DjangoRedisClient:
    """``cache.client``: the part of django-redis' client object that raw-access code calls,
    ``cache.client.get_client(write=True)`` (what ``django_redis.get_redis_connection`` runs)."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def get_client(self, write: bool = True, tried: Any = None, show_index: bool = False) -> Any:
        """The primary's client for writes; for reads a replica's (the primary when there is none).
        A sharded cache raises NotImplementedError, as django-redis' ShardClient does: use
        ``cache.get_client(key)``."""
        if self._clients.sharded:
            raise NotImplementedError(
                "redis_cache_go: this cache shards keys over several servers, so there is no one client to "
                "return (django-redis' ShardClient raises here too); use cache.get_client(key) for the "
                "server that holds a key, or cache.clients for every server")
        client = self._clients.for_key(None, write)
        if show_index:
            return client, 0
        return client


class DjangoClient:
    """``cache._cache``: what code reaching into Django's own RedisCache calls,
    ``cache._cache.get_client(key=None, *, write=False)`` (private there, kept working here)."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        return self._clients.for_key(None if key is None else _raw_key(key), bool(write))


class RawAccessMixin:
    """The raw-access accessors of a backend with ``_raw`` (a :class:`Clients`)."""

    _raw: Clients

    def get_client(self, key: Any = None, write: bool = False) -> Any:
        """django-redis-cache's accessor: a redis-py client of the server that holds ``key`` (a raw
        key: pass ``cache.make_key(key)`` for a cache key), the primary for ``write=True``. With one
        server, that server; Cluster: the Cluster client; Sentinel: the primary (replicas for reads
        with READ_FROM_REPLICAS); copy mode: the first server."""
        return self._raw.for_key(None if key is None else _raw_key(key), bool(write))

    def get_master_client(self) -> Any:
        """django-redis-cache's accessor: the write server's client (MASTER_CACHE, default the
        first LOCATION entry)."""
        return self._raw.primary()

    @property
    def master_client(self) -> Any:
        """django-redis-cache's attribute: ``get_master_client()``."""
        return self._raw.primary()

    @property
    def clients(self) -> ClientMap:
        """django-redis-cache's ``clients``: (host, port, db, unix_socket_path) -> client, one per
        LOCATION server (clients are made when first looked up)."""
        return self._raw.mapping()

    @property
    def client_list(self) -> list[Any]:
        """django-redis-cache's ``client_list``: every server's client, in LOCATION order."""
        return list(self._raw.mapping().values())

    @property
    def client(self) -> DjangoRedisClient:
        """django-redis' ``cache.client``, for ``cache.client.get_client(write)``."""
        return DjangoRedisClient(self._raw)

    @property
    def _cache(self) -> DjangoClient:
        """Django's RedisCache's (private) ``_cache``, for ``cache._cache.get_client(key, write=...)``."""
        return DjangoClient(self._raw)


def get_redis_connection(alias: str = "default", write: bool = True) -> Any:
    """django-redis' helper: a redis-py client of the cache ``alias`` (the primary for writes, a
    replica for reads when there is one). Works for redis-cache-go caches and for any backend with
    django-redis' ``client.get_client``; others raise NotImplementedError, as there."""
    from django.core.cache import caches

    cache = caches[alias]
    client = getattr(cache, "client", None)
    get = getattr(client, "get_client", None)
    if get is None:
        raise NotImplementedError(
            f"redis_cache_go.get_redis_connection: the cache {alias!r} ({type(cache).__module__}.{type(cache).__name__}) "
            "has no raw Redis client")
    return get(write)

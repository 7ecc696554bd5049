"""Reads a Django CACHES entry into everything a backend needs: :func:`parse` -> :class:`Settings`.

This is the one place that reads OPTIONS and the CACHES entry's own keys (besides Django's
BaseCache, which reads TIMEOUT, KEY_PREFIX, VERSION, KEY_FUNCTION, MAX_ENTRIES and CULL_FREQUENCY
for itself). The dialects are mapped here too: settings written for django-redis or Django's own
RedisCache are translated first (_compat.py), then read as django-redis-cache 3.0.1 wrote them
(LOCATION forms, OPTIONS names, its default DB of 1). The parts are read by _codec_settings
(serializer, compression), _topology (Cluster, Sentinel), _local_cache (the near-cache) and
_layout (several LOCATIONs); :func:`parse` puts them together.

Everything is validated here, at construction, without loading the native library or touching
the network: a wrong setting is an ``ImproperlyConfigured`` that names the key and the value.
"""
from __future__ import annotations

import difflib
import ipaddress
import logging
import math
import pickle
import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from django.core.cache.backends.base import get_key_func

from redis_cache_go import _codec_settings, _compat, _layout, _local_cache, _notes, _protection, _secrets, _topology
from redis_cache_go._codec_settings import dotted_name
from redis_cache_go.exceptions import setting_error as _bad

logger = logging.getLogger("redis_cache_go")

DEFAULT_DB = 1  # django-redis-cache's default: a switched site keeps its warm cache
DEFAULT_PORT = 6379

# redis-py classes that sites name in PARSER_CLASS; replies are parsed in Go, so
# every one of them maps to the same thing and the setting is ignored.
_PARSER_NAMES = {"HiredisParser", "PythonParser", "DefaultParser", "_HiredisParser", "_RESP2Parser", "_RESP3Parser"}
_PARSER_MODULES = {"redis.connection", "redis._parsers", "redis._parsers.hiredis", "redis._parsers.resp2", "redis._parsers.resp3"}
# redis-py pool classes: both map onto the Go pool (see CONNECTION_POOL_CLASS in the README).
_POOL_CLASSES = {
    "redis.ConnectionPool": "ConnectionPool",
    "redis.connection.ConnectionPool": "ConnectionPool",
    "redis.BlockingConnectionPool": "BlockingConnectionPool",
    "redis.connection.BlockingConnectionPool": "BlockingConnectionPool",
}
# redis-py pool/connection kwargs that have no equivalent here and are safe to ignore.
_IGNORED_POOL_KWARGS = {
    "retry_on_timeout": "calls are bounded by their timeouts and never retried",
    "retry_on_error": "calls are bounded by their timeouts and never retried",
    "retry": "calls are bounded by their timeouts and never retried",
    "socket_keepalive": "the Go dialer enables TCP keep-alive on every connection",
    "socket_keepalive_options": "the Go dialer enables TCP keep-alive on every connection",
    "health_check_interval": "pooled connections are checked before every reuse",
    "client_name": "connections are not named",
    "encoding": "values are bytes end to end",
    "encoding_errors": "values are bytes end to end",
    "decode_responses": "values are bytes end to end",
}
_SUPPORTED = {
    "DB", "PASSWORD", "PARSER_CLASS", "PICKLE_VERSION", "SOCKET_TIMEOUT", "SOCKET_CONNECT_TIMEOUT",
    "CONNECTION_POOL_CLASS", "CONNECTION_POOL_CLASS_KWARGS",
    "SSL_CA_CERTS", "SSL_CERTFILE", "SSL_KEYFILE", "SSL_CERT_REQS", "SSL_SERVER_NAME",
    # Django's BaseCache reads these two for culling backends; Redis evicts by itself.
    "MAX_ENTRIES", "CULL_FREQUENCY",
    # several servers (see _layout.py)
    "MASTER_CACHE", "HASH_RING", "WEIGHTS",
    # fail-open (see _failopen.py) and the circuit breaker (see core/breaker)
    "IGNORE_EXCEPTIONS", "LOG_IGNORED_EXCEPTIONS", "CIRCUIT_BREAKER_FAILURES", "CIRCUIT_BREAKER_COOLDOWN",
    "FORK_FALLBACK",  # see _fallback.py
}
# Serializers and compressors: read by _codec_settings.
_SUPPORTED |= _codec_settings.KEYS
# Cluster and Sentinel: read by _topology.
_SUPPORTED |= _topology.KEYS
# The near-cache: read by _local_cache.
_SUPPORTED.add(_local_cache.KEY)
# Signed or encrypted values: read by _protection.
_SUPPORTED |= _protection.KEYS
_URL_QUERY = set(_secrets.URL_QUERY)  # the values of any other are masked in messages


@dataclass(repr=False)
class Server:
    """One LOCATION entry, parsed the way django-redis-cache parsed it."""

    location: str  # the entry as written
    host: str | None
    port: int | None
    db: int
    unix_socket_path: str | None
    password: str | None = field(repr=False, default=None)
    username: str | None = None
    tls: bool = False
    query: dict[str, str] = field(default_factory=dict)
    db_in_url: bool = False  # the URL named the database (/db or ?db=)

    def __repr__(self) -> str:
        return f"Server({_redact(self.location)!r}, identifier={self.identifier!r})"

    @property
    def identifier(self) -> tuple[Any, ...]:
        """django-redis-cache's connection identifier (host, port, db, unix_socket_path)."""
        return (self.host, self.port, self.db, self.unix_socket_path)

    def describe(self) -> str:
        """Address and db without credentials: "redis 127.0.0.1:6379 db 1"."""
        scheme = "rediss" if self.tls else "redis"
        if self.is_unix:
            return f"{scheme} unix:{self.unix_socket_path} db {self.db}"
        return f"{scheme} {(self.host or '').strip()}:{self.port} db {self.db}"

    @property
    def is_unix(self) -> bool:
        return bool(self.unix_socket_path) and not self.tls


@dataclass
class Settings:
    """Everything a backend needs from one CACHES entry, as :func:`parse` read it.

    The backend builds its native client from ``document`` and reads no OPTIONS key itself.
    """

    # -- values --------------------------------------------------------------
    codec: _codec_settings.Codec  # serializer and compression (_codec_settings.py)
    pickle_version: int  # PICKLE_VERSION, -1 resolved to pickle.HIGHEST_PROTOCOL
    # -- servers and connections -------------------------------------------------
    servers: list[Server]  # the LOCATION entries, in order
    socket_timeout: float | None  # SOCKET_TIMEOUT (seconds; None: Go's default)
    connect_timeout: float | None  # SOCKET_CONNECT_TIMEOUT
    max_connections: int  # CONNECTION_POOL_CLASS_KWARGS max_connections (0: Go's default)
    pool_timeout: float | None  # CONNECTION_POOL_CLASS_KWARGS timeout (BlockingConnectionPool)
    ssl: dict[str, str]  # SSL_* as the document's "tls" keys (ca_file, cert_file, key_file, cert_reqs, server_name)
    options: dict[str, Any] = field(default_factory=dict)  # OPTIONS as translated (_compat.py), for checks and messages
    topology: dict[str, Any] | None = None  # Cluster or Sentinel (see _topology.py), None for plain servers
    local_cache: dict[str, Any] | None = None  # the near-cache (see _local_cache.py), None when off
    protection: dict[str, Any] | None = field(default=None, repr=False)  # VALUE_PROTECTION (_protection.py; holds secrets)
    # -- layout of several LOCATIONs (_layout.py) ------------------------------------
    layout: str = "primary"  # "primary", "ring" or "copy": the backend class's, or the one CLIENT_CLASS chose
    primary: int = 0  # MASTER_CACHE: index of the primary among ``servers`` (layout "primary")
    hash_ring: str = "seed"  # HASH_RING (layout "ring")
    weights: list[int] | None = None  # WEIGHTS aligned with ``servers`` (layout "ring"), None when not set
    describe: str = ""  # the servers for messages, without credentials ("redis 127.0.0.1:6379 db 1")
    document: dict[str, Any] = field(default_factory=dict, repr=False)  # what rcg_open receives (capi/config.go)
    # -- behaviour -------------------------------------------------------------
    ignore_exceptions: bool = False  # IGNORE_EXCEPTIONS: fail-open (_failopen.py)
    log_ignored_exceptions: bool = True  # LOG_IGNORED_EXCEPTIONS
    fork_fallback: bool = False  # FORK_FALLBACK: redis-py in a forked child (_fallback.py)

    def __repr__(self) -> str:
        """The settings without secrets: OPTIONS' secret-looking values and URL passwords masked."""
        return (f"Settings(servers={self.servers!r}, layout={self.layout!r}, topology={_secrets.redact(self.topology)!r}, "
                f"options={_secrets.redact(self.options)!r})")

    def native_config(self, server: Server) -> dict[str, Any]:
        """The JSON document rcg_open receives (see capi/config.go)."""
        tls: dict[str, str] | None = None
        if server.tls:
            tls = dict(self.ssl)
            if "ssl_cert_reqs" in server.query:
                tls["cert_reqs"] = server.query["ssl_cert_reqs"]
        socket_timeout = _query_seconds(server, "socket_timeout", self.socket_timeout)
        connect_timeout = _query_seconds(server, "socket_connect_timeout", self.connect_timeout)
        if server.is_unix:
            network, addr = "unix", server.unix_socket_path
        else:
            host = (server.host or "").strip()  # ' 127.0.0.1' names a ring node, not a host
            network, addr = "tcp", f"[{host}]:{server.port}" if ":" in host else f"{host}:{server.port}"
        return {
            "network": network,
            "addr": addr,
            "db": server.db,
            "username": server.username or "",
            "password": server.password or "",
            "tls": tls,
            "connect_timeout": connect_timeout or 0,
            "socket_timeout": socket_timeout or 0,
            "max_connections": self.max_connections,
            "pool_timeout": self.pool_timeout or 0,
            "codec": self.codec.compression.native_config(),
            **({"topology": self.topology} if self.topology else {}),
            **({"local_cache": self.local_cache} if self.local_cache is not None else {}),
            **({"protection": self.protection} if self.protection is not None else {}),
            **_breaker(self.options),
        }


def _breaker(options: dict[str, Any]) -> dict[str, Any]:
    """CIRCUIT_BREAKER_FAILURES (default 5; 0 disables) and CIRCUIT_BREAKER_COOLDOWN (seconds,
    default 1) as the document's breaker_failures / breaker_cooldown (see core/breaker)."""
    doc: dict[str, Any] = {}
    failures = options.get("CIRCUIT_BREAKER_FAILURES")
    if failures is not None:
        n = _int("OPTIONS['CIRCUIT_BREAKER_FAILURES']", failures, minimum=0)
        doc["breaker_failures"] = n if n > 0 else -1
    cooldown = options.get("CIRCUIT_BREAKER_COOLDOWN")
    if cooldown is not None:
        doc["breaker_cooldown"] = _seconds("OPTIONS['CIRCUIT_BREAKER_COOLDOWN']", cooldown) or 0
    return doc


def _query_seconds(server: Server, name: str, default: float | None) -> float | None:
    if name not in server.query:
        return default
    return _seconds(f"LOCATION {_redact(server.location)!r} ?{name}", server.query[name])


def _seconds(what: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _bad(what, value, "must be a number of seconds or None") from None
    # at least a nanosecond and less than 2**63 of them: the Go side's time.Duration
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= _nanoseconds(value) < 2.0**63:
        raise _bad(what, value, "must be a positive number of seconds or None")
    return float(value)


def _nanoseconds(seconds: float) -> float:
    try:
        ns = float(seconds) * 1e9
    except OverflowError:  # an int beyond a float
        return math.inf
    return ns if math.isfinite(ns) else math.inf  # NaN and -inf fail the range check too


def _int(what: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _bad(what, value, f"must be an integer >= {minimum}")
    return value


def split_location(location: Any) -> list[str]:
    """LOCATION as a list of entries; a string is split on ',' without stripping (as the seed did)."""
    if isinstance(location, str):
        entries = location.split(",")
    elif isinstance(location, (list, tuple)):
        entries = list(location)
    else:
        raise _bad("LOCATION", location, "must be a string or a list of strings")
    if not entries:
        raise _bad("LOCATION", location, "needs at least one server entry")
    if any(not isinstance(e, str) for e in entries):
        raise _bad("LOCATION", location, "must be a string or a list of strings")
    if any(not e.strip(_SPACE) for e in entries):
        raise _bad("LOCATION", location, "has an empty server entry")
    return entries


# The rules below are core/djcache/location.go's too; tests/fixtures/locations.json holds the cases
# both test suites check (tests/python/test_locations.py, core/djcache/location_fixture_test.go).
_SPACE = " \t\n\r\x0b\x0c"  # around an entry: ignored (the seed's int() ignored it after a port)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST_NAME = re.compile(r"[A-Za-z0-9._-]+\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
_DECIMAL = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_USERINFO = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:%@-]*\Z")  # RFC 3986 (Go's url.Parse checks the same)
MAX_DB = 2**31 - 1  # Redis' databases setting is an int


def parse_server(entry: str, db: int, password: str | None) -> Server:
    """Parse one LOCATION entry: host:port, redis://, rediss://, unix://, or a socket path."""
    text = entry.strip(_SPACE)
    if _CONTROL.search(text):
        raise _bad("LOCATION entry", _redact(entry), "contains a control character")
    if "://" in entry:
        return _parse_url(entry, text, db)
    if text.startswith("[") and "]:" in text:  # [::1]:6379
        address, _, port_text = text[1:].partition("]:")
        if ":" not in address:
            raise _bad("LOCATION entry", _redact(entry), f"{address!r} is not a host name or an IP address (brackets are for IPv6 addresses)")
        if "@" in address:
            raise _credentials(entry)
        port = _port(entry, port_text)
        return Server(entry, _host(entry, address), port, db, None, password)
    host = entry.rpartition(":")[0] if ":" in entry else entry if "/" not in entry else ""
    if "@" in entry.partition("/")[0] or "@" in host:  # user:password@host:port without redis://
        raise _credentials(entry)
    if ":" in entry:
        port = _port(entry, entry.rpartition(":")[2])
        _host(entry, host)
        return Server(entry, host, port, db, None, password)  # the host as written names the ring node
    if "/" in entry:
        return Server(entry, None, None, db, entry, password)
    # A bare name without a port or a slash: django-redis-cache took it for a
    # socket file in the working directory; we take it for a host on 6379.
    _host(entry, entry)
    return Server(entry, entry, DEFAULT_PORT, db, None, password)


def _credentials(entry: str) -> ImproperlyConfigured:
    return _bad("LOCATION entry", entry, "a host name has no '@': write credentials in a URL, "
                "redis://user:password@host:port/db, or in OPTIONS['USERNAME'] / OPTIONS['PASSWORD']")


def _host(entry: str, host: str) -> str:
    """The host (spaces around it ignored) if it is a host name or an IP address; else an error."""
    name = host.strip(_SPACE)
    if _HOST_NAME.match(name) or ":" in name and _is_ipv6(name):
        return name
    why = f"{name!r} is not a host name or an IP address"
    if ";" in name:
        why += " (separate servers with ',')"
    elif ":" in name and _DIGITS.match(name.rpartition(":")[2]):
        why += " (host:port:db is no LOCATION form: write redis://host:port/db)"
    raise _bad("LOCATION entry", _redact(entry), why)


def _is_ipv6(name: str) -> bool:
    address, percent, zone = name.partition("%")
    if percent and not _HOST_NAME.match(zone):  # an interface name: fe80::1%eth0
        return False
    try:
        ipaddress.IPv6Address(name)
    except ValueError:
        return False
    return True


def _port(entry: str, text: str) -> int:
    text = text.strip(_SPACE)
    if not _DIGITS.match(text) or not 0 < int(text) < 65536:
        raise _bad("LOCATION entry", _redact(entry), "the port must be a number between 1 and 65535")
    return int(text)


def _db(what: str, value: Any) -> int:
    """A database number: an int or a string of ASCII digits, 0 to MAX_DB."""
    if isinstance(value, str) and _DIGITS.match(value.strip(_SPACE)):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DB:
        raise _bad(what, value, f"must be an integer from 0 to {MAX_DB}")
    return value


def _not_url(entry: str, why: str) -> ImproperlyConfigured:
    return _bad("LOCATION entry", _redact(entry), f"not a valid URL ({why})")


def _parse_url(entry: str, text: str, default_db: int) -> Server:
    """A redis://, rediss:// or unix:// entry, read as redis-py's from_url reads it (percent-escapes
    decoded in the user name, password, path and IPv6 zone), refusing what from_url would drop."""
    if text.partition("://")[0].lower() not in ("redis", "rediss", "unix"):
        raise _bad("LOCATION entry", _redact(entry), "the scheme must be redis://, rediss://, unix://, redis+cluster:// or rediss+cluster://")
    if any(c.isspace() for c in text):
        raise _not_url(entry, "a space must be percent-encoded as %20")
    if "#" in text:
        raise _not_url(entry, "a '#' must be percent-encoded as %23")
    if _BAD_ESCAPE.search(text):
        raise _not_url(entry, "a '%' must start an escape such as %40")
    try:
        url = urlsplit(text)
    except ValueError:
        raise _not_url(entry, "it does not parse") from None
    scheme = url.scheme.lower()
    if "@" in url.path or "@" in url.query:
        raise _not_url(entry, "percent-encode '/', '?', '#' and '@' in a user name or password")
    if ";" in url.query:
        raise _not_url(entry, "query parameters are separated by '&'")
    userinfo, _, hostinfo = url.netloc.rpartition("@")
    if not _USERINFO.match(userinfo):
        raise _not_url(entry, "percent-encode '/', '?', '#' and '@' in a user name or password")
    if "%" in hostinfo and not hostinfo.startswith("[") \
            or hostinfo.startswith("[") and (hostinfo.count("[") > 1 or hostinfo.count("]") > 1):
        raise _not_url(entry, "it does not parse")  # only an IPv6 zone is percent-encoded; one [address]
    port_text = hostinfo.rpartition("]")[2] if hostinfo.startswith("[") else hostinfo
    if hostinfo.startswith("[") and port_text and not port_text.startswith(":"):
        raise _not_url(entry, "an IPv6 address in brackets is followed by ':port' or nothing")
    port_text = port_text.partition(":")[2]
    if port_text and not _DIGITS.match(port_text):
        raise _not_url(entry, "the port is not a number")
    query: dict[str, str] = {}
    for name, values in parse_qs(url.query, keep_blank_values=True).items():
        if name not in _URL_QUERY:
            raise _bad("LOCATION entry", _redact(entry), f"unsupported query parameter {name!r} (supported: {', '.join(sorted(_URL_QUERY))})")
        query[name] = values[-1].strip(_SPACE)
    where = f"LOCATION {_redact(entry)!r}"
    if "ssl_cert_reqs" in query:
        query["ssl_cert_reqs"] = _cert_reqs(query["ssl_cert_reqs"], f"{where} ?ssl_cert_reqs")
    for name in ("socket_timeout", "socket_connect_timeout"):
        if name in query:
            if not _DECIMAL.match(query[name]):
                raise _bad(f"{where} ?{name}", query[name], "must be a positive number of seconds")
            _seconds(f"{where} ?{name}", query[name])
    # The URL's own credentials; OPTIONS' fill in what it lacks (_compat.apply_credentials).
    password = unquote(url.password) if url.password else None
    username = unquote(url.username) if url.username else None
    db, db_in_url = default_db, "db" in query
    if db_in_url:
        db = _db(f"{where} ?db", query["db"])
    if scheme == "unix":
        if hostinfo:
            raise _bad("LOCATION entry", _redact(entry), "a unix:// URL has no host: write unix:///path/to/redis.sock")
        path = unquote(url.path)
        if not path:
            raise _bad("LOCATION entry", _redact(entry), "a unix:// URL needs a socket path")
        # The seed's identifier uses the pool defaults for host and port.
        return Server(entry, "127.0.0.1", DEFAULT_PORT, db, path, password, username, False, query, db_in_url)
    path = unquote(url.path).lstrip("/")
    if path and not db_in_url:
        db, db_in_url = _db(f"{where} database", path), True
    port = int(port_text) if port_text else DEFAULT_PORT
    if not 0 < port < 65536:
        raise _bad("LOCATION entry", _redact(entry), "the port must be a number between 1 and 65535")
    host = url.hostname or ""
    if ":" in host and "%" in host:  # an IPv6 zone: fe80::1%25eth0 (RFC 6874)
        if not host.partition("%")[2].startswith("25"):
            raise _not_url(entry, "it does not parse")
        host = unquote(host)
    host = _host(entry, host) if host else "localhost"
    tls = scheme == "rediss"
    # redis:// identifiers carry '' as socket path, rediss:// carry None (seed quirk).
    return Server(entry, host, port, db, None if tls else "", password, username, tls, query, db_in_url)


_redact = _secrets.redact_url  # the entry with any password replaced by '***'


def parse(location: Any, params: dict[str, Any], *, layout: str = "primary", backend: str = "RedisCache") -> Settings:
    """Everything a backend needs from one CACHES entry (``params``: the entry without BACKEND
    and LOCATION), for a backend class named ``backend`` whose layout is ``layout`` ("primary",
    "ring" or "copy"; django-redis' CLIENT_CLASS may choose another for RedisCache).

    Errors and warnings name every setting as it was written, also when it was translated
    (django-redis' ``CONNECTION_POOL_KWARGS['socket_timeout']`` is read as ``SOCKET_TIMEOUT``).
    """
    options = params.get("OPTIONS")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise _bad("OPTIONS", options, "must be a dict")
    compat = _compat.translate(location, params, options)  # django-redis / Django settings (_compat.py)
    try:
        settings = _parse(compat, params)
        _place(settings, compat, params, layout, backend)
    except ImproperlyConfigured as e:
        raise ImproperlyConfigured(compat.as_written(str(e))) from None
    return settings


def _place(settings: Settings, compat: _compat.Translation, params: dict[str, Any], layout: str, backend: str) -> None:
    """The layout of several LOCATIONs (MASTER_CACHE, HASH_RING, WEIGHTS), the near-cache's key
    space, and the native document (see _layout.py)."""
    options = settings.options
    mode = _compat.layout(layout, compat.layout, backend)  # CLIENT_CLASS
    ring = _layout.hash_ring(options.get("HASH_RING"))
    weights = _layout.weights(settings, options.get("WEIGHTS"))
    primary = 0
    if mode == "primary":
        primary = _layout.primary_index(settings, options.get("MASTER_CACHE"))
    elif options.get("MASTER_CACHE") is not None:
        _compat.warn_once("OPTIONS['MASTER_CACHE']", f"ignored: {backend} has no primary")
    if mode != "ring" and (weights or "HASH_RING" in options):
        _compat.warn_once("OPTIONS HASH_RING/WEIGHTS", f"ignored: {backend} does not shard")
        weights = None
    describe = _layout.describe(settings, mode, primary)
    local = settings.local_cache
    if local is not None:
        if settings.topology and settings.topology["kind"] != "cluster":
            raise _local_cache.refuse_layout(describe)
        # the key space the near-cache tracks: of the keys Django's BaseCache will make
        local["prefix"] = _local_cache.tracked_prefix(get_key_func(params.get("KEY_FUNCTION")), params.get("KEY_PREFIX", ""))
    settings.layout, settings.primary, settings.hash_ring, settings.weights = mode, primary, ring, weights
    settings.describe = describe
    settings.document = _layout.document(settings, mode, primary=primary, ring=ring, ring_weights=weights)


def _parse(compat: _compat.Translation, params: dict[str, Any]) -> Settings:
    options, location = compat.options, compat.location
    _check_option_names(options)

    db = DEFAULT_DB
    if "DB" in options:
        db = _db("OPTIONS['DB']", options["DB"])
    if "db" in params:  # django-redis-cache's top-level lowercase db wins
        db = _db("CACHES 'db'", params["db"])
    _check_entry_keys(params, db)
    password = options.get("PASSWORD")
    if password is not None and not isinstance(password, str):
        raise _bad("OPTIONS['PASSWORD']", "***", "must be a string")
    entries, scheme_cluster = _topology.strip_cluster_scheme(split_location(location))
    explicit_db = "DB" in options or "db" in params
    servers = [parse_server(e, compat.db_for(e, db, explicit_db), password or None) for e in entries]
    _compat.apply_credentials(compat, servers)
    topology = _topology.parse(options, servers, scheme_cluster)
    if topology and topology["kind"] == "cluster":
        explicit = [v for v in (options.get("DB"), params.get("db")) if v is not None]
        if any(_db("DB", v) != 0 for v in explicit):
            raise _bad("OPTIONS['DB']", explicit[0], "a Redis Cluster has only database 0")
        for s in servers:
            if s.db_in_url and s.db != 0:  # redis+cluster://host:port/3 would silently be db 0
                raise _bad("LOCATION entry", _redact(s.location), "a Redis Cluster has only database 0")
            s.db = 0

    pickle_version = options.get("PICKLE_VERSION", -1)
    if isinstance(pickle_version, bool) or not isinstance(pickle_version, int) or not -1 <= pickle_version <= pickle.HIGHEST_PROTOCOL:
        raise _bad("OPTIONS['PICKLE_VERSION']", pickle_version, f"must be an integer from -1 to {pickle.HIGHEST_PROTOCOL}")
    if pickle_version == -1:
        pickle_version = pickle.HIGHEST_PROTOCOL

    if "PARSER_CLASS" in options:
        _check_parser(options["PARSER_CLASS"])
    codec = _codec_settings.parse(options, pickle_version if "PICKLE_VERSION" in options else None)

    pool_class = "ConnectionPool"
    if "CONNECTION_POOL_CLASS" in options:
        name = dotted_name(options["CONNECTION_POOL_CLASS"])
        if name not in _POOL_CLASSES:
            raise _bad("OPTIONS['CONNECTION_POOL_CLASS']", name,
                       f"connections are pooled in Go; accepted names: {', '.join(sorted(_POOL_CLASSES))}")
        pool_class = _POOL_CLASSES[name]
    max_connections, pool_timeout = _pool_kwargs(options.get("CONNECTION_POOL_CLASS_KWARGS") or {}, pool_class, compat.as_written)

    ssl = {}
    for opt, key in (("SSL_CA_CERTS", "ca_file"), ("SSL_CERTFILE", "cert_file"), ("SSL_KEYFILE", "key_file"), ("SSL_CERT_REQS", "cert_reqs"), ("SSL_SERVER_NAME", "server_name")):
        if opt in options and options[opt] is not None:
            value = options[opt]
            if opt == "SSL_CERT_REQS":
                value = _cert_reqs(value)
            elif not isinstance(value, str):
                raise _bad(f"OPTIONS[{opt!r}]", value, "must be a string (a file path; for SSL_SERVER_NAME a host name)")
            ssl[key] = value

    protection = _protection.parse(options)
    if protection is not None and options.get("FORK_FALLBACK"):
        raise _bad("OPTIONS['FORK_FALLBACK']", True, "cannot be combined with VALUE_PROTECTION: the fallback's "
                   "redis-py client would read values without verifying them")
    return Settings(
        codec=codec,
        servers=servers,
        pickle_version=pickle_version,
        socket_timeout=_seconds("OPTIONS['SOCKET_TIMEOUT']", options.get("SOCKET_TIMEOUT")),
        connect_timeout=_seconds("OPTIONS['SOCKET_CONNECT_TIMEOUT']", options.get("SOCKET_CONNECT_TIMEOUT")),
        max_connections=max_connections,
        pool_timeout=pool_timeout,
        ssl=ssl,
        options=options,
        topology=topology,
        local_cache=_local_cache.parse(options),
        protection=protection,
        ignore_exceptions=options.get("IGNORE_EXCEPTIONS", False),
        log_ignored_exceptions=options.get("LOG_IGNORED_EXCEPTIONS", True),
        fork_fallback=options.get("FORK_FALLBACK", False),
    )


def _check_option_names(options: dict[str, Any]) -> None:
    for key in ("IGNORE_EXCEPTIONS", "LOG_IGNORED_EXCEPTIONS", "FORK_FALLBACK"):
        if key in options and not isinstance(options[key], bool):
            raise _bad(f"OPTIONS[{key!r}]", options[key], "must be True or False")
    for key in options:
        if key not in _SUPPORTED:
            hint = difflib.get_close_matches(str(key), sorted(_SUPPORTED), n=1)
            why = f"unknown option (did you mean {hint[0]!r}?)" if hint else "unknown option"
            raise _bad(f"OPTIONS[{key!r}]", options[key], why)


def _check_entry_keys(params: dict[str, Any], db: int) -> None:
    """Warn (once; a check warning under ``manage.py check``) about CACHES entry keys nothing reads.

    Django passes unknown keys through without a word, so a typo (``TIMOUT``) would silently leave
    the default in place. A key that belongs in OPTIONS, or that django-kidoredis read at the top
    level (``DB``), gets a hint saying where it goes. Values are never shown (they may be secrets).
    """
    known = _DJANGO_ENTRY_KEYS | _CACHES_KEYS
    for key in params:
        if key in known:
            continue
        what = f"CACHES entry key {key!r}"
        name = str(key)
        if name == "DB":
            shown = repr(params[key]) if isinstance(params[key], int) else "..."
            _notes.warn(what, f"is not read: django-kidoredis read the database at the top level; here it goes in "
                        f"OPTIONS, and until then this cache uses database {db}", _notes.UNREAD_KEY,
                        f"Move it into OPTIONS: 'OPTIONS': {{'DB': {shown}}} (or use the lower-case top-level 'db').")
        elif name in _SUPPORTED or name in _compat.DJANGO_REDIS_KEYS:
            _notes.warn(what, "is not read at the top level: it is an OPTIONS key", _notes.UNREAD_KEY,
                        f"Move it into OPTIONS: 'OPTIONS': {{{name!r}: ...}}.")
        else:
            by_upper = {k.upper(): k for k in sorted(known)}
            hint = difflib.get_close_matches(name.upper(), sorted(by_upper), n=1)
            why = f"is not read by Django or redis-cache-go (did you mean {by_upper[hint[0]]!r}?)" if hint \
                else "is not read by Django or redis-cache-go"
            _notes.warn(what, why, _notes.UNREAD_KEY)


def _check_parser(value: Any) -> None:
    name = dotted_name(value)
    module, _, cls = name.rpartition(".")
    if module not in _PARSER_MODULES or cls not in _PARSER_NAMES:
        raise _bad("OPTIONS['PARSER_CLASS']", name, "must be one of redis-py's parser classes (e.g. redis.connection.HiredisParser)")
    logger.debug("OPTIONS['PARSER_CLASS'] = %s ignored: replies are parsed in Go", name)


def _pool_kwargs(kwargs: Any, pool_class: str, as_written: Callable[[str], str]) -> tuple[int, float | None]:
    if not isinstance(kwargs, dict):
        raise _bad("OPTIONS['CONNECTION_POOL_CLASS_KWARGS']", kwargs, "must be a dict")
    max_connections = 0
    pool_timeout = None
    for key, value in kwargs.items():
        what = f"OPTIONS['CONNECTION_POOL_CLASS_KWARGS'][{key!r}]"
        if key == "max_connections":
            max_connections = _int(what, value, minimum=1) if value is not None else 0
        elif key == "timeout":
            if pool_class != "BlockingConnectionPool":
                raise _bad(what, value, "only applies with CONNECTION_POOL_CLASS redis.BlockingConnectionPool")
            pool_timeout = _seconds(what, value)
        elif key in _IGNORED_POOL_KWARGS:
            _notes.warn(as_written(what), f"ignored: {_IGNORED_POOL_KWARGS[key]}")
        else:
            raise _bad(what, value, "unknown connection pool argument (supported: max_connections, timeout)")
    return max_connections, pool_timeout


def _cert_reqs(value: Any, what: str = "OPTIONS['SSL_CERT_REQS']") -> str:
    import ssl

    names: dict[int, str] = {ssl.CERT_NONE: "none", ssl.CERT_OPTIONAL: "optional", ssl.CERT_REQUIRED: "required"}
    if isinstance(value, int) and value in names:
        return names[value]
    if isinstance(value, str) and value.lower() in ("none", "optional", "required"):
        return value.lower()
    raise _bad(what, value, "must be 'none', 'optional' or 'required' (or an ssl.CERT_* constant)")


# The names docs/settings.md documents, by the first header cell of its reference tables;
# tests/python/test_settings_reference.py fails when the two differ.
_POOL_KWARGS = {"max_connections", "timeout"}  # read by _pool_kwargs
_CACHES_KEYS = {"db"}  # the top-level lowercase db that parse() reads besides Django's own keys
# Django's own keys of a CACHES entry (BACKEND and LOCATION never reach parse() from Django's handler).
_DJANGO_ENTRY_KEYS = {"BACKEND", "LOCATION", "OPTIONS", "TIMEOUT", "KEY_PREFIX", "VERSION", "KEY_FUNCTION"}


def documented_keys() -> dict[str, frozenset[str]]:
    """Every settings name the code accepts, grouped as the settings reference lists them."""
    return {
        "OPTIONS key": frozenset(_SUPPORTED),
        "CONNECTION_POOL_CLASS_KWARGS key": frozenset(_POOL_KWARGS | set(_IGNORED_POOL_KWARGS)),
        "LOCATION query parameter": frozenset(_URL_QUERY),
        "CACHES entry key": frozenset(_CACHES_KEYS),
        **_compat.documented_keys(),
    }


def ignored_pool_kwargs() -> dict[str, str]:
    """redis-py pool arguments accepted and ignored, each with the reason the warning gives."""
    return dict(_IGNORED_POOL_KWARGS)

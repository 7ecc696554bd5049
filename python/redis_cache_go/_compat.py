"""Settings copied from django-redis 7.0 or from Django's own RedisCache, read as those read them.

``_settings.parse`` calls :func:`translate` first: it recognises which package a CACHES entry was
written for and rewrites the OPTIONS that package reads into this package's names, so that the
switched site talks to the same servers, the same database and the same key placement:

* **django-redis** (any of its own keys present, e.g. ``CLIENT_CLASS``, ``CONNECTION_POOL_KWARGS``):
  a URL without a database means db 0; the default serializer is its pickle (``pickle.DEFAULT_PROTOCOL``);
  ``CLIENT_CLASS`` picks the layout (DefaultClient: primary/replicas, ShardClient: its own ring,
  SentinelClient: Sentinel); the project settings ``DJANGO_REDIS_IGNORE_EXCEPTIONS`` and
  ``DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS`` still apply.
* **Django's RedisCache** (any lower-case key present, e.g. ``db``, ``pool_class``,
  ``max_connections``): its keys are redis-py connection-pool arguments; db 0 by default.
* otherwise django-redis-cache's semantics (db 1 by default), as ``_settings`` documents.

A key with no equivalent is accepted with one logged warning that says why, or refused when
ignoring it would change what is stored or where. Unknown keys stay errors (``_settings``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from redis_cache_go import _notes, _secrets
from redis_cache_go._codec_settings import dotted_name as _name
from redis_cache_go.exceptions import setting_error as _bad

DJANGO_REDIS = "django-redis"
DJANGO = "django"
SEED = "django-redis-cache"

_CLIENTS = "django_redis.client."
CLIENT_LAYOUTS = {  # CLIENT_CLASS -> the layout it means here
    f"{_CLIENTS}DefaultClient": "primary",
    f"{_CLIENTS}default.DefaultClient": "primary",
    f"{_CLIENTS}ShardClient": "ring",
    f"{_CLIENTS}sharded.ShardClient": "ring",
    f"{_CLIENTS}SentinelClient": "sentinel",
    f"{_CLIENTS}sentinel.SentinelClient": "sentinel",
}
_HERD = {f"{_CLIENTS}HerdClient", f"{_CLIENTS}herd.HerdClient"}
_FACTORIES = {"django_redis.pool.ConnectionFactory", "django_redis.pool.SentinelConnectionFactory"}
_SENTINEL_POOL = "redis.sentinel.SentinelConnectionPool"
_REDIS_CLIENTS = {"redis.Redis", "redis.client.Redis", "redis.StrictRedis", "redis.client.StrictRedis"}
_DJANGO_SERIALIZER = "django.core.cache.backends.redis.RedisSerializer"

# django-redis OPTIONS keys this package does not spell the same way, with what happens to them.
DJANGO_REDIS_KEYS: dict[str, str] = {
    "CLIENT_CLASS": "picks the layout: DefaultClient → primary/replicas, ShardClient → django-redis' ring, "
                    "SentinelClient → Sentinel; HerdClient and other classes are refused",
    "CONNECTION_POOL_KWARGS": "redis-py pool arguments, read as Django's RedisCache OPTIONS are (see below)",
    "USERNAME": "the ACL user name for entries without one of their own (URLs included)",
    "CONNECTION_FACTORY": "django_redis.pool.ConnectionFactory or SentinelConnectionFactory: dropped; others refused",
    "REDIS_CLIENT_CLASS": "redis.Redis or redis.StrictRedis: ignored; others refused",
    "SENTINEL_KWARGS": "password → SENTINEL_PASSWORD; socket timeouts ignored; others refused",
    # accepted and ignored (the value is the reason the warning gives)
    "REDIS_CLIENT_KWARGS": "ignored: redis-py ignores connection arguments when django-redis hands it a pool",
    "CLIENT_KWARGS": "ignored: django-redis 7.0 does not read it either",
    "REPLICA_READ_ONLY": "ignored: writes always go to the primary",
    "CLOSE_CONNECTION": "ignored: connections are pooled in Go and reused across requests",
}
_IGNORED = {k: v for k, v in DJANGO_REDIS_KEYS.items() if v.startswith("ignored:")}

# Project settings django-redis reads (django.conf.settings), in the django-redis dialect only.
GLOBAL_SETTINGS: dict[str, str] = {
    "DJANGO_REDIS_IGNORE_EXCEPTIONS": "the default of IGNORE_EXCEPTIONS",
    "DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS": "the default of LOG_IGNORED_EXCEPTIONS",
    "DJANGO_REDIS_CONNECTION_FACTORY": "checked as OPTIONS['CONNECTION_FACTORY'] is",
    "DJANGO_REDIS_SCAN_ITERSIZE": "ignored: pattern scans use their own batch size",
    "DJANGO_REDIS_CLOSE_CONNECTION": "ignored: connections are pooled in Go and reused across requests",
    "DJANGO_REDIS_LOGGER": "ignored: messages go to the 'redis_cache_go' logger",
    "CACHE_HERD_TIMEOUT": "ignored: HerdClient is refused; get_or_set has its own herd protection",
}

# Django's RedisCache OPTIONS (lower case) and django-redis' CONNECTION_POOL_KWARGS: arguments of
# redis-py's ConnectionPool.from_url, mapped onto OPTIONS keys of this package.
_POOL_ARG_KEYS = {
    "socket_timeout": "SOCKET_TIMEOUT", "socket_connect_timeout": "SOCKET_CONNECT_TIMEOUT",
    "ssl_ca_certs": "SSL_CA_CERTS", "ssl_certfile": "SSL_CERTFILE", "ssl_keyfile": "SSL_KEYFILE",
    "ssl_cert_reqs": "SSL_CERT_REQS",
}
POOL_ARGS: dict[str, str] = {
    "db": "the database of entries whose URL names none",
    "username": "the ACL user name for entries without one of their own (URLs included)",
    "password": "the password for entries without one of their own (URLs included)",
    **{k: f"→ {v}" for k, v in _POOL_ARG_KEYS.items()},
    "max_connections": "→ CONNECTION_POOL_CLASS_KWARGS",
    "timeout": "→ CONNECTION_POOL_CLASS_KWARGS (with redis.BlockingConnectionPool)",
}
DJANGO_KEYS: dict[str, str] = {
    "pool_class": "→ CONNECTION_POOL_CLASS",
    "parser_class": "→ PARSER_CLASS (accepted and ignored)",
    "serializer": "RedisSerializer: dropped (the default writes the same bytes); another class → SERIALIZER",
}

warn_once = _notes.warn  # ``what why``, once per process (see _notes)
reset_warnings = _notes.reset


@dataclass
class Translation:
    """What translate() made of a CACHES entry."""

    dialect: str  # SEED, DJANGO_REDIS or DJANGO
    location: Any
    options: dict[str, Any]
    default_db: int | None = None  # None: _settings' own default
    username: str | None = None  # for entries without credentials of their own
    password: str | None = None
    layout: str | None = None  # "primary" or "ring" when CLIENT_CLASS chose it
    # how a translated setting was written: "OPTIONS['SOCKET_TIMEOUT']" -> "OPTIONS['socket_timeout']"
    written: dict[str, str] = field(default_factory=dict)

    def rename(self, ours: str, theirs: str) -> None:
        """Record that the setting named ``ours`` here was written as ``theirs``."""
        if ours != theirs:
            self.written[ours] = theirs

    def as_written(self, text: str) -> str:
        """``text`` (a message) naming every translated setting as the user wrote it."""
        for ours in sorted(self.written, key=len, reverse=True):  # ['X']['y'] before ['X']
            text = text.replace(ours, self.written[ours])
        return text

    def __repr__(self) -> str:
        return (f"Translation(dialect={self.dialect!r}, location={_secrets.redact(self.location)!r}, "
                f"options={_secrets.redact(self.options)!r}, default_db={self.default_db!r}, layout={self.layout!r})")

    def db_for(self, entry: str, db: int, explicit: bool) -> int:
        """The default database of one LOCATION entry: the dialect's for URLs (the only form
        django-redis and Django parse) unless DB or the top-level db was given; else ``db``."""
        if explicit or self.default_db is None or "://" not in entry:
            return db
        return self.default_db


def dialect(options: dict[str, Any]) -> str:
    """Which package's settings these are: DJANGO_REDIS, DJANGO or SEED (see the module doc)."""
    redis_keys = sorted(k for k in options if k in DJANGO_REDIS_KEYS)
    redis_keys += sorted(k for k, v in options.items() if _name(v).startswith("django_redis.") and isinstance(v, (str, type)))
    lower = sorted(k for k in options if isinstance(k, str) and k != k.upper())
    if redis_keys and lower:
        raise _bad("OPTIONS", sorted(map(str, options)),
                   f"mixes django-redis keys ({', '.join(redis_keys)}) with Django RedisCache keys "
                   f"({', '.join(lower)}); write the settings of one of them")
    if redis_keys:
        return DJANGO_REDIS
    if lower:
        return DJANGO
    return SEED


def translate(location: Any, params: dict[str, Any], options: dict[str, Any]) -> Translation:
    """OPTIONS (and LOCATION) rewritten into this package's names; see the module doc."""
    kind = dialect(options)
    t = Translation(kind, location, dict(options))
    if kind == DJANGO_REDIS:
        _django_redis(t)
    elif kind == DJANGO:
        _django(t)
    password = t.options.get("PASSWORD")
    if t.password is None and isinstance(password, str) and password:
        t.password = password  # for URL entries too, in every dialect (see apply_credentials)
    return t


def _take_pool_args(t: Translation, what: str, args: Any) -> None:
    """redis-py from_url arguments into t (Django's OPTIONS, django-redis' CONNECTION_POOL_KWARGS)."""
    if not isinstance(args, dict):
        raise _bad(what, args, "must be a dict")
    opts = t.options
    pool = dict(opts.get("CONNECTION_POOL_CLASS_KWARGS") or {})
    for key, value in args.items():
        where = f"{what}[{key!r}]"
        if key == "db":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _bad(where, value, "must be an integer >= 0")
            t.default_db = value
        elif key in ("username", "password"):
            if value is not None and not isinstance(value, str):
                raise _bad(where, "***" if key == "password" else value, "must be a string")
            setattr(t, key, value or None)
        elif key in _POOL_ARG_KEYS:
            opts[_POOL_ARG_KEYS[key]] = value  # wins, as django-redis' pool kwargs win over its OPTIONS
            t.rename(f"OPTIONS[{_POOL_ARG_KEYS[key]!r}]", where)
        else:  # max_connections, timeout and the ignored redis-py arguments: _settings checks them
            pool[key] = value
            t.rename(f"OPTIONS['CONNECTION_POOL_CLASS_KWARGS'][{key!r}]", where)
    if pool:
        opts["CONNECTION_POOL_CLASS_KWARGS"] = pool


def _django(t: Translation) -> None:
    """Django's RedisCache: OPTIONS are RedisCacheClient's arguments (see its __init__)."""
    opts = t.options
    t.default_db = 0
    if isinstance(t.location, str) and ";" in t.location:  # Django splits on ';' and ','
        t.location = t.location.replace(";", ",")
    lower = {k: opts.pop(k) for k in list(opts) if isinstance(k, str) and k != k.upper()}
    if "pool_class" in lower:
        opts["CONNECTION_POOL_CLASS"] = _name(lower.pop("pool_class"))
        t.rename("OPTIONS['CONNECTION_POOL_CLASS']", "OPTIONS['pool_class']")
    if "parser_class" in lower:
        value = lower.pop("parser_class")
        if value is not None:
            opts["PARSER_CLASS"] = _name(value)
            t.rename("OPTIONS['PARSER_CLASS']", "OPTIONS['parser_class']")
    if "serializer" in lower:
        value = lower.pop("serializer")
        if _name(value) == _DJANGO_SERIALIZER or value is None:
            pass  # the default: pickle at the highest protocol, ints as text — ours writes the same
        elif type(value).__module__ + "." + type(value).__qualname__ == _DJANGO_SERIALIZER:
            opts["PICKLE_VERSION"] = value.protocol
            t.rename("OPTIONS['PICKLE_VERSION']", "OPTIONS['serializer'].protocol")
        else:  # Django builds a class (or dotted path) with no arguments
            if isinstance(value, str):
                try:
                    value = import_string(value)
                except ImportError as e:
                    raise _bad("OPTIONS['serializer']", value, f"cannot be imported ({e})") from None
            if isinstance(value, type):
                try:
                    value = value()
                except Exception as e:
                    raise _bad("OPTIONS['serializer']", _name(value), f"cannot be built: {type(e).__name__}: {e}") from None
            opts["SERIALIZER"] = value
            t.rename("OPTIONS['SERIALIZER']", "OPTIONS['serializer']")
    _take_pool_args(t, "OPTIONS", lower)


def _django_redis(t: Translation) -> None:
    opts = t.options
    t.default_db = 0
    for key, why in _IGNORED.items():
        if key in opts:
            opts.pop(key)
            warn_once(f"OPTIONS[{key!r}]", why)
    for key, factory in (("OPTIONS['CONNECTION_FACTORY']", opts.pop("CONNECTION_FACTORY", None)),
                         ("DJANGO_REDIS_CONNECTION_FACTORY", _global("DJANGO_REDIS_CONNECTION_FACTORY"))):
        if factory is not None and _name(factory) not in _FACTORIES:
            raise _bad(key, _name(factory), "a custom connection factory cannot be reproduced here; "
                       f"accepted: {', '.join(sorted(_FACTORIES))}")
    if "REDIS_CLIENT_CLASS" in opts:
        name = _name(opts.pop("REDIS_CLIENT_CLASS"))
        if name not in _REDIS_CLIENTS:
            raise _bad("OPTIONS['REDIS_CLIENT_CLASS']", name,
                       f"commands are sent from Go; accepted: {', '.join(sorted(_REDIS_CLIENTS))} "
                       "(for a Redis Cluster use OPTIONS['CLUSTER'] = True)")
        warn_once("OPTIONS['REDIS_CLIENT_CLASS']", "ignored: commands are sent by the Go client")
    if "USERNAME" in opts:
        user = opts.pop("USERNAME")
        if user is not None and not isinstance(user, str):
            raise _bad("OPTIONS['USERNAME']", user, "must be a string")
        t.username = user or None
    if "CONNECTION_POOL_KWARGS" in opts:
        _take_pool_args(t, "OPTIONS['CONNECTION_POOL_KWARGS']", opts.pop("CONNECTION_POOL_KWARGS") or {})
    if "SERIALIZER_CLASS" not in opts:  # django-redis' default serializer, byte for byte
        opts.setdefault("SERIALIZER", "django_redis.serializers.pickle.PickleSerializer")
    for key in ("IGNORE_EXCEPTIONS", "LOG_IGNORED_EXCEPTIONS"):
        value = _global(f"DJANGO_REDIS_{key}")
        if value is not None and key not in opts:
            opts[key] = bool(value)
    for key, why in GLOBAL_SETTINGS.items():
        if why.startswith("ignored:") and _global(key) is not None:
            warn_once(f"settings.{key}", why)

    explicit_client = "CLIENT_CLASS" in opts  # without it, the backend class keeps its layout
    client = _name(opts.pop("CLIENT_CLASS", f"{_CLIENTS}DefaultClient"))
    if client in _HERD:
        raise _bad("OPTIONS['CLIENT_CLASS']", client,
                   "HerdClient stores values set with a timeout wrapped in a (marker, value, deadline) tuple that this "
                   "package does not write or unwrap; use django_redis.client.DefaultClient (get_or_set "
                   "protects against the thundering herd) and expect a cold cache, or clear it")
    layout = CLIENT_LAYOUTS.get(client)
    if layout is None:
        raise _bad("OPTIONS['CLIENT_CLASS']", client,
                   f"a custom client cannot be reproduced here; accepted: {', '.join(sorted(CLIENT_LAYOUTS))}")
    if layout == "sentinel":
        _sentinel(t)
    else:
        if opts.get("CONNECTION_POOL_CLASS") is not None and _name(opts["CONNECTION_POOL_CLASS"]) == _SENTINEL_POOL:
            raise _bad("OPTIONS['CONNECTION_POOL_CLASS']", _SENTINEL_POOL, "needs CLIENT_CLASS django_redis.client.SentinelClient")
        t.layout = layout if explicit_client else None
    if layout == "ring":
        ring = opts.setdefault("HASH_RING", "django-redis")
        if ring != "django-redis":
            raise _bad("OPTIONS['HASH_RING']", ring, "ShardClient places keys with django-redis' ring; "
                       "remove HASH_RING, or CLIENT_CLASS to choose another ring (keys move)")
        if opts.get("WEIGHTS") is not None:
            raise _bad("OPTIONS['WEIGHTS']", opts["WEIGHTS"], "django-redis' ring has no weights")


def _sentinel(t: Translation) -> None:
    """SentinelClient: LOCATION redis://<service>/<db>; reads from replicas (its second pool)."""
    opts = t.options
    if opts.get("CONNECTION_POOL_CLASS") is not None and _name(opts["CONNECTION_POOL_CLASS"]) == _SENTINEL_POOL:
        opts.pop("CONNECTION_POOL_CLASS")
    kwargs = opts.pop("SENTINEL_KWARGS", None) or {}
    if not isinstance(kwargs, dict):
        raise _bad("OPTIONS['SENTINEL_KWARGS']", kwargs, "must be a dict")
    for key, value in kwargs.items():
        if key == "password":
            if opts.setdefault("SENTINEL_PASSWORD", value) is value:
                t.rename("OPTIONS['SENTINEL_PASSWORD']", "OPTIONS['SENTINEL_KWARGS']['password']")
        elif key in ("socket_timeout", "socket_connect_timeout"):
            warn_once(f"OPTIONS['SENTINEL_KWARGS'][{key!r}]", "ignored: Sentinels are asked with SOCKET_TIMEOUT/SOCKET_CONNECT_TIMEOUT")
        else:
            raise _bad(f"OPTIONS['SENTINEL_KWARGS'][{key!r}]", value, "has no equivalent here (supported: password)")
    entries = t.location.split(",") if isinstance(t.location, str) else list(t.location or [])
    if not entries or not all(isinstance(e, str) for e in entries):
        raise _bad("LOCATION", t.location, "SentinelClient needs redis://<service name>/<db>")
    services, kept, replicas = set(), [], isinstance(t.location, str) or len(entries) > 1
    for entry in entries:
        url = urlsplit(entry.strip())
        query = [(k, v) for k, v in parse_qsl(url.query, keep_blank_values=True) if k != "is_master"]
        services.add(url.hostname or "")
        kept.append(urlunsplit((url.scheme, url.netloc, url.path, urlencode(query), url.fragment)))
    if len(services) != 1 or "" in services:
        raise _bad("LOCATION", t.location, "SentinelClient entries must all name one service: redis://<service name>/<db>")
    opts.setdefault("SENTINEL_SERVICE", services.pop())
    opts.setdefault("READ_FROM_REPLICAS", replicas)
    t.location = kept[0]


def _global(name: str) -> Any:
    """A django-redis global setting; None where Django has no settings (a process that only
    unpickled a cache, started by multiprocessing's spawn, has none, and reads them as unset)."""
    from django.conf import settings

    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return None
    return getattr(settings, name, None)


def layout(backend_mode: str, chosen: str | None, backend: str) -> str:
    """The layout a backend class uses: CLIENT_CLASS' choice must agree with a layout class."""
    if chosen is None or chosen == backend_mode:
        return backend_mode
    if backend_mode == "primary":  # RedisCache: CLIENT_CLASS decides, as in django-redis
        return chosen
    raise ImproperlyConfigured(
        f"redis_cache_go: OPTIONS['CLIENT_CLASS'] means the {chosen!r} layout but {backend} is {backend_mode!r}; "
        "use redis_cache_go.RedisCache with CLIENT_CLASS, or remove CLIENT_CLASS"
    )


def apply_credentials(t: Translation, servers: list[Any]) -> None:
    """OPTIONS' credentials for every entry that carries none of its own, URLs included.

    As django-redis and Django hand them to redis-py's ``from_url``: what a URL carries wins, field by
    field (a URL with only a user name still takes OPTIONS' password). django-redis-cache dropped them
    for URL entries (docs/migration.md says what that changes).
    """
    for server in servers:
        if server.password is None and t.password:
            server.password = t.password
        if server.username is None and t.username:
            server.username = t.username


def documented_keys() -> dict[str, frozenset[str]]:
    """The names docs/settings.md lists in its compatibility tables."""
    return {
        "django-redis OPTIONS key": frozenset(DJANGO_REDIS_KEYS),
        "Django RedisCache OPTIONS key": frozenset(DJANGO_KEYS),
        "redis-py pool argument": frozenset(POOL_ARGS),
        "django-redis project setting": frozenset(GLOBAL_SETTINGS),
    }

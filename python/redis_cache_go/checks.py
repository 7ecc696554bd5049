"""System checks for ``CACHES`` entries that use a redis-cache-go backend.

Registered by :class:`redis_cache_go.apps.RedisCacheGoConfig` (add ``"redis_cache_go"`` to
``INSTALLED_APPS``). Each entry is built exactly as Django's cache handler builds it, so the
backend's own settings parsing (``_settings``, ``_codec_settings``, ``_topology``, ``_layout``) is
the validator: its ``ImproperlyConfigured`` becomes an ``Error`` whose id says which kind of
setting is wrong. A few checks look beyond parsing (TLS files that do not exist, caches that
collide, FORK_FALLBACK that cannot serve the layout). Nothing here loads the native library or
connects, except the deploy-only reachability check (``manage.py check --deploy``).

The ids are listed in the README ("System checks") and in :data:`IDS`.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Iterator

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from redis_cache_go import _notes, _secrets

# id -> (what it means, hint). The README's "System checks" table lists the same.
IDS: dict[str, tuple[str, str]] = {
    "redis_cache_go.E001": ("unknown OPTIONS key", "Check the spelling: the message names the nearest known key when there is one."),
    "redis_cache_go.E002": ("bad LOCAL_CACHE (near-cache)",
                            "LOCAL_CACHE is None or a dict of MAX_ENTRIES, MAX_BYTES and TTL (positive numbers), "
                            "and is not supported behind Sentinel (one server, several LOCATIONs and CLUSTER are)."),
    "redis_cache_go.E003": ("LOCATION cannot be parsed",
                            "Write each entry as host:port, redis://[user:password@]host:port/db, rediss://..., "
                            "unix:///path/to.sock or a socket path; several servers as a list or comma-separated."),
    "redis_cache_go.E004": ("MASTER_CACHE, WEIGHTS or HASH_RING does not fit LOCATION",
                            "MASTER_CACHE and WEIGHTS keys must name LOCATION entries; HASH_RING is 'seed' or 'kidoredis'."),
    "redis_cache_go.E005": ("bad SERIALIZER / SERIALIZER_CLASS / PICKLE_VERSION",
                            "Use a short name (pickle, json, msgpack, yaml) or an importable dotted path; "
                            "install the serializer's package."),
    "redis_cache_go.E006": ("bad COMPRESSOR / COMPRESSOR_CLASS / COMPRESSOR_LEVEL / COMPRESS_MIN_LEN",
                            "Use a short name (zlib, gzip, bz2, lzma, zstd, lz4, s2, none) or an importable dotted "
                            "path, and a level in the compressor's range."),
    "redis_cache_go.E007": ("bad timeout", "Timeouts are positive numbers of seconds (or None for the default)."),
    "redis_cache_go.E008": ("bad TLS setting or TLS file missing",
                            "SSL_CA_CERTS, SSL_CERTFILE and SSL_KEYFILE must name readable files; SSL_CERT_REQS is "
                            "'none', 'optional' or 'required'."),
    "redis_cache_go.E009": ("bad CLUSTER / SENTINELS / SENTINEL_SERVICE / READ_FROM_REPLICAS",
                            "CLUSTER and READ_FROM_REPLICAS are True or False (READ_FROM_REPLICAS needs CLUSTER or "
                            "SENTINELS); SENTINELS is a list of 'host:port' and needs SENTINEL_SERVICE, the name of "
                            "the master the Sentinels watch; CLUSTER and SENTINELS do not combine."),
    "redis_cache_go.E010": ("FORK_FALLBACK with a Go COMPRESSOR",
                            "The pure-Python fork fallback cannot decode Go-compressed values: drop FORK_FALLBACK "
                            "and make the first cache call after the fork, or use no COMPRESSOR."),
    "redis_cache_go.E011": ("other invalid setting", "The message names the setting and the accepted values."),
    "redis_cache_go.E012": ("FORK_FALLBACK without redis-py", "pip install redis (the fallback client uses redis-py)."),
    "redis_cache_go.E013": ("django-redis client settings that cannot be carried over",
                            "Use one of django-redis' own clients (DefaultClient, ShardClient, SentinelClient: each "
                            "keeps its layout and key placement here) or a BACKEND of this package; the message says "
                            "why this setting cannot be carried over."),
    "redis_cache_go.E014": ("bad VALUE_PROTECTION / PROTECTION_KEY / PROTECTION_ERRORS / ACCEPT_UNPROTECTED",
                            "VALUE_PROTECTION is 'sign' or 'encrypt' and needs SECRET_KEY or PROTECTION_KEY (a string "
                            "or a list, the first one writing); PROTECTION_ERRORS is 'miss' or 'raise'; "
                            "ACCEPT_UNPROTECTED is True or False."),
    "redis_cache_go.W001": ("TIMEOUT <= 0: nothing is cached",
                            "Use a positive TIMEOUT, or None to cache without expiry (0 means expire at once)."),
    "redis_cache_go.W002": ("two caches share a server, database and KEY_PREFIX",
                            "Give each alias its own KEY_PREFIX (or DB): their keys collide and clear() on one "
                            "empties the other."),
    "redis_cache_go.W003": ("FORK_FALLBACK cannot serve this layout",
                            "The fallback serves one server or a primary/replica LOCATION; for a sharded or copy "
                            "layout, a Sentinel or a Cluster, make the first cache call after the fork instead."),
    "redis_cache_go.W004": ("setting accepted but ignored", "Remove the setting; the message says why it has no effect."),
    "redis_cache_go.W005": ("server unreachable (deploy check)",
                            "Start the server or fix LOCATION / credentials; `manage.py redis_cache ping` sends each "
                            "server one PING and shows its answer or error."),
    "redis_cache_go.W006": ("SSL_* options without a rediss:// LOCATION entry",
                            "TLS is used for rediss:// entries only: write LOCATION as rediss://host:port."),
    "redis_cache_go.W007": ("CACHES entry key that nothing reads (a typo, or another package's key)",
                            "Django reads BACKEND, LOCATION, TIMEOUT, OPTIONS, KEY_PREFIX, VERSION and KEY_FUNCTION "
                            "(and redis-cache-go the lower-case db); every other setting goes in OPTIONS."),
    "redis_cache_go.W008": ("ACCEPT_UNPROTECTED: values without protection are still accepted",
                            "A rollout setting: run `manage.py redis_cache reinsert` to protect the existing values, "
                            "then remove OPTIONS['ACCEPT_UNPROTECTED']."),
}

_OPTION_KEY = re.compile(r"\[['\"]([A-Za-z_]+)['\"]\]")
# keys of django-redis / Django that _compat translates, by the name of ours they are read as
_TRANSLATED = {"pool_class": "CONNECTION_POOL_CLASS", "parser_class": "PARSER_CLASS", "serializer": "SERIALIZER"}
_TLS_FILES = ("SSL_CA_CERTS", "SSL_CERTFILE", "SSL_KEYFILE")


def register() -> None:
    """Register the checks (idempotent: Django's registry is a set)."""
    checks.register(check_caches, checks.Tags.caches)
    checks.register(check_servers_reachable, checks.Tags.caches, deploy=True)
    _shield_django_cache_checks()


# Django's own cache checks build every CACHES entry (``caches[alias]``), so one misconfigured
# redis-cache-go entry would end ``manage.py check`` with a traceback before our checks could
# report it with an id. While those two checks run (only then), a misconfigured entry of ours is
# stood in for by a placeholder in the cache handler; check_caches reports the entry itself.
_DJANGO_CACHE_CHECKS = ("check_file_based_cache_is_absolute", "check_cache_location_not_exposed")


def _shield_django_cache_checks() -> None:
    registry = checks.registry.registry
    groups: tuple[set[Any], ...] = (registry.registered_checks, registry.deployment_checks)
    for group in groups:
        for check in list(group):
            if getattr(check, "__module__", "") == "django.core.checks.caches" and getattr(check, "__name__", "") in _DJANGO_CACHE_CHECKS:
                group.discard(check)
                group.add(_shielded(check))


def _shielded(check: Callable[..., list[checks.CheckMessage]]) -> Callable[..., list[checks.CheckMessage]]:
    def shielded(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
        from django.core.cache import caches
        from django.core.cache.backends.dummy import DummyCache

        stand_ins = []
        with _notes.collecting():  # check_caches reports the warnings of building our entries
            for alias, cls, conf in _ours():
                try:
                    caches[alias]
                except ImproperlyConfigured:
                    caches[alias] = DummyCache("", {})  # a stand-in that Django's checks skip
                    stand_ins.append(alias)
            try:
                return check(app_configs=app_configs, **kwargs)
            finally:
                for alias in stand_ins:
                    del caches[alias]

    shielded.__name__ = shielded.__qualname__ = check.__name__
    shielded.__doc__ = check.__doc__
    setattr(shielded, "tags", getattr(check, "tags", ()))
    return shielded


def _message(level: Callable[..., checks.CheckMessage], code: str, alias: str, text: str,
             hint: str | None = None) -> checks.CheckMessage:
    text = _secrets.scrub(text.removeprefix("redis_cache_go: "))
    return level(text, hint=hint or IDS[code][1], obj=f"CACHES[{alias!r}]", id=code)


def classify(message: str) -> str:
    """The check id for an ``ImproperlyConfigured`` message of the backend's settings parsing."""
    if "unknown option" in message:
        return "redis_cache_go.E001"
    if "socket_timeout" in message or "socket_connect_timeout" in message or "['timeout']" in message:
        return "redis_cache_go.E007"
    names = _OPTION_KEY.findall(message)  # ['CONNECTION_POOL_KWARGS']['ssl_cert_reqs']: the innermost decides
    if not names:
        return "redis_cache_go.E003" if "LOCATION" in message else "redis_cache_go.E011"
    for name in reversed(names):
        code = _classify_key(_TRANSLATED.get(name, name.upper()))
        if code:
            return code
    return "redis_cache_go.E011"


def _classify_key(key: str) -> str | None:
    if key == "LOCAL_CACHE":
        return "redis_cache_go.E002"
    if key in ("CLIENT_CLASS", "CONNECTION_FACTORY", "REDIS_CLIENT_CLASS", "CLIENT_KWARGS"):
        return "redis_cache_go.E013"
    if key in ("MASTER_CACHE", "WEIGHTS", "HASH_RING"):
        return "redis_cache_go.E004"
    if key.startswith("SERIALIZER") or key == "PICKLE_VERSION":
        return "redis_cache_go.E005"
    if key.startswith("COMPRESS"):
        return "redis_cache_go.E006"
    if key in ("SOCKET_TIMEOUT", "SOCKET_CONNECT_TIMEOUT", "CIRCUIT_BREAKER_COOLDOWN", "CIRCUIT_BREAKER_FAILURES"):
        return "redis_cache_go.E007"
    if key.startswith("SSL_"):
        return "redis_cache_go.E008"
    if key in ("VALUE_PROTECTION", "PROTECTION_KEY", "PROTECTION_ERRORS", "ACCEPT_UNPROTECTED", "SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        return "redis_cache_go.E014"
    if key in ("CLUSTER", "SENTINELS", "SENTINEL_SERVICE", "SENTINEL_PASSWORD", "READ_FROM_REPLICAS"):
        return "redis_cache_go.E009"
    return None


def _our_backend(path: Any) -> type[Any] | None:
    """The backend class when ``path`` names a redis-cache-go RedisCache (or a subclass), else None."""
    if not isinstance(path, str):
        return None
    try:
        cls = import_string(path)
    except ImportError:
        return None  # Django reports a BACKEND it cannot import itself
    from redis_cache_go.backend import RedisCache

    return cls if isinstance(cls, type) and issubclass(cls, RedisCache) else None


def _build(cls: type[Any], conf: dict[str, Any]) -> Any:
    """Build the backend as Django's cache handler does (inside ``_notes.collecting()`` its
    warnings about ignored settings are collected, not logged)."""
    params = dict(conf)
    params.pop("BACKEND", None)
    location = params.pop("LOCATION", "")
    return cls(location, params)


def _ours() -> Iterator[tuple[str, type[Any], dict[str, Any]]]:
    caches = getattr(settings, "CACHES", {}) or {}
    for alias, conf in caches.items():
        if isinstance(conf, dict):
            cls = _our_backend(conf.get("BACKEND"))
            if cls is not None:
                yield alias, cls, conf


def check_caches(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every CACHES entry with a redis-cache-go backend: built, and looked at beyond parsing."""
    errors: list[checks.CheckMessage] = []
    places: dict[tuple[Any, ...], str] = {}
    for alias, cls, conf in _ours():
        with _notes.collecting() as notes:
            try:
                cache = _build(cls, conf)
            except ImproperlyConfigured as e:
                errors.append(_message(checks.Error, classify(str(e)), alias, str(e)))
                cache = None
        errors += [_message(checks.Warning, note.check, alias, note.text, note.hint) for note in notes]
        if cache is None:
            continue
        errors += _check_built(alias, cache)
        for server in cache._settings.servers:
            place = (_address(server), server.db, cache.key_prefix)
            if place in places and places[place] != alias:
                errors.append(_message(
                    checks.Warning, "redis_cache_go.W002", alias,
                    f"uses {server.describe()} with KEY_PREFIX {cache.key_prefix!r}, as CACHES[{places[place]!r}] does"))
            places.setdefault(place, alias)
    return errors


def _address(server: Any) -> tuple[Any, ...]:
    if server.is_unix:
        return ("unix", server.unix_socket_path)
    return ("tcp", (server.host or "").strip().lower(), server.port)


def _check_built(alias: str, cache: Any) -> list[checks.CheckMessage]:
    out: list[checks.CheckMessage] = []
    options = cache._settings.options
    if cache.default_timeout is not None and cache.default_timeout <= 0:
        out.append(_message(checks.Warning, "redis_cache_go.W001", alias,
                            f"TIMEOUT = {cache.default_timeout!r}: every set() deletes the key instead of storing it"))
    for key in _TLS_FILES:
        path = options.get(key)
        if isinstance(path, str) and not os.path.isfile(path):
            out.append(_message(checks.Error, "redis_cache_go.E008", alias, f"OPTIONS[{key!r}] = {path!r}: no such file"))
    if any(options.get(k) is not None for k in (*_TLS_FILES, "SSL_CERT_REQS")) and not any(s.tls for s in cache._settings.servers) \
            and cache._settings.topology is None:
        out.append(_message(checks.Warning, "redis_cache_go.W006", alias,
                            "SSL_* options are set but no LOCATION entry is rediss://, so they are not used"))
    if cache._settings.fork_fallback:
        out += _check_fork_fallback(alias, cache)
    return out


def _check_fork_fallback(alias: str, cache: Any) -> list[checks.CheckMessage]:
    """Ask the fallback itself whether it could serve this cache (builds no connection)."""
    from redis_cache_go import _fallback
    from redis_cache_go import exceptions as exc

    try:
        _fallback.FallbackClient.for_document(cache._client._doc, cache._describe).close()
    except exc.ForkedProcessError as e:
        code = "redis_cache_go.E010" if "COMPRESSOR" in str(e) else "redis_cache_go.W003"
        level = checks.Error if code.endswith("E010") else checks.Warning
        text = str(e).split(": ", 1)[-1]
        return [_message(level, code, alias, f"OPTIONS['FORK_FALLBACK'] = True: {text}")]
    except ImportError:
        return [_message(checks.Error, "redis_cache_go.E012", alias,
                         "OPTIONS['FORK_FALLBACK'] = True needs redis-py, which is not installed")]
    return []


def check_servers_reachable(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Deploy only: PING every server of every valid redis-cache-go cache (this loads the native
    library and connects; run it in a management process, not in a pre-fork master)."""
    from redis_cache_go.exceptions import RedisCacheError

    out: list[checks.CheckMessage] = []
    for alias, cls, conf in _ours():
        try:
            with _notes.collecting():  # check_caches reports the warnings
                cache = _build(cls, conf)
        except ImproperlyConfigured:
            continue  # check_caches reports it
        try:
            for i in range(len(cache._settings.servers)):  # a Cluster or Sentinel entry is one server
                try:
                    cache._client.server_command(i, [b"PING"])
                except IndexError:
                    break
                except RedisCacheError as e:
                    out.append(_message(checks.Warning, "redis_cache_go.W005", alias, str(e)))
        finally:
            cache.disconnect()
    return out

"""OPTIONS["PASSWORD"] and OPTIONS["USERNAME"] reach every LOCATION form, against real servers.

As in django-redis and Django's RedisCache (redis-py's ``from_url``), OPTIONS' credentials apply to
every LOCATION entry, URLs included; a user name or password written in a URL wins for that entry.
Each test asks the server who it authenticated as (``ACL WHOAMI``): a password that was dropped
fails with NOAUTH, a user name that was dropped authenticates as ``default`` with the wrong password.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from conftest import TEST_PASSWORD
from redisproc import RedisServer
from redis_cache_go import _settings

ACL_USER, ACL_PASSWORD = "cacheuser", "acl-user-Pa55"


def _add_acl_user(server: RedisServer) -> None:
    server.command("ACL", "SETUSER", ACL_USER, "on", f">{ACL_PASSWORD}", "~*", "&*", "+@all")


@pytest.fixture(scope="module")
def acl_server(auth_server: RedisServer) -> RedisServer:
    """The password-protected session server with an ACL user besides ``default``."""
    _add_acl_user(auth_server)
    return auth_server


@pytest.fixture(scope="module")
def unix_auth_server() -> Iterator[RedisServer]:
    """A password-protected server that also listens on a unix socket (with the same ACL user)."""
    server = RedisServer(password=TEST_PASSWORD, unix_socket=True).start()
    _add_acl_user(server)
    try:
        yield server
    finally:
        server.stop()


def whoami(cache: Any) -> list[str]:
    """The user every server of the cache authenticated as (LOCATION order)."""
    users = []
    for i in range(len(cache._settings.servers)):
        reply = cache._client.server_command(i, [b"ACL", b"WHOAMI"])
        users.append(reply.decode() if isinstance(reply, bytes) else str(reply))
    return users


def _tcp(server: RedisServer, db: int = 0) -> str:
    return f"redis://{server.host}:{server.port}/{db}"


LOCATIONS = {
    "redis-url": lambda s: _tcp(s),
    "redis-url-no-db": lambda s: f"redis://{s.host}:{s.port}",
    "host-port": lambda s: s.location,
    "several-urls": lambda s: [_tcp(s, 0), _tcp(s, 2)],
    "url-and-host-port": lambda s: [_tcp(s, 0), s.location],
}
UNIX_LOCATIONS = {
    "unix-url": lambda s: f"unix://{s.unix_socket}?db=0",
    "socket-path": lambda s: s.unix_socket,
}
BACKENDS = ["redis_cache_go.RedisCache", "redis_cache_go.ShardedRedisCache", "redis_cache_go.RedisCopyCache"]


def _build(backend: str, location: Any, options: dict[str, Any]) -> Any:
    from django.utils.module_loading import import_string

    return import_string(backend)(location, {"OPTIONS": {"DB": 0, **options}, "KEY_PREFIX": "cred"})


@pytest.fixture
def built() -> Iterator[Any]:
    caches: list[Any] = []

    def build(backend: str, location: Any, options: dict[str, Any]) -> Any:
        cache = _build(backend, location, options)
        caches.append(cache)
        return cache

    yield build
    for cache in caches:
        cache.disconnect()


def _works(cache: Any, user: str) -> None:
    assert whoami(cache) == [user] * len(cache._settings.servers)
    cache.set("k", {"v": 1})
    if cache._mode != "primary" or len(cache._settings.servers) == 1:  # replicas on other dbs read nothing
        assert cache.get("k") == {"v": 1}
    cache.delete("k")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("form", sorted(LOCATIONS))
def test_options_password_applies_to_every_location_form(built: Any, acl_server: RedisServer, form: str, backend: str) -> None:
    cache = built(backend, LOCATIONS[form](acl_server), {"PASSWORD": TEST_PASSWORD})
    _works(cache, "default")


@pytest.mark.parametrize("form", sorted(LOCATIONS))
def test_options_username_and_password_authenticate_an_acl_user(built: Any, acl_server: RedisServer, form: str) -> None:
    cache = built("redis_cache_go.RedisCache", LOCATIONS[form](acl_server), {"USERNAME": ACL_USER, "PASSWORD": ACL_PASSWORD})
    _works(cache, ACL_USER)


@pytest.mark.parametrize("form", sorted(UNIX_LOCATIONS))
def test_options_credentials_over_a_unix_socket(built: Any, unix_auth_server: RedisServer, form: str) -> None:
    location = UNIX_LOCATIONS[form](unix_auth_server)
    _works(built("redis_cache_go.RedisCache", location, {"PASSWORD": TEST_PASSWORD}), "default")
    _works(built("redis_cache_go.RedisCache", location, {"USERNAME": ACL_USER, "PASSWORD": ACL_PASSWORD}), ACL_USER)


def test_credentials_in_the_url_win_over_options(built: Any, acl_server: RedisServer) -> None:
    """redis-py's from_url: what the URL carries wins, field by field; OPTIONS fill in the rest."""
    host = f"{acl_server.host}:{acl_server.port}"
    both = built("redis_cache_go.RedisCache", f"redis://{ACL_USER}:{ACL_PASSWORD}@{host}/0", {"PASSWORD": "not-this-one"})
    _works(both, ACL_USER)
    only_user = built("redis_cache_go.RedisCache", f"redis://{ACL_USER}@{host}/0", {"PASSWORD": ACL_PASSWORD})
    _works(only_user, ACL_USER)
    only_password = built("redis_cache_go.RedisCache", f"redis://:{TEST_PASSWORD}@{host}/0", {"PASSWORD": "not-this-one"})
    _works(only_password, "default")


def test_acl_user_from_options_over_tls() -> None:
    """rediss:// takes OPTIONS' credentials too (the document of the entry; the TLS server itself is
    exercised in test_tls_acl.py)."""
    settings = _settings.parse("rediss://cache.example.com:6380/0", {"OPTIONS": {"USERNAME": ACL_USER, "PASSWORD": ACL_PASSWORD}})
    doc = settings.native_config(settings.servers[0])
    assert (doc["username"], doc["password"], doc["tls"] is not None) == (ACL_USER, ACL_PASSWORD, True)


@pytest.mark.parametrize("location, options", [
    ("redis://10.0.0.1:7000", {"CLUSTER": True}),
    ("redis+cluster://10.0.0.1:7000", {}),
    (["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"], {"CLUSTER": True}),
])
def test_cluster_seed_urls_take_options_credentials(location: Any, options: dict[str, Any]) -> None:
    """A Cluster's document carries one set of credentials for every node: OPTIONS' when the seed
    URLs carry none (the Python side of the Cluster path; go-redis authenticates every node with it)."""
    settings = _settings.parse(location, {"OPTIONS": {**options, "USERNAME": ACL_USER, "PASSWORD": ACL_PASSWORD}})
    doc = settings.native_config(settings.servers[0])
    assert doc["topology"]["kind"] == "cluster"
    assert (doc["username"], doc["password"]) == (ACL_USER, ACL_PASSWORD)


@pytest.fixture(scope="module")
def sentinel_with_auth() -> Iterator[tuple[RedisServer, Any]]:
    """A password-protected primary (with the ACL user) watched by one Sentinel that knows the password."""
    from topology import Sentinel

    primary = RedisServer(password=TEST_PASSWORD).start()
    _add_acl_user(primary)
    sentinel = Sentinel(primary, "authmaster")
    with open(sentinel.conf, "a", encoding="utf-8") as f:
        f.write(f"sentinel auth-pass authmaster {TEST_PASSWORD}\n")
    try:
        sentinel.start()
        yield primary, sentinel
    finally:
        sentinel.stop()
        primary.stop()


def test_sentinel_data_nodes_take_options_credentials(built: Any, sentinel_with_auth: tuple[RedisServer, Any]) -> None:
    """Sentinel: LOCATION redis://<service>/<db> names no host; OPTIONS' credentials authenticate to
    the primary the Sentinel names."""
    _, sentinel = sentinel_with_auth
    options = {"SENTINELS": [sentinel.location], "SENTINEL_SERVICE": "authmaster", "SOCKET_CONNECT_TIMEOUT": 5}
    cache = built("redis_cache_go.RedisCache", "redis://authmaster/0", {**options, "PASSWORD": TEST_PASSWORD})
    _works(cache, "default")
    acl = built("redis_cache_go.RedisCache", "redis://authmaster/0", {**options, "USERNAME": ACL_USER, "PASSWORD": ACL_PASSWORD})
    _works(acl, ACL_USER)

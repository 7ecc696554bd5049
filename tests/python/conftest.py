"""Fixtures shared by the Python tests of redis-cache-go.

Every test talks to a real redis-server started once per session by the harness in
tests/harness/redisproc.py and flushed before each test. Caches are built directly from a
backend class and a settings dict, exactly the way Django's cache handler builds them, so each
test states the settings it depends on.

RCG_TEST_BACKEND selects the backend under test (default ``redis_cache_go.RedisCache``). Setting
it to ``django.core.cache.backends.redis.RedisCache`` runs the same tests against Django's own
backend, which is useful as a smoke check of the tests themselves; that backend is known to differ
(float timeouts truncated, ``clear()`` ignores KEY_PREFIX, no ``redis_cache_go.exceptions``).
"""
from __future__ import annotations

import importlib
import os
import re
import socket
import time
from typing import Callable

import django
import pytest
from django.conf import settings

if not settings.configured:
    settings.configure(
        USE_TZ=True,
        # VALUE_PROTECTION derives its keys from it (tests/python/test_protection.py overrides it);
        # Django refuses to read an empty one, also when override_settings restores it
        SECRET_KEY="redis-cache-go-tests",
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    )
    django.setup()

from django.utils.module_loading import import_string  # noqa: E402  (needs settings)

from redisproc import RedisServer, free_port  # noqa: E402  (tests/harness on PYTHONPATH)

BACKEND = os.environ.get("RCG_TEST_BACKEND", "redis_cache_go.RedisCache")
# RCG_TEST_DEPLOYMENT=cluster|sentinel runs the `cache`/`make_cache`/`raw` fixtures against a
# 6-node Redis Cluster or a Sentinel deployment (tests/harness/topology.py) instead of the one
# session server; caches built with an explicit LOCATION still use that LOCATION.
DEPLOYMENT = os.environ.get("RCG_TEST_DEPLOYMENT", "")
if DEPLOYMENT not in ("", "cluster", "sentinel"):
    raise RuntimeError(f"RCG_TEST_DEPLOYMENT must be cluster or sentinel, not {DEPLOYMENT!r}")
DJANGO_BUILTIN = "django.core.cache.backends.redis.RedisCache"
TEST_PASSWORD = "s3cret-test-pw"
DEFAULT_TEST_TIMEOUT = 60


def pytest_report_header() -> str:
    """Which server binary the harness starts (RCG_REDIS_SERVER selects e.g. a valkey-server)."""
    from redisproc import RedisServerError, server_version

    try:
        return f"server: {server_version()}"
    except (OSError, RedisServerError) as e:
        return f"server: {e}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test a hard time limit (pytest-timeout) unless it sets its own."""
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TEST_TIMEOUT))


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="session")
def redis_server():
    """The session's redis-server: TCP on a free port plus a unix socket."""
    server = RedisServer(unix_socket=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def auth_server():
    """A second redis-server that requires a password (started only when a test asks)."""
    server = RedisServer(password=TEST_PASSWORD).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def deployment():
    """The RCG_TEST_DEPLOYMENT deployment, as (location, options, raw), or None."""
    if not DEPLOYMENT:
        yield None
        return
    from topology import RedisCluster, SentinelDeployment
    from topology_raw import cluster_raw, sentinel_raw

    if DEPLOYMENT == "cluster":
        dep = RedisCluster().start()
        found = (dep.location, {"CLUSTER": True}, cluster_raw(dep))
    else:
        dep = SentinelDeployment().start()
        found = ("redis://sentinel-named-primary/0", {"SENTINELS": dep.sentinel_addrs, "SENTINEL_SERVICE": dep.service},
                 sentinel_raw(dep))
    try:
        yield found
    finally:
        dep.stop()


@pytest.fixture(autouse=True)
def _flush_redis(redis_server, deployment):
    redis_server.command("FLUSHALL")
    if deployment is not None:
        deployment[2].command("FLUSHALL")
    yield


@pytest.fixture
def raw(redis_server, deployment):
    """Independent RESP access to DB 0 of the session server: ``raw.command("GET", key)``
    (or to the RCG_TEST_DEPLOYMENT deployment, routed by key: tests/harness/topology_raw.py)."""
    return deployment[2] if deployment is not None else redis_server


@pytest.fixture
def db_client(redis_server):
    """Factory for redis-py clients on other DBs of the session server (the harness speaks DB 0 only)."""
    import redis

    clients = []

    def make(db: int):
        client = redis.Redis(host=redis_server.host, port=redis_server.port, db=db)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def three():
    """Three fresh servers on free ports, stopped after the test (a test may stop some)."""
    servers = [RedisServer().start() for _ in range(3)]
    yield servers
    for s in servers:
        s.stop()


@pytest.fixture
def dead_location():
    """host:port of a loopback port where nothing listens (connections are refused)."""
    return f"127.0.0.1:{free_port()}"


@pytest.fixture
def proxy(redis_server):
    """A proxy in front of the session server that counts requests in flight and can hold them
    (tests/harness/delayproxy.py): point a cache at ``proxy.location``."""
    from delayproxy import DelayProxy

    host, port = redis_server.location.rsplit(":", 1)
    with DelayProxy(host, int(port)) as p:
        yield p


@pytest.fixture
def silent_server():
    """A loopback server that reads and never answers, and tells which commands reached it
    (tests/harness/silent.py): ``silent_server.location``, ``silent_server.settle()``."""
    from silent import SilentServer

    with SilentServer() as server:
        yield server


@pytest.fixture
def silent_location():
    """host:port of a socket that completes TCP handshakes but never answers a byte."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


# --------------------------------------------------------------------------- caches


def _as_builtin_settings(location: str, options: dict) -> tuple[str, dict]:
    """Translate our settings to what Django's builtin backend accepts (smoke runs only)."""
    options = dict(options)
    db = options.pop("DB", 0)
    password = options.pop("PASSWORD", None)
    for name in list(options):
        if name.isupper():
            options.pop(name)
    if "://" not in location and not location.startswith("/"):
        auth = f":{password}@" if password else ""
        location = f"redis://{auth}{location}/{db}"
    elif location.startswith("/"):
        location = f"unix://{location}?db={db}"
    return location, options


@pytest.fixture
def make_cache(redis_server, deployment):
    """Build a cache of the backend under test.

    ``make_cache(location=None, options=None, **params)``: ``location`` defaults to the session
    server's host:port, ``options`` to ``{"DB": 0}`` (so the harness, which speaks DB 0, sees the
    keys), ``params`` are further CACHES entry keys such as ``KEY_PREFIX=``, ``VERSION=``,
    ``TIMEOUT=``, ``KEY_FUNCTION=``. Every cache is disconnected at teardown.
    """
    created = []

    def make(location: str | None = None, options: dict | None = None, **params):
        options = {"DB": 0} if options is None else dict(options)
        if location is None and deployment is not None:
            location = deployment[0]
            options.update(deployment[1])
        if location is None:
            location = redis_server.location
        if BACKEND == DJANGO_BUILTIN:
            location, options = _as_builtin_settings(location, options)
        cache_params = {"OPTIONS": options, **params}
        cache = import_string(BACKEND)(location, cache_params)
        created.append(cache)
        return cache

    yield make
    for cache in created:
        disconnect = getattr(cache, "disconnect", None)
        if disconnect is not None:
            disconnect()
        else:
            cache.close()


@pytest.fixture
def cache(make_cache):
    """The backend with default settings on DB 0, no prefix, VERSION 1, TIMEOUT 300."""
    return make_cache()


@pytest.fixture
def errors():
    """The ``redis_cache_go.exceptions`` module (imported lazily so collection never needs it)."""
    return importlib.import_module("redis_cache_go.exceptions")


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def wait_until():
    """``wait_until(predicate, timeout=30.0, message="")``: poll until predicate() is truthy.

    The deadline only bounds a failing test: a condition that holds ends the wait at once, so it is
    generous enough for a loaded machine."""

    def wait(predicate: Callable[[], object], timeout: float = 30.0, message: str = "") -> object:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                pytest.fail(f"condition not reached within {timeout}s: {message or predicate}")
            time.sleep(0.01)

    return wait


@pytest.fixture
def server_stat(raw):
    """``server_stat(name)``: an integer field of INFO (e.g. total_connections_received)."""

    def stat(name: str) -> int:
        info = raw.command("INFO", "all")
        match = re.search(rb"^%s:(\d+)\r?$" % re.escape(name.encode()), info, re.MULTILINE)
        assert match, f"INFO has no field {name}"
        return int(match.group(1))

    return stat

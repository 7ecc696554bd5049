"""Every LOCATION case of tests/fixtures/locations.json, read by the Python parser (_settings.py).

core/djcache/location_fixture_test.go reads the same file with the Go parser (core/djcache/location.go):
both must give each case's `want`, or an error whose message contains its `error`, so the two parsers
cannot drift apart. No server is needed: parsing touches neither the network nor the native library.
"""
from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from redis_cache_go import _layout, _settings

FIXTURE = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "locations.json"
CASES: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]
# what a field of a `want` server means when the case leaves it out (the fixture's "want" section)
DEFAULTS: dict[str, Any] = {
    "host": None, "port": None, "path": None, "username": None, "password": None, "tls": False,
    "tls_verify": None, "socket_timeout": None, "socket_connect_timeout": None, "ring_name": None,
}
CASE_KEYS = {"id", "note", "location", "options", "db", "want", "error", "secrets"}


def test_the_fixture_is_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(CASES) >= 40, f"got {len(CASES)} cases; want at least 40"
    assert len(set(ids)) == len(ids), f"got duplicate ids {sorted({i for i in ids if ids.count(i) > 1})}; want none"
    for case in CASES:
        assert set(case) <= CASE_KEYS, f"{case['id']}: got keys {sorted(set(case) - CASE_KEYS)}; want only {sorted(CASE_KEYS)}"
        assert ("want" in case) != ("error" in case), f"{case['id']}: got want and error {('want' in case, 'error' in case)}; want exactly one"
        assert set(case.get("options", {})) <= {"DB", "PASSWORD"}, f"{case['id']}: got OPTIONS {case['options']}; want DB and PASSWORD only"
        for server in case.get("want", {}).get("servers", []):
            extra = set(server) - set(DEFAULTS) - {"network", "db"}
            assert not extra, f"{case['id']}: got server keys {sorted(extra)}; want only {sorted(DEFAULTS)}, network, db"


def _params(case: dict[str, Any]) -> dict[str, Any]:
    """The CACHES entry without BACKEND and LOCATION, as Django's cache handler passes it."""
    params: dict[str, Any] = {"OPTIONS": dict(case.get("options", {}))}
    if "db" in case:
        params["db"] = case["db"]
    return params


def _server(settings: _settings.Settings, server: _settings.Server, ring: bool) -> dict[str, Any]:
    """One server in the fixture's schema, from what the native library would receive."""
    doc = settings.native_config(server)
    got = dict(DEFAULTS, network=doc["network"], db=doc["db"])
    if doc["network"] == "unix":
        got["path"] = doc["addr"]
    else:
        host, _, port = doc["addr"].rpartition(":")
        got["host"], got["port"] = host.removeprefix("[").removesuffix("]"), int(port)
    got["username"] = doc["username"] or None
    got["password"] = doc["password"] or None
    if doc["tls"] is not None:
        got["tls"], got["tls_verify"] = True, doc["tls"].get("cert_reqs", "required") != "none"
    got["socket_timeout"] = doc["socket_timeout"] or None
    got["socket_connect_timeout"] = doc["connect_timeout"] or None
    if ring:
        got["ring_name"] = _layout.node_name(server)
    return got


def _secrets(case: dict[str, Any]) -> list[str]:
    """Every password of the case: none may show in a message, repr or description."""
    found = list(case.get("secrets", []))
    if case.get("options", {}).get("PASSWORD"):
        found.append(case["options"]["PASSWORD"])
    found += [s["password"] for s in case.get("want", {}).get("servers", []) if s.get("password")]
    return found


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_location(case: dict[str, Any]) -> None:
    try:
        settings = _settings.parse(case["location"], _params(case))
    except ImproperlyConfigured as e:
        message = str(e)
        assert "error" in case, f"got error {message!r}; want {case.get('want')}"
        assert case["error"] in message, f"got error {message!r}; want one containing {case['error']!r}"
        said = [message]
    else:
        assert "error" not in case, f"got servers {[_server(settings, s, True) for s in settings.servers]}; want an error containing {case['error']!r}"
        want = case["want"]
        cluster = settings.topology["addrs"] if settings.topology and settings.topology["kind"] == "cluster" else None
        assert cluster == want.get("cluster"), f"got cluster {cluster}; want {want.get('cluster')}"
        servers = settings.servers[:1] if cluster else settings.servers  # one connection serves the cluster
        got = [_server(settings, s, ring=not cluster) for s in servers]
        wanted = [dict(DEFAULTS, **w) for w in want["servers"]]
        assert got == wanted, f"got {got}; want {wanted}"
        said = [repr(settings), _layout.describe(settings, "ring")]
        said += [repr(s) for s in settings.servers] + [s.describe() for s in settings.servers]
    for secret in _secrets(case):
        for text in said:
            assert secret not in text, f"got {text!r}; want it without the password {secret!r}"

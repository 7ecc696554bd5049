"""Signed and encrypted values (VALUE_PROTECTION, issue 17) cross between Python and Go.

The Django site (this package's backend) and a Go service (core/djcache, driven by the helper
tests/go/crosslang with -protection and -protection-key) share one protected cache: for each mode
and every compressor, Python writes the fixture values of test_go_interop (values.json's, both
300 KB values among them) and Go reads each equal, then Go writes them and Python reads each
equal, and what Redis holds is the protected form. Secrets rotate across the languages as Django
rotates SECRET_KEY. And the Go reader's side of bar 1: a hostile pickle put in a protected key
with the real redis-cli is a miss for Go, never deserialized, and its payload never runs.
"""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

import redis_cache_go
from redisproc import cli_binary
from test_go_interop import EXPECTED, PICKLE_NAMES, _round_trip, crosslang  # noqa: F401  (crosslang: a fixture)

MODES = ["sign", "encrypt"]
# Every compressor both sides have (core/codec: Python compresses through the same Go core).
COMPRESSORS = [None, "zlib", "gzip", "bz2", "lzma", "zstd", "lz4", "s2"]
LARGE = ["str_300k_compressible", "bytes_300k_random"]
KEYS = ["current-protection-key", "older-protection-key"]
MAGIC = b"\xc1RCG"


def _protected(location: str, prefix: str, mode: str, compressor: str | None = None, **options) -> redis_cache_go.RedisCache:
    options = {"DB": 0, "VALUE_PROTECTION": mode, **options}
    if compressor:
        options["COMPRESSOR"] = compressor
    return redis_cache_go.RedisCache(location, {"OPTIONS": options, "KEY_PREFIX": prefix})


def _flags(prefix: str, mode: str, keys: list[str], compressor: str | None = None) -> list[str]:
    flags = ["-db", "0", "-prefix", prefix, "-protection", mode]
    for key in keys:
        flags += ["-protection-key", key]
    return flags + (["-compressor", compressor] if compressor else [])


@contextlib.contextmanager
def _site_secrets(current: str, *fallbacks: str):
    """SECRET_KEY and SECRET_KEY_FALLBACKS for the block. The test settings have no SECRET_KEY, which
    override_settings reads back on exit after it restored the settings: that read's
    ImproperlyConfigured is ignored."""
    override = override_settings(SECRET_KEY=current, SECRET_KEY_FALLBACKS=list(fallbacks))
    override.enable()
    try:
        yield
    finally:
        try:
            override.disable()
        except ImproperlyConfigured:
            pass


def test_the_fixture_values_include_both_large_values():
    assert set(LARGE) <= set(PICKLE_NAMES)


@pytest.mark.parametrize("compressor", COMPRESSORS, ids=lambda c: c or "none")
@pytest.mark.parametrize("mode", MODES)
def test_protected_values_cross_both_ways(crosslang, redis_server, raw, mode, compressor):
    prefix = f"prot-{mode}-{compressor or 'none'}"
    cache = _protected(redis_server.location, prefix, mode, compressor, PROTECTION_KEY=KEYS)
    try:
        _round_trip(crosslang, cache, redis_server.location, PICKLE_NAMES, _flags(prefix, mode, KEYS, compressor))
        # Go sealed what it wrote, in this mode, with the current key (Python read it through the same
        # check); for the large compressible value the payload was compressed first.
        stored = raw.command("GET", cache.make_key("v:str_300k_compressible"))
        assert stored[:5] == MAGIC + mode[:1].encode()
        if mode == "encrypt":
            assert b"the quick brown fox" not in stored
        elif compressor is None:
            assert b"the quick brown fox" in stored  # signed, not hidden
        if compressor:
            assert len(stored) < 150_000, f"{compressor}: {len(stored)} bytes stored; want it compressed before it was sealed"
        assert raw.command("GET", cache.make_key("v:int_neg")) == b"-5"  # plain ints stay INCR-able
        assert cache.get("v:str_abc") == EXPECTED["str_abc"]
    finally:
        cache.disconnect()


@pytest.mark.parametrize("mode", MODES)
def test_secret_key_rotation_crosses_both_ways(crosslang, redis_server, mode):
    """Without PROTECTION_KEY the site's keys are SECRET_KEY then SECRET_KEY_FALLBACKS; the Go
    service gives the same list. Values written under the old secret still read after the
    rotation on both sides, new ones are written under the new secret only."""
    location, prefix, names = redis_server.location, f"rotate-{mode}", ["str_abc", "dict_nested", "bytes_300k_random"]
    with _site_secrets("old-site-secret"):
        before = _protected(location, prefix, mode)
    with _site_secrets("new-site-secret", "old-site-secret"):
        after = _protected(location, prefix, mode)
    try:
        for name in names:  # Go writes under the old secret, the rotated site reads
            before.set(f"v:{name}", EXPECTED[name], None)
        read = crosslang(location, "read", names, *_flags(prefix, mode, ["new-site-secret", "old-site-secret"]))
        assert {n: r["got"] for n, r in read.items() if not r["ok"]} == {}

        crosslang(location, "write", names, *_flags(prefix, mode, ["old-site-secret"]))
        assert after.get_many([f"v:{n}" for n in names]) == {f"v:{n}": EXPECTED[n] for n in names}

        crosslang(location, "write", names, *_flags(prefix, mode, ["new-site-secret", "old-site-secret"]))
        assert after.get_many([f"v:{n}" for n in names]) == {f"v:{n}": EXPECTED[n] for n in names}
        assert before.get_many([f"v:{n}" for n in names]) == {}  # the old secret alone no longer reads them
        read = crosslang(location, "read", names, *_flags(prefix, mode, ["old-site-secret"]))
        assert {n: r["got"] for n, r in read.items()} == {n: "miss" for n in names}
    finally:
        before.disconnect()
        after.disconnect()


class _Hostile:
    """Unpickled, it creates the file at ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize("mode", MODES)
def test_hostile_pickle_in_a_protected_key_is_a_miss_for_go(crosslang, redis_server, tmp_path, mode):
    """Bar 1 for the Go reader: whoever can write to Redis stores a pickle whose __reduce__
    creates a file, with the real redis-cli, at a key the Go service reads. Unprotected, that
    pickle reaches Go's deserializer (which refuses the class: it runs nothing); protected, the
    read is a miss, the rejection is logged with the key and why, and the file never exists."""
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Hostile(str(control)), pickle.HIGHEST_PROTOCOL))
    assert control.exists(), "the hostile pickle must work when unpickled, or this test proves nothing"
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Hostile(str(marker)), pickle.HIGHEST_PROTOCOL)
    prefix = f"hostile-{mode}"
    key = f"{prefix}:1:v:dict_nested"  # what crosslang reads for the fixture value dict_nested
    host, port = redis_server.location.rsplit(":", 1)
    subprocess.run([cli_binary(), "-h", host, "-p", port, "-n", "0", "-x", "SET", key], input=payload,
                   check=True, capture_output=True, timeout=30)

    unprotected = crosslang(redis_server.location, "read", ["dict_nested"], "-db", "0", "-prefix", prefix)
    assert unprotected["dict_nested"]["got"].startswith("error:"), unprotected  # it was deserialized (and refused)
    assert "system" in unprotected["dict_nested"]["got"]

    binary = os.path.join(os.environ.get("RCG_GO_BIN") or "", "crosslang")
    if not os.access(binary, os.X_OK):
        pytest.skip("needs the prebuilt helper ($RCG_GO_BIN/crosslang, `make go-bin`) for its stderr")
    out = subprocess.run([binary, "-location", redis_server.location, *_flags(prefix, mode, KEYS), "read", "dict_nested"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"dict_nested": {"ok": False, "got": "miss", "server": 0}}
    assert f"key={key}" in out.stderr and "no protection header" in out.stderr, out.stderr
    assert "touch" not in out.stderr
    assert not marker.exists()
    cache = _protected(redis_server.location, prefix, mode, PROTECTION_KEY=KEYS)
    try:  # the site's reader too
        assert cache.get("v:dict_nested", "default") == "default"
    finally:
        cache.disconnect()
    assert not marker.exists()

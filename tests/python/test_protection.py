"""OPTIONS['VALUE_PROTECTION'] (issue 17): values that do not verify are never unpickled.

Bar 1: a pickle that creates a file when it is unpickled is written into a protected cache's key
with the real redis-cli binary - unsigned, with a flipped tag byte, sealed under another secret,
sealed for another key, cut short - and get, get_many, get_or_set, aget and aget_many never create
the file: each is a miss, counted in stats() as ``rejected`` and logged (key and reason, never the
bytes) once per key per minute, or a ProtectionError with PROTECTION_ERRORS="raise". Bar 2: the
secrets rotate (SECRET_KEY_FALLBACKS, a PROTECTION_KEY list). Bar 4: an encrypted session shows
no plaintext to redis-cli, compressed or not. Also the settings' validation and the W008 check.
Everything runs against the harness's real redis-server (tests/harness/redisproc.py).
"""
from __future__ import annotations

import asyncio
import logging
import pickle
import subprocess
import uuid
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from redis_cache_go import RedisCache, checks
from redisproc import cli_binary

MAGIC = b"\xc1RCG"
HEADER = 9  # magic (4), mode (1), key id (4)
SECRET = "protection-test-secret-one"
OTHER_SECRET = "protection-test-secret-two"
NEVER_SHOWN = "s3cr3t-that-must-never-be-shown"
MODES = ["sign", "encrypt"]
MISS = object()
B = "redis_cache_go.RedisCache"


class Hostile:
    """Unpickling this calls open(path, "w"): the file at ``path`` appears."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def redis_cli(server: Any, *args: str, data: bytes | None = None) -> bytes:
    """The real redis-cli binary against DB 0 of ``server``; returns its output."""
    done = subprocess.run([cli_binary(), "-h", server.host, "-p", str(server.port), "-n", "0", *args],
                          input=data, capture_output=True, check=True, timeout=30)
    return done.stdout


def cli_set(server: Any, key: str, data: bytes) -> None:
    """SET key to ``data`` with redis-cli (-x: the value is read from stdin, byte for byte)."""
    assert redis_cli(server, "-x", "SET", key, data=data).strip() == b"OK"
    assert server.command("GET", key) == data


def rejected(cache: RedisCache) -> int:
    return sum(s["rejected"] for s in cache.stats())


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "redis_cache_go" and r.levelno == logging.WARNING]


@pytest.fixture
def protected(make_cache):
    """``protected(mode, key=SECRET, **options)``: a protected cache on DB 0 of the session server,
    under a KEY_PREFIX of its own per test (the rejection log remembers keys per configuration for a
    minute, across tests)."""
    prefix = "p" + uuid.uuid4().hex[:10]

    def make(mode: str, key: Any = SECRET, **options: Any) -> RedisCache:
        return make_cache(options={"DB": 0, "VALUE_PROTECTION": mode, "PROTECTION_KEY": key, **options}, KEY_PREFIX=prefix)

    return make


# --------------------------------------------------------------------------- bar 1: hostile values

VARIANTS = ["unsigned", "flipped-tag", "other-secret", "other-mode", "other-key", "truncated"]
REASONS = {"unsigned": "no protection header", "flipped-tag": "does not verify", "other-secret": "matches no configured secret",
           "other-mode": "protected with another mode", "other-key": "does not verify", "truncated": "too short"}


def plant(variant: str, cache: RedisCache, other: RedisCache, server: Any, key: str, path: str) -> bytes:
    """Write the hostile value of ``variant`` at ``key`` of ``cache`` with redis-cli; returns its bytes."""
    made = cache.make_key(key)
    if variant == "unsigned":
        data = pickle.dumps(Hostile(path))
    elif variant in ("other-secret", "other-mode"):  # sealed for this very key, by a cache with other settings
        other.set(key, Hostile(path))
        data = server.command("GET", made)
    elif variant == "other-key":  # a legitimate value of another key, copied
        cache.set(key + "-source", Hostile(path))
        data = server.command("GET", cache.make_key(key + "-source"))
    else:
        cache.set(key, Hostile(path))
        sealed = server.command("GET", made)
        data = sealed[:-1] + bytes([sealed[-1] ^ 0x01]) if variant == "flipped-tag" else sealed[:HEADER + 20]
    cli_set(server, made, data)
    return data


OPS = {
    "get": lambda c, k: c.get(k, MISS) is MISS,
    "get_many": lambda c, k: c.get_many([k, "good"]) == {"good": "fine"},
    "aget": lambda c, k: asyncio.run(c.aget(k, MISS)) is MISS,
    "aget_many": lambda c, k: asyncio.run(c.aget_many(["good", k])) == {"good": "fine"},
    "get_or_set": lambda c, k: c.get_or_set(k, "computed") == "computed",
}


def test_the_payload_would_create_its_file(tmp_path) -> None:
    """The control: unpickling the hostile bytes does create the file (so the bar's tests can fail)."""
    path = tmp_path / "control"
    pickle.loads(pickle.dumps(Hostile(str(path)))).close()
    assert path.exists()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mode", MODES)
def test_a_hostile_value_is_a_logged_miss_and_never_unpickled(protected, redis_server, caplog, tmp_path, mode, variant) -> None:
    cache = protected(mode)
    other = protected(({"sign": "encrypt", "encrypt": "sign"}[mode]) if variant == "other-mode" else mode,
                      key=SECRET if variant == "other-mode" else OTHER_SECRET)
    cache.set("good", "fine")
    for op, check in OPS.items():
        key, path = f"victim-{op}", tmp_path / f"created-by-{op}"
        data = plant(variant, cache, other, redis_server, key, str(path))
        before = rejected(cache)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="redis_cache_go"):
            assert check(cache, key), f"{op}: not a miss"
        assert not path.exists(), f"{op} unpickled the {variant} value"
        if op == "get_or_set":
            assert rejected(cache) > before  # the herd path reads the key again before computing
        else:
            assert rejected(cache) == before + 1, op
        lines = logged(caplog)
        assert len(lines) == 1, (op, lines)
        assert repr(cache.make_key(key)) in lines[0] and REASONS[variant] in lines[0], lines[0]
        for shown in (str(path), "builtins", repr(data)[2:22], repr(data[HEADER:HEADER + 12])[2:-1]):
            assert shown not in lines[0], f"the log line shows the value's bytes: {lines[0]}"
    # get_or_set computed the value and stored it protected
    stored = redis_server.command("GET", cache.make_key("victim-get_or_set"))
    assert stored.startswith(MAGIC + mode[:1].encode())
    assert cache.get("victim-get_or_set") == "computed"


@pytest.mark.parametrize("mode", MODES)
def test_a_rejected_key_is_logged_once_per_minute(protected, redis_server, caplog, tmp_path, mode) -> None:
    cache = protected(mode)
    for key in ("bad", "worse"):
        plant("unsigned", cache, cache, redis_server, key, str(tmp_path / key))
    before = rejected(cache)
    with caplog.at_level(logging.WARNING, logger="redis_cache_go"):
        assert cache.get("bad") is None and cache.get("bad") is None
        assert cache.get_many(["bad"]) == {} and asyncio.run(cache.aget("bad")) is None
        assert cache.get("worse", "default") == "default"
    assert rejected(cache) == before + 5
    lines = logged(caplog)
    assert len(lines) == 2, lines
    assert [repr(cache.make_key(k)) in line for k, line in zip(("bad", "worse"), lines)] == [True, True], lines
    assert not any(p.exists() for p in tmp_path.iterdir())


@pytest.mark.parametrize("mode", MODES)
def test_other_reads_of_a_hostile_value_log_it_at_once(protected, redis_server, caplog, tmp_path, mode) -> None:
    """incr_version (which opens the value to seal it for its new name) and get_or_set with a
    non-positive timeout (a plain read): a miss, logged by the call that met the value."""
    cache = protected(mode)
    for key in ("moved", "peeked"):
        plant("unsigned", cache, cache, redis_server, key, str(tmp_path / key))
    with caplog.at_level(logging.WARNING, logger="redis_cache_go"):
        with pytest.raises(ValueError, match="not found"):
            cache.incr_version("moved")
        assert len(logged(caplog)) == 1 and repr(cache.make_key("moved")) in logged(caplog)[0], logged(caplog)
        assert cache.get_or_set("peeked", "computed", timeout=0) == "computed"
        assert len(logged(caplog)) == 2 and repr(cache.make_key("peeked")) in logged(caplog)[1], logged(caplog)
    assert redis_server.command("EXISTS", cache.make_key("moved", version=2)) == 0  # left where it was, unread
    assert redis_server.command("GET", cache.make_key("moved"))[:1] == b"\x80"
    assert not any(p.exists() for p in tmp_path.iterdir())


@pytest.mark.parametrize("op", ["get", "get_many", "aget"])
@pytest.mark.parametrize("mode", MODES)
def test_protection_errors_raise(protected, redis_server, errors, tmp_path, mode, op) -> None:
    cache = protected(mode, PROTECTION_ERRORS="raise")
    cache.set("fine", 1.5)
    path = tmp_path / "created"
    data = plant("other-key", cache, cache, redis_server, "bad", str(path))
    call = {"get": lambda: cache.get("bad"), "get_many": lambda: cache.get_many(["fine", "bad"]),
            "aget": lambda: asyncio.run(cache.aget("bad"))}[op]
    with pytest.raises(errors.ProtectionError) as info:
        call()
    message = str(info.value)
    assert cache.make_key("bad") in message and REASONS["other-key"] in message, message
    for shown in (str(path), "builtins", repr(data)[2:22]):
        assert shown not in message
    assert not path.exists()
    assert cache.get("fine") == 1.5  # a value that verifies is still read


# --------------------------------------------------------------------------- bar 2: rotation


@pytest.mark.parametrize("mode", MODES)
def test_secret_key_fallbacks_read_values_of_the_old_secret(make_cache, mode) -> None:
    prefix = "r" + uuid.uuid4().hex[:10]

    def build(**secrets: Any) -> RedisCache:
        with override_settings(**secrets):  # the secrets are read when the cache is built
            return make_cache(options={"DB": 0, "VALUE_PROTECTION": mode}, KEY_PREFIX=prefix)

    old = build(SECRET_KEY="the-old-secret-key", SECRET_KEY_FALLBACKS=[])
    old.set("session", {"user": 42})
    old.set_many({"a": "x", "b": [1, 2]})
    rotated = build(SECRET_KEY="the-new-secret-key", SECRET_KEY_FALLBACKS=["the-old-secret-key"])
    assert rotated.get("session") == {"user": 42}
    assert rotated.get_many(["a", "b"]) == {"a": "x", "b": [1, 2]}
    assert asyncio.run(rotated.aget("session")) == {"user": 42}
    rotated.set("fresh", "new")
    without = build(SECRET_KEY="the-new-secret-key", SECRET_KEY_FALLBACKS=[])
    assert without.get("session", MISS) is MISS and without.get_many(["a", "b"]) == {}
    assert without.get("fresh") == "new"  # written with the new secret
    assert old.get("fresh", MISS) is MISS


@pytest.mark.parametrize("mode", MODES)
def test_a_protection_key_list_writes_with_the_first_and_reads_with_all(protected, mode) -> None:
    old = protected(mode, key="protection-key-old")
    old.set("v", "kept")
    both = protected(mode, key=["protection-key-new", "protection-key-old"])
    assert both.get("v") == "kept"
    assert protected(mode, key="protection-key-new").get("v", MISS) is MISS
    both.set("w", "written")
    assert protected(mode, key="protection-key-new").get("w") == "written"
    assert old.get("w", MISS) is MISS


def test_protection_key_is_used_instead_of_secret_key(make_cache) -> None:
    prefix = "k" + uuid.uuid4().hex[:10]
    options = {"DB": 0, "VALUE_PROTECTION": "sign", "PROTECTION_KEY": SECRET}
    with override_settings(SECRET_KEY="one-secret-key"):
        one = make_cache(options=options, KEY_PREFIX=prefix)
    with override_settings(SECRET_KEY="another-secret-key"):
        another = make_cache(options=options, KEY_PREFIX=prefix)
    one.set("v", "shared")
    assert another.get("v") == "shared"


# --------------------------------------------------------------------------- bar 4: what Redis sees

SESSION = {"_auth_user_id": "42", "email": "alice@example.com", "cart": ["sku-red-shoes", "sku-blue-hat"]}
PLAINTEXT = [b"alice@example.com", b"_auth_user_id", b"sku-red-shoes"]


@pytest.mark.parametrize("mode, visible", [("encrypt", False), ("sign", True)])
def test_redis_cli_sees_no_plaintext_of_an_encrypted_session(protected, redis_server, mode, visible) -> None:
    cache = protected(mode)
    cache.set("session", SESSION)
    out = redis_cli(redis_server, "--raw", "GET", cache.make_key("session"))
    assert out.startswith(MAGIC + mode[:1].encode())
    assert [s in out for s in PLAINTEXT] == [visible] * len(PLAINTEXT), out  # sign: the pickle is readable
    assert cache.get("session") == SESSION


@pytest.mark.parametrize("compressor, stream", [("zlib", b"\x78"), ("zstd", b"\x28\xb5\x2f\xfd")])
@pytest.mark.parametrize("mode", MODES)
def test_values_are_compressed_then_protected(protected, redis_server, mode, compressor, stream) -> None:
    cache = protected(mode, COMPRESSOR=compressor)
    value = {**SESSION, "notes": "lorem ipsum dolor sit amet " * 400}
    cache.set("session", value)
    stored = redis_server.command("GET", cache.make_key("session"))
    assert stored.startswith(MAGIC + mode[:1].encode())
    assert len(stored) < len(pickle.dumps(value)) // 4  # compressed before it was sealed
    if mode == "sign":
        assert stored[HEADER:].startswith(stream)
    else:
        assert not any(s in stored for s in PLAINTEXT)
    assert cache.get("session") == value and cache.get_many(["session"]) == {"session": value}


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("options, named, check_id", [
    ({"VALUE_PROTECTION": "hmac"}, "VALUE_PROTECTION", "E014"),
    ({"VALUE_PROTECTION": True}, "VALUE_PROTECTION", "E014"),
    ({"VALUE_PROTECTION": "sign", "PROTECTION_ERRORS": "ignore"}, "PROTECTION_ERRORS", "E014"),
    ({"VALUE_PROTECTION": "sign", "ACCEPT_UNPROTECTED": "yes"}, "ACCEPT_UNPROTECTED", "E014"),
    ({"VALUE_PROTECTION": "sign", "ACCEPT_UNPROTECTED": 1}, "ACCEPT_UNPROTECTED", "E014"),
    ({"VALUE_PROTECTION": "sign", "PROTECTION_KEY": ""}, "PROTECTION_KEY", "E014"),
    ({"VALUE_PROTECTION": "sign", "PROTECTION_KEY": []}, "PROTECTION_KEY", "E014"),
    ({"VALUE_PROTECTION": "sign", "PROTECTION_KEY": [NEVER_SHOWN, ""]}, "PROTECTION_KEY", "E014"),
    ({"VALUE_PROTECTION": "sign", "PROTECTION_KEY": [NEVER_SHOWN, 42]}, "PROTECTION_KEY", "E014"),
    ({"VALUE_PROTECTION": "encrypt", "FORK_FALLBACK": True}, "FORK_FALLBACK", "E011"),
])
def test_bad_protection_settings_are_refused_without_the_secret(options, named, check_id) -> None:
    options = {"PROTECTION_KEY": NEVER_SHOWN, **options}
    with pytest.raises(ImproperlyConfigured) as info:
        RedisCache("127.0.0.1:6379", {"OPTIONS": options})
    message = str(info.value)
    assert f"OPTIONS['{named}']" in message and NEVER_SHOWN not in message, message
    found = run_checks({"bad": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", "OPTIONS": options}})
    assert [m.id for m in found] == [f"redis_cache_go.{check_id}"], [str(m) for m in found]
    assert NEVER_SHOWN not in str(found[0])


def test_without_any_secret_the_error_names_the_options() -> None:
    with override_settings(SECRET_KEY=""), pytest.raises(ImproperlyConfigured) as info:
        RedisCache("127.0.0.1:6379", {"OPTIONS": {"VALUE_PROTECTION": "sign"}})
    assert "OPTIONS['VALUE_PROTECTION']" in str(info.value) and "PROTECTION_KEY" in str(info.value)
    with override_settings(SECRET_KEY=""):
        found = run_checks({"nosecret": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", "OPTIONS": {"VALUE_PROTECTION": "sign"}}})
    assert [m.id for m in found] == ["redis_cache_go.E014"], [str(m) for m in found]


def test_the_secrets_never_show(make_cache) -> None:
    cache = make_cache(options={"DB": 0, "VALUE_PROTECTION": "encrypt", "PROTECTION_KEY": [NEVER_SHOWN, NEVER_SHOWN + "-old"]})
    cache.set("k", "v")
    for text in (repr(cache._settings), repr(cache), str(cache.stats())):
        assert NEVER_SHOWN not in text, text


def run_checks(caches: dict[str, Any]) -> list[Any]:
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, **caches}):
        return checks.check_caches()


def test_accept_unprotected_is_reported_as_w008() -> None:
    options = {"VALUE_PROTECTION": "sign", "PROTECTION_KEY": NEVER_SHOWN}
    found = run_checks({"rollout": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", "OPTIONS": {**options, "ACCEPT_UNPROTECTED": True}}})
    assert [(m.id, m.obj) for m in found] == [("redis_cache_go.W008", "CACHES['rollout']")], [str(m) for m in found]
    assert NEVER_SHOWN not in str(found[0]) and "reinsert" in str(found[0])
    assert run_checks({"done": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", "OPTIONS": {**options, "ACCEPT_UNPROTECTED": False}}}) == []


def test_protection_options_without_value_protection_are_reported_as_ignored() -> None:
    found = run_checks({"half": {"BACKEND": B, "LOCATION": "127.0.0.1:6379",
                                 "OPTIONS": {"PROTECTION_KEY": NEVER_SHOWN, "PROTECTION_ERRORS": "raise"}}})
    assert sorted(m.id for m in found) == ["redis_cache_go.W004"] * 2, [str(m) for m in found]
    assert all(NEVER_SHOWN not in str(m) for m in found)

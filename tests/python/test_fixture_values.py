"""Compatibility with the stored bytes recorded in tests/fixtures/values.json.

The fixture records, for 51 Python values, the exact bytes that real Django cache backends stored
(``cache.set(cache_key, value, timeout=None)``, KEY_PREFIX '' and VERSION 1) and what each
backend's own ``get()`` returned. Three of those writers use the storage format this backend
claims: ``seed_default`` (django-redis-cache 3.0.1, pickle protocol 5), ``seed_pickle2``
(django-redis-cache with PICKLE_VERSION 2) and ``django_builtin`` (Django's RedisCache).

* Reading: their bytes, SET verbatim into Redis, must come back through our ``get()`` exactly as
  their own ``get()`` returned them (same repr, same type).
* Writing: our ``set()`` of the same value, under the same settings, must store the same bytes.

Values are rebuilt in Python from the fixture's ``repr``/``kind``/``recipe`` (never from the
stored bytes under test). ``set_str`` pickles differently under each PYTHONHASHSEED, so its
byte comparison runs in a child interpreter started with PYTHONHASHSEED=0, the seed the fixture
was generated with.

Run as a script (``--write``) this module is that child: it writes one value through the backend.
"""
from __future__ import annotations

import collections
import datetime
import decimal
import hashlib
import importlib
import json
import os
import pickle
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURE_PATH = REPO / "tests" / "fixtures" / "values.json"
FIXTURE = json.loads(FIXTURE_PATH.read_text(encoding="utf-8"))
VALUES = {entry["name"]: entry for entry in FIXTURE["values"]}
WRITERS = ("seed_default", "seed_pickle2", "django_builtin")
WRITER_SETTINGS = {w["id"]: w["settings"] for w in FIXTURE["meta"]["writers"]}
REPR_CUT = 300  # the fixture cuts reprs to this many characters and appends "..."

# --------------------------------------------------------------------------- rebuilding values

EVAL_NAMESPACE = {
    "datetime": datetime,
    "Decimal": decimal.Decimal,
    "UUID": uuid.UUID,
    "OrderedDict": collections.OrderedDict,
    "hashlib": hashlib,
}

# Values whose repr is cut and that carry no recipe: built here, and checked against the cut repr,
# repr_len and the writers' get_sha256 by test_value_is_rebuilt_faithfully.
EXPLICIT_BUILDERS = {
    "str_500": lambda: "0123456789" * 50,
}


def resolve_type(dotted: str) -> type:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module or "builtins"), name)


def type_name(obj: object) -> str:
    """The fixture's type naming: bare for builtins, module-qualified otherwise."""
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def build_value(entry: dict) -> object:
    name, kind, text = entry["name"], entry["kind"], entry["repr"]
    if name in EXPLICIT_BUILDERS:
        return EXPLICIT_BUILDERS[name]()
    if "recipe" in entry:
        return eval(entry["recipe"], dict(EVAL_NAMESPACE))  # noqa: S307 - trusted fixture text
    if kind == "float":
        return float(text)  # also 'inf', '-inf', 'nan', '-0.0'
    if kind == "int_subclass":
        member = re.fullmatch(r"<\w+\.(\w+): -?\d+>", text)
        assert member, f"cannot parse enum repr {text!r}"
        return resolve_type(entry["python_type"])[member.group(1)]
    if kind == "str_subclass":
        return resolve_type(entry["python_type"])(eval(text, {}))  # noqa: S307
    return eval(text, dict(EVAL_NAMESPACE))  # noqa: S307


def cut_repr(text: str) -> str:
    return text if len(text) <= REPR_CUT else text[:REPR_CUT] + "..."


def recorded_repr(value: object) -> str:
    """repr(value) in the form the fixture recorded (Python 3.11). Python 3.12 changed only how an
    OrderedDict prints, from ``OrderedDict([('b', 1)])`` to ``OrderedDict({'b': 1})``: the value,
    its type and its pickle are the same, so the newer form is rewritten to the recorded one."""
    if type(value) is collections.OrderedDict and sys.version_info >= (3, 12):
        return f"OrderedDict({list(value.items())!r})"
    return repr(value)


def content_sha256(value: object) -> str:
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return hashlib.sha256(data).hexdigest()


def writer_options(writer: str) -> dict:
    """The writer's OPTIONS for our backend, on DB 0 (where the harness looks)."""
    options = {k: v for k, v in WRITER_SETTINGS[writer].get("OPTIONS", {}).items() if k != "DB"}
    return {**options, "DB": 0}


def writer_protocol(writer: str) -> int:
    return writer_options(writer).get("PICKLE_VERSION", pickle.HIGHEST_PROTOCOL)


def record(name: str, writer: str) -> dict:
    return VALUES[name]["writers"][writer]


def cases(predicate) -> list:
    return [
        pytest.param(writer, name, id=f"{writer}-{name}")
        for writer in WRITERS
        for name, entry in VALUES.items()
        if predicate(entry, entry["writers"][writer])
    ]


def is_same_roundtrip(entry: dict, rec: dict) -> bool:
    return rec.get("roundtrip") == "same"


READ_FULL_HEX = cases(lambda e, r: is_same_roundtrip(e, r) and "raw_hex" in r)
READ_LARGE = cases(lambda e, r: is_same_roundtrip(e, r) and "raw_hex" not in r and e.get("large"))
WRITE_IN_PROCESS = cases(
    lambda e, r: is_same_roundtrip(e, r) and e["kind"] != "int_subclass" and not e.get("hash_seed_dependent")
)
WRITE_HASH_SEED_0 = cases(lambda e, r: is_same_roundtrip(e, r) and e.get("hash_seed_dependent"))
INT_SUBCLASS = next(name for name, e in VALUES.items() if e["kind"] == "int_subclass")


def assert_like_writer_get(got: object, rec: dict, entry: dict) -> None:
    """``got`` must look exactly like what the writer's own get() returned.

    A hash-seed-dependent value (a set of str) has a seed-dependent repr, so it is compared by
    value instead, plus the sorted reprs of its elements.
    """
    assert type_name(got) == rec["get_type"]
    if entry.get("hash_seed_dependent"):
        expected = build_value(entry)
        assert got == expected
        assert sorted(map(repr, got)) == sorted(map(repr, expected))
    elif rec.get("get_repr_truncated"):
        assert cut_repr(recorded_repr(got)) == rec["get_repr"]
        assert len(got) == rec["get_len"]
        if rec.get("get_sha256"):
            assert content_sha256(got) == rec["get_sha256"]
    else:
        assert recorded_repr(got) == rec["get_repr"]


# --------------------------------------------------------------------------- the fixture itself


def test_fixture_copy_has_the_expected_shape():
    assert FIXTURE["meta"]["key_prefix"] == "" and FIXTURE["meta"]["version"] == 1
    assert len(VALUES) == FIXTURE["meta"]["value_count"] == 51
    assert set(WRITERS) <= set(WRITER_SETTINGS)
    assert len(READ_FULL_HEX) + len(READ_LARGE) == sum(
        is_same_roundtrip(e, r) for e in VALUES.values() for w, r in e["writers"].items() if w in WRITERS
    )


@pytest.mark.parametrize("name", list(VALUES))
def test_value_is_rebuilt_faithfully(name):
    entry = VALUES[name]
    value = build_value(entry)
    assert type_name(value) == entry["python_type"]
    if entry.get("hash_seed_dependent"):
        # its repr depends on PYTHONHASHSEED; the writer's stored pickle decodes to the same value
        assert value == pickle.loads(bytes.fromhex(entry["writers"]["django_builtin"]["raw_hex"]))
    else:
        assert cut_repr(recorded_repr(value)) == entry["repr"]
    if entry.get("repr_truncated"):
        assert len(repr(value)) == entry["repr_len"]
    if entry.get("large"):
        assert len(value) == entry["value_len"]
        assert content_sha256(value) == entry["value_sha256"]
    builtin = entry["writers"]["django_builtin"]
    if builtin.get("get_sha256"):
        assert content_sha256(value) == builtin["get_sha256"]


# --------------------------------------------------------------------------- bar 4: reading their bytes


@pytest.mark.parametrize(("writer", "name"), READ_FULL_HEX)
def test_reads_bytes_stored_by_writer(make_cache, raw, writer, name):
    entry, rec = VALUES[name], record(name, writer)
    raw.command("SET", entry["made_key"], bytes.fromhex(rec["raw_hex"]))
    cache = make_cache(options={"DB": 0}, KEY_PREFIX="", VERSION=1)
    assert_like_writer_get(cache.get(entry["cache_key"]), rec, entry)


@pytest.mark.parametrize(("writer", "name"), READ_LARGE)
def test_reads_large_value_stored_by_writer(make_cache, raw, writer, name):
    """No raw_hex for these: the stored bytes are rebuilt from the recipe and proven by raw_sha256."""
    entry, rec = VALUES[name], record(name, writer)
    stored = pickle.dumps(build_value(entry), writer_protocol(writer))
    assert hashlib.sha256(stored).hexdigest() == rec["raw_sha256"], "could not rebuild the stored bytes"
    assert stored[:64].hex() == rec["raw_head_hex"]
    raw.command("SET", entry["made_key"], stored)
    cache = make_cache(options={"DB": 0}, KEY_PREFIX="", VERSION=1)
    got = cache.get(entry["cache_key"])
    assert_like_writer_get(got, rec, entry)
    assert content_sha256(got) == entry["value_sha256"]


@pytest.mark.parametrize("writer", ["seed_default", "seed_pickle2"])
def test_int_subclass_corrupted_by_seed_raises_decode_error(make_cache, raw, errors, writer):
    """The seed stored repr(HTTPStatus.OK); no reader can decode it, so it must not be guessed."""
    entry, rec = VALUES[INT_SUBCLASS], record(INT_SUBCLASS, writer)
    assert "raw_hex" in rec and rec["roundtrip"] == "get_error"
    raw.command("SET", entry["made_key"], bytes.fromhex(rec["raw_hex"]))
    cache = make_cache(options={"DB": 0})
    with pytest.raises(errors.DecodeError) as excinfo:
        cache.get(entry["cache_key"])
    assert entry["cache_key"] in str(excinfo.value)


@pytest.mark.parametrize("writer", WRITERS)
def test_int_subclass_is_stored_pickled_and_read_back_with_its_type(make_cache, raw, writer):
    entry = VALUES[INT_SUBCLASS]
    value = build_value(entry)
    cache = make_cache(options=writer_options(writer), KEY_PREFIX="", VERSION=1)
    cache.set(entry["cache_key"], value, timeout=None)
    stored = raw.command("GET", entry["made_key"])
    assert stored == pickle.dumps(value, writer_protocol(writer))
    assert stored != bytes.fromhex(record(INT_SUBCLASS, "seed_default")["raw_hex"])
    got = cache.get(entry["cache_key"])
    assert type(got) is type(value)
    assert got == value and got is value  # enum members unpickle to the singleton


# --------------------------------------------------------------------------- bar 5: writing their bytes


def assert_stored_like_writer(stored: bytes | None, rec: dict) -> None:
    assert stored is not None, "nothing stored"
    if "raw_hex" in rec:
        assert stored.hex() == rec["raw_hex"]
    assert len(stored) == rec["raw_len"]
    assert hashlib.sha256(stored).hexdigest() == rec["raw_sha256"]


@pytest.mark.parametrize(("writer", "name"), WRITE_IN_PROCESS)
def test_writes_bytes_identical_to_writer(make_cache, raw, writer, name):
    entry = VALUES[name]
    cache = make_cache(options=writer_options(writer), KEY_PREFIX="", VERSION=1)
    cache.set(entry["cache_key"], build_value(entry), timeout=None)
    assert_stored_like_writer(raw.command("GET", entry["made_key"]), record(name, writer))
    assert raw.command("PTTL", entry["made_key"]) == -1


# The fixture was recorded on CPython 3.11, whose str hash is SipHash-1-3; 3.10 hashes str with
# SipHash-2-4, so under the same PYTHONHASHSEED=0 a set of str iterates, and pickles, in another
# order there. The recorded bytes are compared only under the recorder's hash; everywhere, what we
# store must be what the writers store in that interpreter: pickle.dumps under the same seed.
RECORDED_STR_HASH = "siphash13"


@pytest.mark.parametrize(("writer", "name"), WRITE_HASH_SEED_0)
def test_writes_hash_seed_dependent_value_identically_under_hash_seed_0(redis_server, raw, writer, name):
    env = dict(os.environ, PYTHONHASHSEED="0")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "python"), str(REPO / "tests" / "harness")] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    child = subprocess.run(
        [sys.executable, __file__, "--write", writer, name, redis_server.location],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert child.returncode == 0, child.stdout + child.stderr
    entry = VALUES[name]
    stored = raw.command("GET", entry["made_key"])
    assert stored == bytes.fromhex(child.stdout.strip().splitlines()[-1])  # the child's pickle.dumps
    if sys.hash_info.algorithm == RECORDED_STR_HASH:
        assert_stored_like_writer(stored, record(name, writer))


@pytest.mark.parametrize("name", list(VALUES))
def test_writes_bytes_identical_to_djangos_builtin_backend_in_this_interpreter(make_cache, raw, name):
    """Ours and Django's own RedisCache (via redis-py), side by side in one process."""
    from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

    entry = VALUES[name]
    value = build_value(entry)
    theirs = DjangoRedisCache(f"redis://{raw.host}:{raw.port}/0", {"KEY_PREFIX": "django"})
    try:
        theirs.set(entry["cache_key"], value, timeout=None)
    finally:
        for pool in theirs._cache._pools.values():
            pool.disconnect()
    ours = make_cache(options={"DB": 0}, KEY_PREFIX="", VERSION=1)
    ours.set(entry["cache_key"], value, timeout=None)
    expected = raw.command("GET", "django" + entry["made_key"])
    assert expected is not None
    assert raw.command("GET", entry["made_key"]) == expected


# --------------------------------------------------------------------------- child process entry


def _child_write(writer: str, name: str, location: str) -> int:
    """Write one fixture value through the backend under test (used with PYTHONHASHSEED=0)."""
    assert os.environ.get("PYTHONHASHSEED") == "0" and sys.flags.hash_randomization == 0
    import django
    from django.conf import settings

    settings.configure(USE_TZ=True)
    django.setup()
    from django.utils.module_loading import import_string

    backend = os.environ.get("RCG_TEST_BACKEND", "redis_cache_go.RedisCache")
    options = writer_options(writer)
    if backend == "django.core.cache.backends.redis.RedisCache":
        location, options = f"redis://{location}/0", {}
    cache = import_string(backend)(location, {"OPTIONS": options, "KEY_PREFIX": "", "VERSION": 1})
    entry = VALUES[name]
    cache.set(entry["cache_key"], build_value(entry), timeout=None)
    if hasattr(cache, "disconnect"):
        cache.disconnect()
    print(pickle.dumps(build_value(entry), writer_protocol(writer)).hex())  # the writers' bytes, this seed
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--write":
        sys.exit(_child_write(*sys.argv[2:5]))
    sys.exit(f"usage: {sys.argv[0]} --write WRITER VALUE_NAME HOST:PORT")

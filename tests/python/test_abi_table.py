"""The ctypes signature tables (``_native._SIGNATURES``, ``_DEBUG_SIGNATURES``) against the C
headers they bind, and the built libraries against the tables.

capi/redis_cache_go.h is the hand-written contract of the library; ctypes cannot read it, so a
wrong argtype (an int64 TTL declared c_int, a missing length) would pass silently and corrupt
arguments at run time. These tests parse the header's prototypes and hold every table entry
against them: the same functions, the same number of arguments, and each argument's and the
result's ctypes type the one the mapping below gives for its C type. The test exports
(capi/redis_cache_go_debug.h) exist only in the library built with -tags rcgdebug (`make
build-debug`); the production library must not have them.
"""
from __future__ import annotations

import ctypes
import os
import re
import subprocess
from ctypes import POINTER, c_char_p, c_int, c_int64, c_size_t, c_uint8, c_uint64, c_void_p
from pathlib import Path
from typing import Any

import pytest

from redis_cache_go import _native

REPO = Path(__file__).resolve().parents[2]
HEADER = REPO / "capi" / "redis_cache_go.h"
DEBUG_HEADER = REPO / "capi" / "redis_cache_go_debug.h"
PACKAGE = REPO / "python" / "redis_cache_go"
# the production library, as the package ships it (make build puts it there)
PRODUCTION_LIBRARY = PACKAGE / _native.LIBRARY_NAME

# C type (as written in the header, whitespace normalized) -> the ctypes types that pass it
# correctly. One type each where the package has a convention: handles (uintptr_t) travel as
# c_size_t (the same width on every platform the library builds for, checked below), the rcg_out
# pointer as c_void_p (the package passes an address), input bytes as c_char_p.
C_TO_CTYPES: dict[str, tuple[Any, ...]] = {
    "int": (c_int,),
    "int64_t": (c_int64,),
    "uint64_t": (c_uint64,),
    "size_t": (c_size_t,),
    "uintptr_t": (c_size_t,),
    "const uint8_t *": (c_char_p,),
    "uint8_t *": (c_void_p, POINTER(c_uint8)),
    "rcg_out *": (c_void_p, POINTER(_native._Out)),
    "void *": (c_void_p,),
}
# Return types: None is ctypes' void.
C_RESULT_TO_CTYPES: dict[str, tuple[Any, ...]] = {"int": (c_int,), "void": (None,)}


class Prototype:
    def __init__(self, name: str, result: str, params: list[tuple[str, str]]) -> None:
        self.name = name
        self.result = result
        self.params = params  # (C type, parameter name)

    def __repr__(self) -> str:
        args = ", ".join(f"{t} {n}" for t, n in self.params)
        return f"{self.result} {self.name}({args})"


def _normalize_type(text: str) -> str:
    """'const uint8_t*' / 'const  uint8_t *' -> 'const uint8_t *'."""
    text = re.sub(r"\s*\*\s*", " * ", text)
    text = " ".join(text.split())
    return text.replace("* *", "**")


def _strip_comments(source: str) -> str:
    source = re.sub(r"/\*.*?\*/", " ", source, flags=re.S)
    return re.sub(r"//[^\n]*", " ", source)


def parse_header(path: Path) -> dict[str, Prototype]:
    """Every function prototype of a header written in the style of capi/redis_cache_go.h:
    `int name(type a, type *b, ...);`, one per declaration, possibly over several lines."""
    source = _strip_comments(path.read_text())
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    source = re.sub(r"typedef\s+struct\s+\w*\s*\{.*?\}\s*\w+\s*;", " ", source, flags=re.S)
    source = re.sub(r'extern\s+"C"\s*\{|\}', " ", source)
    protos: dict[str, Prototype] = {}
    for m in re.finditer(r"([A-Za-z_][\w\s\*]*?)\b(rcg_\w+)\s*\(([^()]*)\)\s*;", source):
        result, name, params_text = _normalize_type(m.group(1)), m.group(2), m.group(3).strip()
        params: list[tuple[str, str]] = []
        if params_text and params_text != "void":
            for param in params_text.split(","):
                pm = re.fullmatch(r"\s*(.*?[\s\*])(\w+)\s*", param)
                assert pm, f"{path.name}: cannot parse parameter {param!r} of {name}"
                params.append((_normalize_type(pm.group(1)), pm.group(2)))
        assert name not in protos, f"{path.name}: {name} declared twice"
        protos[name] = Prototype(name, result, params)
    # every declaration of the header was understood: nothing that looks like a call is left over
    leftover = set(re.findall(r"\b(rcg_\w+)\s*\(", source)) - set(protos)
    assert not leftover, f"{path.name}: prototypes the parser did not understand: {sorted(leftover)}"
    return protos


def _name(t: Any) -> str:
    return "void" if t is None else getattr(t, "__name__", repr(t))


def mismatches(protos: dict[str, Prototype], table: dict[str, _native.Signature]) -> list[str]:
    """What differs between the header's prototypes and a signature table (empty: they agree)."""
    problems: list[str] = []
    for name in sorted(set(table) - set(protos)):
        problems.append(f"{name}: in the ctypes table but not declared in the header")
    for name in sorted(set(table) & set(protos)):
        proto = protos[name]
        restype, argtypes = table[name]
        want_result = C_RESULT_TO_CTYPES.get(proto.result)
        if want_result is None:
            problems.append(f"{name}: no ctypes mapping for the C result type {proto.result!r}")
        elif restype not in want_result:
            problems.append(f"{name}: restype {_name(restype)}, the header returns {proto.result} "
                            f"({' or '.join(map(_name, want_result))})")
        if len(argtypes) != len(proto.params):
            problems.append(f"{name}: {len(argtypes)} argtypes, the header has {len(proto.params)} "
                            f"parameters: {proto!r}")
            continue
        for i, (argtype, (ctype, pname)) in enumerate(zip(argtypes, proto.params)):
            want = C_TO_CTYPES.get(ctype)
            if want is None:
                problems.append(f"{name}: no ctypes mapping for the C type {ctype!r} of {pname}")
            elif argtype not in want:
                problems.append(f"{name}: argument {i} ({ctype} {pname}) is {_name(argtype)}, "
                                f"expected {' or '.join(map(_name, want))} for {ctype}")
    return problems


def used_exports() -> set[str]:
    """The exports the package's source calls: lib.rcg_x attributes and "rcg_x" names passed to
    the Client's call helpers (rcg_get_int is rcg_get without argtypes, see _native._load)."""
    names: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r"\.(rcg_\w+)\b", text))
        names |= set(re.findall(r"[\"'](rcg_\w+)[\"']", text))
    names.discard("rcg_get_int")
    return names


def debug_library() -> Path:
    """The -tags rcgdebug build: $RCG_DEBUG_LIBRARY (the Makefile exports it) or build/debug/."""
    path = Path(os.environ.get("RCG_DEBUG_LIBRARY") or REPO / "build" / "debug" / _native.LIBRARY_NAME)
    if not path.exists():
        pytest.fail(f"{path} not found: run `make build-debug` (make test-python does)")
    return path


def defined_dynamic_symbols(path: Path) -> set[str]:
    """`nm -D --defined-only`: the symbols the shared library exports."""
    out = subprocess.run(["nm", "-D", "--defined-only", str(path)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def header() -> dict[str, Prototype]:
    return parse_header(HEADER)


@pytest.fixture(scope="module")
def debug_header() -> dict[str, Prototype]:
    return parse_header(DEBUG_HEADER)


def test_the_parser_reads_the_headers_style(header):
    """A few prototypes read back exactly (a multi-line one, a void one, pointer spellings)."""
    assert repr(header["rcg_free"]) == "void rcg_free(void * p)"
    assert header["rcg_set"].params == [
        ("uintptr_t", "handle"), ("rcg_out *", "out"), ("const uint8_t *", "key"), ("size_t", "key_len"),
        ("const uint8_t *", "value"), ("size_t", "value_len"), ("int64_t", "ttl_ms"), ("int", "flags"),
    ]
    assert header["rcg_async_open"].params == [("int", "fd"), ("rcg_out *", "out")]
    assert header["rcg_version"].result == "int"
    assert len(header) >= 40


def test_the_table_matches_the_header(header):
    problems = mismatches(header, _native._SIGNATURES)
    assert not problems, "_native._SIGNATURES disagrees with capi/redis_cache_go.h:\n" + "\n".join(problems)


def test_the_debug_table_matches_the_debug_header(debug_header):
    problems = mismatches(debug_header, _native._DEBUG_SIGNATURES)
    assert not problems, "_native._DEBUG_SIGNATURES disagrees with capi/redis_cache_go_debug.h:\n" + "\n".join(problems)
    assert sorted(debug_header) == sorted(_native._DEBUG_SIGNATURES) == ["rcg_debug_panic", "rcg_debug_repeat"]


def test_the_production_and_debug_declarations_are_apart(header, debug_header):
    assert set(header).isdisjoint(debug_header)
    assert set(_native._SIGNATURES).isdisjoint(_native._DEBUG_SIGNATURES)
    assert not [name for name in header if "debug" in name or "test" in name]


def test_every_export_the_package_calls_is_in_a_table_and_a_header(header, debug_header):
    used = used_exports()
    assert {"rcg_get", "rcg_set", "rcg_herd_ask", "rcg_async_submit", "rcg_free"} <= used  # the scan works
    assert sorted(used - set(_native._SIGNATURES) - set(_native._DEBUG_SIGNATURES)) == []
    assert sorted(used - set(header) - set(debug_header)) == []


def test_every_production_header_function_is_in_the_table(header):
    """The package declares every export of the header (none is left for ctypes to guess)."""
    assert sorted(set(header) - set(_native._SIGNATURES)) == []


def test_the_async_operation_codes_match_the_header():
    """_native_async's operation codes are the header's RCG_OP_* codes, name for name (the
    header is the contract: capi/ops.go indexes its operation table by the same constants);
    every code names an operation export of the header."""
    from redis_cache_go import _native_async

    codes = {m.group(1): int(m.group(2))
             for m in re.finditer(r"^#define RCG_OP_(\w+) (\d+)\b", HEADER.read_text(), re.M)}
    assert len(codes) >= 29 and len(set(codes.values())) == len(codes)
    assert sorted(f"rcg_{name.lower()}" for name in codes if f"rcg_{name.lower()}" not in parse_header(HEADER)) == []
    used = {name: getattr(_native_async, name) for name in codes if hasattr(_native_async, name)}
    assert len(used) >= 19 and used == {name: codes[name] for name in used}
    # and the rcg_async_submit arguments the header documents: a, b and n1 … n4
    assert [n for _, n in parse_header(HEADER)["rcg_async_submit"].params[-4:]] == ["n1", "n2", "n3", "n4"]


def test_the_rcg_out_struct_matches_the_header():
    source = _strip_comments(HEADER.read_text())
    body = re.search(r"typedef\s+struct\s+rcg_out\s*\{(.*?)\}\s*rcg_out\s*;", source, re.S)
    assert body
    fields = [(_normalize_type(m.group(1)), m.group(2))
              for m in re.finditer(r"([\w\s\*]+?[\s\*])(\w+)\s*;", body.group(1))]
    want = {"uint8_t *": c_void_p, "size_t": c_size_t, "int64_t": c_int64}
    assert [(n, want[t]) for t, n in fields] == [(n, t) for n, t in _native._Out._fields_]


def test_handles_fit_the_ctypes_type_they_travel_in():
    assert ctypes.sizeof(c_size_t) == ctypes.sizeof(c_void_p)  # uintptr_t


def test_a_wrong_argtype_is_caught(header):
    """The comparison itself: a TTL declared c_int, a dropped argument, a wrong restype, an entry
    the header does not have are each reported."""
    table = dict(_native._SIGNATURES)
    restype, argtypes = table["rcg_set"]
    table["rcg_set"] = (restype, argtypes[:6] + (c_int,) + argtypes[7:])
    table["rcg_incr"] = (c_int, table["rcg_incr"][1][:-1])
    table["rcg_free"] = (c_int, table["rcg_free"][1])
    table["rcg_nonesuch"] = (c_int, ())
    assert mismatches(header, table) == [
        "rcg_nonesuch: in the ctypes table but not declared in the header",
        "rcg_free: restype c_int, the header returns void (void)",
        "rcg_incr: 4 argtypes, the header has 5 parameters: int rcg_incr(uintptr_t handle, rcg_out * out, "
        "const uint8_t * key, size_t key_len, int64_t delta)",
        "rcg_set: argument 6 (int64_t ttl_ms) is c_int, expected c_long for int64_t",
    ]


def test_the_tables_functions_exist_in_the_built_library():
    """Every table entry resolves in the library the package loads (RCG_LIBRARY or the built one)."""
    path = _native.library_path()
    if not Path(path).exists():
        pytest.fail(f"{path} not found: run `make build` first")
    lib = ctypes.CDLL(path)  # the same file _native loads: the same mapping, one Go runtime
    missing = [name for name in _native._SIGNATURES if not hasattr(lib, name)]
    assert missing == []
    # and in the files themselves (the debug build is read, never loaded here: a second Go
    # runtime in this process would not get along with the first)
    for built in (PRODUCTION_LIBRARY, debug_library()):
        assert sorted(set(_native._SIGNATURES) - defined_dynamic_symbols(built)) == [], built
    assert sorted(set(_native._DEBUG_SIGNATURES) - defined_dynamic_symbols(debug_library())) == []


def test_the_production_library_exports_nothing_for_tests():
    """The library the package ships has no test or bench export (they need -tags rcgdebug)."""
    if not PRODUCTION_LIBRARY.exists():
        pytest.fail(f"{PRODUCTION_LIBRARY} not found: run `make build` first")
    symbols = defined_dynamic_symbols(PRODUCTION_LIBRARY)
    assert "rcg_version" in symbols and "rcg_get" in symbols  # nm read it
    assert sorted(s for s in symbols if re.search(r"debug|test", s, re.I)) == []
    assert sorted(set(_native._DEBUG_SIGNATURES) & symbols) == []

"""The settings reference (docs/settings.md) against the code.

Every name the code accepts — OPTIONS keys, CONNECTION_POOL_CLASS_KWARGS keys, URL query
parameters, the top-level ``db`` — must be a row of the reference, and every row must be a
name the code accepts. Defaults written as literals in the reference must equal the code's: the
``OPTIONS.get("KEY", literal)`` reads anywhere in the package, the Python constants, and the Go
constants the native library applies when Python leaves a value unset.
No server is needed: everything here is checked at construction time.
"""
from __future__ import annotations

import ast
import pathlib
import pickle
import re
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from redis_cache_go import _layout, _settings, compressors, serializers

ROOT = pathlib.Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "settings.md"
PACKAGE = ROOT / "python" / "redis_cache_go"


# --------------------------------------------------------------------------- the reference, parsed


class Row:
    def __init__(self, kind: str, line: int, cells: list[str]) -> None:
        self.kind, self.line, self.cells = kind, line, cells
        spans = re.findall(r"`([^`]+)`", cells[0])
        if len(spans) != 1 or cells[0].strip() != f"`{spans[0]}`":
            raise AssertionError(f"docs/settings.md:{line}: the first cell must be one `KEY`, not {cells[0]!r}")
        self.key = spans[0]
        self.default = cells[1] if len(cells) > 1 else ""
        self.meaning = cells[-1]

    def literal_default(self) -> tuple[bool, Any]:
        """(True, value) when the default cell starts with a code span holding a Python literal."""
        m = re.match(r"\s*`([^`]+)`", self.default)
        if not m:
            return False, None
        try:
            return True, ast.literal_eval(m.group(1))
        except (ValueError, SyntaxError):
            return False, None  # a name such as `SOCKET_TIMEOUT` or `redis.ConnectionPool`


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def reference_rows() -> list[Row]:
    kinds = set(_settings.documented_keys())
    rows: list[Row] = []
    kind = None
    lines = REFERENCE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines, 1):
        if not line.startswith("|"):
            kind = None
            continue
        cells = _cells(line)
        if kind is None:  # a table's header row
            kind = cells[0] if cells[0] in kinds else ""
            continue
        if set(line) <= set("|-: "):  # the separator row
            continue
        if kind:
            rows.append(Row(kind, i, cells))
    return rows


ROWS = reference_rows()


def rows_of(kind: str) -> dict[str, Row]:
    return {r.key: r for r in ROWS if r.kind == kind}


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("kind", sorted(_settings.documented_keys()))
def test_reference_lists_exactly_the_names_the_code_accepts(kind):
    documented = [r.key for r in ROWS if r.kind == kind]
    accepted = _settings.documented_keys()[kind]
    assert accepted, f"the code accepts no {kind}: drop the kind from documented_keys()"
    assert documented, f"docs/settings.md has no table whose header starts with | {kind} |"
    dupes = sorted({k for k in documented if documented.count(k) > 1})
    assert not dupes, f"listed twice in docs/settings.md ({kind}): {dupes}"
    undocumented = sorted(accepted - set(documented))
    unknown = sorted(set(documented) - accepted)
    assert not undocumented, f"accepted by the code but missing from docs/settings.md ({kind}): {undocumented}"
    assert not unknown, f"in docs/settings.md ({kind}) but not accepted by the code: {unknown}"


def _parse(options: dict[str, Any] | None = None, location: str = "127.0.0.1:6379", **params: Any) -> _settings.Settings:
    return _settings.parse(location, {"OPTIONS": options or {}, **params})


def test_registry_matches_what_parse_accepts_and_refuses():
    registry = _settings.documented_keys()
    for key in registry["OPTIONS key"]:
        try:  # the value may be wrong for the key; the name must be known
            _parse({key: False})
        except ImproperlyConfigured as e:
            assert "unknown option" not in str(e), str(e)
    with pytest.raises(ImproperlyConfigured, match="unknown option"):
        _parse({"SOCKET_TIMOUT": 1})


POOL_VALUES = {"max_connections": 4, "timeout": 1}
QUERY_VALUES = {"db": "2", "socket_timeout": "1", "socket_connect_timeout": "1", "ssl_cert_reqs": "none"}


def test_every_documented_pool_argument_and_query_parameter_is_accepted_and_others_refused():
    registry = _settings.documented_keys()
    blocking = "redis.BlockingConnectionPool"
    for key in registry["CONNECTION_POOL_CLASS_KWARGS key"]:
        _parse({"CONNECTION_POOL_CLASS": blocking, "CONNECTION_POOL_CLASS_KWARGS": {key: POOL_VALUES.get(key, True)}})
    with pytest.raises(ImproperlyConfigured, match="unknown connection pool argument"):
        _parse({"CONNECTION_POOL_CLASS": blocking, "CONNECTION_POOL_CLASS_KWARGS": {"max_conections": 4}})
    for name in registry["LOCATION query parameter"]:
        _parse(location=f"rediss://127.0.0.1:6379?{name}={QUERY_VALUES[name]}")
    with pytest.raises(ImproperlyConfigured, match="unsupported query parameter 'timeout'"):
        _parse(location="redis://127.0.0.1:6379?timeout=1")
    assert registry["CACHES entry key"] == {"db"}
    assert _parse({"DB": 2}, db=3).servers[0].db == 3


def test_ignored_pool_arguments_are_documented_as_ignored_with_the_reason_the_warning_gives():
    rows = rows_of("CONNECTION_POOL_CLASS_KWARGS key")
    for key, why in _settings.ignored_pool_kwargs().items():
        assert "ignored" in rows[key].meaning and why in rows[key].meaning, (
            f"docs/settings.md:{rows[key].line}: {key} must say it is ignored and why ({why!r})")
    for key in _settings.documented_keys()["CONNECTION_POOL_CLASS_KWARGS key"] - set(_settings.ignored_pool_kwargs()):
        assert "ignored" not in rows[key].meaning, f"docs/settings.md:{rows[key].line}: {key} is not ignored by the code"


def test_reference_names_every_short_compressor_and_serializer_name():
    text = rows_of("OPTIONS key")["COMPRESSOR"].meaning
    missing = [n for n in compressors.SHORT_NAMES if f"`{n}`" not in text]
    assert not missing, f"COMPRESSOR row lacks the short names {missing}"
    text = rows_of("OPTIONS key")["SERIALIZER"].meaning
    short = [n for n in serializers.KNOWN if "." not in n]
    assert short and not [n for n in short if f"`{n}`" not in text], f"SERIALIZER row lacks some of {short}"


def test_readme_links_the_reference_and_keeps_no_second_options_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/settings.md" in readme
    assert "| OPTIONS key |" not in readme, "the OPTIONS tables live in docs/settings.md only"


# --------------------------------------------------------------------------- defaults


def option_get_defaults() -> dict[str, list[tuple[str, Any]]]:
    """Every ``<x>.get("KEY", <literal>)`` in the package where KEY is an OPTIONS key: KEY -> [(where, value)]."""
    keys = _settings.documented_keys()["OPTIONS key"]
    found: dict[str, list[tuple[str, Any]]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                    and len(node.args) == 2 and isinstance(node.args[0], ast.Constant) and node.args[0].value in keys):
                try:
                    value = ast.literal_eval(node.args[1])
                except ValueError:
                    continue
                found.setdefault(node.args[0].value, []).append((f"{path.name}:{node.lineno}", value))
    return found


def go_duration(path: str, name: str) -> float:
    """A Go constant `name = N * time.Second` (or time.Second, time.Millisecond) in seconds."""
    text = (ROOT / path).read_text(encoding="utf-8")
    m = re.search(rf"\b{name}\s*=\s*(?:(\d+)\s*\*\s*)?time\.(Second|Millisecond)\b", text)
    assert m, f"{path}: no `{name} = … time.Second` constant"
    return int(m.group(1) or 1) * (1.0 if m.group(2) == "Second" else 0.001)


def go_int(path: str, name: str) -> int:
    m = re.search(rf"\b{name}\s*=\s*(\d+)\b", (ROOT / path).read_text(encoding="utf-8"))
    assert m, f"{path}: no `{name} = N` constant"
    return int(m.group(1))


def code_defaults() -> dict[str, Any]:
    """The default of each OPTIONS key that is one constant in the code, read from the code."""
    out: dict[str, Any] = {}
    for key, sites in option_get_defaults().items():
        values = {repr(v) for _, v in sites}
        assert len(values) == 1, f"OPTIONS[{key!r}] is read with different defaults: {sites}"
        out[key] = sites[0][1]

    # Python constants, and that parse() applies them
    out["DB"] = _settings.DEFAULT_DB
    assert _parse().servers[0].db == _settings.DEFAULT_DB
    out["HASH_RING"] = _layout.hash_ring(None)
    out["COMPRESS_MIN_LEN"] = compressors.DEFAULT_MIN_LEN
    assert _parse({"COMPRESSOR": "zlib"}).codec.compression.min_len == compressors.DEFAULT_MIN_LEN
    assert _parse().pickle_version == pickle.HIGHEST_PROTOCOL  # -1 = the highest

    # Defaults applied in Go: Python sends 0 / nothing for an unset option ...
    settings = _parse()
    doc = settings.native_config(settings.servers[0])
    assert (doc["socket_timeout"], doc["connect_timeout"]) == (0, 0)
    assert "breaker_failures" not in doc and "breaker_cooldown" not in doc
    assert doc["tls"] is None and settings.ssl == {}
    # ... and the Go side's constants fill them in (core/client.Options.withDefaults, core/breaker).
    out["SOCKET_TIMEOUT"] = go_duration("core/client/options.go", "defaultReadTimeout")
    out["SOCKET_CONNECT_TIMEOUT"] = go_duration("core/client/options.go", "defaultDialTimeout")
    out["CIRCUIT_BREAKER_FAILURES"] = go_int("core/breaker/breaker.go", "DefaultFailures")
    out["CIRCUIT_BREAKER_COOLDOWN"] = go_duration("core/breaker/breaker.go", "DefaultCooldown")
    assert doc["codec"]["max_ratio"] == 0  # Go's default
    out["DECOMPRESS_MAX_RATIO"] = go_int("core/codec/codec.go", "DefaultMaxRatio")
    options_go = (ROOT / "core" / "cache" / "options.go").read_text(encoding="utf-8")
    assert re.search(r'case "", "required"', options_go), "core/cache/options.go: an unset cert_reqs must verify like 'required'"
    out["SSL_CERT_REQS"] = "required"
    return out


def test_option_defaults_in_the_reference_are_the_codes():
    rows = rows_of("OPTIONS key")
    code = code_defaults()
    for key, value in code.items():
        row = rows[key]
        is_literal, documented = row.literal_default()
        assert is_literal, f"docs/settings.md:{row.line}: {key}'s default is the constant {value!r} in the code; write it as `{value!r}`"
        assert documented == value and isinstance(documented, bool) == isinstance(value, bool), (
            f"docs/settings.md:{row.line}: {key} documented default {documented!r}; the code's is {value!r}")
    unchecked = [r.key for r in rows.values() if r.literal_default()[0] and r.key not in code]
    assert not unchecked, f"documented literal defaults not checked against the code (add them to code_defaults): {unchecked}"


def test_no_other_table_claims_a_literal_default_the_test_cannot_check():
    for row in ROWS:
        if row.kind != "OPTIONS key":
            assert not row.literal_default()[0], (
                f"docs/settings.md:{row.line}: {row.key}: a literal default here is not checked against the code")


# --------------------------------------------------------------------------- links between the pages


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_links_between_readme_and_docs_point_at_existing_files_and_headings():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
                continue
            if anchor and dest.suffix == ".md":
                headings = {_slug(h) for h in re.findall(r"^#+ (.+)$", dest.read_text(encoding="utf-8"), re.M)}
                if anchor not in headings:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)

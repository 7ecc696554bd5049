"""``python -m redis_cache_go --version``: the Python package's version, the Go core's, and how the
Go library was built.

This is the only place outside a cache call that loads the shared library (and starts the Go
runtime), and only when the command runs: importing the package still loads nothing.
Exit status 0; 1 when the library cannot be loaded or its version is not the package's (a stale
or foreign ``libredis_cache_go.so``); 2 for a usage error.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from typing import Any, TextIO

import django

import redis_cache_go
from redis_cache_go import _native
from redis_cache_go.exceptions import RedisCacheError

# Build settings worth a line of their own, in this order; the rest follow sorted.
_FIRST_SETTINGS = ("-buildmode", "-compiler", "-trimpath", "-ldflags", "-tags", "CGO_ENABLED", "GOOS", "GOARCH")


def _module(m: dict[str, Any]) -> str:
    text = f"{m.get('path', '?')} {m.get('version') or '?'}"
    replace = m.get("replace")
    if replace:
        text += f" => {_module(replace)}"
    return text


def describe(info: dict[str, Any], core_version: str, library: str) -> list[str]:
    """The --version report, one string per line."""
    settings: dict[str, str] = info.get("settings") or {}
    ordered = [k for k in _FIRST_SETTINGS if k in settings] + sorted(set(settings) - set(_FIRST_SETTINGS))
    lines = [
        f"redis-cache-go {redis_cache_go.__version__} (Python package: {os.path.dirname(redis_cache_go.__file__)})",
        f"Go core {core_version} (library: {library})",
        f"Go build: {info.get('go_version', '?')}, package {info.get('path') or '?'}, "
        f"module {_module(info.get('main') or {})}",
    ]
    lines += [f"  {k}={settings[k]}" for k in ordered]
    deps = info.get("deps") or []
    if deps:
        lines.append("Go modules linked in:")
        lines += [f"  {_module(d)}" for d in deps]
    lines.append(f"Python {platform.python_version()} ({sys.executable}), Django {django.get_version()}")
    return lines


def print_version(out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    library = _native.library_path()
    try:
        core = _native.version().split()[0]  # "<version> <go version>"
        info = _native.build_info()
    except RedisCacheError as e:
        print(f"redis-cache-go {redis_cache_go.__version__}: cannot use the Go library: {e}", file=err)
        return 1
    print("\n".join(describe(info, core, library)), file=out)
    if core != redis_cache_go.__version__:
        print(
            f"redis-cache-go: the Go library at {library} is version {core}, but the Python package is "
            f"{redis_cache_go.__version__}: it is stale or from another install; rebuild it (`make build`) "
            "or reinstall the package",
            file=err,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m redis_cache_go",
        description="redis-cache-go, a Django cache backend for Redis with a Go core.",
    )
    parser.add_argument(
        "--version", action="store_true",
        help="print the Python package's and the Go core's versions and the Go build information",
    )
    args = parser.parse_args(argv)
    if not args.version:
        parser.print_usage(sys.stderr)
        print("nothing to do: use --version", file=sys.stderr)
        return 2
    return print_version()


if __name__ == "__main__":
    sys.exit(main())

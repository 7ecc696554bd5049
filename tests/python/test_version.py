"""One version for the Python package and the Go core (core/version/VERSION is the source), and
`python -m redis_cache_go --version`, which reports both and how the Go library was built."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import redis_cache_go
from redis_cache_go import _native

REPO = Path(__file__).resolve().parents[2]
VERSION_FILE = REPO / "core" / "version" / "VERSION"
LIBRARY = REPO / "python" / "redis_cache_go" / "libredis_cache_go.so"


def go() -> str:
    path = shutil.which(os.environ.get("GO") or "go")
    if path is None:
        pytest.fail("Go must be on PATH (go.mod names the version): this test builds the library")
    return path


def source_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RCG_LIBRARY", "DJANGO_SETTINGS_MODULE")}
    env["PYTHONPATH"] = str(REPO / "python")
    env.update(extra)
    return env


def run_version(**extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redis_cache_go", "--version"],
        cwd=REPO, env=source_env(**extra), capture_output=True, text=True, timeout=60,
    )


def test_python_package_and_go_core_report_the_version_file() -> None:
    version = VERSION_FILE.read_text().strip()
    assert redis_cache_go.__version__ == version, (
        f"python/redis_cache_go/__init__.py says {redis_cache_go.__version__!r}, {VERSION_FILE} says {version!r}"
    )
    assert _native.version().split()[0] == version  # embedded into the Go library with go:embed
    assert _native.build_info()["version"] == version


def test_setup_py_takes_the_version_file_and_refuses_a_disagreeing_package(tmp_path: Path) -> None:
    # A minimal copy of what setup.py reads, so that the VERSION file can be changed safely.
    for rel in ("setup.py", "core/version/VERSION", "python/redis_cache_go/__init__.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, tmp_path / rel)
    cmd = [sys.executable, "setup.py", "--version"]
    agreed = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert agreed.returncode == 0, agreed.stderr
    assert agreed.stdout.strip().splitlines()[-1] == redis_cache_go.__version__

    (tmp_path / "core/version/VERSION").write_text("99.0.0\n")
    refused = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "99.0.0" in refused.stderr and f"__version__ = {redis_cache_go.__version__!r}" in refused.stderr, (
        refused.stderr
    )


def test_version_command_prints_both_versions_and_the_go_build_info() -> None:
    proc = run_version()
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    version = redis_cache_go.__version__
    assert out.startswith(f"redis-cache-go {version} (Python package: {REPO / 'python' / 'redis_cache_go'})"), out
    assert f"\nGo core {version} (library: {LIBRARY})\n" in out, out
    goversion = subprocess.run(
        [go(), "env", "GOVERSION"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert f"\nGo build: {goversion}, package github.com/redis-cache-go/redis-cache-go/capi, " in out, out
    # The settings `make build` used, as the Go toolchain recorded them in the library.
    for setting in ("-buildmode=c-shared", "-trimpath=true", "CGO_ENABLED=1", "GOOS=linux"):
        assert f"\n  {setting}\n" in out, (setting, out)
    assert re.search(r"\n  github\.com/redis/go-redis/v9 v9\.\d+\.\d+\n", out), out
    assert f"Django {__import__('django').get_version()}" in out


def test_version_command_is_the_only_thing_that_loads_the_library() -> None:
    script = (
        "import redis_cache_go, redis_cache_go.__main__\n"
        "maps = open('/proc/self/maps').read()\n"
        "assert 'libredis_cache_go' not in maps, 'importing loaded the library'\n"
        "assert redis_cache_go.__main__.main(['--version']) == 0\n"
        "assert 'libredis_cache_go' in open('/proc/self/maps').read()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=source_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_version_command_without_arguments_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "redis_cache_go"], cwd=REPO, env=source_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "--version" in proc.stderr


def test_version_command_fails_on_a_library_of_another_version(tmp_path: Path) -> None:
    # Build the library as it is, but with another VERSION embedded (go build -overlay).
    other = tmp_path / "VERSION"
    other.write_text("0.0.1\n")
    overlay = tmp_path / "overlay.json"
    overlay.write_text(json.dumps({"Replace": {str(VERSION_FILE): str(other)}}))
    lib = tmp_path / "libredis_cache_go.so"
    subprocess.run(
        [go(), "build", "-trimpath", "-buildvcs=false", "-buildmode=c-shared", "-overlay", str(overlay),
         "-o", str(lib), "./capi"],
        cwd=REPO, check=True, capture_output=True, timeout=600,
    )
    proc = run_version(RCG_LIBRARY=str(lib))
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert f"\nGo core 0.0.1 (library: {lib})\n" in proc.stdout
    assert f"is version 0.0.1, but the Python package is {redis_cache_go.__version__}" in proc.stderr


def test_version_command_reports_a_missing_library(tmp_path: Path) -> None:
    proc = run_version(RCG_LIBRARY=str(tmp_path / "nowhere.so"))
    assert proc.returncode == 1
    assert f"redis-cache-go {redis_cache_go.__version__}: cannot use the Go library" in proc.stderr
    assert "not found" in proc.stderr

"""`pip install .` into a fresh virtualenv builds the Go library into the installed package, and a
Django project outside the source tree uses the backend from there.

Slow (a virtualenv, a pip install with an isolated build environment, `go build`, an sdist):
marked ``packaging``. Needs Go on PATH, redis-server, and the package index for setuptools,
wheel, build and Django (pip's cache is used when there is one). Nothing is mocked.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

try:
    from redisproc import RedisServer
except ImportError:  # run without the Makefile's PYTHONPATH
    sys.path.insert(0, str(REPO / "tests" / "harness"))
    from redisproc import RedisServer

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(900)]

LIBNAME = "libredis_cache_go.so"
PIP_TIMEOUT = 600


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment minus anything that could point Python at the source tree."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "RCG_", "DJANGO_")) and k not in ("VIRTUAL_ENV", "PIP_USER")
    }
    env.update(extra)
    return env


def run(cmd: list[str], log: Path, *, cwd: Path, env: dict[str, str], timeout: float = PIP_TIMEOUT) -> None:
    """Run cmd with output to log; fail the test with the log's tail if it fails."""
    with open(log, "wb") as out:
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-6000:]
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode}; end of {log}:\n{tail}")


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def site_packages(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"],
        env=clean_env(), check=True, capture_output=True, text=True,
    ).stdout.strip()
    return Path(out).resolve()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("packaging").resolve()
    assert REPO not in path.parents, f"{path} must be outside the source tree {REPO}"
    yield path
    shutil.rmtree(path, ignore_errors=True)  # a virtualenv with Django is ~60 MB


@pytest.fixture(scope="module")
def installed(workdir: Path) -> Path:
    """A fresh virtualenv (no system site-packages) with `pip install <repo>` done; its python."""
    if shutil.which(os.environ.get("GO") or "go") is None:
        pytest.fail("Go must be on PATH: `pip install .` builds the library with `go build`")
    venv = workdir / "venv"
    run([sys.executable, "-m", "venv", str(venv)], workdir / "venv.log", cwd=workdir, env=clean_env())
    python = venv_python(venv)
    run(
        [str(python), "-m", "pip", "install", "-v", "--disable-pip-version-check", str(REPO)],
        workdir / "pip-install.log", cwd=workdir, env=clean_env(),
    )
    return python


def test_pip_install_builds_library_into_the_package(installed: Path, workdir: Path) -> None:
    site = site_packages(installed)
    assert site.is_relative_to(workdir / "venv"), site
    pkg = site / "redis_cache_go"
    lib = pkg / LIBNAME
    assert lib.is_file(), f"{lib} was not installed; package holds {sorted(p.name for p in pkg.iterdir())}"
    assert lib.read_bytes()[:4] == b"\x7fELF"
    assert not list(pkg.glob("*.h")), "cgo's generated header must not be installed"
    assert (pkg / "__init__.py").is_file()

    log = (workdir / "pip-install.log").read_text(errors="replace")
    assert "-buildmode=c-shared" in log, "the install did not run go build"

    (dist_info,) = site.glob("redis_cache_go-*.dist-info")
    wheel_meta = (dist_info / "WHEEL").read_text()
    assert "Root-Is-Purelib: false" in wheel_meta, wheel_meta
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")]
    assert tags and all(t.startswith("py3-none-") and not t.endswith("-any") for t in tags), tags
    record = (dist_info / "RECORD").read_text()
    assert f"redis_cache_go/{LIBNAME}," in record

    metadata = (dist_info / "METADATA").read_text()
    assert "Name: redis-cache-go" in metadata
    assert "Requires-Python: >=3.10" in metadata
    assert "Requires-Dist: Django>=4.2" in metadata.replace(" >=", ">=")


CHECK_SCRIPT = r'''
"""Runs in the fresh virtualenv, from a copy of examples/demo outside the source tree."""
import json
import os
import sys
import sysconfig

repo = os.path.realpath(os.environ["RCG_TEST_SOURCE_TREE"])
site = os.path.realpath(sysconfig.get_paths()["platlib"])


def inside(path, root):
    path = os.path.realpath(path or os.getcwd())
    return os.path.commonpath([path, root]) == root


leaks = [p for p in sys.path if inside(p, repo)]
assert not leaks, f"sys.path reaches into the source tree: {leaks}"

import django

django.setup()

import redis_cache_go
from django.core.cache import cache
from django.test import Client

pkg_dir = os.path.dirname(os.path.realpath(redis_cache_go.__file__))
assert pkg_dir == os.path.join(site, "redis_cache_go"), (pkg_dir, site)

cache.set("greeting", {"hello": "world", "n": [1, 2, 3]}, 60)
assert cache.get("greeting") == {"hello": "world", "n": [1, 2, 3]}, cache.get("greeting")
assert cache.get("missing", "default") == "default"
assert cache.add("answer", 41) is True
assert cache.incr("answer") == 42
cache.set_many({"a": 1, "b": "two"})
assert cache.get_many(["a", "b", "c"]) == {"a": 1, "b": "two"}
assert cache.delete("a") is True

client = Client(HTTP_HOST="localhost")
visits = [client.get("/counter/").json()["visits"] for _ in range(2)]
assert visits == [1, 2], visits
primes = client.get("/primes/1000/").json()
assert (primes["count"], primes["largest"]) == (168, 997), primes

# Which copy of the Go library did this process actually map?
with open("/proc/self/maps") as maps:
    mapped = {line.split(None, 5)[5].strip() for line in maps if "libredis_cache_go" in line}
expected = os.path.join(pkg_dir, "libredis_cache_go.so")
assert mapped == {expected}, (mapped, expected)

print(json.dumps({"package": pkg_dir, "library": sorted(mapped), "visits": visits}))
'''


def run_outside_tree(python: Path, workdir: Path, redis: RedisServer, name: str) -> dict:
    project = workdir / name
    shutil.copytree(REPO / "examples" / "demo", project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "check_install.py").write_text(CHECK_SCRIPT)
    env = clean_env(
        REDIS_LOCATION=redis.location,
        DJANGO_SETTINGS_MODULE="demo.settings",
        RCG_TEST_SOURCE_TREE=str(REPO),
    )
    proc = subprocess.run(
        [str(python), "check_install.py"], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_django_project_outside_the_tree_uses_the_installed_backend(installed: Path, workdir: Path) -> None:
    site = site_packages(installed)
    with RedisServer() as redis:
        report = run_outside_tree(installed, workdir, redis, "site")
        # What the installed backend wrote, read back over a raw socket.
        assert redis.command("GET", "demo:1:visits") == b"2"
        assert redis.command("GET", "demo:1:answer") == b"42"
        assert redis.command("EXISTS", "demo:1:greeting") == 1
    assert report["library"] == [str(site / "redis_cache_go" / LIBNAME)]


def test_sdist_carries_the_go_sources_and_installs(installed: Path, workdir: Path) -> None:
    run(
        [str(installed), "-m", "pip", "install", "--disable-pip-version-check", "build"],
        workdir / "pip-build.log", cwd=workdir, env=clean_env(),
    )
    dist = workdir / "dist"
    run(
        [str(installed), "-m", "build", "--sdist", "--outdir", str(dist), str(REPO)],
        workdir / "sdist.log", cwd=workdir, env=clean_env(),
    )
    (sdist,) = dist.glob("redis_cache_go-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for required in ("go.mod", "go.sum", "setup.py", "pyproject.toml", "python/redis_cache_go/__init__.py"):
        assert required in names, f"{required} missing from {sdist.name}"
    go_files = {n for n in names if n.endswith(".go")}
    assert any(n.startswith("capi/") for n in go_files), sorted(names)
    assert any(n.startswith("core/") for n in go_files), sorted(names)
    assert not any(n.endswith(".so") for n in names), "a built library leaked into the sdist"
    assert not any(n.endswith("_test.go") for n in names)

    # Build from the sdist (in pip's temporary directory, away from the checkout) and use it.
    run(
        [str(installed), "-m", "pip", "install", "-v", "--disable-pip-version-check",
         "--force-reinstall", "--no-deps", "--no-cache-dir", str(sdist)],
        workdir / "pip-install-sdist.log", cwd=workdir, env=clean_env(),
    )
    assert "-buildmode=c-shared" in (workdir / "pip-install-sdist.log").read_text(errors="replace")
    site = site_packages(installed)
    with RedisServer() as redis:
        report = run_outside_tree(installed, workdir, redis, "site-from-sdist")
    assert report["library"] == [str(site / "redis_cache_go" / LIBNAME)]

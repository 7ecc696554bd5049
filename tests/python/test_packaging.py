"""`pip install .` into a fresh virtualenv builds the Go library into the installed package, and a
Django project outside the source tree uses the backend from there; `make wheel` builds a
manylinux wheel that installs into a fresh virtualenv with no Go on PATH, where the example
project's own test suite (examples/demo, `manage.py test`) passes.

Slow (virtualenvs, pip installs with isolated build environments, `go build`, an sdist):
marked ``packaging``. Needs Go on PATH, redis-server, and the package index for setuptools,
wheel, build and Django (pip's cache is used when there is one). Nothing is mocked.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
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
    # the Django bounds as setup.py states them (test_metadata holds those to the tested cells);
    # setuptools may write the specifiers in another order ("Django<6.2,>=4.2")
    (django_req,) = [line.split(":", 1)[1].replace(" ", "") for line in metadata.splitlines()
                     if line.startswith("Requires-Dist: Django")]
    stated = re.search(r'"Django([^"]+)"', (REPO / "setup.py").read_text()).group(1)
    assert set(django_req.removeprefix("Django").split(",")) == set(stated.split(",")), (django_req, stated)


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


def copy_demo(workdir: Path, name: str) -> Path:
    """A copy of the example project outside the source tree."""
    project = workdir / name
    shutil.copytree(REPO / "examples" / "demo", project, ignore=shutil.ignore_patterns("__pycache__"))
    return project


def run_outside_tree(
    python: Path, workdir: Path, redis: RedisServer, name: str, env: dict[str, str] | None = None
) -> dict:
    project = copy_demo(workdir, name)
    (project / "check_install.py").write_text(CHECK_SCRIPT)
    env = dict(env or clean_env())
    env.update(REDIS_LOCATION=redis.location, DJANGO_SETTINGS_MODULE="demo.settings", RCG_TEST_SOURCE_TREE=str(REPO))
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
    for required in ("go.mod", "go.sum", "setup.py", "pyproject.toml", "python/redis_cache_go/__init__.py",
                     "LICENSE", "README.md", "docs/settings.md", "docs/troubleshooting.md"):
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


# --- `make wheel`, installed where there is no Go ---------------------------

WHEEL_TAG = re.compile(r"^py3-none-manylinux_(\d+)_(\d+)_x86_64$")
GLIBC_SYMBOL_VERSION = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.\d+)?$")


def without_go(env: dict[str, str]) -> dict[str, str]:
    """env with every PATH directory that holds a `go` binary removed, and no Go variables."""
    env = {k: v for k, v in env.items() if not k.startswith(("GO", "CGO_"))}
    dirs = env.get("PATH", os.defpath).split(os.pathsep)
    env["PATH"] = os.pathsep.join(d for d in dirs if d and not os.path.exists(os.path.join(d, "go")))
    assert shutil.which("go", path=env["PATH"]) is None, env["PATH"]
    return env


@pytest.fixture(scope="module")
def made_wheel(workdir: Path) -> tuple[Path, str]:
    """`make wheel DIST=<workdir>/dist`: the wheel, and the tag it printed."""
    dist = workdir / "dist"
    log = workdir / "make-wheel.log"
    run(["make", "--no-print-directory", "wheel", f"DIST={dist}"], log, cwd=REPO, env=dict(os.environ))
    printed = [line for line in log.read_text().splitlines() if line.startswith("wheel tag: ")]
    assert len(printed) == 1, f"`make wheel` must print the wheel's tag once; see {log}"
    (wheel,) = dist.glob("redis_cache_go-*.whl")
    return wheel, printed[0].removeprefix("wheel tag: ")


def library_needs(so: Path) -> tuple[set[str], tuple[int, int]]:
    """The .so's DT_NEEDED libraries and the highest GLIBC_x.y symbol version it requires."""
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    needed: set[str] = set()
    highest = (0, 0)
    with open(so, "rb") as f:
        for section in ELFFile(f).iter_sections():
            if isinstance(section, DynamicSection):
                needed |= {t.needed for t in section.iter_tags() if t.entry.d_tag == "DT_NEEDED"}
            elif isinstance(section, GNUVerNeedSection):
                for _need, auxes in section.iter_versions():
                    for aux in auxes:
                        m = GLIBC_SYMBOL_VERSION.match(aux.name)
                        if m:
                            highest = max(highest, (int(m.group(1)), int(m.group(2))))
    return needed, highest


def test_make_wheel_builds_a_manylinux_wheel_and_prints_its_tag(made_wheel: tuple[Path, str], workdir: Path) -> None:
    wheel, printed = made_wheel
    name, version, python_tag, abi_tag, platform_tag = wheel.name.removesuffix(".whl").split("-")
    assert (name, version) == ("redis_cache_go", redis_cache_go_version())
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        wheel_meta = z.read(f"redis_cache_go-{version}.dist-info/WHEEL").decode()
        (workdir / "wheel-lib.so").write_bytes(z.read(f"redis_cache_go/{LIBNAME}"))
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")]
    assert tags == [printed] == [f"{python_tag}-{abi_tag}-{platform_tag}"], (tags, printed, wheel.name)
    assert "Root-Is-Purelib: false" in wheel_meta
    assert {"redis_cache_go/__init__.py", "redis_cache_go/__main__.py"} <= names
    assert not [n for n in names if n.endswith(".h") or "/tests/" in n or n.startswith(("capi/", "core/"))], names

    # The tag is manylinux_X_Y, and honestly so: the manylinux policy lets a wheel link glibc
    # dynamically (a Go c-shared library always does, through cgo) and the Go library needs no
    # other library and no glibc symbol version newer than X.Y, so it loads on any x86_64 Linux
    # with glibc >= X.Y. The tag is derived from the built file (auditwheel in `make wheel`),
    # checked here independently with pyelftools.
    match = WHEEL_TAG.match(printed)
    assert match, f"{printed} is not py3-none-manylinux_X_Y_x86_64"
    needed, highest = library_needs(workdir / "wheel-lib.so")
    so = (workdir / "wheel-lib.so").read_bytes()
    assert str(REPO).encode() not in so and b"build-via-sdist" not in so, "build paths in the library (-trimpath)"
    assert needed == {"libc.so.6"}, needed
    assert (int(match.group(1)), int(match.group(2))) == highest, (printed, highest)

    # The sdist the wheel was built from sits beside it.
    assert (wheel.parent / f"redis_cache_go-{version}.tar.gz").is_file()


def redis_cache_go_version() -> str:
    return (REPO / "core" / "version" / "VERSION").read_text().strip()


@pytest.fixture(scope="module")
def wheel_installed(made_wheel: tuple[Path, str], workdir: Path) -> tuple[Path, dict[str, str]]:
    """A fresh virtualenv, PATH without Go, and `pip install dist/*.whl`: its python and env."""
    env = without_go(clean_env())
    venv = workdir / "venv-wheel"
    run([sys.executable, "-m", "venv", str(venv)], workdir / "venv-wheel.log", cwd=workdir, env=env)
    python = venv_python(venv)
    # Go is not reachable from the virtualenv's Python either.
    probe = subprocess.run(
        [str(python), "-c", "import shutil, subprocess\n"
         "assert shutil.which('go') is None, shutil.which('go')\n"
         "try:\n    subprocess.run(['go', 'version'])\nexcept FileNotFoundError:\n    print('no go')\n"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert (proc_out := probe.stdout.strip()) == "no go", (proc_out, probe.stderr)
    wheel, _tag = made_wheel
    dist = wheel.parent
    log = workdir / "pip-install-wheel.log"
    # Exactly `pip install dist/*.whl`, from the directory holding dist/; binaries only, so
    # nothing can be built from source (there is no Go to build with anyway).
    (whl,) = [p.relative_to(workdir) for p in dist.glob("*.whl")]
    run([str(python), "-m", "pip", "install", "-v", "--disable-pip-version-check", "--only-binary=:all:",
         str(whl)], log, cwd=workdir, env=env)
    text = log.read_text(errors="replace")
    assert "-buildmode=c-shared" not in text and "Building wheel" not in text, "pip built something"
    return python, env


def test_wheel_without_go_runs_the_example_projects_tests(
    wheel_installed: tuple[Path, dict[str, str]], workdir: Path
) -> None:
    python, env = wheel_installed
    site = site_packages(python)
    assert REPO not in site.parents and site.is_relative_to(workdir / "venv-wheel"), site
    project = copy_demo(workdir, "site-wheel-tests")
    with RedisServer() as redis:
        proc = subprocess.run(
            [str(python), "manage.py", "test", "-v", "2", "shop"],
            cwd=project, env=dict(env, REDIS_LOCATION=redis.location),
            capture_output=True, text=True, timeout=300,
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output
        assert "Ran 11 tests" in output and "\nOK" in output, output
        assert redis.command("KEYS", "__fresh__demo:1:*"), "the suite did not use this server"

        # The same virtualenv and project: the backend and its library came from the wheel.
        report = run_outside_tree(python, workdir, redis, "site-wheel-check", env=env)
    assert report["package"] == str(site / "redis_cache_go")
    assert report["library"] == [str(site / "redis_cache_go" / LIBNAME)]


def test_the_wheel_installs_a_django_the_matrix_tests(wheel_installed: tuple[Path, dict[str, str]]) -> None:
    """What `pip install <wheel>` chose for Django is of a series `make test-matrix` runs (its
    Requires-Dist and classifiers are checked against the matrix in test_metadata.py; this is what
    pip makes of them, for this Python)."""
    python, env = wheel_installed
    proc = subprocess.run([str(python), "-c", "import django, platform; print(platform.python_version(), django.get_version())"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    python_version, django_version = proc.stdout.split()
    makefile = (REPO / "Makefile").read_text()
    tested = re.findall(r"^PINS_\d+\s*:=.*\bDjango==(\d+\.\d+)\.", makefile, re.M)
    assert len(tested) >= 4, tested
    assert ".".join(django_version.split(".")[:2]) in tested, (python_version, django_version, tested)


def test_wheel_without_go_reports_its_versions(wheel_installed: tuple[Path, dict[str, str]], workdir: Path) -> None:
    python, env = wheel_installed
    site = site_packages(python)
    version = redis_cache_go_version()
    proc = subprocess.run([str(python), "-m", "redis_cache_go", "--version"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith(f"redis-cache-go {version} (Python package: {site / 'redis_cache_go'})\n"), out
    assert f"\nGo core {version} (library: {site / 'redis_cache_go' / LIBNAME})\n" in out, out
    for setting in ("-buildmode=c-shared", "-trimpath=true", "CGO_ENABLED=1"):
        assert f"\n  {setting}\n" in out, (setting, out)
    assert str(REPO) not in out, "a path of the build tree leaked into the installed library or report"
    meta = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('redis-cache-go'))"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert meta.stdout.strip() == version, meta.stderr

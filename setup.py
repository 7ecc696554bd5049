"""Packaging for redis-cache-go: a thin Python package plus a Go shared library it loads with ctypes.

`pip install .` (or of the sdist) runs `go build -buildmode=c-shared` on ./capi and puts
libredis_cache_go.so inside the installed ``redis_cache_go`` package. Building from source
therefore needs the Go toolchain (the version go.mod names) and a C compiler for cgo; set GO to
use a `go` binary that is not on PATH.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from setuptools import Distribution, find_packages, setup
from setuptools.command.build_ext import build_ext as _build_ext
from setuptools.command.build_py import build_py as _build_py

try:  # setuptools >= 70.1 ships bdist_wheel itself
    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:  # older setuptools: the `wheel` package's command
    try:
        from wheel.bdist_wheel import bdist_wheel as _bdist_wheel
    except ImportError:  # no wheel support at all (e.g. only building an sdist)
        _bdist_wheel = None

try:
    from setuptools.errors import ExecError, SetupError
except ImportError:  # setuptools < 59
    from distutils.errors import DistutilsExecError as ExecError
    from distutils.errors import DistutilsSetupError as SetupError

ROOT = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "redis_cache_go"
PACKAGE_SRC = os.path.join("python", PACKAGE)
LIBNAME = "libredis_cache_go.so"
VERSION_FILE = os.path.join("core", "version", "VERSION")  # the version's single source


def read_version() -> str:
    """The release version from its single source, core/version/VERSION (which Go embeds).

    The Python package repeats it as ``__version__`` (parsed here: importing the package could
    load Django); a build where the two disagree is refused, so no wheel or sdist can carry a
    Python package and a Go core that name different versions.
    """
    with open(os.path.join(ROOT, VERSION_FILE), encoding="utf-8") as f:
        version = f.read().strip()
    path = os.path.join(ROOT, PACKAGE_SRC, "__init__.py")
    with open(path, encoding="utf-8") as f:
        match = re.search(r"""^__version__\s*(?::\s*str\s*)?=\s*["']([^"']+)["']""", f.read(), re.M)
    if not match:
        raise SetupError(f"no __version__ = '...' line in {path}")
    if match.group(1) != version:
        raise SetupError(
            f"{VERSION_FILE} says {version!r} but {PACKAGE_SRC}/__init__.py has __version__ = "
            f"{match.group(1)!r}: set both to the release version"
        )
    return version


def read_long_description() -> tuple[str, str]:
    for name, kind in (("README.md", "text/markdown"), ("README.rst", "text/x-rst")):
        path = os.path.join(ROOT, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return f.read(), kind
    return "A Django cache backend for Redis with its client core written in Go.", "text/plain"


def required_go_version() -> str:
    try:
        with open(os.path.join(ROOT, "go.mod"), encoding="utf-8") as f:
            match = re.search(r"^go\s+(\S+)", f.read(), re.M)
    except OSError:
        return "?"
    return match.group(1) if match else "?"


class BinaryDistribution(Distribution):
    """Always "has extension modules": the Go library is platform code although it is no CPython extension.

    That puts the files in platlib, makes `build` run build_ext (where the Go build lives), and
    makes bdist_wheel produce a platform wheel instead of a pure py3-none-any one.
    """

    def has_ext_modules(self) -> bool:
        return True


class build_py(_build_py):
    """Start the package's build directory afresh, so a module deleted from the source cannot
    linger in build/ (pip builds in the source tree) and end up in a new wheel."""

    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            shutil.rmtree(os.path.join(self.build_lib, PACKAGE), ignore_errors=True)
        super().run()


class build_ext(_build_ext):
    """Build the Go shared library into the package (build_lib, or the source tree when in place)."""

    def run(self) -> None:
        super().run()  # no C extensions are declared; kept so that any added later still build
        self.build_go_library()

    def _target_dir(self) -> str:
        if self.inplace or getattr(self, "editable_mode", False):
            return os.path.join(ROOT, PACKAGE_SRC)
        return os.path.join(self.build_lib, PACKAGE)

    def get_outputs(self) -> list[str]:
        return super().get_outputs() + [os.path.join(self._target_dir(), LIBNAME)]

    def build_go_library(self) -> None:
        wanted = os.environ.get("GO") or "go"
        go = shutil.which(wanted)
        if go is None:
            where = f"GO={wanted!r} is not an executable" if os.environ.get("GO") else "`go` is not on PATH"
            raise ExecError(
                "redis-cache-go: building from source needs the Go toolchain "
                f"(go {required_go_version()} or newer, as go.mod says) and a C compiler for cgo, "
                f"but {where}. Install Go (https://go.dev/dl/), put its bin/ directory on PATH "
                "or set GO to the go binary, and run the install again."
            )
        if not os.path.exists(os.path.join(ROOT, "go.mod")):
            raise SetupError(f"go.mod is missing from {ROOT}: this source tree cannot build the library")

        # Build into a scratch directory: -buildmode=c-shared also writes a C header next to the
        # library, and only the .so belongs in the package.
        scratch = os.path.join(os.path.abspath(self.build_temp), "go")
        os.makedirs(scratch, exist_ok=True)
        built = os.path.join(scratch, LIBNAME)
        cmd = [
            go, "build",
            "-trimpath",          # no build-machine paths in the binary
            "-buildvcs=false",    # no git needed (a checkout without the git binary would fail)
            "-buildmode=c-shared",
            "-o", built,
            "./capi",
        ]
        env = dict(os.environ, CGO_ENABLED="1")  # c-shared needs cgo; a CGO_ENABLED=0 env would break it
        print(f"redis-cache-go: {' '.join(cmd)}  (in {ROOT})", file=sys.stderr, flush=True)
        try:
            subprocess.run(cmd, cwd=ROOT, env=env, check=True)
        except subprocess.CalledProcessError as e:
            raise ExecError(f"redis-cache-go: `go build` failed with exit status {e.returncode}") from e
        except OSError as e:
            raise ExecError(f"redis-cache-go: could not run {go!r}: {e}") from e

        target_dir = self._target_dir()
        os.makedirs(target_dir, exist_ok=True)
        target = os.path.join(target_dir, LIBNAME)
        shutil.copyfile(built, target)
        os.chmod(target, 0o755)


cmdclass: dict[str, type] = {"build_py": build_py, "build_ext": build_ext}

if _bdist_wheel is not None:

    class bdist_wheel(_bdist_wheel):
        """Tag wheels py3-none-<platform>.

        The Go library is loaded through ctypes and never links against libpython or uses the
        CPython C API, so one wheel serves every CPython 3 (and PyPy) on the same platform: the
        interpreter/ABI tags are generic ("py3", "none") and only the platform tag is specific,
        because the .so is machine code for this OS and CPU. That tag is the build machine's
        (linux_x86_64); `make wheel` has auditwheel check the library against the manylinux
        policy and retag the wheel manylinux_X_Y from the glibc symbol versions it needs.
        """

        def finalize_options(self) -> None:
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self) -> tuple[str, str, str]:
            _python, _abi, plat = super().get_tag()
            return "py3", "none", plat

    cmdclass["bdist_wheel"] = bdist_wheel


long_description, long_description_content_type = read_long_description()

# The license as an SPDX expression: setuptools >= 77 writes it as License-Expression (PEP 639),
# which refuses License :: classifiers beside it; older ones (pyproject.toml allows >= 64) only
# know the free-text License field, which gets the same identifier. Either way LICENSE is shipped.
try:
    _setuptools_major = int(__import__("setuptools").__version__.split(".")[0])
except ValueError:
    _setuptools_major = 0
license_metadata = {"license_expression" if _setuptools_major >= 77 else "license": "BSD-3-Clause"}

REPOSITORY = "https://github.com/redis-cache-go/redis-cache-go"  # go.mod's module path

setup(
    name="redis-cache-go",
    version=read_version(),
    description="A Django cache backend for Redis whose client core is written in Go",
    long_description=long_description,
    long_description_content_type=long_description_content_type,
    package_dir={"": "python"},
    packages=find_packages(where="python", include=[PACKAGE, PACKAGE + ".*"]),
    # The library comes from build_ext, never from the source tree (a `make build` leftover there
    # could be stale or built for another machine).
    include_package_data=False,
    package_data={PACKAGE: ["py.typed"]},
    zip_safe=False,
    # What `make test-matrix` runs (Python 3.10 + Django 4.2, 3.11 + 5.2, 3.12 + 6.0, 3.13 + 6.1):
    # the bounds and the classifiers below say that much and no more (tests/python/test_version.py
    # checks them against the Makefile's cells).
    python_requires=">=3.10",
    install_requires=["Django>=4.2,<6.2"],
    license_files=["LICENSE"],
    **license_metadata,
    url=REPOSITORY,
    project_urls={
        "Documentation": f"{REPOSITORY}#readme",
        "Source": REPOSITORY,
        "Issues": f"{REPOSITORY}/issues",
    },
    # optional serializers: OPTIONS["SERIALIZER"] = "msgpack" / "yaml"
    extras_require={"msgpack": ["msgpack>=1.0"], "yaml": ["PyYAML>=5.4"], "prometheus": ["prometheus_client>=0.12"],
                    # raw access (cache.get_client(), get_redis_connection()) returns redis-py clients
                    "redis": ["redis>=5.0"]},
    distclass=BinaryDistribution,
    cmdclass=cmdclass,
    classifiers=[
        "Framework :: Django",
        "Framework :: Django :: 4.2",
        "Framework :: Django :: 5.2",
        "Framework :: Django :: 6.0",
        "Framework :: Django :: 6.1",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Programming Language :: Python :: Implementation :: CPython",
        "Programming Language :: Go",
        "Operating System :: POSIX",
        "Topic :: Database",
        "Topic :: Internet :: WWW/HTTP :: Dynamic Content",
    ],
)

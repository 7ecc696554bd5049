"""What a first `make demo` and `make wheel` install and build, and what they ask of the system.

`make demo` installs the package's run-time dependencies alone (requirements-demo.txt), not the
development pins; `make wheel` the wheel tools alone (requirements-wheel.txt); both files repeat
lines of requirements-dev.txt, which `make test` installs on top. Read from `make -n -B` (prints
every recipe, runs none) and from the requirements files; tools/prereqs.sh is run with a Go that
is too old and with none. Takes about a second.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


def pins(name: str) -> dict[str, str]:
    """name -> the whole `name==version` line, for each pin of a requirements file."""
    found = {}
    for line in (REPO / name).read_text().splitlines():
        if re.match(r"^[A-Za-z0-9_.-]+==", line):
            found[Requirement(line).name.lower()] = line
    return found


def dry_run(target: str) -> list[str]:
    """The recipe lines `make` would run for target, every prerequisite remade (-B), none run (-n)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    proc = subprocess.run(["make", "--no-print-directory", "-n", "-B", target], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def installs(lines: list[str]) -> list[str]:
    """The requirements files the pip installs of a dry run name."""
    return [m.group(1) for line in lines if " pip install " in line for m in re.finditer(r"-r (\S+)", line)]


def test_the_small_requirement_files_repeat_the_development_pins() -> None:
    dev = pins("requirements-dev.txt")
    for name in ("requirements-demo.txt", "requirements-wheel.txt"):
        for package, line in pins(name).items():
            assert dev.get(package) == line, f"{name}: {line!r}, requirements-dev.txt: {dev.get(package)!r}"


def test_the_demo_pins_are_the_runtime_dependencies() -> None:
    demo = pins("requirements-demo.txt")
    assert set(demo) == {"django", "asgiref", "sqlparse"}, demo  # Django and what Django needs
    setup_py = (REPO / "setup.py").read_text()
    (install_requires,) = re.findall(r"install_requires=\[([^\]]*)\]", setup_py)
    (django,) = [Requirement(r) for r in re.findall(r'"([^"]+)"', install_requires)]
    assert django.name == "Django" and django.specifier.contains(demo["django"].split("==")[1]), django


def test_make_demo_installs_the_runtime_pins_only_and_builds_no_test_programs() -> None:
    lines = dry_run("demo")
    assert installs(lines) == ["requirements-demo.txt"], lines
    builds = [line for line in lines if re.match(r"^\S*go build ", line)]
    assert len(builds) == 2 and builds[0].endswith(" ./capi") and builds[1].endswith(" ./examples/goservice"), builds
    # the example reuses the library's compiled packages: the same -trimpath, position-independent code
    assert "-buildmode=c-shared" in builds[0] and "-buildmode=pie" in builds[1], builds
    assert all("-trimpath" in b for b in builds), builds
    assert not [line for line in lines if "rcgdebug" in line or "crosslang" in line or "go run" in line], lines
    # a progress line before each slow step
    for said in ("installing Django into", "building the Go core", "building the Go service example"):
        assert [line for line in lines if said in line and line.startswith("echo")], said


def test_make_wheel_installs_the_wheel_tools_only_and_make_test_everything() -> None:
    assert installs(dry_run("wheel")) == ["requirements-wheel.txt"]
    assert set(installs(dry_run("test"))) >= {"requirements-demo.txt", "requirements-dev.txt"}


def test_prereqs_names_the_go_that_go_mod_asks_for(tmp_path: Path) -> None:
    (need,) = re.findall(r"^go (\S+)$", (REPO / "go.mod").read_text(), re.M)
    old = tmp_path / "go"
    old.write_text('#!/bin/sh\ncase "$1 $2" in "env GOVERSION") echo go1.19.8 ;; *) echo "go version go1.19.8 linux/amd64" ;; esac\n')
    old.chmod(0o755)
    for go, says in ((str(old), "is 1.19.8"), (str(tmp_path / "nowhere" / "go"), "is not on PATH")):
        proc = subprocess.run([str(REPO / "tools" / "prereqs.sh"), "go"], env=dict(os.environ, GO=go),
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1, proc
        assert f"needs Go {need} or newer (go.mod: `go {need}`)" in proc.stderr and says in proc.stderr, proc.stderr
        assert f"https://go.dev/dl/go{need}.linux-" in proc.stderr, proc.stderr
    ok = subprocess.run([str(REPO / "tools" / "prereqs.sh"), "go"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout == ok.stderr == "", ok


def test_the_readme_names_the_go_that_go_mod_asks_for() -> None:
    (need,) = re.findall(r"^go (\S+)$", (REPO / "go.mod").read_text(), re.M)
    assert f"**Go {need} or newer**" in (REPO / "README.md").read_text()

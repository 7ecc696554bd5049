"""The package metadata says exactly what `make test-matrix` proves, and carries the license.

The matrix cells are read from the Makefile (MATRIX_PY_<NN>, and the Django pin in PINS_<NN>); the
metadata from setup.py itself (``run_setup(stop_after="init")``: nothing is built), so adding a
cell without its classifiers, or a classifier without its cell, fails here.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]

METADATA_SCRIPT = r"""
import json, setuptools
from distutils.core import run_setup
d = run_setup("setup.py", stop_after="init")
m = d.metadata
print(json.dumps({
    "classifiers": m.get_classifiers(),
    "install_requires": d.install_requires,
    "python_requires": d.python_requires,
    "license": getattr(m, "license_expression", None) or m.get_license(),
    "license_files": getattr(m, "license_files", None) or getattr(d, "license_files", None),
    "project_urls": m.project_urls,
}))
"""


def matrix_cells() -> list[tuple[str, str]]:
    """(Python X.Y, Django X.Y.Z) for each cell of the Makefile's matrix."""
    makefile = (REPO / "Makefile").read_text()
    (cells,) = re.findall(r"^MATRIX_CELLS\s*:=\s*(.+)$", makefile, re.M)
    found = []
    for cell in cells.split():
        (python,) = re.findall(rf"^MATRIX_PY_{cell}\s*:=\s*(\S+)$", makefile, re.M)
        (pins,) = re.findall(rf"^PINS_{cell}\s*:=\s*(.+)$", makefile, re.M)
        (django,) = re.findall(r"\bDjango==(\S+)", pins)
        found.append((python, django))
    return found


def metadata() -> dict:
    proc = subprocess.run([sys.executable, "-c", METADATA_SCRIPT], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def series(version: str) -> str:
    return ".".join(version.split(".")[:2])


def test_the_matrix_is_the_one_the_issue_asks_for() -> None:
    assert [(p, series(d)) for p, d in matrix_cells()] == [
        ("3.10", "4.2"), ("3.11", "5.2"), ("3.12", "6.0"), ("3.13", "6.1")]


def test_classifiers_and_bounds_say_what_the_matrix_runs() -> None:
    cells = matrix_cells()
    meta = metadata()
    classifiers = meta["classifiers"]
    djangos = sorted({series(d) for _, d in cells}, key=Version)
    pythons = sorted({p for p, _ in cells}, key=Version)
    assert [c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Framework :: Django :: ")] == djangos
    assert [c.rsplit(" :: ", 1)[1] for c in classifiers
            if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)] == pythons
    assert meta["python_requires"] == f">={pythons[0]}"

    (django_req,) = [Requirement(r) for r in meta["install_requires"] if Requirement(r).name == "Django"]
    for _, version in cells:
        assert django_req.specifier.contains(version), (django_req, version)
    newest = Version(djangos[-1])
    oldest = Version(djangos[0])
    # nothing past the newest series tested, nothing before the oldest
    assert not django_req.specifier.contains(f"{newest.major}.{newest.minor + 1}")
    assert not django_req.specifier.contains(f"{oldest.major}.{oldest.minor - 1}.99")
    assert django_req.specifier.contains(f"{newest}.99")


def test_license_and_project_urls() -> None:
    meta = metadata()
    assert meta["license"] == "BSD-3-Clause"
    assert meta["license_files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License") and "Copyright (c) the redis-cache-go authors" in text
    assert {"Documentation", "Source", "Issues"} <= set(meta["project_urls"])
    assert not [c for c in meta["classifiers"] if c.startswith("License ::")]  # the SPDX id says it


def test_the_sdist_ships_the_docs_and_the_license() -> None:
    manifest = (REPO / "MANIFEST.in").read_text().splitlines()
    assert "graft docs" in manifest and "include README.md LICENSE" in manifest

"""Print each wheel's tags, read from its WHEEL file, and check its library is for the tag's CPU:
wheel_tags.py WHEEL...

For every wheel: "wheel: PATH" and "wheel tag: TAG..." (as `make wheel` prints them), then the
machine of redis_cache_go/libredis_cache_go.so from its ELF header. Exits 1 when a wheel's platform
tag is not a manylinux one or names another CPU than its library is built for.
"""
from __future__ import annotations

import sys
import zipfile

# ELF e_machine values of the CPUs a wheel tag can name here
ELF_MACHINES = {62: "x86_64", 183: "aarch64"}
LIBRARY = "redis_cache_go/libredis_cache_go.so"


def check(path: str) -> list[str]:
    with zipfile.ZipFile(path) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))
        tags = [line.split(":", 1)[1].strip() for line in z.read(meta).decode().splitlines() if line.startswith("Tag:")]
        with z.open(LIBRARY) as f:
            header = f.read(20)
    machine = ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), f"ELF machine {int.from_bytes(header[18:20], 'little')}")
    print("wheel:", path)
    print("wheel tag:", " ".join(tags), f"(library: {machine})")
    problems = []
    for tag in tags:
        platform = tag.split("-")[-1]
        if not platform.startswith("manylinux_"):
            problems.append(f"{path}: {tag} is not a manylinux tag")
        if not platform.endswith("_" + machine):
            problems.append(f"{path}: {tag} does not name the library's CPU ({machine})")
    return problems


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: wheel_tags.py WHEEL...", file=sys.stderr)
        return 2
    problems = [p for path in paths for p in check(path)]
    for problem in problems:
        print("error:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

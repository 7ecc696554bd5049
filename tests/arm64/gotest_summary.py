"""Summarise `go test -json` read from stdin: gotest_summary.py LABEL < events

Prints one line per package as `go test` does (ok / FAIL / no test files), the output of every
failed test, and a total line "LABEL: N passed, M skipped, K failed (tests and subtests)". Exits 1
when a test or a package failed (a package that does not build reports no test events, only its
own failure) or when no test ran at all.
"""
from __future__ import annotations

import collections
import json
import sys


def main(label: str) -> int:
    counts: collections.Counter[str] = collections.Counter()
    output: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    failed_tests: list[tuple[str, str]] = []
    skipped_tests: list[tuple[str, str]] = []
    failed_packages = 0
    for line in sys.stdin:
        line = line.strip()
        if not line.startswith("{"):
            print(line)  # build errors and other text go test writes between the events
            continue
        event = json.loads(line)
        action, package, test = event.get("Action"), event.get("Package", ""), event.get("Test")
        if action == "output":
            if test:
                output[(package, test)].append(event.get("Output", ""))
            elif not event.get("Output", "").startswith(("ok ", "FAIL\t", "PASS\n", "FAIL\n", "?")):
                sys.stdout.write(event.get("Output", ""))
            continue
        if action not in ("pass", "fail", "skip"):
            continue
        if test:
            counts[action] += 1
            if action == "fail":
                failed_tests.append((package, test))
            elif action == "skip":
                skipped_tests.append((package, test))
            continue
        elapsed = event.get("Elapsed", 0.0)
        if action == "pass":
            print(f"ok  \t{package}\t{elapsed:.1f}s")
        elif action == "skip":
            print(f"?   \t{package}\t[no test files]")
        else:
            failed_packages += 1
            print(f"FAIL\t{package}\t{elapsed:.1f}s")
    for package, test in failed_tests:
        print(f"--- FAIL: {test} ({package})")
        sys.stdout.write("".join(output[(package, test)]))
    for package, test in skipped_tests:
        print(f"--- SKIP: {test} ({package})")
    print(f"{label}: {counts['pass']} passed, {counts['skip']} skipped, {counts['fail']} failed (tests and subtests)"
          + (f"; {failed_packages} package(s) failed" if failed_packages else ""))
    return 1 if failed_packages or counts["fail"] or not counts["pass"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "go test"))

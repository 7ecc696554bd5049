"""Run Django's own cache tests (BaseCacheTests) against redis_cache_go.RedisCache.

    python tests/django_suite/run.py build/django-sdist/django-5.2.19.tar.gz

Extracts tests/cache/ from the sdist of the pinned Django (the Makefile downloads it with pip)
into build/django-suite/<sdist name>/cache/, starts a throw-away redis-server (tests/harness),
and runs test_redis_cache_go.py with Django's test runner. Prints how many tests passed and were
skipped, and why. Fails on any failure or error, on an expected failure, and on a skip whose
reason is not one this file allows (the culling tests, skipped as in Django's own Redis tests).
"""
from __future__ import annotations

import collections
import os
import pathlib
import sys
import tarfile
import unittest
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
# Skips we accept, by reason: the culling tests skip themselves when the culling aliases are
# left out, exactly as Django's RedisCacheTests leaves them out (Redis evicts by its own policy).
ALLOWED_SKIPS = {"Culling isn't implemented."}


def extract(sdist: pathlib.Path) -> pathlib.Path:
    """tests/cache/ of the sdist, extracted once; returns the directory that holds ``cache``."""
    name = sdist.name.removesuffix(".tar.gz")
    target = REPO / "build" / "django-suite" / name
    if not (target / "cache" / "tests.py").exists():
        with tarfile.open(sdist) as tar:
            prefix = next(m.name for m in tar.getmembers() if m.name.endswith("/tests/cache/tests.py"))
            root = prefix.removesuffix("tests.py")
            members = [m for m in tar.getmembers() if m.name.startswith(root) and m.isfile()]
            if not members:
                sys.exit(f"{sdist} has no tests/cache/")
            for m in members:
                m.name = "cache/" + m.name.removeprefix(root)
            tar.extractall(target, members=members, filter="data")
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].endswith(".tar.gz"):
        sys.exit(__doc__)
    suite_dir = extract(pathlib.Path(argv[1]))
    sys.path[:0] = [str(suite_dir), str(HERE), str(REPO / "python"), str(REPO / "tests" / "harness")]
    from redisproc import RedisServer

    with RedisServer() as server:
        os.environ["RCG_DJANGO_SUITE_LOCATION"] = server.location
        os.environ["DJANGO_SETTINGS_MODULE"] = "settings"
        import django
        from django.test.runner import DiscoverRunner

        django.setup()

        class Runner(DiscoverRunner):
            result: unittest.TestResult
            names: list[str]

            def run_suite(self, suite: Any, **kwargs: Any) -> unittest.TestResult:
                self.names = [t._testMethodName for t in _tests(suite)]
                self.result = super().run_suite(suite, **kwargs)
                return self.result

        runner = Runner(verbosity=1, interactive=False)
        runner.run_tests(["test_redis_cache_go"])
        from cache.tests import BaseCacheTests

        ours = sum(name not in vars(BaseCacheTests) for name in runner.names)
    return report(runner.result, django.get_version(), ours)


def _tests(suite: Any) -> list[unittest.TestCase]:
    if isinstance(suite, unittest.TestCase):
        return [suite]
    return [t for s in suite for t in _tests(s)]


def report(result: unittest.TestResult, version: str, ours: int) -> int:
    skipped = collections.Counter(reason for _, reason in result.skipped)
    bad = result.failures + result.errors
    passed = result.testsRun - len(result.skipped) - len(bad) - len(result.expectedFailures)
    print(f"Django {version} BaseCacheTests ({result.testsRun - ours} tests: once as is, once with VALUE_PROTECTION "
          f"sign; plus {ours} of ours) against "
          f"redis_cache_go.RedisCache: {result.testsRun} run, {passed} passed, {len(result.skipped)} skipped, "
          f"{len(result.failures)} failed, {len(result.errors)} errors, {len(result.expectedFailures)} expected failures")
    for reason, count in sorted(skipped.items()):
        print(f"  skipped {count}: {reason}")
    unexpected = sorted(set(skipped) - ALLOWED_SKIPS)
    if unexpected:
        print(f"skips with a reason this suite does not allow: {unexpected}")
    return 1 if bad or unexpected or result.expectedFailures or result.unexpectedSuccesses else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The example project's own test suite (examples/demo/shop/tests.py), run with `manage.py test`
from the source tree against a throw-away redis-server. test_packaging.py runs the same suite
from an installed wheel in a virtualenv without Go."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import django

from redisproc import RedisServer

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo"


def test_demo_project_tests_pass_through_the_backend() -> None:
    with RedisServer() as redis:
        # The source tree's package first, then whatever PYTHONPATH already holds (`make
        # test-django42-api` puts Django 4.2 there).
        pythonpath = os.pathsep.join(filter(None, [str(REPO / "python"), os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, REDIS_LOCATION=redis.location, PYTHONPATH=pythonpath)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        proc = subprocess.run(
            [sys.executable, "manage.py", "test", "-v", "2", "shop"],
            cwd=DEMO, env=env, capture_output=True, text=True, timeout=300,
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output
        # Django's runner prints "Ran N tests" and "OK"; every test of the suite ran.
        assert "\nOK" in output and "Ran 11 tests" in output, output
        # Under the Django this test runs with.
        versions = subprocess.run(
            [sys.executable, "-c", "import django; print(django.get_version())"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert versions.stdout.strip() == django.get_version(), versions
        # The suite used this server (get_or_set's herd protection leaves its "__fresh__" flags,
        # which expire) and deleted the demo's own keys after itself.
        assert redis.command("KEYS", "__fresh__demo:1:*"), redis.command("KEYS", "*")
        assert redis.command("KEYS", "demo:*") == [], redis.command("KEYS", "*")

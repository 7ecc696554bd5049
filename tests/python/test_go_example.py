"""examples/run_demo.py end to end: the Django demo site and the Go service example
(examples/goservice) share one throw-away redis-server, each reading what the other wrote."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent


@pytest.mark.timeout(420)  # the demo's own bound is 400 s (it starts a server and a site)
def test_demo_site_and_go_service_share_the_cache():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "run_demo.py")], cwd=ROOT,
                         capture_output=True, text=True, timeout=400, env=dict(os.environ))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "[8] a Go service on the same cache" in out.stdout
    assert "OK: every view answered as expected" in out.stdout

"""django-debug-toolbar's cache panel wraps the cache's methods; with a redis-cache-go cache the
panel records every call and the calls still return what they should. One real request through the
toolbar middleware, in a fresh process (the toolbar is an installed app there, not here):
tests/python/toolbar_project/toolbar_run.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def test_cache_panel_records_our_calls(redis_server: Any, raw: Any) -> None:
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run([sys.executable, os.path.join(HERE, "toolbar_project", "toolbar_run.py"), redis_server.location],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 200 and result["toolbar_in_page"]
    assert result["seen"] == {"get": {"n": 1}, "missing": "default", "many": {"a": {"n": 1}}, "computed": 3}
    assert result["calls"] == ["set", "get", "get", "get_many", "get_or_set"]
    assert result["backends"] == ["default (RedisCache)"]
    assert raw.command("EXISTS", "ddt:1:a") == 1 and raw.command("EXISTS", "ddt:1:c") == 1  # really stored

"""Real gunicorn serving examples/demo: sync and gthread workers, with and without
--preload, with the cache touched in the master; FORK_FALLBACK on and off. The same with uWSGI,
with and without lazy-apps.

No hang in any mode: every request has a deadline, and the default failure is immediate.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from forked import call_in_forked_child
from redisproc import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "examples", "demo")
HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "prefork", "touch_in_master.py")


def _gunicorn(redis_server, worker: str, preload: bool, fallback: bool, tmp_path):
    port = free_port()
    log = tmp_path / "gunicorn.log"
    args = [sys.executable, "-m", "gunicorn", "demo.wsgi:application", "--chdir", DEMO,
            "--bind", f"127.0.0.1:{port}", "--workers", "2", "--worker-class", worker,
            "--threads", "4" if worker == "gthread" else "1", "--timeout", "20", "--graceful-timeout", "2"]
    if preload:
        args += ["--preload", "--config", HOOK]
    env = {**os.environ, "REDIS_LOCATION": redis_server.location, "DJANGO_SETTINGS_MODULE": "demo.settings",
           "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "python"), DEMO])}
    env["REDIS_FORK_FALLBACK"] = "1" if fallback else "0"
    out = open(log, "wb")
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    return proc, port, log, out


def _request(port: int, path: str, deadline: float = 30.0) -> tuple[int, bytes, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=deadline) as r:
            return r.status, r.read(), time.monotonic() - started
    except urllib.error.HTTPError as e:
        return e.code, e.read(), time.monotonic() - started


def _wait_up(proc, port: int, log) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/info/", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # answering (maybe with a 500): up
        except OSError:
            time.sleep(0.05)
    raise AssertionError("gunicorn did not answer:\n" + log.read_text())


@pytest.fixture
def run_gunicorn(redis_server, tmp_path):
    started = []

    def run(worker: str, preload: bool, fallback: bool):
        proc, port, log, out = _gunicorn(redis_server, worker, preload, fallback, tmp_path)
        started.append((proc, out))
        _wait_up(proc, port, log)
        return port, log

    yield run
    for proc, out in started:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


WORKERS = ["sync", "gthread"]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("worker", WORKERS)
def test_without_preload_workers_use_the_cache(run_gunicorn, worker):
    port, log = run_gunicorn(worker, preload=False, fallback=False)
    counts = []
    for _ in range(6):
        status, body, took = _request(port, "/counter/")
        assert status == 200, body
        counts.append(json.loads(body)["visits"])
    assert counts == sorted(counts) and len(set(counts)) == 6
    assert "fallback" not in log.read_text()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("worker", WORKERS)
def test_preload_default_fails_fast_naming_the_fix(run_gunicorn, worker):
    port, log = run_gunicorn(worker, preload=True, fallback=False)
    for _ in range(4):
        status, body, took = _request(port, "/counter/")
        assert status == 500
        # Refused at once, no hang: only a clock shows it. A hang lasts until gunicorn kills the
        # worker (--timeout 20); the bound is half that, 10x a request on a loaded machine.
        assert took < 10.0
    text = log.read_text()
    assert "ForkedProcessError" in text
    assert "gunicorn without --preload" in text


@pytest.mark.timeout(90)
@pytest.mark.parametrize("worker", WORKERS)
def test_preload_with_fork_fallback_serves_through_redis_py(run_gunicorn, worker, raw):
    port, log = run_gunicorn(worker, preload=True, fallback=True)
    counts = []
    for _ in range(8):
        status, body, took = _request(port, "/counter/")
        assert status == 200, body
        counts.append(json.loads(body)["visits"])
    assert counts == sorted(counts) and len(set(counts)) == 8
    status, body, _ = _request(port, "/primes/100/")
    assert status == 200 and json.loads(body)["count"] == 25, body
    status, body, _ = _request(port, "/prices/")
    assert status == 200, body
    # the same storage format as the native client: the counter is a decimal int under demo:1:
    assert int(raw.command("GET", "demo:1:" + _visits_key())) == counts[-1]
    text = log.read_text()
    warnings = [line for line in text.splitlines() if "pure-Python fallback" in line]
    pids = {line.split("process ", 1)[1].split()[0] for line in warnings}
    assert 1 <= len(warnings) == len(pids) <= 2, text  # one warning per worker process
    assert "ForkedProcessError" not in text


def _uwsgi(redis_server, lazy: bool, fallback: bool, tmp_path):
    port = free_port()
    log = tmp_path / "uwsgi.log"
    args = [os.path.join(os.path.dirname(sys.executable), "uwsgi"), "--http-socket", f"127.0.0.1:{port}",
            "--module", "touch_wsgi:application", "--chdir", DEMO, "--master", "--processes", "2",
            "--enable-threads", "--die-on-term", "--need-app", "--disable-logging"]
    if lazy:
        args.append("--lazy-apps")
    env = {**os.environ, "REDIS_LOCATION": redis_server.location, "DJANGO_SETTINGS_MODULE": "demo.settings",
           "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "python"), DEMO, os.path.dirname(HOOK)]),
           "REDIS_FORK_FALLBACK": "1" if fallback else "0"}
    out = open(log, "wb")
    return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env), port, log, out


@pytest.fixture
def run_uwsgi(redis_server, tmp_path):
    started = []

    def run(lazy: bool, fallback: bool):
        proc, port, log, out = _uwsgi(redis_server, lazy, fallback, tmp_path)
        started.append((proc, out))
        _wait_up(proc, port, log)
        return port, log

    yield run
    for proc, out in started:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("lazy,fallback", [(True, False), (False, False), (False, True)],
                         ids=["lazy-apps", "forked-default", "forked-fallback"])
def test_uwsgi(run_uwsgi, lazy, fallback):
    port, log = run_uwsgi(lazy, fallback)
    statuses = []
    for _ in range(4):
        status, body, took = _request(port, "/counter/")
        statuses.append(status)
        assert took < 10.0  # no hang: only a clock shows it; 10x a request on a loaded machine
    text = log.read_text()
    if lazy or fallback:
        assert statuses == [200] * 4, text
        assert "ForkedProcessError" not in text
        assert ("pure-Python fallback" in text) == fallback
    else:
        assert statuses == [500] * 4
        assert "ForkedProcessError" in text and "lazy-apps = true" in text


def _visits_key() -> str:
    sys.path.insert(0, DEMO)
    try:
        from shop import views
    finally:
        sys.path.remove(DEMO)
    return views.VISITS_KEY


def test_fork_fallback_refuses_a_compressed_cache_clearly(make_cache):
    """The redis-py fallback cannot compress like Go does: a forked child of a cache with a
    COMPRESSOR gets ForkedProcessError naming the reason, not undecodable values."""
    cache = make_cache(options={"DB": 0, "FORK_FALLBACK": True, "COMPRESSOR": "zlib"})
    cache.set("before-fork", "x" * 100)
    child = call_in_forked_child(lambda: cache.get("before-fork"))
    assert not child.hung, "the forked child hung"
    name, message = child.error, child.message
    assert name == "ForkedProcessError", message
    assert "COMPRESSOR" in message and "after the fork" in message
    assert cache.get("before-fork") == "x" * 100


def test_fork_fallback_serves_the_cache_api_in_a_forked_child(make_cache, raw):
    """Every call of the cache API through the fallback in a forked child; the native client's
    other methods (locks, raw commands) say that the fallback does not serve them, every time."""
    cache = make_cache(options={"DB": 0, "FORK_FALLBACK": True})
    cache.set("warm", 1)  # the library is loaded: a forked child gets the pure-Python fallback

    def child() -> None:
        assert cache.set("k", "v") is True and cache.get("k") == "v" and cache.add("k", "w") is False
        assert cache.touch("k", 100) is True and 0 < cache.ttl("k") <= 100 and cache.persist("k") is True
        assert cache.has_key("k") is True and cache.set("n", 1) is True and cache.incr("n", 2) == 3
        assert cache.set_many({"a": 1, "b": 2}) == [] and cache.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
        assert cache.delete("a") is True and cache.delete_many(["b"]) is None
        assert cache.incr_version("k") == 2 and cache.get("k", version=2) == "v"
        assert cache.get_or_set("fresh", lambda: "computed", 100) == "computed"
        assert cache._client._fallback is not None, "the fallback served the calls"
        for _ in range(2):
            try:
                cache.execute_command("GET", "raw")
            except Exception as e:  # noqa: BLE001 - the class is the point
                assert type(e).__name__ == "ForkedProcessError" and "not available through FORK_FALLBACK" in str(e), e
            else:
                raise AssertionError("a raw command through the fallback")

    outcome = call_in_forked_child(child)
    assert not outcome.hung and outcome.error == "", outcome.message
    assert raw.command("GET", ":1:fresh") is not None and raw.command("GET", ":2:k") is not None


def test_the_hot_path_goes_through_no_getattr(make_cache, monkeypatch):
    """The cache API's calls reach the client through methods written out, with FORK_FALLBACK and
    fail-open too: no ``__getattr__`` (the fork fallback's or the data-structure commands')."""
    import asyncio

    from redis_cache_go import _commands, _fallback

    caches = [make_cache(options={"DB": 0, "FORK_FALLBACK": True, "IGNORE_EXCEPTIONS": True}), make_cache()]
    seen: list[str] = []
    for cls in (_fallback.ForkAware, _commands.CommandsMixin):
        original = cls.__getattr__

        def spy(self, name, original=original):
            seen.append(name)
            return original(self, name)

        monkeypatch.setattr(cls, "__getattr__", spy)

    async def async_calls(cache) -> None:
        await cache.aset("k", 1)
        await cache.aget("k")
        await cache.aget_many(["k"])
        await cache.adelete("k")

    for cache in caches:
        cache.set("k", {"v": 1})
        cache.get("k")
        cache.add("k2", 1)
        cache.touch("k", 10)
        cache.has_key("k")
        cache.set_many({"a": 1, "b": 2})
        cache.get_many(["a", "b"])
        cache.incr("a")
        cache.decr("a")
        cache.delete("a")
        cache.delete_many(["b"])
        cache.get_or_set("g", 1, 10)
        cache.ttl("k")
        cache.expire("k", 10)
        cache.persist("k")
        cache.incr_version("k")
        cache.local_cache_stats()
        asyncio.run(async_calls(cache))
        cache.clear()
    assert seen == []

"""``manage.py redis_cache`` against the harness' real redis-server: every action, its output,
its progress bar and its failures (non-zero exit, a message naming the problem)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from typing import Any, Iterator

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from redis_cache_go.management.commands.redis_cache import Command, Progress

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
B = "redis_cache_go.RedisCache"


@pytest.fixture
def setup_caches(redis_server: Any) -> Iterator[dict[str, Any]]:
    """CACHES with the session server under a few aliases (and a dead server)."""
    from redisproc import free_port

    live = f"127.0.0.1:{redis_server.port}"
    dead = f"127.0.0.1:{free_port()}"
    conf = {
        "default": {"BACKEND": B, "LOCATION": live, "KEY_PREFIX": "site", "OPTIONS": {"DB": 0}},
        "plain": {"BACKEND": B, "LOCATION": live, "KEY_PREFIX": "re", "OPTIONS": {"DB": 0}},
        "zlib": {"BACKEND": B, "LOCATION": live, "KEY_PREFIX": "re", "OPTIONS": {"DB": 0, "COMPRESSOR": "zlib"}},
        "copy": {"BACKEND": "redis_cache_go.RedisCopyCache", "LOCATION": [live, f"redis://{live}/2"], "KEY_PREFIX": "cp"},
        "half_down": {"BACKEND": "redis_cache_go.RedisCopyCache", "LOCATION": [live, dead],
                      "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "CIRCUIT_BREAKER_FAILURES": 0}},
        "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "broken": {"BACKEND": B, "LOCATION": live, "OPTIONS": {"SOCKET_TIMOUT": 1}},
    }
    with override_settings(CACHES=conf):
        yield {"live": live, "dead": dead}
        for alias in conf:
            try:
                caches[alias].close()
                if hasattr(caches[alias], "disconnect"):
                    caches[alias].disconnect()
            except Exception:
                pass


def run(*args: Any, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(Command(), *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_ping_every_server(setup_caches: dict[str, Any]) -> None:
    out, _ = run("ping", cache="copy")
    assert out.count("PONG") == 2, out
    assert f"redis {setup_caches['live']} db 1" in out and f"redis {setup_caches['live']} db 2" in out


def test_ping_fails_with_the_server_that_is_down(setup_caches: dict[str, Any]) -> None:
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"1 of 2 servers did not answer: redis " + setup_caches["dead"]):
        call_command(Command(), "ping", cache="half_down", stdout=out, stderr=io.StringIO())
    assert "PONG redis " + setup_caches["live"] in out.getvalue()
    assert "FAIL redis " + setup_caches["dead"] in out.getvalue()


def test_info_summary_and_section(setup_caches: dict[str, Any]) -> None:
    out, _ = run("info")
    assert "redis_cache_go.backend.RedisCache (CACHES['default'])" in out
    assert "KEY_PREFIX   'site'" in out
    assert "redis_version" in out and "keyspace_hits" in out
    out, _ = run("info", section="server")
    assert "# Server" in out and "redis_version:" in out


def test_stats_text_and_json(setup_caches: dict[str, Any]) -> None:
    out, _ = run("stats", cache="copy", samples=5)
    assert out.count("latency us") == 2 and "p99" in out and "pool  conns" in out
    assert "server (all clients)  keyspace_hits" in out
    out, _ = run("stats", cache="copy", samples=3, json=True)
    data = json.loads(out)
    assert [d["server"] for d in data] == [f"redis {setup_caches['live']} db 1", f"redis {setup_caches['live']} db 2"]
    for d in data:
        assert d["latency_us"]["count"] >= 3 and d["calls"]["other"] >= 3  # the PINGs
        assert {"keyspace_hits", "keyspace_misses", "total_commands_processed"} <= set(d["server_info"])


def test_stats_fails_when_a_server_is_down(setup_caches: dict[str, Any]) -> None:
    with pytest.raises(CommandError, match="some servers did not answer"):
        run("stats", cache="half_down", samples=1)


def test_delete_pattern_with_progress(setup_caches: dict[str, Any], raw: Any) -> None:
    cache = caches["default"]
    cache.set_many({f"user:{i}": i for i in range(2500)})
    cache.set_many({f"other:{i}": i for i in range(10)})
    cache.set("user:v2", 1, version=2)
    out, err = run("delete-pattern", "user:*", dry_run=True, itersize=100)
    assert "2500 keys match 'site:1:user:*' (dry run: nothing deleted)." in out
    assert raw.command("DBSIZE") == 2511
    out, err = run("delete-pattern", "user:*", interactive=False, itersize=100)
    assert "Deleted 2500 keys matching 'site:1:user:*'." in out
    assert "Counting [" in err and "Deleting [" in err and "100% 2500 keys in" in err, err
    assert err.count("Deleting [") >= 5, err  # a line per 10% when stderr is not a terminal
    assert raw.command("DBSIZE") == 11
    assert cache.get("user:v2", version=2) == 1 and cache.get("other:3") == 3


def test_delete_pattern_raw_and_key_version(setup_caches: dict[str, Any], raw: Any) -> None:
    cache = caches["default"]
    cache.set("a", 1, version=3)
    cache.set("a", 1)
    out, _ = run("delete-pattern", "a", key_version=3, interactive=False)
    assert "Deleted 1 keys matching 'site:3:a'." in out
    assert cache.get("a") == 1
    out, _ = run("delete-pattern", "site:1:*", raw=True, interactive=False)
    assert "Deleted 1 keys" in out and raw.command("DBSIZE") == 0
    out, _ = run("delete-pattern", "nothing*", interactive=False)
    assert "No keys match" in out


def test_delete_asks_and_cancels(setup_caches: dict[str, Any], raw: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    caches["default"].set("k", 1)
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda q: asked.append(q) or "no")
    with pytest.raises(CommandError, match="Cancelled"):
        run("delete-pattern", "*")
    assert asked and "Delete 1 keys matching 'site:1:*'?" in asked[0]
    assert raw.command("DBSIZE") == 1
    monkeypatch.setattr("builtins.input", lambda q: "yes")
    out, _ = run("delete-pattern", "*")
    assert "Deleted 1 keys" in out and raw.command("DBSIZE") == 0


def test_clear_version(setup_caches: dict[str, Any], raw: Any) -> None:
    cache = caches["default"]
    cache.set_many({f"k{i}": i for i in range(30)}, version=2)
    cache.set_many({f"k{i}": i for i in range(5)}, version=1)
    out, err = run("clear-version", "2", interactive=False, itersize=7)
    assert "Deleted 30 keys matching version 2 ('site:2:*')." in out
    assert cache.get_many([f"k{i}" for i in range(5)]) == {f"k{i}": i for i in range(5)}
    assert raw.command("DBSIZE") == 5
    with pytest.raises(CommandError, match="VERSION must be an integer"):
        run("clear-version", "two", interactive=False)


def test_copy_layout_deletes_on_every_server(setup_caches: dict[str, Any], raw: Any) -> None:
    cache = caches["copy"]
    cache.set_many({f"k{i}": i for i in range(20)})
    out, _ = run("delete-pattern", "k*", cache="copy", interactive=False)
    assert "Deleted 40 keys matching 'cp:1:k*' on 2 servers (each copy counted)." in out  # 20 keys, 2 copies
    assert cache.get_many([f"k{i}" for i in range(20)]) == {}


def test_reinsert_recompresses(setup_caches: dict[str, Any], raw: Any) -> None:
    caches["plain"].set_many({f"k{i}": "x" * 500 for i in range(120)})
    before = raw.command("GET", "re:1:k7")
    assert isinstance(before, bytes) and before[:1] == b"\x80"  # a plain pickle
    out, err = run("reinsert", cache="zlib", itersize=50)
    assert "Rewrote 120 of 120 values with the current compressor." in out, out
    assert "Re-encoding [" in err and "100% 120 keys in" in err
    after = raw.command("GET", "re:1:k7")
    assert isinstance(after, bytes) and after[:1] == b"\x78" and len(after) < len(before)
    assert caches["zlib"].get("k7") == "x" * 500
    out, _ = run("reinsert", cache="zlib")
    assert "Rewrote 0 of 120 values" in out  # already in the current form


@pytest.mark.parametrize("args, options, message", [
    (("ping",), {"cache": "nosuch"}, "nosuch"),
    (("ping",), {"cache": "locmem"}, "redis-cache-go backends only"),
    (("ping",), {"cache": "broken"}, r"misconfigured: .*SOCKET_TIMOUT.*manage.py check"),
    (("ping", "extra"), {}, "ping takes no arguments"),
    (("delete-pattern",), {}, "delete-pattern takes one PATTERN"),
    (("delete-pattern", "*"), {"raw": True, "key_version": 2}, "--raw and --key-version"),
    (("delete-pattern", "*"), {"itersize": 0}, "--itersize must be at least 1"),
])
def test_usage_errors(setup_caches: dict[str, Any], args: tuple[str, ...], options: dict[str, Any], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args, **options)


def test_manage_py_exit_status_and_message(setup_caches: dict[str, Any], tmp_path: Any) -> None:
    """Through `manage.py` (django-admin): found by name via INSTALLED_APPS; a failure exits 1 with
    the message on stderr; success exits 0."""
    (tmp_path / "cmd_settings.py").write_text(
        "SECRET_KEY = 'x'\nINSTALLED_APPS = ['redis_cache_go']\nUSE_TZ = True\n"
        f"CACHES = {{'default': {{'BACKEND': '{B}', 'LOCATION': '{setup_caches['live']}'}},\n"
        f"          'down': {{'BACKEND': '{B}', 'LOCATION': '{setup_caches['dead']}'}}}}\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), str(tmp_path)]),
               DJANGO_SETTINGS_MODULE="cmd_settings")
    ok = subprocess.run([sys.executable, "-m", "django", "redis_cache", "ping"], capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0 and "PONG" in ok.stdout, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "django", "redis_cache", "ping", "--cache", "down"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 1
    assert f"CommandError: 1 of 1 servers did not answer: redis {setup_caches['dead']} db 1" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr


def test_progress_on_a_terminal_redraws_one_line() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    p = Progress(stream, "Deleting", 10)
    p.last -= 1  # as if the last redraw was a second ago
    p.add(5)
    p.finish()
    text = stream.getvalue()
    assert text.startswith("\rDeleting [") and " 50% 5/10 keys" in text
    assert text.endswith("100% 5 keys in 0.0s\x1b[K\n")
    assert "\n" not in text[:-1]  # redrawn in place: one line


def test_ping_failure_names_the_server_once(setup_caches: dict[str, Any]) -> None:
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command(Command(), "ping", cache="half_down", stdout=out, stderr=io.StringIO())
    fail = [line for line in out.getvalue().splitlines() if line.startswith("FAIL")]
    assert len(fail) == 1 and fail[0].count(f"redis {setup_caches['dead']} db 1") == 1, fail
    assert "connection" in fail[0]  # the reason is still there


def test_stats_failure_names_the_server_once(setup_caches: dict[str, Any]) -> None:
    with pytest.raises(CommandError) as info:
        run("stats", cache="half_down", samples=1)
    for part in str(info.value).split("; "):
        assert part.count(f"redis {setup_caches['dead']} db 1") == 1, str(info.value)


def test_interrupted_delete_says_what_was_deleted_and_exits_130(setup_caches: dict[str, Any], raw: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C between two SCAN steps: the keys of the finished steps are gone, the message says how
    many (at least; the step in flight may have deleted more), and the status is 130."""
    cache = caches["default"]
    cache.set_many({f"user:{i}": i for i in range(300)})
    steps = {"n": 0}
    original = Progress.add

    def add(self: Progress, n: int) -> None:
        original(self, n)
        if self.label == "Deleting":
            steps["n"] += 1
            if steps["n"] == 3:
                raise KeyboardInterrupt

    monkeypatch.setattr(Progress, "add", add)
    try:
        run("delete-pattern", "user:*", interactive=False, itersize=50)
    except CommandError as e:
        error = e
    except KeyboardInterrupt:
        pytest.fail("the interrupt escaped the command (a traceback, and nothing said about what was deleted)")
    else:
        pytest.fail("the interrupted command reported success")
    left = raw.command("DBSIZE")
    assert isinstance(left, int) and 0 < left < 300
    assert error.returncode == 130
    message = str(error)
    assert "Interrupted" in message and f"at least {300 - left} keys" in message, message
    assert "'site:1:user:*'" in message


def test_ctrl_c_at_the_confirmation_exits_130_without_a_traceback(setup_caches: dict[str, Any], tmp_path: Any,
                                                                   raw: Any) -> None:
    """Through manage.py: Ctrl-C while the command waits for 'yes' (KeyboardInterrupt from input(),
    raised at that point deterministically) ends it with status 130, a one-line message and
    nothing deleted."""
    caches["default"].set("k", 1)
    (tmp_path / "int_settings.py").write_text(
        "SECRET_KEY = 'x'\nINSTALLED_APPS = ['redis_cache_go']\nUSE_TZ = True\n"
        f"CACHES = {{'default': {{'BACKEND': '{B}', 'LOCATION': '{setup_caches['live']}', 'KEY_PREFIX': 'site',"
        " 'OPTIONS': {'DB': 0}}}\n")
    code = ("import builtins, sys\n"
            "def ctrl_c(prompt=''):\n"
            "    sys.stdout.write(prompt)\n"
            "    raise KeyboardInterrupt\n"
            "builtins.input = ctrl_c\n"
            "from django.core.management import execute_from_command_line\n"
            "execute_from_command_line(['manage.py', 'redis_cache', 'delete-pattern', '*'])\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), str(tmp_path)]),
               DJANGO_SETTINGS_MODULE="int_settings")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert "Type 'yes'" in done.stdout, done.stdout
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "nothing was deleted" in done.stderr, done.stderr
    assert raw.command("DBSIZE") == 1

"""System checks (redis_cache_go.checks): each deliberate misconfiguration is reported with its id.

The bar test runs ``manage.py check`` (``python -m django check``) in a fresh process on
tests/python/checks_project/bad_settings.py, where every CACHES alias is named after the id it must
trigger, with ``redis_cache_go`` in INSTALLED_APPS (so the AppConfig registers the checks). The
in-process tests call the check functions under ``override_settings`` for the cases a settings
module cannot express (redis-py missing, a deploy-only reachability check against a real server).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest
from django.core import checks as django_checks
from django.test import override_settings

from redis_cache_go import checks

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
B = "redis_cache_go.RedisCache"


def manage_check(settings_module: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), HERE]))
    return subprocess.run([sys.executable, "-m", "django", "check", f"--settings={settings_module}", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_manage_py_check_reports_each_misconfiguration_with_its_id() -> None:
    from checks_project import bad_settings

    done = manage_check("checks_project.bad_settings")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out  # errors make `check` fail
    assert "Traceback" not in out, out
    # "CACHES['E001']: (redis_cache_go.E001) ..." - the alias (named after its id) is the object
    found = set(re.findall(r"CACHES\['(\w+)'\]: \(redis_cache_go\.(\w+)\)", out))
    expected = {(alias, alias.rstrip("ab")) for alias in bad_settings.CACHES if alias != "default" and alias != "W002a"}
    assert expected <= found, f"missing: {sorted(expected - found)}\n{out}"
    assert {alias for alias, _ in found} == {a for a, _ in expected}, f"unexpected reports: {sorted(found - expected)}\n{out}"
    assert "HINT: Check the spelling" in out
    assert "did you mean 'SOCKET_TIMEOUT'?" in out


def test_manage_py_check_is_clean_for_good_settings_and_loads_nothing() -> None:
    done = manage_check("checks_project.good_settings")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "redis_cache_go" not in done.stdout + done.stderr


def test_importing_the_app_config_and_checks_loads_no_library() -> None:
    code = ("import sys, redis_cache_go.apps, redis_cache_go.checks, redis_cache_go._native as n; "
            "assert n._lib is None; print('ok')")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_running_the_checks_loads_no_library_and_connects_nowhere() -> None:
    code = ("import django; from django.conf import settings; "
            "settings.configure(INSTALLED_APPS=['redis_cache_go'], CACHES={"
            "'default': {'BACKEND': 'redis_cache_go.RedisCache', 'LOCATION': '127.0.0.1:9', 'OPTIONS': {'FORK_FALLBACK': True}},"
            "'s': {'BACKEND': 'redis_cache_go.ShardedRedisCache', 'LOCATION': ['10.255.255.1:6379', '127.0.0.1:9'],"
            " 'KEY_PREFIX': 's', 'OPTIONS': {'COMPRESSOR': 'zstd', 'IGNORE_EXCEPTIONS': True}}}); django.setup(); "
            "from django.core import checks; found = checks.run_checks(); "
            "import redis_cache_go._native as n; assert n._lib is None, 'library loaded'; "
            "print([m.id for m in found])")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def run(caches: dict[str, Any], deploy: bool = False) -> list[django_checks.CheckMessage]:
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, **caches}):
        found = checks.check_caches()
        if deploy:
            found += checks.check_servers_reachable()
        return found


def ids(messages: list[django_checks.CheckMessage]) -> list[str]:
    return [m.id for m in messages]


@pytest.mark.parametrize("options, location, want", [
    ({"PICKLE_VERSION": 99}, "127.0.0.1:6379", "redis_cache_go.E005"),
    ({"COMPRESSOR": "zlib", "COMPRESSOR_LEVEL": 42}, "127.0.0.1:6379", "redis_cache_go.E006"),
    ({"SOCKET_CONNECT_TIMEOUT": "soon"}, "127.0.0.1:6379", "redis_cache_go.E007"),
    ({"CIRCUIT_BREAKER_COOLDOWN": 0}, "127.0.0.1:6379", "redis_cache_go.E007"),
    ({}, "redis://127.0.0.1:6379/0?socket_timeout=-3", "redis_cache_go.E007"),
    ({"SSL_CERT_REQS": "maybe"}, "rediss://127.0.0.1:6379", "redis_cache_go.E008"),
    ({"CLUSTER": "yes"}, "127.0.0.1:6379", "redis_cache_go.E009"),
    ({"HASH_RING": "md5"}, "127.0.0.1:6379", "redis_cache_go.E004"),
    ({}, "ftp://127.0.0.1", "redis_cache_go.E003"),
    ({}, [], "redis_cache_go.E003"),
    ({"IGNORE_EXCEPTIONS": "yes"}, "127.0.0.1:6379", "redis_cache_go.E011"),
])
def test_each_kind_of_setting_error_gets_its_id(options: dict[str, Any], location: Any, want: str) -> None:
    found = run({"bad": {"BACKEND": B, "LOCATION": location, "OPTIONS": options}})
    assert ids(found) == [want], [str(m) for m in found]
    assert found[0].obj == "CACHES['bad']"
    assert found[0].hint == checks.IDS[want][1]
    assert found[0].is_serious() and want.split(".")[1].startswith("E")


def test_weights_that_do_not_match_location() -> None:
    found = run({"bad": {"BACKEND": "redis_cache_go.ShardedRedisCache", "LOCATION": ["127.0.0.1:6379", "127.0.0.1:6380"],
                         "OPTIONS": {"WEIGHTS": [1, 2, 3]}}})
    assert ids(found) == ["redis_cache_go.E004"]
    assert "3 weights for 2 LOCATION entries" in found[0].msg


def test_fork_fallback_without_redis_py(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis -> ImportError
    found = run({"ff": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", "OPTIONS": {"FORK_FALLBACK": True}}})
    assert ids(found) == ["redis_cache_go.E012"]


@pytest.mark.parametrize("location, options", [
    ("redis://mymaster/0", {"SENTINELS": ["127.0.0.1:26379"], "SENTINEL_SERVICE": "mymaster"}),
    ("redis+cluster://127.0.0.1:7000", {}),
], ids=["sentinel", "cluster"])
def test_fork_fallback_with_a_sentinel_or_cluster_is_a_warning(location: str, options: dict[str, Any]) -> None:
    """The fallback would connect to the LOCATION's host name (a Sentinel service name): it
    refuses those deployments in a forked child, and the check says so beforehand."""
    found = run({"ff": {"BACKEND": B, "LOCATION": location, "OPTIONS": {"FORK_FALLBACK": True, **options}}})
    assert ids(found) == ["redis_cache_go.W003"]
    assert "FORK_FALLBACK" in found[0].msg and "deployment" in found[0].msg


def test_fork_fallback_primary_replica_is_fine() -> None:
    found = run({"ff": {"BACKEND": B, "LOCATION": ["127.0.0.1:6379", "127.0.0.1:6380"], "OPTIONS": {"FORK_FALLBACK": True}}})
    assert found == []


def test_a_backend_that_is_not_ours_is_left_alone() -> None:
    found = run({"other": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x:notaport",
                           "OPTIONS": {"SOCKET_TIMOUT": 1}}})
    assert found == []


def test_the_same_server_under_different_prefixes_is_fine() -> None:
    found = run({"a": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", "KEY_PREFIX": "a"},
                 "b": {"BACKEND": B, "LOCATION": "redis://127.0.0.1:6379/1", "KEY_PREFIX": "b"},
                 "c": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", "KEY_PREFIX": "a", "OPTIONS": {"DB": 2}}})
    assert found == []


def test_deploy_check_pings_every_server(redis_server: Any) -> None:
    dead = f"127.0.0.1:{_closed_port()}"
    caches = {
        "up": {"BACKEND": B, "LOCATION": f"127.0.0.1:{redis_server.port}", "KEY_PREFIX": "up"},
        "down": {"BACKEND": "redis_cache_go.RedisCopyCache", "LOCATION": [f"127.0.0.1:{redis_server.port}", dead],
                 "KEY_PREFIX": "down", "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1}},
    }
    assert run(caches) == []  # the non-deploy checks never connect
    found = run(caches, deploy=True)
    assert ids(found) == ["redis_cache_go.W005"], [str(m) for m in found]
    assert found[0].obj == "CACHES['down']" and dead in found[0].msg


def test_django_cache_checks_survive_a_misconfigured_cache_of_ours() -> None:
    checks.register()
    checks.register()  # idempotent
    caches = {"bad": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", "OPTIONS": {"SOCKET_TIMOUT": 1}},
              "files": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "relative/dir"}}
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, **caches}):
        found = django_checks.run_checks(tags=[django_checks.Tags.caches])
        from django.core.cache import caches as handler
        with pytest.raises(Exception, match="SOCKET_TIMOUT"):
            handler["bad"]  # the stand-in lived only while Django's checks ran
    got = ids(found)
    assert "redis_cache_go.E001" in got and "caches.W003" in got, [str(m) for m in found]
    shielded = [c for c in django_checks.registry.registry.registered_checks if c.__name__ == "check_file_based_cache_is_absolute"]
    assert len(shielded) == 1 and shielded[0].__module__ == "redis_cache_go.checks"


def test_every_id_is_documented_in_the_readme() -> None:
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    section = readme.split("## System checks", 1)[1].split("\n## ", 1)[0]
    for code in checks.IDS:
        assert f"`{code}`" in section, f"{code} is not in the README's System checks table"


def _closed_port() -> int:
    from redisproc import free_port

    return int(free_port())


# ------------------------------------------------------------------ top-level keys nothing reads

@pytest.mark.parametrize("key, value, says", [
    ("TIMOUT", 60, "did you mean 'TIMEOUT'?"),
    ("KEY_PREFX", "site", "did you mean 'KEY_PREFIX'?"),
    ("timeout", 60, "did you mean 'TIMEOUT'?"),
    ("VERSOIN", 2, "did you mean 'VERSION'?"),
    ("KEYFUNCTION", "my.func", "did you mean 'KEY_FUNCTION'?"),
    ("FROBNICATE", 1, "not read by Django or redis-cache-go"),
])
def test_a_misspelt_top_level_key_warns_with_a_did_you_mean(key: str, value: Any, says: str) -> None:
    found = run({"t": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", key: value}})
    assert ids(found) == ["redis_cache_go.W007"], [str(m) for m in found]
    assert f"{key!r}" in found[0].msg and says in found[0].msg, found[0].msg
    assert found[0].obj == "CACHES['t']" and not found[0].is_serious()


def test_kidoredis_top_level_db_says_where_it_belongs() -> None:
    found = run({"k": {"BACKEND": "redis_cache_go.ShardedRedisCache", "LOCATION": ["127.0.0.1:6379", "127.0.0.1:6380"],
                       "DB": 0, "OPTIONS": {"HASH_RING": "kidoredis"}}})
    assert ids(found) == ["redis_cache_go.W007"], [str(m) for m in found]
    text = found[0].msg + " " + str(found[0].hint)
    assert "django-kidoredis" in text and "'OPTIONS': {'DB': 0}" in found[0].hint, text
    assert "database 1" in found[0].msg, found[0].msg  # what the cache uses meanwhile


@pytest.mark.parametrize("key", ["PASSWORD", "SOCKET_TIMEOUT", "CLIENT_CLASS"])
def test_an_options_key_at_the_top_level_says_it_belongs_in_options(key: str) -> None:
    found = run({"o": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", key: "x-value"}})
    assert ids(found) == ["redis_cache_go.W007"], [str(m) for m in found]
    assert f"'OPTIONS': {{{key!r}: ...}}" in str(found[0].hint), found[0].hint
    assert "x-value" not in found[0].msg + str(found[0].hint)


def test_known_top_level_keys_are_quiet() -> None:
    found = run({"q": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", "TIMEOUT": 60, "KEY_PREFIX": "q", "VERSION": 2,
                       "KEY_FUNCTION": "django.core.cache.backends.base.default_key_func", "OPTIONS": {}, "db": 3}})
    assert found == []


def test_a_top_level_typo_is_logged_once_at_construction(caplog: pytest.LogCaptureFixture) -> None:
    """Without `manage.py check` (a gunicorn worker), the typo still does not pass silently."""
    import logging

    from redis_cache_go import RedisCache, _compat

    _compat.reset_warnings()
    with caplog.at_level(logging.WARNING, logger="redis_cache_go"):
        for _ in range(3):
            RedisCache("127.0.0.1:6379", {"TIMOUT": 60})
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "'TIMOUT'" in lines[0] and "did you mean 'TIMEOUT'?" in lines[0], lines


# ------------------------------------------------------------------ warnings: once, named as written

def test_manage_py_check_prints_each_ignored_setting_once_named_as_written(tmp_path: Any) -> None:
    (tmp_path / "once_settings.py").write_text(
        "SECRET_KEY = 'x'\nINSTALLED_APPS = ['redis_cache_go']\nUSE_TZ = True\n"
        "CACHES = {'default': {'BACKEND': 'redis_cache_go.RedisCache', 'LOCATION': 'redis://127.0.0.1:6379/0',\n"
        "  'OPTIONS': {'CLIENT_CLASS': 'django_redis.client.DefaultClient', 'CLOSE_CONNECTION': True,\n"
        "              'CONNECTION_POOL_KWARGS': {'retry_on_timeout': True}}}}\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), str(tmp_path)]))
    for _ in range(2):  # whichever of Django's and our checks builds the cache first
        done = subprocess.run([sys.executable, "-m", "django", "check", "--settings=once_settings"],
                              capture_output=True, text=True, env=env, timeout=60)
        out = done.stdout + done.stderr
        assert done.returncode == 0, out
        assert out.count("retry_on_timeout") == 1 and out.count("CLOSE_CONNECTION") == 1, out
        assert "OPTIONS['CONNECTION_POOL_KWARGS']['retry_on_timeout'] ignored" in out, out
        assert "CONNECTION_POOL_CLASS_KWARGS" not in out, out


def test_djangos_cache_checks_build_our_entries_without_logging(caplog: pytest.LogCaptureFixture) -> None:
    """Django's own cache checks build every entry too: their build logs nothing (ours reports it),
    so `check` says each warning once whichever of the two runs first."""
    import logging

    from redis_cache_go import _compat

    _compat.reset_warnings()
    checks.register()
    shielded = [c for c in django_checks.registry.registry.registered_checks
                if c.__name__ == "check_file_based_cache_is_absolute" and c.__module__ == "redis_cache_go.checks"]
    conf = {"w": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", "TIMOUT": 3,
                  "OPTIONS": {"CONNECTION_POOL_CLASS_KWARGS": {"retry_on_timeout": True}}}}
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, **conf}):
        with caplog.at_level(logging.WARNING, logger="redis_cache_go"):
            assert len(shielded) == 1 and shielded[0]() == []
            from django.core.cache import caches as handler
            handler["w"]  # built by Django's check: not logged again either
            found = checks.check_caches()
    assert caplog.records == [], caplog.text
    assert sorted(ids(found)) == ["redis_cache_go.W004", "redis_cache_go.W007"], [str(m) for m in found]


def test_checks_report_ignored_settings_every_time_they_run() -> None:
    """Warnings are logged once per process, but every run of the checks reports them."""
    conf = {"w": {"BACKEND": B, "LOCATION": "127.0.0.1:6379", "OPTIONS": {"CONNECTION_POOL_CLASS_KWARGS": {"retry_on_timeout": True}}}}
    assert ids(run(conf)) == ["redis_cache_go.W004"]
    assert ids(run(conf)) == ["redis_cache_go.W004"]


@pytest.mark.parametrize("options, want", [
    ({"CLIENT_CLASS": "django_redis.client.DefaultClient", "CONNECTION_POOL_KWARGS": {"ssl_cert_reqs": "maybe"}}, "redis_cache_go.E008"),
    ({"ssl_cert_reqs": "maybe"}, "redis_cache_go.E008"),
    ({"socket_timeout": -1}, "redis_cache_go.E007"),
])
def test_translated_keys_keep_their_check_id(options: dict[str, Any], want: str) -> None:
    found = run({"bad": {"BACKEND": B, "LOCATION": "rediss://127.0.0.1:6379/0", "OPTIONS": options}})
    assert ids(found) == [want], [str(m) for m in found]


def test_hints_point_at_documentation_that_exists() -> None:
    """A hint says what to do itself, or names a README section that is there: the README is what
    an installed user has (the package index shows it); docs/ is in the source tree and the sdist
    only, so no hint names it (nor a README "settings reference" that lives in docs/)."""
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    for code, (_, hint) in checks.IDS.items():
        for section in re.findall(r"README section '([^']+)'", hint):
            assert f"\n## {section}\n" in readme or f"\n### {section}\n" in readme, (code, section)
        assert "docs/" not in hint and ".md" not in hint, (code, hint)
        assert "README" not in hint or "README section '" in hint, (code, hint)


def test_the_deploy_check_hint_does_not_promise_retries() -> None:
    """`manage.py redis_cache ping` sends one PING per server; it does not retry."""
    hint = checks.IDS["redis_cache_go.W005"][1]
    assert "retr" not in hint and "redis_cache ping" in hint

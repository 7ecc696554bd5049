"""``manage.py redis_cache copy`` between layouts on real servers: one server to a 3-server ring, a
ring to a 6-node Cluster, a ring growing in place with --delete-moved, re-runs that write nothing,
interruption (Ctrl-C, --max-batches, a killed process) and resumption, and its failures."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Iterator

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from redis_cache_go import _native_ext
from redis_cache_go.management.commands.redis_cache import Command
from redisproc import RedisServer, free_port
from topology import RedisCluster
from topology_raw import cluster_raw

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RING = "redis_cache_go.ShardedRedisCache"
ONE = "redis_cache_go.RedisCache"
PASSWORD = "copy-secret-pw"


@pytest.fixture(scope="module")
def servers() -> Iterator[list[RedisServer]]:
    started = [RedisServer().start() for _ in range(5)]
    yield started
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    c = RedisCluster().start()
    yield c
    c.stop()


def _conf(servers: list[RedisServer], cluster: RedisCluster | None = None) -> dict[str, Any]:
    loc = [s.location for s in servers]
    opts = {"DB": 0}
    conf: dict[str, Any] = {
        "one": {"BACKEND": ONE, "LOCATION": loc[4], "KEY_PREFIX": "site", "OPTIONS": opts},
        "ring3": {"BACKEND": RING, "LOCATION": loc[:3], "KEY_PREFIX": "site", "OPTIONS": opts},
        "ring4": {"BACKEND": RING, "LOCATION": loc[:4], "KEY_PREFIX": "site", "OPTIONS": opts},
        "dead": {"BACKEND": ONE, "LOCATION": f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0", "KEY_PREFIX": "site",
                 "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1}},
    }
    if cluster is not None:
        conf["cluster"] = {"BACKEND": ONE, "LOCATION": cluster.location, "KEY_PREFIX": "site",
                           "OPTIONS": {"CLUSTER": True}}
    return conf


@pytest.fixture
def setup(servers: list[RedisServer], tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.chdir(tmp_path)  # the default state file goes to the working directory
    for s in servers:
        s.command("FLUSHALL")
    conf = _conf(servers)
    with override_settings(CACHES=conf):
        yield conf
        for alias in conf:
            caches[alias].close()


@pytest.fixture
def with_cluster(setup: dict[str, Any], servers: list[RedisServer], cluster: RedisCluster) -> Iterator[dict[str, Any]]:
    for n in cluster.primaries():
        n.command("FLUSHALL")
    conf = _conf(servers, cluster)
    with override_settings(CACHES=conf):
        yield conf
        caches["cluster"].close()


def run(*args: Any, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(Command(), "copy", *args, stdout=out, stderr=err, interactive=False, **options)
    return out.getvalue(), err.getvalue()


def value(i: int) -> Any:
    """Mixed values: small ints, dicts (pickled), 2-20 KB strings."""
    return [i, {"n": i, "tags": ["a", "b"]}, "x" * (2000 + (i * 37) % 18000)][i % 3]


def fill(alias: str, n: int) -> list[str]:
    cache = caches[alias]
    keys = [f"key-{i}" for i in range(n)]
    for start in range(0, n, 500):
        part = keys[start:start + 500]
        cache.set_many({k: value(int(k[4:])) for k in part if int(k[4:]) % 2}, timeout=None)
        cache.set_many({k: value(int(k[4:])) for k in part if not int(k[4:]) % 2}, timeout=3600)
    return keys


def assert_copied(src: str, dst: str, keys: list[str]) -> None:
    """Every key reads back through the destination's routing with its value, and its remaining TTL
    is the source's within 1 s (-1: none)."""
    s, d = caches[src], caches[dst]
    got = d.get_many(keys)
    assert len(got) == len(keys), f"{len(keys) - len(got)} keys missing at the destination"
    for k in keys:
        assert got[k] == value(int(k[4:])), k
    for k in keys[:: max(1, len(keys) // 200)]:
        raw_key = s.make_key(k)
        src_ms = s.execute_command("PTTL", raw_key)
        dst_ms = d.execute_command("PTTL", raw_key)
        if int(k[4:]) % 2:
            assert src_ms == dst_ms == -1, k
        else:
            assert 0 < dst_ms and abs(dst_ms - src_ms) <= 1000, (k, src_ms, dst_ms)


def changes(nodes: list[RedisServer]) -> list[int]:
    """Each server's count of writes (INFO persistence: rdb_changes_since_last_save)."""
    out = []
    for n in nodes:
        info = n.command("INFO", "persistence")
        text = info.decode() if isinstance(info, bytes) else str(info)
        out.append(int(text.split("rdb_changes_since_last_save:")[1].split()[0]))
    return out


def test_one_server_to_a_ring_then_a_rerun_writes_nothing(setup: dict[str, Any], servers: list[RedisServer]) -> None:
    keys = fill("one", 3000)
    servers[4].command("SET", "other:1:x", "not in the key space")
    servers[4].command("HSET", "site:1:hash", "f", "v")  # another type: RESTORE copies it too
    out, err = run(**{"from": "one", "to": "ring3"})
    assert "3001 scanned, 0 skipped (same server), 3001 copied, 0 already there, 0 expired, 0 failed" in out, out
    assert "Counting" in err and "Copying" in err
    assert_copied("one", "ring3", keys)
    owner = servers[caches["ring3"].server_index("site:1:hash")]
    assert owner.command("HGET", "site:1:hash", "f") == b"v"
    assert all(s.command("EXISTS", "other:1:x") == 0 for s in servers[:3])
    assert not os.path.exists("redis_cache_copy.one.ring3.json"), "the state file of a finished copy stays"
    before = changes(servers[:3])
    out, _ = run(**{"from": "one", "to": "ring3"})
    assert "3001 scanned, 0 skipped (same server), 0 copied, 3001 already there" in out, out
    assert changes(servers[:3]) == before, "a re-run wrote to the destination"
    out, _ = run(**{"from": "one", "to": "ring3", "all_keys": True, "dry_run": True})
    assert out.startswith("3002 keys matching '*'"), out


def test_ring_to_cluster_interrupted_and_resumed(with_cluster: dict[str, Any], servers: list[RedisServer],
                                                 cluster: RedisCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = fill("ring3", 6000)
    real = _native_ext.Client.copy_step
    calls = {"n": 0}

    def ctrl_c_at_the_third_batch(self: Any, dst: Any, request: dict[str, Any]) -> dict[str, Any]:
        if not request["count_only"]:
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt
        return real(self, dst, request)

    monkeypatch.setattr(_native_ext.Client, "copy_step", ctrl_c_at_the_third_batch)
    with pytest.raises(CommandError, match="Interrupted: so far") as e:
        run(**{"from": "ring3", "to": "cluster", "itersize": 300})
    assert e.value.returncode == 130
    state = json.load(open("redis_cache_copy.ring3.cluster.json"))
    first = state["counts"]
    assert 0 < first["copied"] == first["scanned"] < 6000 and len(state["state"]["cursors"]) == 3
    assert f"so far {first['scanned']} scanned" in str(e.value)
    assert sum(n.command("DBSIZE") for n in cluster.primaries()) == first["copied"]
    monkeypatch.setattr(_native_ext.Client, "copy_step", real)
    out, _ = run(**{"from": "ring3", "to": "cluster", "max_batches": 2, "itersize": 300})
    second = json.load(open("redis_cache_copy.ring3.cluster.json"))["counts"]
    assert "Stopped after 2 batches" in out and f"{second['scanned']} scanned" in out, out
    assert first["copied"] < second["copied"] < 6000
    out, _ = run(**{"from": "ring3", "to": "cluster", "itersize": 300})
    assert "Resuming the copy" in out and "6000 scanned" in out and "6000 copied, 0 already there" in out, out
    assert_copied("ring3", "cluster", keys)
    raw = cluster_raw(cluster)
    assert sum(n.command("DBSIZE") for n in cluster.primaries()) == 6000
    assert raw.command("EXISTS", caches["ring3"].make_key("key-5")) == 1
    before = changes(cluster.primaries())
    out, _ = run(**{"from": "ring3", "to": "cluster"})
    assert "0 copied, 6000 already there" in out, out
    assert changes(cluster.primaries()) == before


def test_ring_grows_in_place_with_delete_moved(setup: dict[str, Any], servers: list[RedisServer]) -> None:
    keys = fill("ring3", 4000)
    ring3, ring4 = caches["ring3"], caches["ring4"]
    moving = [k for k in keys if ring3.server_index(ring3.make_key(k)) != ring4.server_index(ring4.make_key(k))]
    assert 0 < len(moving) < len(keys)
    ttl_before = {k: ring3.execute_command("PTTL", ring3.make_key(k)) for k in moving[:100]}
    out, _ = run(**{"from": "ring3", "to": "ring4", "delete_moved": True})
    stay = len(keys) - len(moving)
    assert (f"4000 scanned, {stay} skipped (same server), {len(moving)} copied, 0 already there, 0 expired, 0 failed, "
            f"{len(moving)} deleted from their old server, 0 left there") in out, out
    got = ring4.get_many(keys)
    assert len(got) == len(keys) and all(got[k] == value(int(k[4:])) for k in keys)
    for k in keys[::20]:
        raw_key = ring4.make_key(k)
        where = [i for i, s in enumerate(servers[:4]) if s.command("EXISTS", raw_key) == 1]
        assert where == [ring4.server_index(raw_key)], (k, where)
    for k, ms in ttl_before.items():
        now = ring4.execute_command("PTTL", ring4.make_key(k))
        assert (ms == now == -1) or (0 < now <= ms), (k, ms, now)
    out, _ = run(**{"from": "ring3", "to": "ring4", "delete_moved": True})
    assert f"{stay} scanned, {stay} skipped (same server), 0 copied" in out, out


def test_a_killed_copy_resumes(setup: dict[str, Any], servers: list[RedisServer], tmp_path: Any) -> None:
    """The command in its own process, SIGKILLed after its third batch (a test settings module holds
    it there until the kill); the same command run again completes the copy."""
    keys = fill("one", 2000)
    (tmp_path / "copy_settings.py").write_text(
        "import os\nSECRET_KEY = 'x'\nINSTALLED_APPS = ['redis_cache_go']\nUSE_TZ = True\n"
        f"CACHES = {dict(_conf(servers), default=_conf(servers)['one'])!r}\n"
        "from redis_cache_go import _native_ext\n"
        "import threading\n"
        "_real, _n = _native_ext.Client.copy_step, [0]\n"
        "def _step(self, dst, request):\n"
        "    if not request['count_only']:\n"
        "        _n[0] += 1\n"
        "        if _n[0] == 4:\n"
        "            open('reached', 'w').close()\n"
        "            threading.Event().wait()  # until killed\n"
        "    return _real(self, dst, request)\n"
        "_native_ext.Client.copy_step = _step\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), str(tmp_path)]),
               DJANGO_SETTINGS_MODULE="copy_settings")
    proc = subprocess.Popen([sys.executable, "-m", "django", "redis_cache", "copy", "--from", "one", "--to", "ring3",
                             "--itersize", "200", "--noinput"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "reached").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the copy never reached its fourth batch"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    state = json.load(open(tmp_path / "redis_cache_copy.one.ring3.json"))
    assert 0 < state["counts"]["copied"] < 2000
    assert sum(s.command("DBSIZE") for s in servers[:3]) == state["counts"]["copied"]
    out, _ = run(**{"from": "one", "to": "ring3", "itersize": 200})
    assert "Resuming" in out and "2000 scanned" in out and "2000 copied, 0 already there" in out, out
    assert_copied("one", "ring3", keys)


def test_unreachable_destination_names_it_without_the_password(setup: dict[str, Any], servers: list[RedisServer]) -> None:
    fill("one", 10)
    dead = caches["dead"]._describe
    with pytest.raises(CommandError) as e:
        run(**{"from": "one", "to": "dead"})
    msg = str(e.value)
    assert "connection error" in msg and dead.split(" db")[0] in msg and "resume" in msg, msg
    assert PASSWORD not in msg


def test_usage_errors_and_a_foreign_state_file(setup: dict[str, Any], tmp_path: Any) -> None:
    with pytest.raises(CommandError, match="copy needs --from ALIAS and --to ALIAS"):
        run(**{"from": "one"})
    with pytest.raises(CommandError, match="name the same cache"):
        run(**{"from": "one", "to": "one"})
    with pytest.raises(CommandError, match="at most 10000"):
        run(**{"from": "one", "to": "ring3", "itersize": 10001})
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 1, "copy": {"from": "x", "to": "y", "pattern": "*"}, "state": {}, "counts": {}}))
    with pytest.raises(CommandError, match="belongs to another copy"):
        run(**{"from": "one", "to": "ring3", "state": str(path)})
    fill("one", 100)
    out, _ = run(**{"from": "one", "to": "ring3", "itersize": 10, "max_batches": 1})
    assert "Stopped after 1 batches" in out
    with pytest.raises(CommandError, match="delete_moved False there, True here"):
        run(**{"from": "one", "to": "ring3", "delete_moved": True})
    path.write_text("{not json")
    with pytest.raises(CommandError, match="cannot read the state file"):
        run(**{"from": "one", "to": "ring3", "state": str(path)})


def test_refused_payloads_fall_back_to_get_set_and_other_types_fail(setup: dict[str, Any],
                                                                    servers: list[RedisServer], tmp_path: Any) -> None:
    """A destination known to refuse RESTORE payloads (as Redis 7 refuses Valkey 8's; recorded in
    the state file as a run that met the refusal would have): strings go by GET/SET NX PX, a list
    is named as not copied and the command fails."""
    one, ring3 = caches["one"], caches["ring3"]
    one.set("text", "hello", timeout=900)
    one.set("forever", 12, timeout=None)
    servers[4].command("RPUSH", one.make_key("queue"), "job")
    ring3.set("forever", 99, timeout=None)  # the destination's own value stays
    path = tmp_path / "refused.json"
    identity = {"from": "one", "to": "ring3", "from_servers": one._describe, "to_servers": ring3._describe,
                "pattern": "site:*:*", "delete_moved": False}
    path.write_text(json.dumps({"version": 1, "copy": identity, "counts": {},
                                "state": {"cursors": [0], "done": [False], "refused": [0, 1, 2]}}))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="1 keys were not copied") as e:
        call_command(Command(), "copy", stdout=out, stderr=err, interactive=False, state=str(path),
                     **{"from": "one", "to": "ring3"})
    assert "3 scanned, 0 skipped (same server), 1 copied (1 with GET/SET: RESTORE refused), 1 already there" in str(e.value)
    assert "not copied: 'site:1:queue'" in err.getvalue() and "a list cannot be copied" in err.getvalue(), err.getvalue()
    assert ring3.get("text") == "hello" and ring3.get("forever") == 99
    assert 899_000 < ring3.pttl("text") <= 900_000


def test_the_c_boundary_refuses_bad_requests_and_handles(setup: dict[str, Any]) -> None:
    from redis_cache_go import _native

    src, dst = caches["one"]._client, caches["ring3"]._client
    src.ping()
    dst.ping()
    lib, s = _native.library(), _native._scratch
    assert lib.rcg_copy_step(src._handle, s.vptr, dst._handle, b"{not json", 9) == -6  # RCG_ERR_ARGUMENT
    assert "not valid JSON" in _native._take(lib, s).decode()
    assert lib.rcg_copy_step(src._handle, s.vptr, 987654321, b"{}", 2) == -7  # RCG_ERR_CLOSED
    bad = b'{"count": 10001}'
    assert lib.rcg_copy_step(src._handle, s.vptr, dst._handle, bad, len(bad)) == -6
    assert "MaxCount" in _native._take(lib, s).decode()
    bad = b'{"state": {"cursors": [0, 0], "done": [false, false]}}'
    assert lib.rcg_copy_step(src._handle, s.vptr, dst._handle, bad, len(bad)) == -6
    assert src.copy_step(dst, {"count_only": True, "state": {}})["finished"] is True

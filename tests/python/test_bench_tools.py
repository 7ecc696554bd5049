"""The bench's own tools (bench/floor.py, bench/bars.py, bench/plot.py, bench/ab.py, bench/protection.py) against a real redis-server.

No timing is asserted: these check that the floor loop really does the round trips it claims,
that a bar is only ever "holds" when its ratio was measured and reaches the target, and that the
chart is drawn from a results file.
"""
from __future__ import annotations

import os
import sys
from typing import Any

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench")
sys.path.insert(0, BENCH)

import ab  # noqa: E402
import bars  # noqa: E402
import floor  # noqa: E402
import protection  # noqa: E402


def test_floor_socket_get_set_and_miss_do_real_round_trips(redis_server: Any, raw: Any) -> None:
    sock = floor.Socket(redis_server.host, redis_server.port)
    try:
        keys = [b"bf:%d" % i for i in range(4)]
        set_op = sock.prepare_set(keys, b"v" * 117)
        for i in range(8):
            set_op(i)
        assert raw.command("GET", "bf:3") == b"v" * 117
        assert 0 < int(raw.command("TTL", "bf:3")) <= 300  # SET ... EX 300, like the backends' default timeout

        get_op = sock.prepare_get(keys, b"w" * 117)  # stores the value itself first
        for i in range(8):
            get_op(i)
        miss_op = sock.prepare_get_miss([b"nope:%d" % i for i in range(2)])
        miss_op(0)
        # every reply was read completely: the socket is still in step with the server
        sock.sock.sendall(floor.resp(b"GET", b"bf:0"))
        assert sock._read_exact(len(b"$117\r\n") + 119) == b"$117\r\n" + b"w" * 117 + b"\r\n"
    finally:
        sock.close()


def test_floor_socket_refuses_an_unexpected_reply(redis_server: Any, raw: Any) -> None:
    raw.command("SET", "bf:x", "short")
    sock = floor.Socket(redis_server.host, redis_server.port)
    try:
        with pytest.raises(AssertionError, match="unexpected reply"):
            # claims a 117-byte value but the server holds 5 bytes: the check must notice
            sock._loop([floor.resp(b"GET", b"bf:x")], 11, b"$117\r\n")
    finally:
        sock.close()


def test_redis_benchmark_runs_the_command(redis_server: Any, raw: Any) -> None:
    why = floor.redis_benchmark_available()
    assert why is None, f"the floor rows need redis-benchmark: {why}"
    got = floor.redis_benchmark(redis_server.port, None, floor.rb_args("set", 117), 300, 1)
    assert got["rps"] > 0 and got["p99_us"] >= got["p50_us"] > 0
    assert raw.command("GET", "fb:000000000000") == b"v" * 117  # -r 1: __rand_int__ is always 0


def _summ(**medians: float | None) -> dict[str, Any]:
    return {n: {"ops_per_s_median": v, "error": None} for n, v in medians.items()}


def test_bars_hold_miss_and_not_measured() -> None:
    results = {
        "get_hit": _summ(ours=30000, django=10000, django_redis=20000, floor=40000),
        "get_many_100": _summ(ours=3000, django=900, django_redis=1000),
        "setget_256k_zlib": _summ(ours=100, django_redis=50),
        "get_hot": _summ(ours=30000, django=10000, django_redis=20000),
    }
    got = {(b["bar"], b["workload"]): b for b in bars.evaluate(results, None, {"ours_local": "not supported yet"})}
    assert got[("1a", "get_hit")]["ratio"] == 1.5 and got[("1a", "get_hit")]["holds"] is True
    assert got[("1a", "get_hit")]["against"] == "django_redis"  # the faster peer
    assert got[("1b", "get_hit")]["ratio"] == 0.75 and got[("1b", "get_hit")]["holds"] is False
    assert got[("2a", "get_many_100")]["holds"] is True  # 3.0x of the faster peer, exactly the bar
    assert got[("3a", "setget_256k_zlib")]["holds"] is False
    # not measured is never "holds": a skipped workload, the 3-server section absent, an unavailable variant
    assert got[("2a", "set_many_100")]["holds"] is None
    assert got[("2b", "shard3_get_many_100")]["holds"] is None
    assert got[("5", "get_hot")]["holds"] is None
    assert got[("5", "get_hot")]["why_not_measured"] == "not supported yet"


def test_bars_ignore_a_backend_that_failed_partway() -> None:
    results = {"get_hit": {"ours": {"ops_per_s_median": 90000, "error": "round 3: boom"},
                           "django_redis": {"ops_per_s_median": 20000, "error": None}}}
    b = next(b for b in bars.evaluate(results, None, {}) if b["bar"] == "1a")
    assert b["holds"] is None and b["why_not_measured"] == "round 3: boom"


def test_protection_bars_are_protected_over_unprotected_ours() -> None:
    results = {"get_hit": _summ(ours=20000, ours_sign=18000, ours_encrypt=16000, django_redis=10000),
               "get_many_100": _summ(ours=3000, ours_sign=2400, ours_encrypt=2900)}
    got = {b["bar"]: b for b in bars.evaluate(results, None, {})}
    assert got["17a"]["ratio"] == 0.9 and got["17a"]["holds"] is True and got["17a"]["against"] == "ours"
    assert got["17b"]["ratio"] == 0.8 and got["17b"]["holds"] is False
    assert got["17c"]["ratio"] == 0.8 and got["17c"]["holds"] is False
    assert protection.ratios(results["get_many_100"]) == {"ours_sign_over_ours": 0.8, "ours_encrypt_over_ours": 0.967}
    # a revision without VALUE_PROTECTION: the variant is unavailable, the bar is not measured, never "holds"
    got = {b["bar"]: b for b in bars.evaluate({"get_hit": _summ(ours=20000)}, None, {"ours_sign": "refused"})}
    assert got["17a"]["holds"] is None and got["17a"]["why_not_measured"] == "refused"
    assert got["17c"]["holds"] is None and got["17b"]["why_not_measured"] == "workload get_many_100 not run"


def test_protection_variants_store_protected_values(make_cache: Any, raw: Any) -> None:
    """The bench's variant OPTIONS are accepted, and what they store passes (only) its own header check."""
    stored = {}
    for n, b in protection.VARIANTS.items():
        c = make_cache(options=b["OPTIONS"], KEY_PREFIX=b["KEY_PREFIX"])
        c.set("hit:0", bytes(range(100)))
        assert c.get("hit:0") == bytes(range(100))
        stored[n] = raw.command("GET", f"{b['KEY_PREFIX']}:1:hit:0")
        protection.verify_stored(n, stored[n])
    with pytest.raises(AssertionError, match="not protected"):
        protection.verify_stored("ours_sign", stored["ours_encrypt"])
    plain = make_cache(KEY_PREFIX="bo")
    plain.set("hit:0", bytes(range(100)))
    with pytest.raises(AssertionError, match="not protected"):
        protection.verify_stored("ours_encrypt", raw.command("GET", "bo:1:hit:0"))
    with pytest.raises(AssertionError, match="not protected"):
        protection.verify_stored("ours_sign", None)


def test_plot_writes_a_png(tmp_path: Any) -> None:
    import plot  # needs matplotlib (requirements-dev.txt)

    data = {"meta": {"git": "abc", "versions": {}}, "results": {
        "get_hit": {**_summ(ours=30000, django=10000, django_redis=20000, floor=40000),
                    "ours_sign": {"ops_per_s_median": 27000, "error": None},
                    "_ratio": {"ours_over_best_peer": 1.5, "ours_over_floor": 0.75, "ours_sign_over_ours": 0.9}}},
        "sharded": {"results": {"shard3_get_many_100": _summ(ours=900, django_redis_shard=40, seed_sharded=250)}}}
    out = tmp_path / "r.png"
    plot.plot(data, str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _slice(n: int, us: float) -> dict[str, Any]:
    return {"n": n, "wall_us": 2 * us, "cpu_us": us, "proc_cpu_us": us, "faults": 0.0, "go_alloc": 100.0}


def test_ab_slices_add_up_weighted_by_their_calls() -> None:
    acc: dict[str, Any] = {}
    ab.add_slice(acc, _slice(100, 10.0))
    ab.add_slice(acc, _slice(300, 20.0))
    assert acc["n"] == 400 and acc["cpu_us"] == 17.5 and acc["wall_us"] == 35.0 and acc["go_alloc"] == 100.0
    ab.add_slice(acc, {"error": "boom"})
    ab.add_slice(acc, _slice(100, 10.0))
    assert acc["error"] == "boom" and acc["n"] == 400  # a failed slice spoils the round, not silently


def test_ab_flags_on_the_paired_ratio_not_on_one_loud_round() -> None:
    rows = [{"name": "slower", "pin": True, "threads": 1}, {"name": "loud", "pin": True, "threads": 1},
            {"name": "broken", "pin": True, "threads": 1}]
    a_us = [10.0, 11.0, 12.0, 10.5, 11.5]
    results = {
        # B 8% slower in every round: flagged
        "slower": {"A": [_slice(1000, x) for x in a_us], "B": [_slice(1000, x * 1.08) for x in a_us]},
        # the same code, one round of B under a load burst: the medians differ, the paired median does not
        "loud": {"A": [_slice(1000, x) for x in a_us], "B": [_slice(1000, x * (1.5 if i in (1, 3) else 1.0))
                                                              for i, x in enumerate(a_us)]},
        "broken": {"A": [_slice(1000, 10.0)], "B": [{"error": "RuntimeError: boom"}]},
    }
    table = {t["workload"]: t for t in ab.report(rows, results, 5.0)}
    assert table["slower"]["flag"] is True and table["slower"]["cpu_us"]["paired_median"] == 1.08
    assert table["loud"]["flag"] is False and table["loud"]["cpu_us"]["paired_median"] == 1.0
    assert table["broken"]["error"] == "RuntimeError: boom"


def test_ab_worker_runs_a_workload_with_its_side_of_the_package(redis_server: Any) -> None:
    """One worker (this tree's package and library) over the JSON-lines protocol bench/ab.py drives."""
    import argparse

    from redis_cache_go import _native

    opts = argparse.Namespace(cpu=None, malloc_env=dict(ab.FIXED_MALLOC))
    w = ab.Worker("B", ab.REPO, _native.library_path(), opts, redis_server.port, "", ["get_hit", ab.CONTROL])
    try:
        assert w.info["ready"] == "B" and w.info["package"] == os.path.join(ab.REPO, "python", "redis_cache_go")
        for name in ("get_hit", ab.CONTROL):
            got = w.run(name, 20, 5)
            assert "error" not in got, got
            assert got["n"] > 0 and got["cpu_us"] > 0 and got["wall_us"] >= got["cpu_us"] * 0.5
        assert got["go_alloc"] == got["go_alloc"]  # measured (rcg_stats), not NaN
        assert w.run("no_such_workload", 5, 0)["error"].startswith("KeyError")  # reported; the worker goes on
        assert "error" not in w.run(ab.CONTROL, 5, 0)
    finally:
        w.close()
    assert w.proc.returncode == 0

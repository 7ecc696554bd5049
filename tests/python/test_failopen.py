"""Fail-open (IGNORE_EXCEPTIONS), the circuit breaker and recovery after a server restart.

Real redis-servers and real silent sockets, no mocks.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from redisproc import RedisServer
from redis_cache_go import exceptions as exc

FAIL_OPEN = {"IGNORE_EXCEPTIONS": True, "SOCKET_TIMEOUT": 0.2, "SOCKET_CONNECT_TIMEOUT": 0.2}


def test_fail_open_turns_every_call_into_a_miss_or_no_op(make_cache, dead_location, caplog):
    cache = make_cache(dead_location, dict(FAIL_OPEN))
    caplog.set_level(logging.WARNING, logger="redis_cache_go")
    assert cache.get("k") is None
    assert cache.get("k", "fallback") == "fallback"
    assert cache.get("k", default=7) == 7
    assert cache.set("k", 1) is False
    assert cache.add("k", 1) is False
    assert cache.touch("k") is False
    assert cache.delete("k") is False
    assert cache.has_key("k") is False
    assert cache.get_many(["a", "b"]) == {}
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert cache.delete_many(["a"]) is None
    assert cache.incr("n") is None
    assert cache.decr("n") is None
    assert cache.get_or_set("k", lambda: "computed") == "computed"
    assert cache.get_or_set("k", "plain") == "plain"
    assert cache.ttl("k") is None
    assert cache.expire("k", 10) is False
    assert cache.persist("k") is False
    assert cache.delete_pattern("*") == 0
    assert cache.keys("*") == []
    assert cache.clear() is False
    assert cache.execute_command("GET", "raw") is None
    # rate-limited: one line for the server, however many calls failed
    lines = [r for r in caplog.records if "IGNORE_EXCEPTIONS" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert dead_location in lines[0].getMessage()


def test_fail_open_async(make_cache, dead_location):
    cache = make_cache(dead_location, dict(FAIL_OPEN))

    async def calls():
        return await cache.aget("k", "d"), await cache.aset("k", 1), await cache.aget_many(["k"])

    assert asyncio.run(calls()) == ("d", False, {})


def test_log_ignored_exceptions_false_is_silent(make_cache, dead_location, caplog):
    cache = make_cache(dead_location, {**FAIL_OPEN, "LOG_IGNORED_EXCEPTIONS": False})
    caplog.set_level(logging.DEBUG, logger="redis_cache_go")
    assert cache.get("k", 1) == 1
    assert not [r for r in caplog.records if "IGNORE_EXCEPTIONS" in r.getMessage()]


def test_fail_open_treats_a_bad_value_as_a_logged_miss(make_cache, raw, caplog):
    cache = make_cache(options={"DB": 0, "IGNORE_EXCEPTIONS": True})
    caplog.set_level(logging.WARNING, logger="redis_cache_go")
    cache.set("good", "v")
    raw.command("SET", ":1:bad", b"\x80\x05not a pickle")
    assert cache.get("bad", "miss") == "miss"
    assert cache.get_many(["bad", "good"]) == {"good": "v"}
    assert any("DecodeError" in r.getMessage() for r in caplog.records)
    # without fail-open a bad value is an error that names the key
    strict = make_cache()
    with pytest.raises(exc.DecodeError, match="bad"):
        strict.get("bad")


def test_fail_open_does_not_hide_bad_arguments_or_server_errors(make_cache, raw):
    cache = make_cache(options={"DB": 0, "IGNORE_EXCEPTIONS": True})
    raw.command("SET", ":1:text", "abc")
    with pytest.raises(exc.ServerError):
        cache.incr("text")
    with pytest.raises(TypeError):
        cache.set("k", 1, timeout="soon")


def test_without_fail_open_errors_are_the_documented_classes(make_cache, dead_location):
    cache = make_cache(dead_location, {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2})
    with pytest.raises(exc.ConnectionError) as info:
        cache.get("k")
    assert isinstance(info.value, ConnectionError)  # Python's own class too


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_fail_open_options_must_be_bools(make_cache, value):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="IGNORE_EXCEPTIONS"):
        make_cache(options={"IGNORE_EXCEPTIONS": value})


# --------------------------------------------------------------------------- bar 3


def test_silent_server_every_call_returns_within_its_timeout(make_cache, silent_server):
    timeout = 0.3
    cache = make_cache(silent_server.location, {"SOCKET_TIMEOUT": timeout, "SOCKET_CONNECT_TIMEOUT": timeout,
                                                "CIRCUIT_BREAKER_FAILURES": 0})
    calls = {"get": lambda: cache.get("k"), "set": lambda: cache.set("k", 1), "get_many": lambda: cache.get_many(["a", "b"])}
    for name, call in calls.items():
        before = len(silent_server.settle())
        started = time.monotonic()
        with pytest.raises(exc.TimeoutError):
            call()
        took = time.monotonic() - started
        # One attempt, waited out once: one new connection carrying one command (the SELECT of
        # its handshake); a retry would show as another command or connection.
        assert [len(sent) for sent in silent_server.settle()[before:]] == [1], name
        # Ending by its timeout needs a clock; the bound is 10x the timeout so that a loaded
        # machine's scheduling cannot fail it, and still catches a call that hangs.
        assert took < 10 * timeout, f"{name} took {took:.2f}s with a {timeout}s socket timeout"


def test_silent_server_circuit_breaker_fails_fast(make_cache, silent_server):
    timeout = 0.2
    cache = make_cache(silent_server.location, {"SOCKET_TIMEOUT": timeout, "SOCKET_CONNECT_TIMEOUT": timeout,
                                                "CIRCUIT_BREAKER_FAILURES": 5, "CIRCUIT_BREAKER_COOLDOWN": 30})
    for _ in range(5):
        with pytest.raises(exc.TimeoutError):
            cache.get("k")
    reached = silent_server.settle()
    assert [len(sent) for sent in reached] == [1] * 5  # each failure: one attempt, waited out
    for _ in range(5):
        with pytest.raises(exc.ConnectionError, match="circuit breaker open"):
            cache.get("k")
    # Failing fast: the open breaker refuses the calls before anything is sent.
    assert silent_server.settle() == reached


# --------------------------------------------------------------------------- bar 2


@pytest.mark.timeout(120)
def test_kill_and_restart_under_load(make_cache, caplog):
    caplog.set_level(logging.ERROR, logger="redis_cache_go")
    timeout = 0.5
    server = RedisServer().start()
    port = server.port
    try:
        cache = make_cache(server.location, {"IGNORE_EXCEPTIONS": True, "SOCKET_TIMEOUT": timeout,
                                             "SOCKET_CONNECT_TIMEOUT": timeout})
        strict = make_cache(server.location, {"SOCKET_TIMEOUT": timeout, "SOCKET_CONNECT_TIMEOUT": timeout})
        stop = threading.Event()
        slowest = [0.0] * 4
        errors: list[BaseException] = []
        hits = [0] * 4
        misses = [0] * 4

        def load(i: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    started = time.monotonic()
                    cache.set(f"k{i}", n)
                    slowest[i] = max(slowest[i], time.monotonic() - started)
                    started = time.monotonic()
                    if cache.get(f"k{i}") == n:
                        hits[i] += 1
                    else:
                        misses[i] += 1
                    slowest[i] = max(slowest[i], time.monotonic() - started)
                except BaseException as e:  # noqa: BLE001 - the test reports any
                    errors.append(e)
                    return

        threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        _wait(lambda: min(hits) > 10)
        server.stop()  # killed under load
        with pytest.raises((exc.ConnectionError, exc.TimeoutError)):
            _until_error(strict)
        # The outage lasts a while: one breaker cool-down (the scenario's length, not a wait for
        # something), and every thread keeps running through it, as misses.
        before = list(misses)
        time.sleep(1.0)
        _wait(lambda: all(m >= b + 20 for m, b in zip(misses, before)))
        server = RedisServer(port=port).start()
        restarted = time.monotonic()
        before = list(hits)
        _wait(lambda: all(h > b for h, b in zip(hits, before)))
        recovered = time.monotonic() - restarted
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors
        # Prompt recovery and calls bounded by the socket timeout need a clock. The bounds are 10x
        # (the breaker's 1 s cool-down, the 0.5 s timeout) so that a loaded machine cannot fail
        # them; they still catch a backoff that outlives the outage or a call that hangs.
        assert recovered < 10.0, recovered
        assert max(slowest) < 10 * timeout, slowest
        assert strict.get("k0") is not None  # the strict client recovered too
    finally:
        server.stop()


def _until_error(cache) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        cache.get("probe")


def _wait(condition, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)

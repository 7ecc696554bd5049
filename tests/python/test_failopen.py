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


# What each fail-open method returns when the server is down: every method of the cache API and the
# extended API that reaches a server (backend.py's except clauses, _failopen.fails_open elsewhere).
_SYNC_CALLS = {
    "get": (lambda c: c.get("k", "d"), "d"),
    "get_many": (lambda c: c.get_many(["a"]), {}),
    "get_or_set": (lambda c: c.get_or_set("k", lambda: 1), 1),
    "has_key": (lambda c: c.has_key("k"), False),
    "add": (lambda c: c.add("k", 1), False),
    "set": (lambda c: c.set("k", 1), False),
    "set_many": (lambda c: c.set_many({"a": 1}), ["a"]),
    "touch": (lambda c: c.touch("k"), False),
    "delete": (lambda c: c.delete("k"), False),
    "delete_many": (lambda c: c.delete_many(["a"]), None),
    "clear": (lambda c: c.clear(), False),
    "incr": (lambda c: c.incr("n"), None),
    "decr": (lambda c: c.decr("n"), None),
    "incr_version": (lambda c: c.incr_version("k"), None),
    "decr_version": (lambda c: c.decr_version("k"), None),
    "ttl": (lambda c: c.ttl("k"), None),
    "pttl": (lambda c: c.pttl("k"), None),
    "expire": (lambda c: c.expire("k", 10), False),
    "pexpire": (lambda c: c.pexpire("k", 10_000), False),
    "expire_at": (lambda c: c.expire_at("k", time.time() + 10), False),
    "pexpire_at": (lambda c: c.pexpire_at("k", int(time.time() * 1000) + 10_000), False),
    "persist": (lambda c: c.persist("k"), False),
    "delete_pattern": (lambda c: c.delete_pattern("*"), 0),
    "keys": (lambda c: c.keys("*"), []),
    "reinsert_keys": (lambda c: c.reinsert_keys(), 0),
    "execute_command": (lambda c: c.execute_command("GET", "raw"), None),
}
_ASYNC_CALLS = {
    "aget": (lambda c: c.aget("k", "d"), "d"),
    "aget_many": (lambda c: c.aget_many(["a"]), {}),
    "aget_or_set": (lambda c: c.aget_or_set("k", 2), 2),
    "ahas_key": (lambda c: c.ahas_key("k"), False),
    "aadd": (lambda c: c.aadd("k", 1), False),
    "aset": (lambda c: c.aset("k", 1), False),
    "aset_many": (lambda c: c.aset_many({"a": 1}), ["a"]),
    "atouch": (lambda c: c.atouch("k"), False),
    "adelete": (lambda c: c.adelete("k"), False),
    "adelete_many": (lambda c: c.adelete_many(["a"]), None),
    "aclear": (lambda c: c.aclear(), False),
    "aincr": (lambda c: c.aincr("n"), None),
    "adecr": (lambda c: c.adecr("n"), None),
    "aincr_version": (lambda c: c.aincr_version("k"), None),
    "adecr_version": (lambda c: c.adecr_version("k"), None),
    "attl": (lambda c: c.attl("k"), None),
    "apttl": (lambda c: c.apttl("k"), None),
    "aexpire": (lambda c: c.aexpire("k", 10), False),
    "apexpire": (lambda c: c.apexpire("k", 10_000), False),
    "aexpire_at": (lambda c: c.aexpire_at("k", time.time() + 10), False),
    "apexpire_at": (lambda c: c.apexpire_at("k", int(time.time() * 1000) + 10_000), False),
    "apersist": (lambda c: c.apersist("k"), False),
    "adelete_pattern": (lambda c: c.adelete_pattern("*"), 0),
    "akeys": (lambda c: c.akeys("*"), []),
    "aexecute_command": (lambda c: c.aexecute_command("GET", "raw"), None),
}


def test_every_fail_open_method_is_listed_with_its_async_twins():
    """A new a* twin of a fail-open method must fail open too (and be listed here)."""
    import inspect

    from redis_cache_go import RedisCache

    twins = {"a" + name for name in _SYNC_CALLS if inspect.iscoroutinefunction(getattr(RedisCache, "a" + name, None))}
    assert twins <= set(_ASYNC_CALLS), f"a* methods without a fail-open test: {sorted(twins - set(_ASYNC_CALLS))}"
    assert {name[1:] for name in _ASYNC_CALLS} <= set(_SYNC_CALLS)


@pytest.mark.parametrize("name", sorted(_SYNC_CALLS))
def test_each_sync_method_fails_open_in_the_class(make_cache, dead_location, name):
    cache = make_cache(dead_location, dict(FAIL_OPEN))
    call, fallback = _SYNC_CALLS[name]
    assert call(cache) == fallback
    assert not set(_SYNC_CALLS) & set(vars(cache)), "no method is swapped on the instance"


@pytest.mark.parametrize("name", sorted(_ASYNC_CALLS))
def test_each_async_method_fails_open_in_the_class(make_cache, dead_location, name):
    cache = make_cache(dead_location, dict(FAIL_OPEN))
    call, fallback = _ASYNC_CALLS[name]
    assert asyncio.run(call(cache)) == fallback


def test_without_fail_open_an_error_passes_untouched(make_cache, dead_location):
    """No fail-open frame in the traceback, no chained exception: the error as the call raised it."""
    cache = make_cache(dead_location, {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2})
    for call in (lambda: cache.get("k"), lambda: cache.ttl("k")):
        with pytest.raises(exc.ConnectionError) as info:
            call()
        assert info.value.__context__ is None and info.value.__cause__ is None
        assert "_failed" not in [entry.name for entry in info.traceback]


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

"""The native boundary: lazy loading, the GIL, timeouts, fork(), panics, and error classes.

Each test states a promise of the design notes (shared/design.md, "The C boundary" and
"fork()") and would fail if it were broken.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import threading

import pytest

from forked import call_in_forked_child
from redis_cache_go import RedisCache, _native
from redis_cache_go import exceptions as exc

PYTHONPATH = os.environ.get("PYTHONPATH", "")
LIB_PATH = _native.library_path()
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_python(code: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter (nothing loaded yet) with our PYTHONPATH."""
    full_env = dict(os.environ, PYTHONPATH=PYTHONPATH, **env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, env=full_env
    )


SETUP = """
    import django
    from django.conf import settings
    settings.configure()
    django.setup()
    import sys
    from redis_cache_go import RedisCache
    def lib_loaded():
        with open("/proc/self/maps") as f:
            return "libredis_cache_go" in f.read()
"""


def test_import_and_construction_load_nothing(redis_server):
    """Importing the package and building a cache neither loads the library nor connects."""
    result = run_python(
        SETUP
        + f"""
    cache = RedisCache("{redis_server.location}", {{"OPTIONS": {{"DB": 0}}}})
    assert not lib_loaded(), "library loaded before first use"
    cache.set("lazy", 1)
    assert lib_loaded(), "library not loaded by the first call"
    print("ok")
    """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_gil_released_while_a_call_waits(make_cache, proxy, silent_location):
    """Another Python thread keeps running while one thread waits in Go; the wait ends in TimeoutError.

    The other thread is the one that lets the reply through (the proxy holds the request until it
    says so), so the call can only return if Python ran while it waited: counted, not timed."""
    cache = make_cache(proxy.location, {"DB": 0, "SOCKET_TIMEOUT": 60})
    cache.set("k", "v")
    proxy.hold()

    def let_the_reply_through() -> None:
        proxy.wait_in_flight(1)  # the GET reached the proxy: the main thread waits in Go
        proxy.release()

    helper = threading.Thread(target=let_the_reply_through)
    helper.start()
    try:
        assert cache.get("k") == "v"
    finally:
        proxy.release()
        helper.join()

    silent = make_cache(silent_location, {"SOCKET_TIMEOUT": 1.0, "SOCKET_CONNECT_TIMEOUT": 1.0})
    with pytest.raises(exc.TimeoutError) as info:
        silent.get("never-answered")
    assert silent_location in str(info.value)
    assert isinstance(info.value, TimeoutError)


def test_fork_after_use_fails_fast_in_child_and_parent_keeps_working(make_cache, raw, proxy):
    cache = make_cache(proxy.location)
    cache.set("before-fork", 1)
    sent = proxy.requests()
    proxy.hold()  # a child that tried the network would wait here, and be reported as hung
    child = call_in_forked_child(lambda: cache.get("before-fork"))
    proxy.release()
    assert not child.hung, "the forked child hung in a cache call"
    name, message = child.error, child.message
    assert name == "ForkedProcessError", message
    assert proxy.requests() == sent  # fails fast: refused before anything was sent
    assert "--preload" in message and "spawn" in message, "the message names the fixes"
    # The parent is unaffected.
    assert cache.get("before-fork") == 1
    cache.set("after-fork", 2)
    assert raw.command("GET", ":1:after-fork") == b"2"


def test_fork_error_names_the_setting_that_needs_no_code_change(make_cache):
    """Besides the deployment fixes, the message names OPTIONS["FORK_FALLBACK"], the one that is a
    settings change only."""
    cache = make_cache()
    cache.set("k", 1)
    child = call_in_forked_child(lambda: cache.get("k"))
    assert child.error == "ForkedProcessError", child.message
    assert 'OPTIONS["FORK_FALLBACK"] = True' in child.message, child.message
    assert "--preload" in child.message and "spawn" in child.message


def test_fork_before_first_use_works(redis_server):
    result = run_python(
        SETUP
        + f"""
    import os
    cache = RedisCache("{redis_server.location}", {{"OPTIONS": {{"DB": 0}}}})
    pid = os.fork()
    if pid == 0:
        try:
            cache.set("forked-first", 7)
            os._exit(0 if cache.get("forked-first") == 7 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, status
    cache.set("parent", 1)
    assert cache.get("forked-first") == 7 and cache.get("parent") == 1
    print("ok")
    """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def debug_library() -> str:
    """The library built with -tags rcgdebug (its test exports: rcg_debug_panic), which `make
    build-debug` writes to $RCG_DEBUG_LIBRARY (the Makefile exports it), by default build/debug/.
    A test loads it in a subprocess of its own, through RCG_LIBRARY: never next to the production
    library in this process (two Go runtimes in one process do not get along)."""
    path = os.environ.get("RCG_DEBUG_LIBRARY") or os.path.join(REPO, "build", "debug", _native.LIBRARY_NAME)
    if not os.path.exists(path):
        pytest.fail(f"{path} not found: run `make build-debug` (make test-python does)")
    return path


def test_go_panic_becomes_an_exception_and_the_cache_recovers(redis_server):
    result = run_python(
        SETUP
        + f"""
    from redis_cache_go import exceptions as exc
    cache = RedisCache("{redis_server.location}", {{"OPTIONS": {{"DB": 0}}}})
    cache.set("panic-k", "v")
    try:
        cache._client.debug_panic()
    except exc.InternalError as e:
        assert "deliberate panic" in str(e), e
    else:
        raise AssertionError("no InternalError")
    # The disabled handle is dropped; the next call opens a fresh one.
    assert cache.get("panic-k") == "v"
    print("ok")
    """,
        RCG_LIBRARY=debug_library(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_production_library_refuses_debug_calls_clearly(make_cache):
    """The package's library has no test exports: asking for one names the build that has them."""
    if _native.has_debug_exports(_native.library()):
        pytest.skip(f"RCG_LIBRARY={_native.library_path()} is a -tags rcgdebug build")
    cache = make_cache()
    cache.set("k", "v")
    with pytest.raises(exc.LibraryError) as info:
        cache._client.debug_panic()
    assert "rcgdebug" in str(info.value) and "make build-debug" in str(info.value)
    assert cache.get("k") == "v"


def test_results_larger_than_the_scratch_buffer(make_cache):
    cache = make_cache()
    big = os.urandom(_native.SCRATCH_SIZE * 3)
    cache.set("big", big)
    assert cache.get("big") == big
    many = {f"k{i}": os.urandom(20_000) for i in range(10)}
    cache.set_many(many)
    assert cache.get_many(list(many)) == many


def test_threads_share_one_cache(make_cache):
    cache = make_cache()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                cache.set(f"t{n}:{i}", (n, i))
                assert cache.get(f"t{n}:{i}") == (n, i)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ----------------------------------------------------------------------------- error classes


def test_connection_refused(make_cache, dead_location):
    cache = make_cache(dead_location)
    with pytest.raises(exc.ConnectionError) as info:
        cache.get("k")
    assert dead_location in str(info.value)
    assert isinstance(info.value, ConnectionError) and isinstance(info.value, exc.RedisCacheError)


def test_authentication_failure_names_no_password(make_cache, auth_server):
    cache = make_cache(auth_server.location, {"DB": 0, "PASSWORD": "wrong-password-xyz"})
    with pytest.raises(exc.AuthenticationError) as info:
        cache.set("k", 1)
    assert auth_server.location in str(info.value)
    assert "wrong-password-xyz" not in str(info.value)
    assert "wrong-password-xyz" not in repr(cache)
    good = make_cache(auth_server.location, {"DB": 0, "PASSWORD": auth_server.password})
    good.set("k", 1)
    assert good.get("k") == 1


def test_server_error(make_cache, raw):
    cache = make_cache()
    cache.set("text", "not a number")
    with pytest.raises(exc.ServerError) as info:
        cache.incr("text")
    assert raw.location in str(info.value)


def test_decode_error_names_the_key(make_cache, raw):
    cache = make_cache(KEY_PREFIX="app")
    raw.command("SET", "app:1:garbage", b"\x80\x05not a pickle")
    with pytest.raises(exc.DecodeError) as info:
        cache.get("garbage")
    assert "app:1:garbage" in str(info.value)
    assert raw.location in str(info.value)
    # nothing was overwritten
    assert raw.command("GET", "app:1:garbage") == b"\x80\x05not a pickle"


def test_error_classes_are_distinct():
    classes = [exc.ConnectionError, exc.TimeoutError, exc.AuthenticationError, exc.ServerError, exc.DecodeError]
    assert len(set(classes)) == len(classes)
    for a in classes:
        for b in classes:
            if a is not b:
                assert not issubclass(a, b), f"{a.__name__} must not be a {b.__name__}"


def test_missing_library_is_a_clear_error(redis_server, tmp_path):
    result = run_python(
        SETUP
        + f"""
    from redis_cache_go.exceptions import LibraryError
    cache = RedisCache("{redis_server.location}", {{"OPTIONS": {{"DB": 0}}}})
    try:
        cache.get("k")
    except LibraryError as e:
        print("LibraryError:", e)
    """,
        RCG_LIBRARY=str(tmp_path / "nope.so"),
    )
    assert result.returncode == 0, result.stderr
    assert "make build" in result.stdout


def test_pickling_errors_are_pickle_errors(make_cache):
    """An unpicklable value raises pickle's own error (Django expects it) and stores nothing."""
    cache = make_cache()
    cache.set("k", 1)
    with pytest.raises((pickle.PicklingError, TypeError, AttributeError)):
        cache.set("k", lambda: None)
    assert cache.get("k") == 1


def test_a_client_collected_by_the_gc_leaves_the_calling_threads_scratch_alone(make_cache):
    """A Client in a reference cycle (a fail-open cache is one: its wrappers hold its bound
    methods) is closed by its finalizer whenever the cyclic GC runs: in any thread, possibly in
    the middle of that thread's own call, between the reply landing in its scratch buffer and
    being read. The finalizer must not write into that scratch memory."""
    import gc

    doomed = make_cache(options={"DB": 0, "IGNORE_EXCEPTIONS": True})
    doomed.set("k", 1)  # its handle is open
    cycle = [doomed]
    cycle.append(cycle)
    del doomed
    s = _native._scratch
    s.buf[:5] = b"reply"
    s.out.len, s.out.num = 5, 42  # a reply that this thread has not read yet
    gc.disable()
    try:
        _drop_from_fixture(make_cache, cycle[0])
        del cycle
        assert gc.collect() > 0
        assert (s.out.len, s.out.num, s.buf[:5], s.out.big) == (5, 42, b"reply", None)
    finally:
        gc.enable()


def _drop_from_fixture(make_cache, cache) -> None:
    """The make_cache fixture remembers every cache it built (to disconnect it): forget one."""
    for cell in make_cache.__closure__ or ():
        made = cell.cell_contents
        if isinstance(made, list) and cache in made:
            made.remove(cache)
            return
    raise AssertionError("make_cache keeps its caches elsewhere")

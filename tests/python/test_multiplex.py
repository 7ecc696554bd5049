"""Shared, auto-pipelined connections (core/wire/mux.go) under faults, and their bound.

Every sync call from a Python thread and every native await (each on a goroutine) of a plain TCP
cache shares the same one or two connections per server: concurrent commands leave in one write
and their replies are matched to the calls in order. A mistake in that matching gives a caller
*another caller's reply*, which no single-threaded test sees. So every caller here writes values of
its own to a key of its own (the value names the caller, an iteration number and a padding length,
so a reply meant for someone else, or a torn one, is recognised), and every read is judged against
what that caller wrote:

* a read after an acknowledged write with no failed write since returns exactly that value;
* after failed writes, one of those values (a write that failed may or may not have run) or the
  last acknowledged one;
* a write that failed by a timeout, or was abandoned because another call on its connection timed
  out, may still run later (its command may be in the server's socket buffer), so its value stays
  possible for the rest of the run;
* nothing else, ever: not another caller's value, not a value of ours never written, not a miss
  after an acknowledged write (unless the server lost its data: the restart test).

A call may fail with redis_cache_go's ConnectionError or TimeoutError while faults are injected;
a protocol error, an error reply or any other exception is counted as wrong. The circuit breaker
is off (CIRCUIT_BREAKER_FAILURES 0) so that every call really goes to a connection.

Faults: CLIENT KILL TYPE normal from the harness's own connection (SKIPME yes) in a loop; a proxy
that holds every command (tests/harness/delayproxy.py: a server that stops answering); a
redis-server killed with SIGKILL and started again on the same port. The bound: N concurrent
callers open at most two connections, counted by the server (INFO total_connections_received, on
a server of the test's own) and by the cache (stats()' pool total_conns).
"""
from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from typing import Any, Callable

import pytest

from delayproxy import DelayProxy
from redis_cache_go import exceptions as rcg_errors
from redisproc import RedisServer

BREAKER_OFF = {"DB": 0, "CIRCUIT_BREAKER_FAILURES": 0}
ABANDONED = "another call on it timed out"  # core/wire/mux.go abandonedError


# --------------------------------------------------------------------------- values and judging


def value_of(owner: str, n: int) -> str:
    """The n-th value of owner: mostly small, every 64th larger than core/wire's 32 KiB read
    buffer, so pipelined replies straddle reads at every offset."""
    pad = 40_000 + n % 97 if n % 64 == 0 else (n * 131 + len(owner)) % 700
    return f"{owner}|{n}|{pad}|" + "x" * pad


def parse_value(got: object) -> tuple[str, int] | None:
    """(owner, n) of a well-formed value (its padding intact), else None."""
    if not isinstance(got, str):
        return None
    parts = got.split("|", 3)
    if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    if parts[3] != "x" * int(parts[2]):
        return None
    return parts[0], int(parts[1])


def failure_kind(e: BaseException) -> str | None:
    """What kind of failure a fault may cause e is ('timeout', 'abandoned', 'connection'), or None
    when no fault excuses it (a protocol error, an error reply, anything else)."""
    if isinstance(e, rcg_errors.TimeoutError):
        return "timeout"
    if isinstance(e, rcg_errors.ConnectionError) and not isinstance(e, rcg_errors.ClientClosedError):
        text = str(e)
        if "protocol" in text.lower():
            return None
        return "abandoned" if ABANDONED in text else "connection"
    return None


class Owner:
    """One caller (a thread or a task): its key, what it wrote and which reads of it are right."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.key = f"mux:{name}"
        self.n = 0
        self.rounds = 0  # set+get rounds finished (progress, read by the main thread)
        self.acked: str | None = None  # the last acknowledged write
        self.ack_epoch = 0  # the restart epoch read before that write started
        self.unacked: set[str] = set()  # writes that failed since the last acknowledged one
        self.late: set[str] = set()  # writes that failed by a timeout: they may still run
        self.final: str | None = None

    def next_value(self) -> str:
        self.n += 1
        return value_of(self.name, self.n)

    def set_ok(self, value: str, epoch: int) -> None:
        self.acked, self.ack_epoch = value, epoch
        self.unacked.clear()

    def set_failed(self, value: str, kind: str) -> None:
        self.unacked.add(value)
        if kind in ("timeout", "abandoned"):
            self.late.add(value)

    def judge(self, got: object, epoch_now: int) -> str | None:
        """None when got is a right read of this owner's key now, else what is wrong with it."""
        if got is None:
            if self.acked is None or epoch_now > self.ack_epoch:
                return None  # never acknowledged, or the server lost its data since
            return f"{self.name}: miss after the acknowledged write #{self._n(self.acked)}"
        parsed = parse_value(got)
        if parsed is None:
            return f"{self.name}: not a value any caller wrote: {str(got)[:80]!r}"
        if parsed[0] != self.name:
            return f"{self.name}: got the value #{parsed[1]} of {parsed[0]}"
        if got == self.acked or got in self.unacked or got in self.late:
            return None
        return (f"{self.name}: got its own #{parsed[1]}, expected #{self._n(self.acked)} "
                f"or one of {sorted(self._n(v) or 0 for v in self.unacked | self.late)}")

    @staticmethod
    def _n(value: str | None) -> int | None:
        parsed = parse_value(value)
        return parsed[1] if parsed else None


class Tally:
    """Outcomes of every call, shared by the threads and the event loop (one lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ok = 0
        self.failed: Counter[str] = Counter()
        self.wrong = 0
        self.examples: list[str] = []  # the first wrong outcomes, for the failure message
        self.strict_failed = 0  # calls that failed although no fault was on
        self.strict_failures: list[str] = []  # the first of them

    def success(self) -> None:
        with self.lock:
            self.ok += 1

    def failure(self, kind: str, e: BaseException, strict: bool) -> None:
        with self.lock:
            self.failed[kind] += 1
            if strict:
                self.strict_failed += 1
                if len(self.strict_failures) < 20:
                    self.strict_failures.append(f"{type(e).__name__}: {e}")

    def bad(self, what: str) -> None:
        with self.lock:
            self.wrong += 1
            if len(self.examples) < 20:
                self.examples.append(what)

    def summary(self) -> str:
        return f"ok {self.ok}, failed {dict(self.failed)}, wrong {self.wrong}: {self.examples[:5]}"


class Epoch:
    """A counter the main thread bumps *before* it makes the server lose its data."""

    def __init__(self) -> None:
        self.value = 0


class Worker:
    """One caller's set-then-get rounds, sync or async, judged as they go."""

    def __init__(self, owner: Owner, tally: Tally, epoch: Epoch) -> None:
        self.o, self.t, self.epoch = owner, tally, epoch

    def _after_set(self, value: str, e: BaseException | None, epoch: int, strict: bool) -> bool:
        if e is None:
            self.o.set_ok(value, epoch)
            self.t.success()
            return True
        kind = failure_kind(e)
        if kind is None:
            self.t.bad(f"{self.o.name}: set raised {type(e).__name__}: {e}")
            self.o.set_failed(value, "timeout")  # no telling what it did
            return False
        self.t.failure(kind, e, strict)
        self.o.set_failed(value, kind)
        return False

    def _after_get(self, got: object, e: BaseException | None, strict: bool) -> bool:
        if e is not None:
            kind = failure_kind(e)
            if kind is None:
                self.t.bad(f"{self.o.name}: get raised {type(e).__name__}: {e}")
            else:
                self.t.failure(kind, e, strict)
            return False
        problem = self.o.judge(got, self.epoch.value)
        if problem:
            self.t.bad(problem)
            return False
        self.t.success()
        return True

    def round(self, cache: Any, strict: bool = False) -> bool:
        """set then get; True when both succeeded (and the get was right)."""
        value, epoch = self.o.next_value(), self.epoch.value
        try:
            cache.set(self.o.key, value)
            e: BaseException | None = None
        except Exception as err:  # noqa: BLE001 - judged in _after_set
            e = err
        ok = self._after_set(value, e, epoch, strict)
        got, e = None, None
        try:
            got = cache.get(self.o.key)
        except Exception as err:  # noqa: BLE001 - judged in _after_get
            e = err
        ok = self._after_get(got, e, strict) and ok
        self.o.rounds += 1
        return ok

    async def around(self, cache: Any, strict: bool = False) -> bool:
        value, epoch = self.o.next_value(), self.epoch.value
        try:
            await cache.aset(self.o.key, value)
            e: BaseException | None = None
        except Exception as err:  # noqa: BLE001 - judged in _after_set
            e = err
        ok = self._after_set(value, e, epoch, strict)
        got, e = None, None
        try:
            got = await cache.aget(self.o.key)
        except Exception as err:  # noqa: BLE001 - judged in _after_get
            e = err
        ok = self._after_get(got, e, strict) and ok
        self.o.rounds += 1
        return ok


class Load:
    """THREADS sync workers and TASKS async workers (on one event loop in a thread of its own),
    doing rounds until stop(); then each does one final round, which must succeed, and keeps its
    final value. ``strict`` (an Event) marks the calls that start after it as fault-free: they
    must all succeed. ``pause`` seconds after a failed round (pacing while a server is down)."""

    def __init__(self, cache: Any, threads: int, tasks: int, tally: Tally, epoch: Epoch | None = None,
                 pause: float = 0.0) -> None:
        self.cache, self.tally, self.pause = cache, tally, pause
        self.sync = [Owner(f"t{i}") for i in range(threads)]
        self.aio = [Owner(f"a{i}") for i in range(tasks)]
        self.epoch = epoch or Epoch()
        self.strict = threading.Event()
        self._stop = threading.Event()
        self.crashed: list[str] = []
        self.final_failed: list[str] = []
        self._threads = [threading.Thread(target=self._thread, args=(o,), daemon=True, name=f"mux-{o.name}")
                         for o in self.sync]
        self._threads.append(threading.Thread(target=self._loop, daemon=True, name="mux-loop"))

    @property
    def owners(self) -> list[Owner]:
        return self.sync + self.aio

    def start(self) -> "Load":
        for th in self._threads:
            th.start()
        return self

    def stop(self, timeout: float = 30.0) -> list[str]:
        """Stop and join; returns the names of workers still running after timeout (a hang)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for th in self._threads:
            th.join(max(deadline - time.monotonic(), 0.1))
        return [th.name for th in self._threads if th.is_alive()]

    def _final(self, o: Owner, ok: bool) -> None:
        if ok:
            o.final = o.acked
        else:
            self.final_failed.append(o.name)

    def _thread(self, o: Owner) -> None:
        w = Worker(o, self.tally, self.epoch)
        try:
            while not self._stop.is_set():
                if not w.round(self.cache, self.strict.is_set()) and self.pause:
                    time.sleep(self.pause)  # pacing while the server is away, not synchronisation
            self._final(o, w.round(self.cache, strict=True))
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.crashed.append(f"{o.name}: {type(e).__name__}: {e}")

    def _loop(self) -> None:
        async def task(o: Owner) -> None:
            w = Worker(o, self.tally, self.epoch)
            while not self._stop.is_set():
                if not await w.around(self.cache, self.strict.is_set()) and self.pause:
                    await asyncio.sleep(self.pause)
            self._final(o, await w.around(self.cache, strict=True))

        async def main() -> None:
            outcomes = await asyncio.gather(*(task(o) for o in self.aio), return_exceptions=True)
            self.crashed += [f"{o.name}: {r!r}" for o, r in zip(self.aio, outcomes) if isinstance(r, BaseException)]

        try:
            asyncio.run(main())
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.crashed.append(f"event loop: {type(e).__name__}: {e}")

    def rounds_marks(self) -> list[int]:
        return [o.rounds for o in self.owners]

    def all_moved_on(self, marks: list[int], by: int = 1) -> bool:
        return all(o.rounds >= m + by for o, m in zip(self.owners, marks))


def check_load(load: Load, cache: Any, hung: list[str]) -> None:
    """What every test under load asserts once it stopped: no hang, no crash, nothing wrong, the
    fault-free calls all succeeded, and the cache holds every worker's final value."""
    tally = load.tally
    assert not hung, f"workers still running 30 s after stop (a hang): {hung[:5]}"
    assert not load.crashed, load.crashed[:5]
    assert tally.wrong == 0, f"{tally.wrong} wrong outcomes, e.g. {tally.examples}"
    assert tally.strict_failed == 0, f"{tally.strict_failed} calls failed with no fault on: {tally.strict_failures[:5]}"
    assert not load.final_failed, f"final round failed for {load.final_failed[:10]}"
    stored = cache.get_many([o.key for o in load.owners])
    mismatched = [o.name for o in load.owners if stored.get(o.key) != o.final]
    assert not mismatched, f"final values not read back for {len(mismatched)} workers, e.g. {mismatched[:5]}"


def connections(server: Any) -> tuple[int, int]:
    """(total_connections_received, connected_clients) from one INFO, both counting the
    connection INFO came on (the harness opens one per command)."""
    info = server.command("INFO", "all")
    found = []
    for name in (b"total_connections_received", b"connected_clients"):
        match = re.search(rb"^%s:(\d+)\r?$" % name, info, re.MULTILINE)
        assert match, f"INFO has no field {name.decode()}"
        found.append(int(match.group(1)))
    return found[0], found[1]


def connections_since(server: Any, before: tuple[int, int]) -> tuple[int, int]:
    """(connections accepted, connections open) at the server since connections() said
    ``before``, not counting the harness's own connection of either reading."""
    accepted, open_ = connections(server)
    return accepted - before[0] - 1, open_ - before[1]


@pytest.fixture
def own_server():
    """A redis-server for this test alone: connection counts see only this test's clients."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- 1. CLIENT KILL under load

KILL_THREADS = 64
KILL_TASKS = 1000
KILL_SECONDS = 2.0
KILL_PROGRESS = 200  # successful calls between two kills: the cache is back before the next one


def test_client_kill_while_pipelined_never_mixes_up_replies(make_cache, redis_server, wait_until):
    """64 threads and 1,000 awaits write and read values of their own while CLIENT KILL cuts every
    connection again and again: calls may fail, none returns somebody else's value."""
    cache = make_cache(location=redis_server.location,
                       options={**BREAKER_OFF, "SOCKET_TIMEOUT": 2, "SOCKET_CONNECT_TIMEOUT": 2})
    tally = Tally()
    load = Load(cache, KILL_THREADS, KILL_TASKS, tally).start()
    before = cache.stats()[0]["pool"]
    kills: list[int] = []
    try:
        marks = load.rounds_marks()
        wait_until(lambda: load.all_moved_on(marks), 30, "every worker finished a round before the first kill")
        deadline = time.monotonic() + KILL_SECONDS
        while time.monotonic() < deadline:
            kills.append(int(redis_server.command("CLIENT", "KILL", "TYPE", "normal")))
            mark = tally.ok
            wait_until(lambda: tally.ok >= mark + KILL_PROGRESS, 30,
                       f"{KILL_PROGRESS} calls succeeded after CLIENT KILL #{len(kills)} ({tally.summary()})")
        # No more kills. Once many calls succeeded again every killed connection was found dead and
        # replaced; from then on every call must succeed.
        mark = tally.ok
        wait_until(lambda: tally.ok >= mark + 2000, 30, f"calls succeed after the last kill ({tally.summary()})")
        load.strict.set()
        marks = load.rounds_marks()
        wait_until(lambda: load.all_moved_on(marks), 30, "every worker finished a round after the faults")
    finally:
        hung = load.stop()
    after = cache.stats()[0]["pool"]
    dials, stale = after["misses"] - before["misses"], after["stale_conns"] - before["stale_conns"]
    print(f"\nCLIENT KILL x{len(kills)} ({sum(kills)} connections): {tally.summary()}; "
          f"dials {dials}, stale resends {stale}")
    check_load(load, cache, hung)
    assert tally.ok > 0
    assert sum(kills) > 0 and sum(1 for k in kills if k) >= 3, f"the kills cut connections: {kills}"
    # The kills cut the cache's connections under load: calls failed or were resent, and it dialled again.
    assert sum(tally.failed.values()) + stale > 0, "no call ever noticed a kill"
    assert dials >= sum(1 for k in kills if k), f"dialled {dials} times for {len(kills)} kills"


# --------------------------------------------------------------------------- 2, 3. the connection bound

BURST = 500


def test_500_concurrent_awaits_use_at_most_two_connections(make_cache, own_server):
    """500 awaits of aset then aget at once: every one reads its own value back, and the server
    accepted no more than two connections from the cache. A proxy holds the SETs until all 500
    are in flight at once, so the bound is measured under real overlap."""
    before = connections(own_server)
    with DelayProxy(own_server.host, own_server.port) as proxy:
        # Patient timeouts: the 500 SETs wait at the proxy until the last one is sent.
        cache = make_cache(location=proxy.location, options={**BREAKER_OFF, "SOCKET_TIMEOUT": 30})
        values = [value_of(f"b{i}", 1) for i in range(BURST)]

        async def one(i: int) -> object:
            await cache.aset(f"burst:{i}", values[i])
            return await cache.aget(f"burst:{i}")

        async def burst() -> list[object]:
            return await asyncio.gather(*(one(i) for i in range(BURST)))

        proxy.hold(until=BURST)
        got = asyncio.run(burst())
        wrong = [i for i in range(BURST) if got[i] != values[i]]
        assert not wrong, f"{len(wrong)} awaits read something else, e.g. #{wrong[0]}: {str(got[wrong[0]])[:80]!r}"
        commands, busy, open_ = proxy.command_peak(), proxy.peak(), proxy.connections()
        pool = cache.stats()[0]["pool"]
        accepted, clients = connections_since(own_server, before)
    print(f"\n{BURST} awaits: {commands} commands in flight at once on {busy} connections; "
          f"server accepted {accepted}, {clients} open; pool {pool}")
    assert commands == BURST, f"the {BURST} SETs were in flight together ({commands} at most)"
    assert 1 <= accepted <= 2, f"the server accepted {accepted} connections from the cache"
    assert 1 <= clients <= 2, f"{clients} connections of the cache open at the server"
    assert 1 <= pool["total_conns"] <= 2, f"the cache reports {pool['total_conns']} connections open"
    assert busy <= 2 and open_ <= 2, f"connections busy at once {busy}, open {open_}"


SYNC_THREADS = 8
SYNC_SECONDS = 0.5


def test_sync_threads_use_at_most_two_connections(make_cache, own_server):
    """8 threads doing gets for half a second: at most two connections, every value right."""
    before = connections(own_server)
    cache = make_cache(location=own_server.location, options=BREAKER_OFF)
    values = {t: value_of(f"s{t}", 1) for t in range(SYNC_THREADS)}
    cache.set_many({f"sync:{t}": v for t, v in values.items()})
    start = threading.Barrier(SYNC_THREADS)
    calls = [0] * SYNC_THREADS
    wrong: list[str] = []

    def run(t: int) -> None:
        start.wait(30)
        deadline = time.monotonic() + SYNC_SECONDS
        while time.monotonic() < deadline:  # the load's duration, not synchronisation
            got = cache.get(f"sync:{t}")
            calls[t] += 1
            if got != values[t]:
                wrong.append(f"thread {t} call {calls[t]}: {str(got)[:80]!r}")

    threads = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(SYNC_THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert not any(th.is_alive() for th in threads), "a thread hung"
    pool = cache.stats()[0]["pool"]
    accepted, clients = connections_since(own_server, before)
    print(f"\n{SYNC_THREADS} threads: {sum(calls)} gets, server accepted {accepted} connections, "
          f"{clients} open; pool {pool}")
    assert not wrong, wrong[:5]
    assert all(calls), f"every thread made calls: {calls}"
    assert 1 <= accepted <= 2, f"the server accepted {accepted} connections from the cache"
    assert 1 <= clients <= 2, f"{clients} connections of the cache open at the server"
    assert 1 <= pool["total_conns"] <= 2, f"the cache reports {pool['total_conns']} connections open"


# --------------------------------------------------------------------------- 4. a server that stops answering

SILENT_TIMEOUT = 0.3
SILENT_AWAITS = 50
SILENT_THREADS = 8
SILENT_ROUNDS = 2  # calls per thread while nothing answers


def test_calls_time_out_when_nothing_answers_and_work_again_after(make_cache, proxy, wait_until):
    """While the proxy holds every command, 50 awaits and 8 threads all fail with a timeout (or as
    abandoned by a call on their connection that timed out) within their bound, none hangs; once
    the proxy lets commands through again, the same cache serves every call right."""
    cache = make_cache(location=proxy.location, options={**BREAKER_OFF, "SOCKET_TIMEOUT": SILENT_TIMEOUT,
                                                          "SOCKET_CONNECT_TIMEOUT": SILENT_TIMEOUT})
    cache.set("warm", 1)  # the first connection is open before the hold
    outcomes: list[tuple[str, str, float]] = []  # (who, outcome, seconds)
    lock = threading.Lock()

    def record(who: str, call: Callable[[], object]) -> None:
        t0 = time.monotonic()
        try:
            call()
            what = "returned"
        except Exception as e:  # noqa: BLE001 - judged below
            kind = failure_kind(e)
            what = kind if kind in ("timeout", "abandoned") else f"{type(e).__name__}: {e}"
        with lock:
            outcomes.append((who, what, time.monotonic() - t0))

    async def arecord(who: str, call: Callable[[], Any]) -> None:
        t0 = time.monotonic()
        try:
            await call()
            what = "returned"
        except Exception as e:  # noqa: BLE001 - judged below
            kind = failure_kind(e)
            what = kind if kind in ("timeout", "abandoned") else f"{type(e).__name__}: {e}"
        with lock:
            outcomes.append((who, what, time.monotonic() - t0))

    def thread(t: int) -> None:
        for r in range(SILENT_ROUNDS):
            if (t + r) % 2:
                record(f"t{t}.{r} set", lambda: cache.set(f"held:t{t}", r))
            else:
                record(f"t{t}.{r} get", lambda: cache.get(f"held:t{t}"))

    async def awaits() -> None:
        await asyncio.gather(*(
            arecord(f"a{i} set", lambda i=i: cache.aset(f"held:a{i}", i)) if i % 2
            else arecord(f"a{i} get", lambda i=i: cache.aget(f"held:a{i}"))
            for i in range(SILENT_AWAITS)))

    proxy.hold()
    t0 = time.monotonic()
    threads = [threading.Thread(target=thread, args=(t,), daemon=True) for t in range(SILENT_THREADS)]
    threads.append(threading.Thread(target=lambda: asyncio.run(awaits()), daemon=True))
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join(max(t0 + 30 - time.monotonic(), 0.1))
        elapsed = time.monotonic() - t0
        hung = sum(th.is_alive() for th in threads)
        held = proxy.commands_in_flight()
    finally:
        proxy.release()
    kinds = Counter(what for _, what, _ in outcomes)
    slowest = max(outcomes, key=lambda o: o[2], default=("", "", 0.0))
    print(f"\nnothing answering: {len(outcomes)} calls in {elapsed:.2f} s, {dict(kinds)}, "
          f"slowest {slowest[0]} {slowest[2]:.2f} s; {held} commands held")
    assert not hung, f"{hung} callers still waiting 30 s into the hold"
    assert len(outcomes) == SILENT_THREADS * SILENT_ROUNDS + SILENT_AWAITS
    assert set(kinds) <= {"timeout", "abandoned"}, f"every call fails by a timeout: {dict(kinds)}"
    assert kinds["timeout"] >= 1
    # Every call ended while the proxy still held the commands (it is released only after the
    # callers finished): each was ended by its own timeout, none by an answer.
    assert held >= 1, "the commands reached the proxy (and were held there)"

    # Released: the commands held for dead connections may still reach the server (they only touch
    # held:* keys); the same cache now serves threads and awaits again.
    tally = Tally()
    load = Load(cache, SILENT_THREADS, SILENT_AWAITS, tally)
    load.strict.set()
    load.start()
    marks = [0] * len(load.owners)
    try:
        wait_until(lambda: load.all_moved_on(marks, 3) or load.crashed, 30,
                   f"every worker did 3 rounds after the hold ({tally.summary()})")
    finally:
        hung_after = load.stop()
    print(f"after the hold: {tally.summary()}")
    check_load(load, cache, hung_after)


# --------------------------------------------------------------------------- 5. a server restart

RESTART_THREADS = 16
RESTART_TASKS = 200


@pytest.mark.timeout(90)
def test_server_restart_while_pipelined(make_cache, wait_until):
    """16 threads and 200 awaits in flight while redis-server is killed (SIGKILL) and started
    again on the same port: no wrong value at any time (a miss is right once the data is gone);
    every call that starts after the new server answers succeeds."""
    server = RedisServer().start()
    new: RedisServer | None = None
    try:
        cache = make_cache(location=server.location,
                           options={**BREAKER_OFF, "SOCKET_TIMEOUT": 2, "SOCKET_CONNECT_TIMEOUT": 2})
        tally = Tally()
        epoch = Epoch()
        # 5 ms after a failed round: 216 callers failing fast must leave the new server CPU to start.
        load = Load(cache, RESTART_THREADS, RESTART_TASKS, tally, epoch=epoch, pause=0.005).start()
        try:
            marks = load.rounds_marks()
            wait_until(lambda: load.all_moved_on(marks, 2), 30, "every worker did rounds before the restart")
            ok_before = tally.ok
            epoch.value += 1  # before the data is lost: a miss judged after this may be right
            assert server.proc is not None
            server.proc.kill()
            server.proc.wait(10)
            # Again once it is dead: a write that started after the first bump may still have been
            # acknowledged by the old server, and is lost with it; writes stamped from here on can
            # only be acknowledged by the new one.
            epoch.value += 1
            down_at = tally.ok
            new = RedisServer(port=server.port).start()
            load.strict.set()  # the new server answers PING: from now on every call succeeds
            marks = load.rounds_marks()
            wait_until(lambda: load.all_moved_on(marks, 3), 30,
                       f"every worker did 3 rounds after the restart ({tally.summary()})")
        finally:
            hung = load.stop()
        print(f"\nrestart: {tally.summary()}; ok before the kill {ok_before}, by the time it was down {down_at}")
        check_load(load, cache, hung)
        assert sum(tally.failed.values()) > 0, "no call saw the server go"
    finally:
        server.stop()
        if new is not None:
            new.stop()

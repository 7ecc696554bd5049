"""Native async calls: the Go core runs each operation on a goroutine and wakes the loop.

Contract: capi/redis_cache_go.h, "Asynchronous calls". Each event loop gets one completion queue
(:class:`_LoopQueue`): an eventfd (a pipe where there is none) registered with
``loop.add_reader``. ``rcg_async_submit`` copies the inputs, starts the operation and returns at
once; when a result is queued in Go the descriptor becomes readable and one ``rcg_async_drain``
call hands over every finished operation, whose futures are then resolved on the loop thread.
Nothing calls from Go into Python, and nothing here loads the library at import. The exports'
signatures are in ``_native._SIGNATURES`` with all the others.

A task cancelled while its operation is in flight only drops its ticket: the operation completes
in Go within the configured timeouts, its connection goes back to the pool, and the completion is
discarded when it arrives. (A lock taken by an attempt whose task was cancelled is released when
that completion arrives, see ``AsyncClient.lock_acquire``.)

With ``FORK_FALLBACK``, a call that finds itself in a forked child runs the sync client's method
(which switches to the pure-Python fallback) in the loop's default executor instead.
"""
from __future__ import annotations

import asyncio
import functools
import itertools
import os
import struct
import sys
import threading
import weakref
from typing import Any, Callable, Sequence

from redis_cache_go import _fallback, _native
from redis_cache_go import exceptions as exc
from redis_cache_go._native import _ERRORS, OK, _scratch, _take
from redis_cache_go._native_ext import _to_i64

# Operation codes: RCG_OP_<name> in the header (tests/python/test_abi_table.py holds them against it).
GET, SET, DELETE, EXISTS, EXPIRE, PERSIST, INCR, RENAME, GET_MANY, SET_MANY, DELETE_MANY, CLEAR, TTL = range(1, 14)
DELETE_PATTERN = 14
SCAN = 15
LOCK_ACQUIRE, LOCK_RELEASE, LOCK_EXTEND, LOCK_HELD = range(16, 20)
COMMAND = 21

STATUS_FORKED = -8
_RECORD = struct.Struct("<qiqI")  # ticket, status, num, payload length
# rcg_async_submit_many's record: handle, op, ticket, n1 … n4, len(a), len(b) (then a and b)
_SUBMIT = struct.Struct("<QiqqqqqII")
REFUSED = -1  # the num of a completion whose operation rcg_async_submit_many could not start
Result = tuple[int, int, bytes]  # status, num, payload


def _check(lib: Any, status: int) -> None:
    if status != OK:
        raise _ERRORS.get(status, exc.InternalError)(_take(lib, _scratch).decode("utf-8", "replace"))


def _wakeup_fds() -> tuple[int, int]:
    """(read fd, fd the library writes to): one eventfd, or a pipe where there is none."""
    eventfd = getattr(os, "eventfd", None)
    if eventfd is not None:
        fd: int = eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        return fd, fd
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    return r, w


class _LoopQueue:
    """One event loop's completion queue; used only on that loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        lib = _native.library()
        self.lib = lib
        self.rfd, self.wfd = _wakeup_fds()
        try:
            _check(lib, lib.rcg_async_open(self.wfd, _scratch.ptr))
        except BaseException:
            _close_fds(self.rfd, self.wfd)
            raise
        self.handle = int(_scratch.out.num)
        self.futures: dict[int, asyncio.Future[Result]] = {}
        self.tickets = itertools.count(1)
        self.batch: list[bytes] = []  # rcg_async_submit_many's frame in pieces (header, a, b per record)
        self.batch_tickets: list[int] = []
        self.loop_ref = weakref.ref(loop)
        loop.add_reader(self.rfd, self._drain)
        self.finalizer = weakref.finalize(loop, _close_queue, lib, self.handle, self.rfd, self.wfd)
        self.finalizer.atexit = False  # a daemon thread's loop may still be running at exit

    def submit(self, loop: asyncio.AbstractEventLoop, handle: int, op: int, a: bytes, b: bytes,
               n1: int, n2: int, n3: int, n4: int) -> asyncio.Future[Result]:
        """Start op: at once when nothing else is in flight on this loop (a lone call waits for
        nothing); else with the other submissions of this loop iteration, in one
        rcg_async_submit_many call (the future then reports a refusal as (status, REFUSED, message))."""
        ticket = next(self.tickets)
        if self.futures:
            self.batch += (_SUBMIT.pack(handle, op, ticket, n1, n2, n3, n4, len(a), len(b)), a, b)
            self.batch_tickets.append(ticket)
            if len(self.batch_tickets) == 1:
                loop.call_soon(self._flush)
        else:
            lib = self.lib
            s = _scratch
            status = lib.rcg_async_submit(self.handle, handle, s.ptr, op, ticket, a, len(a), b, len(b), n1, n2, n3, n4)
            if status != OK:
                message = _take(lib, s)
                if status == STATUS_FORKED:
                    raise exc.ForkedProcessError(message.decode("utf-8", "replace"))
                raise _Refused(status, message)
        future: asyncio.Future[Result] = loop.create_future()
        self.futures[ticket] = future
        return future

    def _flush(self) -> None:
        """Submit the batch gathered since the first submission of this loop iteration."""
        batch, tickets = self.batch, self.batch_tickets
        self.batch, self.batch_tickets = [], []
        frame = b"".join(batch)
        lib = self.lib
        s = _scratch
        status = lib.rcg_async_submit_many(self.handle, s.ptr, frame, len(frame), len(tickets))
        if status == OK:
            return
        message = _take(lib, s)  # nothing was started: every waiter learns why
        for ticket in tickets:
            future = self.futures.pop(ticket, None)
            if future is not None and not future.done():
                future.set_result((status, REFUSED, message))

    def _drain(self) -> None:
        try:
            os.read(self.rfd, 4096)  # reset the eventfd counter / empty the pipe, before draining
        except BlockingIOError:
            pass
        lib = self.lib
        s = _scratch
        status = lib.rcg_async_drain(self.handle, s.ptr)
        if status != OK:  # the queue was closed under us: nothing is coming any more
            _take(lib, s)
            return
        count = int(s.out.num)
        if not count:
            return
        data = _take(lib, s)
        futures = self.futures
        unpack = _RECORD.unpack_from
        off = 0
        for _ in range(count):
            ticket, st, num, length = unpack(data, off)
            off += 24
            payload = data[off:off + length]
            off += length
            future = futures.pop(ticket, None)
            if future is not None and not future.done():  # a cancelled waiter: dropped
                future.set_result((st, num, payload))

    def close(self) -> None:
        loop = self.loop_ref()
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self.rfd)
        self.finalizer()


class _Refused(Exception):
    """rcg_async_submit refused synchronously (status, message)."""

    def __init__(self, status: int, message: bytes) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message


def _close_fds(rfd: int, wfd: int) -> None:
    os.close(rfd)
    if wfd != rfd:
        os.close(wfd)


def _close_queue(lib: Any, handle: int, rfd: int, wfd: int, finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
    """Close a loop's queue (its finalizer, also called by close()). As _native._close_handle:
    nothing at interpreter shutdown, and never through the calling thread's scratch memory."""
    if finalizing():
        return
    own = _native._OwnOut()
    lib.rcg_async_close(handle, own.ptr)  # in a forked child this is refused: nothing to free
    own.release(lib)
    _close_fds(rfd, wfd)


async def _unless_orphaned(future: asyncio.Future[Any], orphan: Callable[[Any], None]) -> Any:
    """``await future``; when the awaiting task is cancelled first, ``future`` still runs and its
    result goes to ``orphan`` when it comes (an error result is dropped)."""
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        future.add_done_callback(functools.partial(_to_orphan, orphan))
        raise


def _to_orphan(orphan: Callable[[Any], None], future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is None:
        orphan(future.result())


_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = weakref.WeakKeyDictionary()
_queues_lock = threading.Lock()
_queues_pid = os.getpid()


def _queue_for(loop: asyncio.AbstractEventLoop) -> _LoopQueue:
    q = _queues.get(loop)
    if q is not None:
        return q
    global _queues_pid
    with _queues_lock:
        if _queues_pid != os.getpid():  # a forked child: the parent's queues are not ours
            _queues.clear()
            _queues_pid = os.getpid()
        for old, oq in list(_queues.items()):  # release queues of loops that were closed
            if old.is_closed():
                del _queues[old]
                oq.close()
        q = _queues.get(loop)
        if q is None:
            q = _queues[loop] = _LoopQueue(loop)
        return q


def _no_loop() -> None:
    return None


def stats() -> dict[str, int]:
    """Operations in flight in Go and open completion queues (leak checks); loads the library."""
    lib = _native.library()
    _check(lib, lib.rcg_async_stats(_scratch.ptr))
    text = _take(lib, _scratch).decode()
    return {k: int(v) for k, v in (item.split("=") for item in text.split())}


def pending() -> int:
    """Tickets awaiting a completion on the running loop (0 when none was ever submitted)."""
    q = _queues.get(asyncio.get_running_loop())
    return len(q.futures) if q is not None else 0


class _UseSync(Exception):
    """Serve this call through the sync client in a worker thread."""


class _Sync:
    """The result of a call served by the sync client (FORK_FALLBACK in a forked child)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class AsyncClient:
    """The async counterpart of the backend's client (native, or ForkAware around it).

    Method names, arguments and results are those of :class:`redis_cache_go._native.Client`.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._fork_aware = isinstance(client, _fallback.ForkAware)
        native = client._native if self._fork_aware else client
        self._native: _native.Client = native
        # Anything else (a wrapper this module does not know) keeps working through its sync
        # methods in the loop's default executor, as the fork fallback does.
        self._threaded = not isinstance(native, _native.Client)
        # the loop of the last call (weakly: a closed loop's queue is released with it) and its queue
        self._loop: Callable[[], asyncio.AbstractEventLoop | None] = _no_loop
        self._queue: _LoopQueue | None = None

    async def _run(self, name: str, sync_args: tuple[Any, ...], op: int, a: bytes = b"", b: bytes = b"",
                   n1: int = 0, n2: int = 0, n3: int = 0, n4: int = 0, *,
                   orphan: Callable[[Result | _Sync], None] | None = None) -> Result | _Sync:
        """Submit op (its arguments as the sync export's: header, "Asynchronous calls"): (status OK
        or MISS, num, payload), or a _Sync result of the sync client's method ``name`` called with
        ``sync_args`` (fork fallback, unknown client wrapper), or raises. ``orphan`` gets the
        outcome of a call whose awaiting task was cancelled meanwhile, when it arrives."""
        loop = asyncio.get_running_loop()
        native = self._native
        try:
            if self._threaded or (self._fork_aware and self._client._fallback is not None):
                raise _UseSync
            q = self._queue
            if q is None or self._loop() is not loop:
                q = self._queue = _queue_for(loop)
                self._loop = weakref.ref(loop)
            h = native._handle or native._open()
            while True:
                try:
                    future = q.submit(loop, h, op, a, b, n1, n2, n3, n4)
                    break
                except _Refused as refused:
                    if refused.status != _native.STATUS_CLOSED or not native._reopened(h):
                        raise
                    # disconnect() in another thread got there first and nothing was started:
                    # again on the current handle (as _native.Client._again).
                    h = native._handle or native._open()
        except _Refused as refused:
            self._raise(refused.status, refused.message)
        except (exc.ForkedProcessError, _UseSync):
            if not (self._fork_aware or self._threaded):
                raise
            return await self._sync(loop, name, sync_args, orphan)
        if orphan is None:
            status, num, payload = await future
        else:
            status, num, payload = await _unless_orphaned(future, orphan)
        if status < 0:
            if num == REFUSED:  # submitted in a batch that could not start it: as a refusal above
                if status == _native.STATUS_CLOSED and native._reopened(h):
                    return await self._run(name, sync_args, op, a, b, n1, n2, n3, n4, orphan=orphan)
                if status == STATUS_FORKED:
                    if not self._fork_aware:
                        raise exc.ForkedProcessError(payload.decode("utf-8", "replace"))
                    return await self._sync(loop, name, sync_args, orphan)
            self._raise(status, payload)
        return status, num, payload

    async def _sync(self, loop: asyncio.AbstractEventLoop, name: str, sync_args: tuple[Any, ...],
                    orphan: Callable[[Result | _Sync], None] | None) -> _Sync:
        """The sync client's method ``name`` in the loop's default executor: it switches to (or
        already uses) the pure-Python fallback (FORK_FALLBACK), or is a wrapper we do not know."""
        call = functools.partial(getattr(self._client, name), *sync_args)
        running = loop.run_in_executor(None, call)
        if orphan is None:
            return _Sync(await running)
        return _Sync(await _unless_orphaned(running, lambda value: orphan(_Sync(value))))

    def _raise(self, status: int, message: bytes) -> None:
        """The sync client's error: same class, same message prefix, same handle reset."""
        raise self._native.error(status, message.decode("utf-8", "replace"))

    def _send(self, op: int, a: bytes, b: bytes = b"") -> None:
        """Submit op on the running loop without awaiting it (its completion is dropped); best
        effort: an error (a closed queue or handle, a fork) is not reported."""
        try:
            loop = asyncio.get_running_loop()
            native = self._native
            _queue_for(loop).submit(loop, native._handle or native._open(), op, a, b, 0, 0, 0, 0)
        except Exception:  # noqa: BLE001 - best effort, see above
            pass

    # -- operations (results as the sync client's) ---------------------------------
    def _inline(self, op: int, a: bytes, b: bytes = b"", n1: int = 0, n2: int = 0) -> asyncio.Future[Result] | None:
        """Submit op straight away in the common case (this loop's queue known, the handle open,
        no fork fallback or wrapper): one coroutine less per call than _run. None: nothing was
        started, and the caller goes through _run, which handles every other case."""
        q = self._queue
        if q is None or self._threaded or self._fork_aware:
            return None
        h = self._native._sh.handle
        if not h:
            return None
        loop = asyncio.get_running_loop()
        if self._loop() is not loop:
            return None
        try:
            return q.submit(loop, h, op, a, b, n1, n2, 0, 0)
        except (_Refused, exc.ForkedProcessError):
            return None  # nothing was started: _run handles it (reopen, fallback, the error)

    async def get(self, key: bytes) -> bytes | None:
        future = self._inline(GET, key)
        if future is not None:
            status, num, payload = await future
            if status >= 0:
                return payload if status == OK else None
            return await self.get_after(status, num, payload, key)
        return await self._get(key)

    async def get_after(self, status: int, num: int, payload: bytes, key: bytes) -> bytes | None:
        """The outcome of a GET that ``_inline`` submitted and that completed with an error
        ``status``: raises it, or (a refused record started nothing) submits it again via _run."""
        if num != REFUSED:
            self._raise(status, payload)
        return await self._get(key)

    async def _get(self, key: bytes) -> bytes | None:
        r = await self._run("get", (key,), GET, key)
        if isinstance(r, _Sync):
            return r.value  # type: ignore[no-any-return]
        return r[2] if r[0] == OK else None

    async def set(self, key: bytes, value: bytes, ttl_ms: int, nx: bool = False) -> bool:
        flags = _native.SET_NX if nx else 0
        future = self._inline(SET, key, value, ttl_ms, flags)
        if future is not None:
            status, num, payload = await future
            if status >= 0:
                return status == OK
            if num != REFUSED:
                self._raise(status, payload)
        r = await self._run("set", (key, value, ttl_ms, nx), SET, key, value, ttl_ms, flags)
        return bool(r.value) if isinstance(r, _Sync) else r[0] == OK

    async def _found(self, name: str, op: int, key: bytes, *extra: int) -> bool:
        r = await self._run(name, (key, *extra), op, key, b"", *extra)
        return bool(r.value) if isinstance(r, _Sync) else r[0] == OK

    async def delete(self, key: bytes) -> bool:
        return await self._found("delete", DELETE, key)

    async def exists(self, key: bytes) -> bool:
        return await self._found("exists", EXISTS, key)

    async def expire(self, key: bytes, ttl_ms: int) -> bool:
        return await self._found("expire", EXPIRE, key, ttl_ms)

    async def persist(self, key: bytes) -> bool:
        return await self._found("persist", PERSIST, key)

    async def _counted(self, name: str, op: int, key: bytes, *extra: int) -> tuple[bool, int]:
        r = await self._run(name, (key, *extra), op, key, b"", *extra)
        if isinstance(r, _Sync):
            return r.value  # type: ignore[no-any-return]
        return (True, r[1]) if r[0] == OK else (False, 0)

    async def ttl(self, key: bytes) -> tuple[bool, int]:
        """(found, remaining ms or -1 for no expiry)."""
        return await self._counted("ttl", TTL, key)

    async def incr(self, key: bytes, delta: int) -> tuple[bool, int]:
        """(found, new value); a missing key is not created."""
        return await self._counted("incr", INCR, key, delta)

    async def rename(self, src: bytes, dst: bytes) -> bool:
        r = await self._run("rename", (src, dst), RENAME, src, dst)
        return bool(r.value) if isinstance(r, _Sync) else r[0] == OK

    async def get_many(self, keys: Sequence[bytes]) -> list[bytes | None]:
        r = await self._run("get_many", (keys,), GET_MANY, _native.encode_frame(keys))
        return r.value if isinstance(r, _Sync) else _native.decode_frame(r[2])

    async def set_many(self, pairs: Sequence[bytes], ttl_ms: int) -> None:
        await self._run("set_many", (pairs, ttl_ms), SET_MANY, _native.encode_frame(pairs), b"", ttl_ms)

    async def _num(self, name: str, op: int, a: bytes, sync_arg: Any) -> int:
        r = await self._run(name, (sync_arg,), op, a)
        return int(r.value) if isinstance(r, _Sync) else r[1]

    async def delete_many(self, keys: Sequence[bytes]) -> int:
        return await self._num("delete_many", DELETE_MANY, _native.encode_frame(keys), keys)

    async def clear(self, pattern: bytes) -> int:
        """Delete keys matching a glob pattern (b"" = FLUSHDB, returns -1)."""
        return await self._num("clear", CLEAR, pattern, pattern)

    async def command(self, key: bytes, args: Sequence[bytes]) -> tuple[Any, bool]:
        """A raw Redis command routed by key: (reply, per_server), as the sync client's."""
        r = await self._run("command", (key, args), COMMAND, _native.encode_frame([key, *args]))
        if isinstance(r, _Sync):
            return r.value  # type: ignore[no-any-return]
        return _native.decode_reply(r[2]), bool(r[1])

    async def delete_pattern(self, pattern: bytes, count: int) -> int:
        """Delete the keys matching a non-empty glob pattern (SCAN + UNLINK batches of count)."""
        r = await self._run("delete_pattern", (pattern, count), DELETE_PATTERN, pattern, b"", count)
        return int(r.value) if isinstance(r, _Sync) else r[1]

    async def scan(self, server: int, cursor: int, pattern: bytes, count: int) -> tuple[list[bytes], int] | None:
        """One SCAN step on scan target ``server``: (keys, next cursor), or None past the last one."""
        r = await self._run("scan", (server, cursor, pattern, count), SCAN, pattern, b"", server, _to_i64(cursor), count)
        if isinstance(r, _Sync):
            return r.value  # type: ignore[no-any-return]
        if r[0] != OK:
            return None
        return [k for k in _native.decode_frame(r[2]) if k is not None], r[1] & 0xFFFFFFFFFFFFFFFF

    async def lock_acquire(self, key: bytes, ttl_ms: int, sleep_ms: int, wait_ms: int, blocking: bool) -> bytes | None:
        """The token, or None when the lock was not acquired (as the sync client's).

        Blocking waits on the loop, not in Go: each attempt is one non-blocking LOCK_ACQUIRE, and
        between them the loop sleeps ``sleep_ms`` (at most until ``wait_ms`` has passed, as
        core/lock.Acquire does), so a cancelled acquire sends no further attempt. A lock that an
        attempt in flight when its task was cancelled did take is released when its completion
        arrives (else it would stay held until its TTL, or forever without one)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_ms / 1000 if wait_ms > 0 else None
        pause = (sleep_ms if sleep_ms > 0 else 100) / 1000  # core/lock.DefaultSleep
        release = functools.partial(self._release_orphan, key)
        while True:
            r = await self._run("lock_acquire", (key, ttl_ms, sleep_ms, wait_ms, blocking), LOCK_ACQUIRE, key, b"",
                                ttl_ms, sleep_ms, wait_ms, 0, orphan=release)
            if isinstance(r, _Sync):  # the sync client waited itself
                return r.value  # type: ignore[no-any-return]
            if r[0] == OK:
                return r[2]
            if not blocking:
                return None
            wait = pause
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    return None
                wait = min(wait, left)
            await asyncio.sleep(wait)

    def _release_orphan(self, key: bytes, r: Result | _Sync) -> None:
        """Release what an acquire whose task was cancelled took (on the path it took it on)."""
        if isinstance(r, _Sync):
            if r.value is not None:
                done = asyncio.get_running_loop().run_in_executor(None, self._client.lock_release, key, r.value)
                done.add_done_callback(lambda f: f.cancelled() or f.exception())  # best effort, never logged
        elif r[0] == OK:
            self._send(LOCK_RELEASE, key, r[2])

    async def lock_release(self, key: bytes, token: bytes) -> bool:
        r = await self._run("lock_release", (key, token), LOCK_RELEASE, key, token)
        return bool(r.value) if isinstance(r, _Sync) else r[0] == OK

    async def lock_extend(self, key: bytes, token: bytes, ttl_ms: int, replace: bool) -> bool:
        r = await self._run("lock_extend", (key, token, ttl_ms, replace), LOCK_EXTEND, key, token, ttl_ms, int(replace))
        return bool(r.value) if isinstance(r, _Sync) else r[0] == OK

    async def lock_held(self, key: bytes) -> bool:
        return await self._found("lock_held", LOCK_HELD, key)

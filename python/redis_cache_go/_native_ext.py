"""ctypes calls for herd get_or_set, locks and key walks (capi/herd.go, capi/ops.go).

``Client`` here is ``_native.Client`` plus these calls; the backend uses it. The exports'
signatures are in ``_native._SIGNATURES`` with all the others; the library is loaded on first use.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from redis_cache_go import _native
from redis_cache_go._native import MISS, OK, _scratch, _take, decode_frame, decode_reply, encode_frame

HERD_COMPUTE = 2  # rcg_herd_ask: the caller computes (RCG_HERD_COMPUTE)
HERD_FAILED = 3  # rcg_herd_ask: the computation waited for failed (RCG_HERD_FAILED)
LOCK_BLOCKING = 1  # rcg_lock_acquire flag
WALK_COUNT, WALK_DELETE, WALK_REINSERT = 0, 1, 2  # rcg_walk_step operations


def _to_i64(cursor: int) -> int:
    """A uint64 SCAN cursor as the int64 the C ABI carries."""
    return cursor - (1 << 64) if cursor >= 1 << 63 else cursor


class FlightFailed(Exception):
    """rcg_herd_ask: the computation this call waited for (herd ticket ``flight``) failed."""

    def __init__(self, flight: int, message: str) -> None:
        super().__init__(message)
        self.flight = flight


class Client(_native.Client):
    """A native client with the herd, lock and key-walk calls."""

    def herd_ask(self, key: bytes, lock_ms: int) -> tuple[bytes | None, int]:
        """(value, 0) when the value is served; (None, ticket) when the caller must compute;
        FlightFailed when the computation this call waited for failed."""
        lib, status, s = self._invoke("rcg_herd_ask", key, len(key), lock_ms)
        if status == OK:
            return _take(lib, s), 0
        if status == HERD_COMPUTE:
            return None, int(s.out.num)
        if status == HERD_FAILED:
            raise FlightFailed(int(s.out.num), _take(lib, s).decode("utf-8", "replace"))
        self._raise(lib, status, s)
        raise AssertionError("unreachable")

    # herd_publish and herd_abandon work on the handle the ticket was asked on, whatever handle
    # they pass (Go keeps that handle's connections open until the ticket is spent, also across
    # close()), and run once: Go spends the ticket on every outcome.
    def herd_publish(self, ticket: int, value: bytes, value_ms: int, fresh_ms: int) -> None:
        lib, fn, h = self._call("rcg_herd_publish")
        s = _scratch
        status = fn(h, s.ptr, ticket, value, len(value), value_ms, fresh_ms)
        if status != OK:
            self._raise(lib, status, s)

    def herd_abandon(self, ticket: int) -> tuple[int, Exception | None]:
        """(how many asks waited for the ticket, the error releasing its lock or None)."""
        lib, fn, h = self._call("rcg_herd_abandon")
        s = _scratch
        status = fn(h, s.ptr, ticket)
        waiting = int(s.out.num)
        if status == OK:
            return waiting, None
        return waiting, self.error(status, _take(lib, s).decode("utf-8", "replace"))

    def herd_waiting(self) -> int:
        """How many get_or_set calls of this client wait for another one's computation now."""
        lib, fn, h = self._call("rcg_herd_waiting")
        s = _scratch
        status = fn(h, s.ptr)
        if status != OK:
            self._raise(lib, status, s)
        return int(s.out.num)

    def lock_acquire(self, key: bytes, ttl_ms: int, sleep_ms: int, wait_ms: int, blocking: bool) -> bytes | None:
        """The token, or None when the lock was not acquired."""
        lib, status, s = self._invoke("rcg_lock_acquire", key, len(key), ttl_ms, sleep_ms, wait_ms,
                                      LOCK_BLOCKING if blocking else 0)
        if status == OK:
            return _take(lib, s)
        if status == MISS:
            return None
        self._raise(lib, status, s)
        raise AssertionError("unreachable")

    def lock_release(self, key: bytes, token: bytes) -> bool:
        return self._key_op("rcg_lock_release", key, token, len(token))[0]

    def lock_extend(self, key: bytes, token: bytes, ttl_ms: int, replace: bool) -> bool:
        return self._key_op("rcg_lock_extend", key, token, len(token), ttl_ms, int(replace))[0]

    def lock_held(self, key: bytes) -> bool:
        return self._key_op("rcg_lock_held", key)[0]

    def scan(self, server: int, cursor: int, pattern: bytes, count: int) -> tuple[list[bytes], int] | None:
        """One SCAN step on scan target ``server``: (keys, next cursor), or None past the last one."""
        lib, status, s = self._invoke("rcg_scan", server, _to_i64(cursor), pattern, len(pattern), count)
        if status == OK:
            keys = [k for k in decode_frame(_take(lib, s)) if k is not None]
            return keys, int(s.out.num) & 0xFFFFFFFFFFFFFFFF
        if status == MISS:
            return None
        self._raise(lib, status, s)
        raise AssertionError("unreachable")

    def delete_pattern(self, pattern: bytes, count: int) -> int:
        _, s = self._frame_op("rcg_delete_pattern", pattern, count)
        return int(s.out.num)

    def reinsert(self, pattern: bytes, count: int) -> int:
        _, s = self._frame_op("rcg_reinsert", pattern, count)
        return int(s.out.num)

    def walk_step(self, op: int, server: int, cursor: int, pattern: bytes, count: int) -> tuple[int, int, int] | None:
        """One step of a key walk on scan target ``server`` (rcg_walk_step): (keys found, of which
        counted, deleted or rewritten, next cursor), or None past the last target."""
        lib, status, s = self._invoke("rcg_walk_step", op, server, _to_i64(cursor), pattern, len(pattern), count)
        if status == OK:
            next_cursor = int(s.out.num) & 0xFFFFFFFFFFFFFFFF
            data = _take(lib, s)
            return int.from_bytes(data[:8], "little"), int.from_bytes(data[8:16], "little"), next_cursor
        if status == MISS:
            return None
        self._raise(lib, status, s)
        raise AssertionError("unreachable")

    def copy_step(self, dst: "Client", request: dict[str, Any]) -> dict[str, Any]:
        """One batch of a copy from this client's layout to ``dst``'s (rcg_copy_step): the
        request and the result as the header documents them."""
        doc = json.dumps(request).encode()
        lib, status, s = self._invoke("rcg_copy_step", dst._handle or dst._open(), doc, len(doc))
        if status != OK:
            self._raise(lib, status, s)
        result: dict[str, Any] = json.loads(_take(lib, s))
        return result

    def cache_stats(self) -> list[dict[str, Any]]:
        """Per-server counters kept in Go (rcg_cache_stats), in LOCATION order."""
        lib, status, s = self._invoke("rcg_cache_stats")
        if status != OK:
            self._raise(lib, status, s)
        result: list[dict[str, Any]] = json.loads(_take(lib, s))
        return result

    def server_command(self, server: int, args: Sequence[bytes]) -> Any:
        """Run one command on server number ``server`` (LOCATION order), bypassing routing; raises
        IndexError past the last server."""
        frame = encode_frame(args)
        lib, status, s = self._invoke("rcg_server_command", server, frame, len(frame))
        if status == OK:
            return decode_reply(_take(lib, s))
        if status == MISS:
            raise IndexError(f"{self.describe}: there is no server number {server}")
        self._raise(lib, status, s)
        raise AssertionError("unreachable")

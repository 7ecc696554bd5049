"""Checking a TTL read right after it was set, without a fixed allowance for the time in between.

A fixed window (say "a 0.5 s timeout reads back between 1 and 500 ms") fails when the machine pauses
the test between the write and the read for longer than the window's slack. ``ttl_window(ms)`` is
started before the write; ``check(remaining)`` allows exactly the time that passed since, so a loaded
machine cannot fail it, while a TTL that was rounded, cut short or lost still shows.

Time is read from the wall clock, the one Redis counts expiries on: when the machine is paused (a VM
snapshot), the wall clock is stepped over the pause, Redis' TTLs drop by it, and the monotonic clock
does not see it (a reinsert test failed that way, its TTLs 4 s short of the monotonic clock's count).
"""
from __future__ import annotations

import math
import time


class TtlWindow:
    def __init__(self, ms: int | None) -> None:
        self.ms = ms
        self.started = time.time()

    def check(self, remaining: int) -> None:
        """remaining: the key's PTTL, read after the write (-1: no expiry, as Redis says)."""
        if self.ms is None:
            assert remaining == -1, f"PTTL {remaining}; want -1 (no expiry)"
            return
        # Redis counts whole milliseconds: one more for the rounding of the two reads of its clock.
        slack = math.ceil((time.time() - self.started) * 1000) + 1
        assert self.ms - slack <= remaining <= self.ms, (
            f"PTTL {remaining}; want {self.ms} less at most the {slack} ms since the write began")


def ttl_window(ms: int | None) -> TtlWindow:
    """Start now, before writing a key with a TTL of ms milliseconds (None: no expiry)."""
    return TtlWindow(ms)

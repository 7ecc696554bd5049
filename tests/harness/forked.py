"""Run a callable in a fork() child and report what it raised, for the fork tests.

The child never returns into the test runner: it reports through a pipe and leaves with
``os._exit``. A child that does not finish within ``timeout`` is killed and reported as hung.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class ChildOutcome:
    error: str  # the exception's class name, "" when the call returned
    message: str
    elapsed: float  # seconds the call took in the child
    hung: bool = False


def call_in_forked_child(fn: Callable[[], object], timeout: float = 10.0) -> ChildOutcome:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            started = time.monotonic()
            try:
                fn()
                outcome = "|"
            except Exception as e:  # noqa: BLE001 - reported to the parent, whatever it is
                outcome = f"{type(e).__name__}|{e}"
            os.write(write, f"{time.monotonic() - started:.3f}|{outcome}".encode())
        finally:
            os._exit(0)
    os.close(write)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)  # polling the child's exit, bounded by the deadline
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(read)
        return ChildOutcome("", "", timeout, hung=True)
    with os.fdopen(read) as f:
        elapsed, name, message = f.read().split("|", 2)
    return ChildOutcome(name, message, float(elapsed))

"""Run a callable in a fork() child and report what it raised, for the fork tests.

The child never returns into the test runner: it reports through a pipe and leaves with
``os._exit``. A child that does not finish within ``timeout`` is killed and reported as hung (the
deadline only bounds a hang: it is generous, for a loaded machine).
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
    hung: bool = False


def call_in_forked_child(fn: Callable[[], object], timeout: float = 30.0) -> ChildOutcome:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            try:
                fn()
                outcome = "|"
            except Exception as e:  # noqa: BLE001 - reported to the parent, whatever it is
                outcome = f"{type(e).__name__}|{e}"
            os.write(write, outcome.encode())
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
        return ChildOutcome("", "", hung=True)
    with os.fdopen(read) as f:
        name, message = f.read().split("|", 1)
    return ChildOutcome(name, message)

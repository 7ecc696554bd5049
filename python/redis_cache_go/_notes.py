"""Warnings about settings: logged once per process, and reported by the system checks every time.

A setting that is accepted but has no effect (or a CACHES key that nothing reads) is worth one
WARNING per process, not one per cache construction: Django builds a cache per alias and per
thread, and ``manage.py check`` builds each entry twice. While :func:`collecting` is active (the
system checks build an entry), the warnings go to the collector instead, each with its check id, and
count as said for the rest of the process: ``check`` and ``runserver`` then show them once, as
check messages. Every text is scrubbed of URL passwords (see ``_secrets``).
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from dataclasses import dataclass
from typing import Iterator

from redis_cache_go import _secrets

logger = logging.getLogger("redis_cache_go")

IGNORED = "redis_cache_go.W004"  # accepted but ignored
UNREAD_KEY = "redis_cache_go.W007"  # a CACHES entry key nothing reads


@dataclass(frozen=True)
class Note:
    """One warning: the check id it is reported under, its text, and a hint when the id's own
    hint is not specific enough."""

    check: str
    text: str
    hint: str | None = None


_said: set[str] = set()
_lock = threading.Lock()
_collector: contextvars.ContextVar[list[Note] | None] = contextvars.ContextVar("redis_cache_go_notes", default=None)


def warn(what: str, why: str, check: str = IGNORED, hint: str | None = None) -> None:
    """Warn ``what why`` once per process (or hand it to the active collector)."""
    note = Note(check, _secrets.scrub(f"{what} {why}"), hint)
    sink = _collector.get()
    with _lock:
        first = note.text not in _said
        _said.add(note.text)
    if sink is not None:
        sink.append(note)
    elif first:
        logger.warning("redis_cache_go: %s", note.text)


@contextlib.contextmanager
def collecting() -> Iterator[list[Note]]:
    """Collect the warnings of the settings code run inside, instead of logging them."""
    notes: list[Note] = []
    token = _collector.set(notes)
    try:
        yield notes
    finally:
        _collector.reset(token)


def reset() -> None:
    """Forget which warnings were said (for tests)."""
    with _lock:
        _said.clear()

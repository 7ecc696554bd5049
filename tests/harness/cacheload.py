"""Checked load through the Django cache API, for tests that change a Redis Cluster under it.

``CheckedLoad(cache, hot_slots)`` runs 4 threads calling set, get, get_many, set_many, incr,
delete and add, plus an asyncio loop in a fifth thread doing gathers of aget and aset. Every
writer owns its keys, so the last acknowledged value of each key is known:

* a read must return the last acknowledged value; only for a key whose last write raised it may
  return the previous or the attempted one (the write may or may not have been applied);
* counters are changed by ``incr`` alone: each one's value (and what each ``incr`` returns) must be
  its acknowledged total plus some of the deltas of the increments that raised — an increment
  applied twice, or an acknowledged one missing, shows;
* ``verify()`` reads every key back at the end (no key expires): a key whose acknowledged value is
  gone is *lost*, a value no write of its owner can explain is *wrong*.

Keys sit in chosen hash slots through a hash tag (``w0-v-17{tag}``, the tag found once per slot):
one key per writer in every ``stride``-th slot and ``hot_keys`` in every slot of ``hot_slots``
(the slots a test is about to move: more keys make each slot's migration last longer), which get
half of the calls. Errors are counted by class: the exception
type and its message with numbers and addresses replaced.
"""
from __future__ import annotations

import asyncio
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Iterable

SLOTS = 16384
ABSENT = None  # a key's state "not stored"


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC = _crc_table()
_TAGS: list[str] = []


def crc16_slot(data: bytes) -> int:
    """Redis Cluster's slot of a hash tag (CRC16/XMODEM mod 16384)."""
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC[((crc >> 8) ^ b) & 0xFF]
    return crc % SLOTS


def slot_tags() -> list[str]:
    """A short hash tag for every slot (index = slot), found once per process."""
    if not _TAGS:
        tags: list[str | None] = [None] * SLOTS
        missing, i = SLOTS, 0
        while missing:
            tag = format(i, "x")
            s = crc16_slot(tag.encode())
            if tags[s] is None:
                tags[s] = tag
                missing -= 1
            i += 1
        _TAGS.extend(t for t in tags if t is not None)
    return _TAGS


def error_class(e: BaseException) -> str:
    """An error's class for counting: its type and its message with addresses and numbers masked."""
    msg = re.sub(r"\d+\.\d+\.\d+\.\d+(:\d+)?", "ADDR", str(e))
    msg = re.sub(r"\d+", "N", msg)
    msg = re.sub(r"'[^']*'", "'…'", msg)
    return f"{type(e).__name__}: {msg[:160]}"


def _subset_sums(deltas: list[int]) -> set[int]:
    sums = {0}
    if len(deltas) > 12:  # many ambiguous increments: any sum between the extremes
        lo, hi = sum(d for d in deltas if d < 0), sum(d for d in deltas if d > 0)
        return set(range(lo, hi + 1))
    for n in range(1, len(deltas) + 1):
        for combo in combinations(deltas, n):
            sums.add(sum(combo))
    return sums


@dataclass
class Counts:
    """What one writer saw."""
    calls: int = 0
    hot_calls: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)

    def merge(self, other: "Counts") -> None:
        self.calls += other.calls
        self.hot_calls += other.hot_calls
        self.errors.update(other.errors)
        self.wrong.extend(other.wrong)


class Writer:
    """The keys one thread (or the asyncio loop) owns, and what it knows of each."""

    def __init__(self, wid: int, slots: list[int], hot: set[int], seed: int, hot_keys: int = 1) -> None:
        tags = slot_tags()
        self.wid = wid
        self.rng = random.Random(seed)
        self.values = {f"w{wid}-v-{s}{{{tags[s]}}}": s for s in slots}
        for j in range(1, hot_keys):  # more keys in a moving slot: its migration takes longer
            self.values.update({f"w{wid}-v{j}-{s}{{{tags[s]}}}": s for s in slots if s in hot})
        self.counters = {f"w{wid}-c-{s}{{{tags[s]}}}": s for s in slots[::4]}
        self.hot_values = [k for k, s in self.values.items() if s in hot]
        self.hot_counters = [k for k, s in self.counters.items() if s in hot]
        self.cold_values = [k for k, s in self.values.items() if s not in hot]
        self.cold_counters = [k for k, s in self.counters.items() if s not in hot]
        self.hot = hot
        # value key -> the values a read may return (ABSENT included when it may be absent)
        self.state: dict[str, set[Any]] = {}
        self.acked: dict[str, int] = {}  # counter -> acknowledged value
        self.ambiguous: dict[str, list[int]] = {}  # counter -> deltas of increments that raised
        self.seq = 0
        self.counts = Counts()

    # ------------------------------------------------------------------ bookkeeping

    def fresh(self, key: str) -> str:
        self.seq += 1
        return f"{key}#{self.seq}"

    def pick(self, hot: list[str], cold: list[str], n: int = 1) -> list[str]:
        pool = hot if hot and (not cold or self.rng.random() < 0.5) else cold
        return self.rng.sample(pool, min(n, len(pool)))

    def counter_values(self, key: str) -> set[int]:
        return {self.acked[key] + s for s in _subset_sums(self.ambiguous[key])}

    def check(self, op: str, key: str, got: Any) -> None:
        ok = got in self.counter_values(key) if key in self.counters else got in self.state[key]
        if not ok:
            want = sorted(self.counter_values(key)) if key in self.counters else self.state[key]
            self.counts.wrong.append(f"{op} {key}: got {got!r}, expected one of {want!r}")

    def certain(self, key: str) -> Any:
        """The key's value when exactly one is possible, else a marker that matches nothing."""
        st = self.state[key]
        return next(iter(st)) if len(st) == 1 else _UNKNOWN

    def count(self, keys: Iterable[str]) -> None:
        self.counts.calls += 1
        if any(self._slot(k) in self.hot for k in keys):
            self.counts.hot_calls += 1

    def _slot(self, key: str) -> int:
        return self.values.get(key, self.counters.get(key, -1))

    def failed(self, e: BaseException) -> None:
        self.counts.errors[error_class(e)] += 1


_UNKNOWN = object()


def _sync_step(cache: Any, w: Writer) -> None:
    """One random call through the cache, checked against what w knows."""
    r = w.rng.random()
    if r < 0.15:  # incr
        (key,) = w.pick(w.hot_counters, w.cold_counters)
        delta = w.rng.randint(1, 9)
        w.count([key])
        try:
            got = cache.incr(key, delta)
        except Exception as e:  # noqa: BLE001 - counted by class, and the delta becomes ambiguous
            w.failed(e)
            w.ambiguous[key].append(delta)
            return
        if got - delta not in w.counter_values(key):
            w.counts.wrong.append(f"incr {key} +{delta}: returned {got}, expected {sorted(v + delta for v in w.counter_values(key))}")
        w.acked[key] += delta
        return
    if r < 0.23:  # get of a counter
        (key,) = w.pick(w.hot_counters, w.cold_counters)
        w.count([key])
        try:
            w.check("get", key, cache.get(key))
        except Exception as e:  # noqa: BLE001
            w.failed(e)
        return
    if r < 0.40:  # set
        (key,) = w.pick(w.hot_values, w.cold_values)
        value = w.fresh(key)
        w.count([key])
        try:
            cache.set(key, value, timeout=None)
        except Exception as e:  # noqa: BLE001
            w.failed(e)
            w.state[key].add(value)
            return
        w.state[key] = {value}
        return
    if r < 0.60:  # get
        (key,) = w.pick(w.hot_values, w.cold_values)
        w.count([key])
        try:
            w.check("get", key, cache.get(key))
        except Exception as e:  # noqa: BLE001
            w.failed(e)
        return
    if r < 0.70:  # get_many, values and counters mixed
        keys = w.pick(w.hot_values, w.cold_values, 6) + w.pick(w.hot_counters, w.cold_counters, 2)
        w.count(keys)
        try:
            got = cache.get_many(keys)
        except Exception as e:  # noqa: BLE001
            w.failed(e)
            return
        for k in keys:
            w.check("get_many", k, got.get(k, ABSENT))
        return
    if r < 0.80:  # set_many
        data = {k: w.fresh(k) for k in w.pick(w.hot_values, w.cold_values, 6)}
        w.count(data)
        try:
            failed = set(cache.set_many(data, timeout=None))
        except Exception as e:  # noqa: BLE001
            w.failed(e)
            for k, v in data.items():
                w.state[k].add(v)
            return
        for k, v in data.items():
            if k in failed:
                w.counts.errors["set_many: key reported as not stored"] += 1
                w.state[k].add(v)
            else:
                w.state[k] = {v}
        return
    if r < 0.90:  # delete
        (key,) = w.pick(w.hot_values, w.cold_values)
        before = w.certain(key)
        w.count([key])
        try:
            existed = cache.delete(key)
        except Exception as e:  # noqa: BLE001
            w.failed(e)
            w.state[key].add(ABSENT)
            return
        if before is not _UNKNOWN and existed != (before is not ABSENT):
            w.counts.wrong.append(f"delete {key}: returned {existed}, the key held {before!r}")
        w.state[key] = {ABSENT}
        return
    # add: stores only when absent, and says whether it did
    (key,) = w.pick(w.hot_values, w.cold_values)
    before = w.certain(key)
    value = w.fresh(key)
    w.count([key])
    try:
        added = cache.add(key, value, timeout=None)
    except Exception as e:  # noqa: BLE001
        w.failed(e)
        if ABSENT in w.state[key]:
            w.state[key].add(value)
        return
    if before is not _UNKNOWN and added != (before is ABSENT):
        w.counts.wrong.append(f"add {key}: returned {added}, the key held {before!r}")
    if added:
        w.state[key] = {value}
    elif ABSENT in w.state[key] and len(w.state[key]) > 1:
        w.state[key].discard(ABSENT)  # not added: it was present, so one of the others holds


async def _async_step(cache: Any, w: Writer) -> None:
    """One gather: aset of 8 keys and aget of 8 others (distinct keys, so no order matters)."""
    keys = w.pick(w.hot_values, w.cold_values, 16)
    if len(keys) < 16:
        keys += w.rng.sample(w.cold_values, 16 - len(keys))
    writes = {k: w.fresh(k) for k in keys[:8]}
    reads = keys[8:]
    calls = [cache.aset(k, v, timeout=None) for k, v in writes.items()] + [cache.aget(k) for k in reads]
    for k in keys:
        w.count([k])
    results = await asyncio.gather(*calls, return_exceptions=True)
    for (k, v), res in zip(writes.items(), results[:8]):
        if isinstance(res, BaseException):
            w.failed(res)
            w.state[k].add(v)
        else:
            w.state[k] = {v}
    for k, res in zip(reads, results[8:]):
        if isinstance(res, BaseException):
            w.failed(res)
        else:
            w.check("aget", k, res)


@dataclass
class Report:
    """The outcome of a run: calls, errors by class, wrong reads and lost writes."""
    label: str
    calls: int
    hot_calls: int
    errors: Counter[str]
    wrong: list[str]
    lost: list[str]
    ambiguous: int  # keys whose last write raised (their value was accepted either way)
    checked_keys: int

    def summary(self) -> str:
        errs = ", ".join(f"{n} x {c}" for c, n in self.errors.most_common()) or "none"
        return (f"{self.label}: calls {self.calls} ({self.hot_calls} on moving slots), errors "
                f"{sum(self.errors.values())} [{errs}], wrong {len(self.wrong)}, lost {len(self.lost)}, "
                f"keys read back {self.checked_keys} ({self.ambiguous} ambiguous)")


class CheckedLoad:
    """4 sync threads and one asyncio thread on ``cache``; see the module docstring."""

    THREADS = 4

    def __init__(self, cache: Any, hot_slots: Iterable[int] = (), stride: int = 16, seed: int = 1,
                 hot_keys: int = 4) -> None:
        hot = set(hot_slots)
        slots = sorted(set(range(0, SLOTS, stride)) | hot)
        self.cache = cache
        self.writers = [Writer(i, slots, hot, seed * 100 + i, hot_keys) for i in range(self.THREADS + 1)]
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run_sync, args=(w,), daemon=True) for w in self.writers[:-1]]
        self.threads.append(threading.Thread(target=self._run_async, args=(self.writers[-1],), daemon=True))
        self.crashed: list[BaseException] = []

    def populate(self) -> None:
        """Store every key's first value (and 0 in every counter), no expiry, before the load."""
        for w in self.writers:
            data: dict[str, Any] = {k: w.fresh(k) for k in w.values}
            data.update({k: 0 for k in w.counters})
            items = list(data.items())
            for i in range(0, len(items), 500):
                chunk = dict(items[i:i + 500])
                failed = self.cache.set_many(chunk, timeout=None)
                assert not failed, f"populating: {len(failed)} keys not stored"
            w.state = {k: {v} for k, v in data.items() if k in w.values}
            w.acked = {k: 0 for k in w.counters}
            w.ambiguous = {k: [] for k in w.counters}

    def calls(self) -> int:
        """Calls made so far (read without locking: a progress indicator for polling)."""
        return sum(w.counts.calls for w in self.writers)

    def min_calls(self) -> int:
        """The fewest calls any one writer has made so far (polled: every writer is progressing)."""
        return min(w.counts.calls for w in self.writers)

    def _run_sync(self, w: Writer) -> None:
        try:
            while not self.stop.is_set():
                _sync_step(self.cache, w)
        except BaseException as e:  # a bug of the load itself: reported by verify()
            self.crashed.append(e)

    def _run_async(self, w: Writer) -> None:
        async def loop() -> None:
            while not self.stop.is_set():
                await _async_step(self.cache, w)
        try:
            asyncio.run(loop())
        except BaseException as e:  # noqa: BLE001
            self.crashed.append(e)

    def __enter__(self) -> "CheckedLoad":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)
        alive = [t.name for t in self.threads if t.is_alive()]
        if alive:
            raise RuntimeError(f"load threads still running after 60 s: {alive}")

    def verify(self, label: str) -> Report:
        """After the load stopped: read every key back through the cache and count what is lost
        or wrong; merge the writers' counts."""
        assert self.stop.is_set(), "verify() after the load has stopped"
        if self.crashed:
            raise RuntimeError(f"a load thread crashed: {self.crashed[0]!r}") from self.crashed[0]
        total = Counts()
        lost: list[str] = []
        ambiguous = checked = 0
        for w in self.writers:
            total.merge(w.counts)
            keys = list(w.values) + list(w.counters)
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                got = self.cache.get_many(chunk)
                for k in chunk:
                    checked += 1
                    v = got.get(k, ABSENT)
                    if k in w.counters:
                        ambiguous += bool(w.ambiguous[k])
                        if v is ABSENT:
                            lost.append(f"counter {k} (acknowledged {w.acked[k]})")
                        elif v not in w.counter_values(k):
                            total.wrong.append(f"final {k}: {v!r}, acknowledged {w.acked[k]}, ambiguous {w.ambiguous[k]}")
                        continue
                    ambiguous += len(w.state[k]) > 1
                    if v in w.state[k]:
                        continue
                    if v is ABSENT:
                        lost.append(f"{k} (acknowledged one of {w.state[k]!r})")
                    else:
                        total.wrong.append(f"final {k}: {v!r}, expected one of {w.state[k]!r}")
        return Report(label, total.calls, total.hot_calls, total.errors, total.wrong, lost, ambiguous, checked)

"""Resource safety across the C boundary (issue 7): closed handles leave no goroutines or
connections behind. The long version is `make soak` (tests/soak/soak.py)."""
from __future__ import annotations

import time

from redis_cache_go import _native


def _connected(raw) -> int:
    info = raw.command("INFO", "clients").decode()
    return next(int(line.split(":")[1]) for line in info.splitlines() if line.startswith("connected_clients:"))


def _poll(condition, limit: float = 30.0) -> bool:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_disconnect_releases_goroutines_and_connections(make_cache, raw):
    _native.library()
    before_clients = _connected(raw)
    caches = [make_cache() for _ in range(20)]
    for i, cache in enumerate(caches):
        cache.set(f"k{i}", i)
        assert cache.get_many([f"k{i}"]) == {f"k{i}": i}
    assert _connected(raw) >= before_clients + 20
    for cache in caches:
        cache.disconnect()
    assert _poll(lambda: _connected(raw) <= before_clients), _connected(raw)
    assert _poll(lambda: _native.stats()["goroutines"] <= 2), _native.stats()


def test_stats_names_its_counters():
    stats = _native.stats()
    assert set(stats) == {"goroutines", "heap_alloc", "heap_objects", "total_alloc", "inflated"}
    assert stats["goroutines"] >= 1

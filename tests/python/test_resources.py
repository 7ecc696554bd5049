"""Resource safety across the C boundary: closed handles leave no goroutines or
connections behind. The long version is `make soak` (tests/soak/soak.py)."""
from __future__ import annotations

import time

from redis_cache_go import _native


def _poll(condition, limit: float = 30.0) -> bool:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _client_ids(raw) -> set[int]:
    """The ids of the connections the server has now (CLIENT LIST)."""
    listing = raw.command("CLIENT", "LIST").decode()
    return {int(line.split()[0].removeprefix("id=")) for line in listing.splitlines() if line.startswith("id=")}


def test_disconnect_releases_goroutines_and_connections(make_cache, raw):
    _native.library()
    # Connections are told apart by id: others (earlier tests' caches closing, the harness) may
    # come and go meanwhile, so counting connected_clients would race with them.
    before = _client_ids(raw)
    # 20 configurations (the objects of one configuration share one handle: test_shared_handle)
    caches = [make_cache(options={"DB": 0, "SOCKET_TIMEOUT": 10 + i}) for i in range(20)]
    for i, cache in enumerate(caches):
        cache.set(f"k{i}", i)
        assert cache.get_many([f"k{i}"]) == {f"k{i}": i}
    ours = _client_ids(raw) - before
    assert len(ours) >= 20
    for cache in caches:
        cache.disconnect()
    assert _poll(lambda: not ours & _client_ids(raw)), ours & _client_ids(raw)
    assert _poll(lambda: _native.stats()["goroutines"] <= 2), _native.stats()


def test_stats_names_its_counters():
    stats = _native.stats()
    assert set(stats) == {"goroutines", "heap_alloc", "heap_objects", "total_alloc", "inflated"}
    assert stats["goroutines"] >= 1

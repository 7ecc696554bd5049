"""A SENTINEL_SERVICE the Sentinels do not know fails at once and says so, naming the primaries
they do know; Sentinels that cannot be reached are still reported as unreachable."""
from __future__ import annotations

from typing import Any

import pytest

from redis_cache_go import exceptions
from topology import SentinelDeployment

SECRET = "hunter2-not-in-messages"


@pytest.fixture(scope="module")
def sentinels() -> Any:
    dep = SentinelDeployment().start()
    try:
        yield dep
    finally:
        dep.stop()


@pytest.mark.parametrize("replicas", [False, True], ids=["primary", "read-from-replicas"])
def test_unknown_service_names_it_and_the_known_ones(make_cache: Any, sentinels: Any, replicas: bool) -> None:
    cache = make_cache("redis://sentinel-named-primary/0", options={
        "SENTINELS": sentinels.sentinel_addrs, "SENTINEL_SERVICE": "no-such-primary",
        "READ_FROM_REPLICAS": replicas, "PASSWORD": SECRET})
    with pytest.raises(exceptions.RedisCacheError) as info:
        cache.get("k")
    msg = str(info.value)
    assert "no Sentinel knows a primary named 'no-such-primary'" in msg, msg
    assert f"primaries they know: '{sentinels.service}'" in msg, msg
    assert "unreachable" not in msg and "redis: nil" not in msg, msg
    assert SECRET not in msg


def test_unreachable_sentinels_are_still_reported_as_unreachable(make_cache: Any, dead_location: str) -> None:
    cache = make_cache("redis://sentinel-named-primary/0", options={
        "SENTINELS": [dead_location], "SENTINEL_SERVICE": "mymaster", "PASSWORD": SECRET})
    with pytest.raises(exceptions.ConnectionError) as info:
        cache.get("k")
    msg = str(info.value)
    assert "unreachable" in msg, msg
    assert SECRET not in msg

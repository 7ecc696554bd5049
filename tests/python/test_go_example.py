"""The Go service example (examples/goservice) against real servers.

test_go_service_shares_the_sites_entries runs the binary on its own against a throw-away
redis-server (and a Sentinel watching it), with the entries the demo site stores written by this
package's backend, and checks the report it prints (its shape, the values both sides read, and
the counters of Stats() and NearStats()) and what the backend reads afterwards.
test_demo_site_and_go_service_share_the_cache runs examples/run_demo.py end to end (`make
demo`): the Django demo site and the Go service on one redis-server and one Sentinel.
Assertions are on structure and values, never on timings.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from redisproc import RedisServer
from topology import Sentinel

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
SERVICE = "demo-primary"
# What the demo site stores (examples/demo/shop/views.py), under KEY_PREFIX "demo" in DB 0.
SITE = {"KEY_PREFIX": "demo", "OPTIONS": {"DB": 0}}
ROWS = {
    "teapot": {"name": "Cast-iron teapot", "cents": 4599, "tags": ["kitchen", "tea"]},
    "kettle": {"name": "Whistling kettle", "cents": 2899, "tags": ["kitchen"]},
    "mug": {"name": "Stoneware mug", "cents": 1250, "tags": ["tea", "coffee"]},
}
PRIMES = {"count": 78498, "largest": 999983}
GO_MUG = {"name": "Stoneware mug", "cents": 999, "tags": ["tea", "coffee", "sale"]}  # what Go writes
REPORT_KEYS = {"topology", "visits_after_incr", "primes_count", "primes_reads", "prices", "mug_ttl_seconds",
               "hot_mug_cents", "stats", "hot_stats", "near_stats"}
SNAPSHOT_KEYS = {"server", "calls", "commands", "hits", "misses", "errors", "errors_by_kind", "rejected", "latency_us", "pool"}


@pytest.fixture(scope="module")
def goservice(tmp_path_factory) -> str:
    """The binary `make` built ($RCG_GO_BIN), else one built here (slow on a cold Go cache)."""
    prebuilt = pathlib.Path(os.environ.get("RCG_GO_BIN") or "/nonexistent") / "goservice"
    if os.access(prebuilt, os.X_OK):
        return str(prebuilt)
    binary = tmp_path_factory.mktemp("goservice") / "goservice"
    subprocess.run(["go", "build", "-o", str(binary), "./examples/goservice"], cwd=ROOT, check=True, timeout=600)
    return str(binary)


@pytest.fixture
def site_server():
    """A redis-server with a Sentinel watching it as SERVICE, both throw-away."""
    with RedisServer() as server:
        sentinel = Sentinel(server, SERVICE).start()
        try:
            yield server, sentinel
        finally:
            sentinel.stop()


@pytest.mark.timeout(660)  # the fixture may have to build the binary
@pytest.mark.parametrize("topology", ["sentinel", "plain"])
def test_go_service_shares_the_sites_entries(goservice, site_server, topology):
    from redis_cache_go import RedisCache

    server, sentinel = site_server
    site = RedisCache(server.location, SITE)
    try:
        site.set("visits", 5)
        site.set("primes:1000000", PRIMES)
        site.set_many({f"price:{sku}": row for sku, row in ROWS.items()})

        env = dict(os.environ, REDIS_LOCATION=server.location)
        if topology == "sentinel":
            env.update(REDIS_SENTINELS=sentinel.location, REDIS_SENTINEL_SERVICE=SERVICE)
        go = subprocess.run([goservice], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert go.returncode == 0, go.stderr
        report = json.loads(go.stdout)

        # The report's shape.
        assert set(report) == REPORT_KEYS, report
        assert report["topology"] == topology
        for name in ("stats", "hot_stats"):
            assert len(report[name]) == 1, report[name]  # one server each
            assert set(report[name][0]) == SNAPSHOT_KEYS, report[name][0]

        # What Go read of the site's entries, and wrote.
        assert report["visits_after_incr"] == 15
        assert report["primes_count"] == PRIMES["count"]
        assert report["prices"] == {sku: row["cents"] for sku, row in ROWS.items()}
        assert report["mug_ttl_seconds"] == 120
        assert report["hot_mug_cents"] == GO_MUG["cents"]

        # Stats() of the shared cache: its server (through the Sentinel when configured) and the
        # commands it sent: the incr script, the SET, the PTTL.
        shared = report["stats"][0]
        if topology == "sentinel":
            assert SERVICE in shared["server"] and sentinel.location in shared["server"], shared["server"]
        else:
            assert server.location in shared["server"], shared["server"]
        assert shared["calls"]["script"] >= 1 and shared["calls"]["set"] >= 1, shared["calls"]
        assert shared["commands"] >= 3 and shared["errors"] == 0, shared
        hot = report["hot_stats"][0]
        assert server.location in hot["server"] and hot["errors"] == 0, hot

        # NearStats(): tracking confirmed, the repeated reads served from process memory, and
        # the shared cache's write of the mug reached it as Redis' invalidation.
        near = report["near_stats"]
        assert near["Tracking"] is True and near["TrackingID"] > 0 and near["Failures"] == 0, near
        assert report["primes_reads"] > 1
        assert near["Hits"] >= report["primes_reads"] - 1, near
        assert near["Fills"] >= 1 and near["Invalidations"] >= 1, near

        # The site reads what Go wrote.
        assert site.get("visits") == 15
        assert site.get("price:mug") == GO_MUG
        assert 0 < site.ttl("price:mug") <= 120  # Go's 120 s, counting down
        assert site.get("price:teapot") == ROWS["teapot"]
    finally:
        site.close()


@pytest.mark.timeout(420)  # the demo's own bound is 400 s (it starts a server and a site)
def test_demo_site_and_go_service_share_the_cache():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "run_demo.py")], cwd=ROOT,
                         capture_output=True, text=True, timeout=400, env=dict(os.environ))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "MISMATCH" not in out.stdout, out.stdout
    lines = out.stdout.splitlines()
    # The demo started its own Sentinel, and the Go service's shared cache went through it.
    (sentinel,) = [ln for ln in lines if ln.startswith("redis-sentinel: on 127.0.0.1:")]
    sentinel_addr = sentinel.split()[2].rstrip(",")
    for header in ("[8] a Go service on the same cache", "[9] the Go service's counters",
                   "[10] the site reads what the Go service wrote"):
        assert header in out.stdout, out.stdout
    (shared,) = [ln for ln in lines if ln.strip().startswith("shared.Stats(): ")]
    assert SERVICE in shared and sentinel_addr in shared and "0 errors" in shared, shared
    (hot,) = [ln for ln in lines if ln.strip().startswith("hot.Stats(): ")]
    assert "0 errors" in hot, hot
    (near,) = [ln for ln in lines if ln.strip().startswith("hot.NearStats(): ")]
    assert "tracking=True" in near, near
    assert "OK: every view answered as expected" in out.stdout

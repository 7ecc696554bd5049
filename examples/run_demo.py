#!/usr/bin/env python
"""Run the example Django site (examples/demo) against a throw-away redis-server and check it.

What it does, in order:
  1. takes the Go service example (examples/goservice) that `make demo` built ($RCG_GO_BIN), or,
     run directly, builds it with `go build` into build/bin/,
  2. starts a private redis-server on a free loopback port and a Sentinel watching it as
     "demo-primary" on another (tests/harness/redisproc.py, topology.py),
  3. configures the demo project to use the server (REDIS_LOCATION) and runs Django's checks,
  4. serves the project over real HTTP on another free loopback port (wsgiref, in a thread),
  5. requests every view with urllib, prints what came back, and checks it, also looking
     straight into Redis to see what the backend stored,
  6. runs the Go service on the same cache (its writes through the Sentinel, its reads through a
     near-cache), prints its Stats() and NearStats(), and checks what each side read of the
     other's entries,
  7. stops the HTTP server, the Sentinel and redis-server, whatever happened.

Exit status 0 when every check passed, 1 otherwise. `make demo` runs it with PYTHONPATH set to
python/ and tests/harness/; run directly, it falls back to those directories of this checkout.
"""
from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEMO_DIR = os.path.join(HERE, "demo")

PRIMES_LIMIT = 1_000_000
PRIMES_EXPECTED = {"count": 78498, "largest": 999983}
SENTINEL_SERVICE = "demo-primary"  # the name the Sentinel gives the demo's redis-server


def _goservice_binary() -> str:
    """The Go service example: the binary `make demo` built into $RCG_GO_BIN before this script
    started, else (run directly) built here with `go build` into build/bin/, with the flags the
    Makefile uses, so that it reuses the packages `make build` compiled."""
    prebuilt = os.path.join(os.environ.get("RCG_GO_BIN", ""), "goservice")
    if os.environ.get("RCG_GO_BIN") and os.access(prebuilt, os.X_OK):
        return prebuilt
    binary = os.path.join(ROOT, "build", "bin", "goservice")
    print("go build ./examples/goservice -> build/bin/goservice (`make demo` builds it beforehand; "
          "a first build on a cold Go cache takes a minute or two) ...", flush=True)
    subprocess.run([os.environ.get("GO", "go"), "build", "-trimpath", "-buildvcs=false", "-buildmode=pie",
                    "-o", binary, "./examples/goservice"], cwd=ROOT, check=True, timeout=900)
    return binary


def _ensure_importable() -> None:
    if importlib.util.find_spec("redisproc") is None:
        sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
    if importlib.util.find_spec("redis_cache_go") is None:
        sys.path.insert(0, os.path.join(ROOT, "python"))
    sys.path.insert(0, DEMO_DIR)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


class DemoFailed(Exception):
    pass


class Demo:
    def __init__(self, base_url: str, redis: Any, sentinel: Any, goservice: str) -> None:
        self.base_url = base_url
        self.redis = redis
        self.sentinel = sentinel
        self.goservice = goservice
        self.failures: list[str] = []
        # Talk to our own loopback server directly, never through an http_proxy from the environment.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- HTTP ---------------------------------------------------------------------------------
    def request(self, method: str, path: str) -> tuple[int, dict[str, str], Any]:
        req = urllib.request.Request(
            self.base_url + path, method=method, data=b"" if method == "POST" else None
        )
        try:
            with self.opener.open(req, timeout=10) as resp:
                status, headers, body = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, dict(e.headers), e.read()
        try:
            data = json.loads(body)
        except ValueError:
            raise DemoFailed(f"{method} {path} -> HTTP {status}, not JSON: {body[:300]!r}") from None
        if status != 200:
            raise DemoFailed(f"{method} {path} -> HTTP {status}: {data}")
        return status, headers, data

    def get(self, path: str) -> Any:
        return self.request("GET", path)[2]

    def post(self, path: str) -> Any:
        return self.request("POST", path)[2]

    # -- checks -------------------------------------------------------------------------------
    def expect(self, what: str, actual: Any, expected: Any) -> None:
        if actual != expected:
            self.failures.append(f"{what}: expected {expected!r}, got {actual!r}")
            print(f"    MISMATCH {what}: expected {expected!r}, got {actual!r}")

    @staticmethod
    def say(line: str) -> None:
        print("  " + line)

    # -- the tour -----------------------------------------------------------------------------
    def run(self) -> None:
        print("\n[1] page-view counter: cache.incr(), cache.add() on the first visit")
        for n in (1, 2, 3):
            visits = self.get("/counter/")["visits"]
            self.say(f"GET /counter/ -> visits={visits}")
            self.expect(f"visit {n}", visits, n)
        raw = self.redis.command("GET", "demo:1:visits")
        self.say(f"redis GET demo:1:visits -> {raw!r} (a plain integer, so INCR runs in Redis)")
        self.expect("raw counter value in Redis", raw, b"3")

        print("\n[2] what the site is configured with (standard cache attributes only)")
        info = self.get("/info/")
        self.say(
            f"GET /info/ -> backend={info['backend']} location={info['location']} "
            f"key_prefix={info['key_prefix']!r} version={info['version']} "
            f"default_timeout={info['default_timeout']}"
        )
        self.say(
            f"            visits_key={info['visits_key']!r} has_key={info['has_visits']} "
            f"visits={info['visits']}"
        )
        self.expect("configured backend", info["configured_backend"], "redis_cache_go.RedisCache")
        self.expect("location", info["location"], self.redis.location)
        self.expect("made key", info["visits_key"], "demo:1:visits")
        self.expect("has_key(visits)", info["has_visits"], True)
        self.expect("get(visits)", info["visits"], 3)

        print("\n[3] cache.delete(), then the counter starts again")
        deleted = self.post("/counter/reset/")["deleted"]
        self.say(f"POST /counter/reset/ -> deleted={deleted}")
        self.expect("delete(visits)", deleted, True)
        again = self.post("/counter/reset/")["deleted"]
        self.say(f"POST /counter/reset/ -> deleted={again} (nothing left to delete)")
        self.expect("second delete(visits)", again, False)
        visits = self.get("/counter/")["visits"]
        self.say(f"GET /counter/ -> visits={visits}")
        self.expect("visit after reset", visits, 1)

        print("\n[4] an expensive computation behind cache.get_or_set()")
        for computed_expected in (True, False):
            r = self.get(f"/primes/{PRIMES_LIMIT}/")
            origin = "computed now" if r["computed_now"] else "served from the cache"
            self.say(
                f"GET /primes/{PRIMES_LIMIT}/ -> {r['count']} primes, largest {r['largest']}, "
                f"{origin} (sieve took {r['compute_ms']} ms when it ran)"
            )
            self.expect("prime count", r["count"], PRIMES_EXPECTED["count"])
            self.expect("largest prime", r["largest"], PRIMES_EXPECTED["largest"])
            self.expect("computed_now", r["computed_now"], computed_expected)

        print("\n[5] catalogue rows through cache.get_many() / cache.set_many() / cache.delete_many()")
        skus = ["kettle", "mug", "teapot"]
        for step, (method, path, source) in enumerate(
            [
                ("GET", "/prices/", "looked_up"),
                ("GET", "/prices/", "from_cache"),
                ("POST", "/prices/forget/", None),
                ("GET", "/prices/", "looked_up"),
            ]
        ):
            r = self.request(method, path)[2]
            if source is None:
                self.say(f"{method} {path} -> forgot {', '.join(r['forgotten'])}")
                self.expect("forgotten rows", r["forgotten"], skus)
                continue
            self.say(
                f"{method} {path} -> from cache: {r['from_cache'] or '-'}; "
                f"looked up and stored: {r['looked_up'] or '-'}"
            )
            self.expect(f"prices step {step} {source}", r[source], skus)
            self.expect(f"prices step {step} not_stored", r["not_stored"], [])
            self.expect(f"prices step {step} teapot", r["prices"].get("teapot", {}).get("cents"), 4599)

        print("\n[6] a whole response cached by @cache_page(30)")
        first_status, first_headers, first = self.request("GET", "/banner/")
        _, second_headers, second = self.request("GET", "/banner/")
        self.say(f"GET /banner/ -> token={first['token']} generated_at={first['generated_at']}")
        self.say(f"GET /banner/ -> token={second['token']} generated_at={second['generated_at']}")
        self.say(f"Cache-Control: {second_headers.get('Cache-Control')}")
        self.expect("cached banner token", second["token"], first["token"])
        self.expect("cached banner time", second["generated_at"], first["generated_at"])
        self.expect("Cache-Control", second_headers.get("Cache-Control"), "max-age=30")

        keys = sorted(k.decode() for k in self.redis.command("KEYS", "*"))
        print(f"\n[7] redis now holds {len(keys)} keys:")
        for k in keys:
            self.say(k)
        for k in ("demo:1:visits", f"demo:1:primes:{PRIMES_LIMIT}", "demo:1:price:mug"):
            self.expect(f"key {k} present", k in keys, True)
        self.expect(
            "cache_page entries present",
            any(k.startswith("demo:1:views.decorators.cache.cache_page.") for k in keys),
            True,
        )

        print("\n[8] a Go service on the same cache (examples/goservice, the core/djcache API)")
        visits_before = self.get("/info/")["visits"]
        rows = self.get("/prices/")["prices"]  # the rows are cached again for the Go side to read
        self.say(f"running {os.path.relpath(self.goservice, ROOT)}: writes through the Sentinel at "
                 f"{self.sentinel.location} ({SENTINEL_SERVICE!r}), reads through a near-cache ...")
        go = subprocess.run(
            [self.goservice], cwd=ROOT, capture_output=True, text=True, timeout=300,
            env=dict(os.environ, REDIS_LOCATION=self.redis.location,
                     REDIS_SENTINELS=self.sentinel.location, REDIS_SENTINEL_SERVICE=SENTINEL_SERVICE),
        )
        for line in go.stderr.splitlines():
            self.say("  " + line)
        if go.returncode != 0:
            raise DemoFailed(f"{self.goservice} exited with status {go.returncode}")
        report = json.loads(go.stdout)
        self.say(f"Go: shared cache via {report['topology']}: incr(visits, 10) -> {report['visits_after_incr']}; "
                 f"set(price:mug) with ttl {report['mug_ttl_seconds']:g} s")
        self.say(f"Go: hot cache (near-cache): primes:{PRIMES_LIMIT} count {report['primes_count']} read "
                 f"{report['primes_reads']} times; prices {report['prices']}; mug after the write: "
                 f"{report['hot_mug_cents']} cents")
        self.expect("Go's shared cache topology", report["topology"], "sentinel")
        self.expect("Go incr of the site's counter", report["visits_after_incr"], visits_before + 10)
        self.expect("Go read of the site's get_or_set result", report["primes_count"], PRIMES_EXPECTED["count"])
        self.expect("Go read of the site's rows", report["prices"], {sku: row["cents"] for sku, row in rows.items()})
        self.expect("Go set ttl", report["mug_ttl_seconds"], 120)
        self.expect("near-cache read of Go's write", report["hot_mug_cents"], 999)

        print("\n[9] the Go service's counters: Stats() per server, NearStats()")
        for name, snaps in (("shared", report["stats"]), ("hot", report["hot_stats"])):
            for snap in snaps:
                calls = ", ".join(f"{op}={n}" for op, n in sorted(snap["calls"].items()) if n)
                self.say(f"{name}.Stats(): {snap['server']}: {snap['commands']} commands ({calls}), "
                         f"{snap['errors']} errors")
                self.expect(f"{name} errors", snap["errors"], 0)
        servers = [snap["server"] for snap in report["stats"]]
        self.expect("shared cache: one server, found through the Sentinel",
                    len(servers) == 1 and SENTINEL_SERVICE in servers[0] and self.sentinel.location in servers[0], True)
        near = report["near_stats"]
        self.say("hot.NearStats(): " + ", ".join(
            f"{k.lower()}={near[k]}" for k in ("Hits", "Misses", "Fills", "Invalidations", "Entries", "Tracking")))
        self.expect("near-cache tracking", near["Tracking"], True)
        self.expect("near-cache served the repeated reads", near["Hits"] >= report["primes_reads"] - 1, True)
        self.expect("near-cache saw Redis' invalidation of Go's write", near["Invalidations"] >= 1, True)

        print("\n[10] the site reads what the Go service wrote")
        visits = self.get("/counter/")["visits"]
        self.say(f"GET /counter/ -> visits={visits} (the site counts on from Go's incr)")
        self.expect("site counter after Go's incr", visits, visits_before + 11)
        r = self.get("/prices/")
        self.say(f"GET /prices/ -> mug {r['prices']['mug']} (written by Go, served from the cache)")
        self.expect("site reads Go's row", r["prices"]["mug"], {"name": "Stoneware mug", "cents": 999, "tags": ["tea", "coffee", "sale"]})
        self.expect("Go's row came from the cache", "mug" in r["from_cache"], True)


def main() -> int:
    started = time.monotonic()
    _ensure_importable()
    from redisproc import RedisServer
    from topology import Sentinel

    goservice = _goservice_binary()
    redis = RedisServer()
    sentinel: Sentinel | None = None
    httpd: WSGIServer | None = None
    thread: threading.Thread | None = None
    try:
        print("starting a throw-away redis-server and a Sentinel on loopback ...", flush=True)
        redis.start()
        print(f"redis-server: throw-away instance on {redis.location} (no persistence)")
        sentinel = Sentinel(redis, SENTINEL_SERVICE).start()
        print(f"redis-sentinel: on {sentinel.location}, watching it as {SENTINEL_SERVICE!r}")

        os.environ["REDIS_LOCATION"] = redis.location
        os.environ["DJANGO_SETTINGS_MODULE"] = "demo.settings"
        import django
        from django.core.management import call_command

        django.setup()
        import redis_cache_go

        print(f"backend package: {os.path.dirname(redis_cache_go.__file__)}")
        checks = io.StringIO()
        call_command("check", stdout=checks, stderr=checks)
        print(f"django: manage.py check -> {checks.getvalue().strip()}")

        from demo.wsgi import application

        httpd = make_server("127.0.0.1", 0, application, handler_class=_QuietHandler)
        thread = threading.Thread(target=httpd.serve_forever, name="demo-http", daemon=True)
        thread.start()
        base_url = f"http://127.0.0.1:{httpd.server_port}"
        print(f"django: demo project served at {base_url}/ (wsgiref, in-process thread)")

        demo = Demo(base_url, redis, sentinel, goservice)
        demo.run()
        if demo.failures:
            print(f"\nFAILED: {len(demo.failures)} check(s) did not hold:")
            for f in demo.failures:
                print(f"  - {f}")
            return 1
        print(f"\nOK: every view answered as expected ({time.monotonic() - started:.1f} s)")
        return 0
    except DemoFailed as e:
        print(f"\nFAILED: {e}")
        return 1
    finally:
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        if "django.core.cache" in sys.modules:
            from django.core.cache import caches

            try:
                caches.close_all()
            except Exception as e:  # shutting down anyway; say so, do not hide the first error
                print(f"note: closing the cache failed: {e!r}", file=sys.stderr)
        if sentinel is not None:
            sentinel.stop()
        redis.stop()


if __name__ == "__main__":
    sys.exit(main())

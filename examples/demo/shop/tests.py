"""The demo's own tests: Django's cache API and the demo's views, through the configured backend.

Run them against a Redis you can write to (they touch only their own keys and the demo's):

    cd examples/demo && REDIS_LOCATION=127.0.0.1:6379 python manage.py test

tests/python/test_packaging.py runs them from an installed wheel against a throw-away
redis-server, and tests/python/test_demo.py from the source tree.
"""
from __future__ import annotations

import uuid

from django.core.cache import cache, caches
from django.test import SimpleTestCase

from shop import views


class CacheApiTests(SimpleTestCase):
    """get/set/add/incr/get_many/set_many/delete through django.core.cache.cache."""

    def setUp(self) -> None:
        self.ns = f"shop-tests:{uuid.uuid4().hex}:"
        self.addCleanup(self._forget)
        self.used: list[str] = []

    def _forget(self) -> None:
        cache.delete_many(self.used)

    def key(self, name: str) -> str:
        self.used.append(self.ns + name)
        return self.ns + name

    def test_the_configured_backend_is_redis_cache_go(self) -> None:
        import redis_cache_go

        self.assertIsInstance(caches["default"], redis_cache_go.RedisCache)

    def test_set_then_get_returns_an_equal_value(self) -> None:
        values = {
            "dict": {"hello": "world", "n": [1, 2, 3]},
            "text": "naïve café ☕",
            "bytes": b"\x00\xff" * 10,
            "large": "x" * 300_000,  # bigger than the library's 64 KiB result buffer
            "float": 2.5,
            "none": None,
            "bool": True,
        }
        for name, value in values.items():
            with self.subTest(name):
                cache.set(self.key(name), value, 60)
                self.assertEqual(cache.get(self.key(name), "missing"), value)
                self.assertIs(type(cache.get(self.key(name))), type(value))

    def test_get_of_a_missing_key_returns_the_default(self) -> None:
        self.assertIsNone(cache.get(self.key("absent")))
        self.assertEqual(cache.get(self.key("absent"), "fallback"), "fallback")
        self.assertFalse(cache.has_key(self.key("absent")))

    def test_add_stores_only_when_missing(self) -> None:
        self.assertTrue(cache.add(self.key("once"), "first", 60))
        self.assertFalse(cache.add(self.key("once"), "second", 60))
        self.assertEqual(cache.get(self.key("once")), "first")

    def test_incr_and_decr_count_on_the_server(self) -> None:
        with self.assertRaises(ValueError):
            cache.incr(self.key("counter"))  # Django's contract: a missing key is a ValueError
        cache.set(self.key("counter"), 41, 60)
        self.assertEqual(cache.incr(self.key("counter")), 42)
        self.assertEqual(cache.incr(self.key("counter"), 10), 52)
        self.assertEqual(cache.decr(self.key("counter"), 2), 50)
        self.assertEqual(cache.get(self.key("counter")), 50)

    def test_get_many_returns_only_the_keys_found(self) -> None:
        stored = {self.key(f"item{i}"): {"i": i} for i in range(50)}
        self.assertEqual(cache.set_many(stored, 60), [])
        asked = list(stored) + [self.key("nope1"), self.key("nope2")]
        self.assertEqual(cache.get_many(asked), stored)

    def test_delete_and_delete_many(self) -> None:
        cache.set_many({self.key("a"): 1, self.key("b"): 2, self.key("c"): 3}, 60)
        self.assertTrue(cache.delete(self.key("a")))
        self.assertFalse(cache.delete(self.key("a")))
        cache.delete_many([self.key("b"), self.key("c")])
        self.assertEqual(cache.get_many([self.key("a"), self.key("b"), self.key("c")]), {})

    def test_get_or_set_computes_once(self) -> None:
        calls: list[int] = []

        def compute() -> str:
            calls.append(1)
            return "computed"

        self.assertEqual(cache.get_or_set(self.key("lazy"), compute, 60), "computed")
        self.assertEqual(cache.get_or_set(self.key("lazy"), compute, 60), "computed")
        self.assertEqual(len(calls), 1)


class ViewTests(SimpleTestCase):
    """The demo's views, which use nothing but the cache."""

    def setUp(self) -> None:
        cache.delete(views.VISITS_KEY)
        cache.delete_many([views._price_key(sku) for sku in views.CATALOGUE])
        self.addCleanup(cache.delete, views.VISITS_KEY)

    def test_counter_counts_visits_and_resets(self) -> None:
        visits = [self.client.get("/counter/").json()["visits"] for _ in range(3)]
        self.assertEqual(visits, [1, 2, 3])
        self.assertEqual(cache.get(views.VISITS_KEY), 3)
        self.assertEqual(self.client.post("/counter/reset/").json(), {"deleted": True})
        self.assertEqual(self.client.get("/counter/").json()["visits"], 1)

    def test_prices_are_looked_up_once_then_served_from_one_get_many(self) -> None:
        first = self.client.get("/prices/").json()
        self.assertEqual(first["looked_up"], sorted(views.CATALOGUE))
        self.assertEqual(first["from_cache"], [])
        second = self.client.get("/prices/").json()
        self.assertEqual(second["from_cache"], sorted(views.CATALOGUE))
        self.assertEqual(second["looked_up"], [])
        self.assertEqual(second["prices"], first["prices"])
        self.assertEqual(second["prices"]["mug"]["cents"], 1250)

    def test_primes_are_computed_once(self) -> None:
        cache.delete("primes:1000")
        self.addCleanup(cache.delete, "primes:1000")
        first = self.client.get("/primes/1000/").json()
        second = self.client.get("/primes/1000/").json()
        self.assertEqual((first["count"], first["largest"], first["computed_now"]), (168, 997, True))
        self.assertEqual((second["count"], second["computed_now"]), (168, False))

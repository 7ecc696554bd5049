"""Django's own BaseCacheTests against redis_cache_go.RedisCache, set up the way Django's
RedisCacheTests sets up its backend: every alias of caches_setting_for_tests() on one real
redis-server, without the culling aliases (``cull``, ``zero_cull``: Redis evicts by its own
policy, so the culling tests skip themselves, "Culling isn't implemented.").

``cache.tests`` is Django's tests/cache/tests.py, extracted from the sdist of the pinned Django
by run.py; nothing of it is copied here. Only this module's test class runs.
"""
from __future__ import annotations

import os

from cache import tests as django_cache_tests
from django.core.cache import cache, caches
from django.test import TestCase, override_settings

from redis_cache_go import RedisCache
from redis_cache_go.exceptions import ServerError

REDIS_CACHE_GO = {
    "BACKEND": "redis_cache_go.RedisCache",
    "LOCATION": os.environ["RCG_DJANGO_SUITE_LOCATION"],
    "OPTIONS": {"DB": 0},
}


@override_settings(
    CACHES=django_cache_tests.caches_setting_for_tests(
        base=REDIS_CACHE_GO,
        exclude=django_cache_tests.redis_excluded_caches,
    )
)
class RedisCacheGoTests(django_cache_tests.BaseCacheTests, TestCase):
    # BaseCacheTests expects TypeError from incr/decr of a non-integer (Django's RedisCacheTests
    # lowers it to redis-py's ResponseError); ours raises a ServerError that is also a TypeError.
    incr_decr_type_error = TypeError

    def test_cache_is_redis_cache_go(self):
        self.assertIsInstance(caches["default"], RedisCache)

    def test_incr_type_error_is_also_a_server_error(self):
        cache.set("text", "not a number")
        with self.assertRaises(ServerError) as info:
            cache.incr("text")
        self.assertIsInstance(info.exception, TypeError)


# The same suite with every value signed (OPTIONS VALUE_PROTECTION; keys from settings.SECRET_KEY):
# Django's contract must hold unchanged when values carry a tag. ("encrypt" passes it too, 2026-12-07,
# ~13 s more; it differs only inside core/protect, whose own tests cover it.)
@override_settings(
    CACHES=django_cache_tests.caches_setting_for_tests(
        base={**REDIS_CACHE_GO, "OPTIONS": {"DB": 0, "VALUE_PROTECTION": "sign"}},
        exclude=django_cache_tests.redis_excluded_caches,
    )
)
class SignedRedisCacheGoTests(django_cache_tests.BaseCacheTests, TestCase):
    incr_decr_type_error = TypeError


"""A settings module with one deliberate misconfiguration per CACHES alias (tests/python/test_checks.py).

Each alias is named after the check id it must trigger. Nothing here is ever connected to.
"""
import os

SECRET_KEY = "checks-test"
INSTALLED_APPS = ["redis_cache_go"]
USE_TZ = True
_HERE = os.path.dirname(os.path.abspath(__file__))
_B = "redis_cache_go.RedisCache"

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "E001": {"BACKEND": _B, "LOCATION": "127.0.0.1:6401", "OPTIONS": {"SOCKET_TIMOUT": 1}},
    "E002": {"BACKEND": _B, "LOCATION": "127.0.0.1:6402", "OPTIONS": {"LOCAL_CACHE": True}},
    "E003": {"BACKEND": _B, "LOCATION": "redis://127.0.0.1:notaport/0"},
    "E004": {"BACKEND": _B, "LOCATION": ["127.0.0.1:6403", "127.0.0.1:6404"],
             "OPTIONS": {"MASTER_CACHE": "127.0.0.1:6405"}},
    "E005": {"BACKEND": _B, "LOCATION": "127.0.0.1:6406", "OPTIONS": {"SERIALIZER": "nosuch"}},
    "E006": {"BACKEND": _B, "LOCATION": "127.0.0.1:6407", "OPTIONS": {"COMPRESSOR": "rar"}},
    "E007": {"BACKEND": _B, "LOCATION": "127.0.0.1:6408", "OPTIONS": {"SOCKET_TIMEOUT": -1}},
    "E008": {"BACKEND": _B, "LOCATION": "rediss://127.0.0.1:6409", "OPTIONS": {"SSL_CA_CERTS": "/nonexistent/ca.pem"}},
    "E009": {"BACKEND": _B, "LOCATION": "redis://primary/0", "OPTIONS": {"SENTINELS": ["127.0.0.1:26379"]}},
    "E010": {"BACKEND": _B, "LOCATION": "127.0.0.1:6410", "OPTIONS": {"FORK_FALLBACK": True, "COMPRESSOR": "zlib"}},
    "E011": {"BACKEND": _B, "LOCATION": "127.0.0.1:6411", "OPTIONS": {"CONNECTION_POOL_CLASS": "foo.Pool"}},
    "E013": {"BACKEND": _B, "LOCATION": "redis://127.0.0.1:6412/0",
             "OPTIONS": {"CLIENT_CLASS": "django_redis.client.HerdClient"}},
    "W001": {"BACKEND": _B, "LOCATION": "127.0.0.1:6371", "TIMEOUT": 0},
    "W002a": {"BACKEND": _B, "LOCATION": "127.0.0.1:6372", "KEY_PREFIX": "same"},
    "W002b": {"BACKEND": _B, "LOCATION": "redis://127.0.0.1:6372/1", "KEY_PREFIX": "same"},
    "W003": {"BACKEND": "redis_cache_go.ShardedRedisCache", "LOCATION": ["127.0.0.1:6373", "127.0.0.1:6374"],
             "OPTIONS": {"FORK_FALLBACK": True}},
    "W004": {"BACKEND": _B, "LOCATION": "127.0.0.1:6375",
             "OPTIONS": {"CONNECTION_POOL_CLASS_KWARGS": {"retry_on_timeout": True}}},
    "W006": {"BACKEND": _B, "LOCATION": "127.0.0.1:6376", "OPTIONS": {"SSL_CA_CERTS": __file__}},
    "W007": {"BACKEND": _B, "LOCATION": "127.0.0.1:6377", "KEY_PREFIX": "w7", "TIMOUT": 60},
}

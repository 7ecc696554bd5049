"""A correct settings module: `manage.py check` must report nothing from redis_cache_go."""
SECRET_KEY = "checks-test"
INSTALLED_APPS = ["redis_cache_go"]
USE_TZ = True
CACHES = {
    "default": {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": "127.0.0.1:6379", "KEY_PREFIX": "site"},
    "sessions": {"BACKEND": "redis_cache_go.ShardedRedisCache", "LOCATION": ["127.0.0.1:6379", "127.0.0.1:6380"],
                 "KEY_PREFIX": "sessions", "OPTIONS": {"COMPRESSOR": "zlib", "SERIALIZER": "json", "SOCKET_TIMEOUT": 0.5}},
}

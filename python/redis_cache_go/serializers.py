"""Serializers: how a Python value becomes the bytes stored in Redis (before compression).

Serialization stays in Python (CPython's pickle is the only full-fidelity pickler; JSON,
msgpack and YAML are Python libraries too). Every serializer here has ``dumps(value) -> bytes``
and ``loads(data) -> value``. Settings name one by a short name (``OPTIONS["SERIALIZER"]``:
``pickle``, ``json``, ``msgpack``, ``yaml``) or by a dotted path: the names django-redis-cache
and django-redis used are mapped to the classes below (so their settings work unchanged, and
neither package needs to be installed), and any other dotted path is imported and adapted —
``serialize``/``deserialize`` (django-redis-cache's interface, built with
``SERIALIZER_CLASS_KWARGS``) or ``dumps``/``loads`` (django-redis's, built with ``OPTIONS``).
"""
from __future__ import annotations

import functools
import json
import pickle
from typing import Any, Callable, Protocol


class Serializer(Protocol):
    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class PickleSerializer:
    """``pickle`` at a fixed protocol (django-redis-cache's PICKLE_VERSION; -1 = the highest)."""

    name = "pickle"

    def __init__(self, protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        self.protocol = pickle.HIGHEST_PROTOCOL if protocol == -1 else protocol
        # the C functions themselves, without a Python frame in between (the hot path)
        self.dumps: Callable[[Any], bytes] = functools.partial(pickle.dumps, protocol=self.protocol)
        self.loads: Callable[[bytes], Any] = pickle.loads


class JSONSerializer:
    """UTF-8 JSON. ``django_types=True`` (django-redis's flavour, and the short name ``json``)
    also writes datetimes, dates, times, timedeltas, Decimals, UUIDs and lazy strings as strings
    via Django's ``DjangoJSONEncoder``; ``False`` is plain ``json.dumps`` (django-redis-cache's),
    which refuses them with ``TypeError``. Either way tuples come back as lists and dict keys as
    strings: that is JSON."""

    name = "json"

    def __init__(self, django_types: bool = True) -> None:
        self.django_types = django_types
        self._encoder: type[json.JSONEncoder] | None = None
        if django_types:
            from django.core.serializers.json import DjangoJSONEncoder

            self._encoder = DjangoJSONEncoder

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, cls=self._encoder).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data.decode())


class MSGPackSerializer:
    """msgpack (needs ``msgpack`` >= 1.0: ``pip install redis-cache-go[msgpack]``).

    Bytes stay bytes and str stays str (``use_bin_type``/``raw=False``); maps with non-string keys
    read back (``strict_map_key=False``), where django-redis' reader refuses them and
    django-redis-cache's cannot read anything on msgpack 1.0."""

    name = "msgpack"

    def __init__(self) -> None:
        import msgpack

        self._packb: Callable[..., bytes] = msgpack.packb
        self._unpackb: Callable[..., Any] = msgpack.unpackb

    def dumps(self, value: Any) -> bytes:
        return self._packb(value, use_bin_type=True)

    def loads(self, data: bytes) -> Any:
        return self._unpackb(data, raw=False, strict_map_key=False)


class YAMLSerializer:
    """YAML as django-redis-cache wrote it: ``yaml.dump(..., Dumper=yaml.Dumper)`` in UTF-8,
    read with ``yaml.FullLoader`` (which refuses arbitrary Python objects, so values such as
    ``Decimal`` or ``OrderedDict`` do not read back — as in django-redis-cache). Needs
    ``PyYAML``: ``pip install redis-cache-go[yaml]``."""

    name = "yaml"

    def __init__(self) -> None:
        import yaml

        self._yaml = yaml

    def dumps(self, value: Any) -> bytes:
        return self._yaml.dump(value, encoding="utf-8", Dumper=self._yaml.Dumper)

    def loads(self, data: bytes) -> Any:
        return self._yaml.load(data, Loader=self._yaml.FullLoader)


class _SeedStyle:
    """A user class with ``serialize``/``deserialize`` (django-redis-cache's interface)."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.name = f"{type(obj).__module__}.{type(obj).__qualname__}"

    def dumps(self, value: Any) -> bytes:
        data = self.obj.serialize(value)
        return data.encode() if isinstance(data, str) else bytes(data)

    def loads(self, data: bytes) -> Any:
        return self.obj.deserialize(data)


class _DumpsLoads:
    """A user class with ``dumps``/``loads`` (django-redis's interface)."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.name = f"{type(obj).__module__}.{type(obj).__qualname__}"

    def dumps(self, value: Any) -> bytes:
        data = self.obj.dumps(value)
        return data.encode() if isinstance(data, str) else bytes(data)

    def loads(self, data: bytes) -> Any:
        return self.obj.loads(data)


# Short names, and the dotted names of django-redis-cache 3.0.1 and django-redis, mapped to
# (our serializer kind, its flavour). "pickle:dr" is django-redis's pickle, whose default
# protocol is pickle.DEFAULT_PROTOCOL rather than the highest.
KNOWN: dict[str, str] = {
    "pickle": "pickle",
    "json": "json",
    "msgpack": "msgpack",
    "yaml": "yaml",
    "redis_cache.serializers.PickleSerializer": "pickle",
    "redis_cache.serializers.JSONSerializer": "json:plain",
    "redis_cache.serializers.MSGPackSerializer": "msgpack",
    "redis_cache.serializers.YAMLSerializer": "yaml",
    "django_redis.serializers.pickle.PickleSerializer": "pickle:dr",
    "django_redis.serializers.json.JSONSerializer": "json",
    "django_redis.serializers.msgpack.MSGPackSerializer": "msgpack",
}
# django-redis-cache's Compressed*Serializer: the serializer, then lzma (xz) on every value.
COMPRESSED_SEED: dict[str, str] = {
    "redis_cache.serializers.CompressedPickleSerializer": "pickle",
    "redis_cache.serializers.CompressedJSONSerializer": "json:plain",
    "redis_cache.serializers.CompressedMSGPackSerializer": "msgpack",
    "redis_cache.serializers.CompressedYAMLSerializer": "yaml",
}


def build_known(kind: str, pickle_version: int | None) -> Serializer:
    """The serializer for a KNOWN/COMPRESSED_SEED kind. pickle_version None = the flavour's default."""
    if kind == "pickle":
        return PickleSerializer(pickle.HIGHEST_PROTOCOL if pickle_version is None else pickle_version)
    if kind == "pickle:dr":
        return PickleSerializer(pickle.DEFAULT_PROTOCOL if pickle_version is None else pickle_version)
    if kind == "json":
        return JSONSerializer(django_types=True)
    if kind == "json:plain":
        return JSONSerializer(django_types=False)
    if kind == "msgpack":
        return MSGPackSerializer()
    if kind == "yaml":
        return YAMLSerializer()
    raise ValueError(kind)


def adapt(obj: Any) -> Serializer:
    """Adapt a user's serializer object to ``dumps``/``loads``."""
    if callable(getattr(obj, "serialize", None)) and callable(getattr(obj, "deserialize", None)):
        return _SeedStyle(obj)
    if callable(getattr(obj, "dumps", None)) and callable(getattr(obj, "loads", None)):
        return _DumpsLoads(obj)
    raise TypeError("a serializer needs serialize()/deserialize() or dumps()/loads() methods")

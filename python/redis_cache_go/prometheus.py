"""Prometheus exposition of ``cache.stats()`` (optional: needs ``prometheus_client``).

    from prometheus_client import REGISTRY
    from redis_cache_go.prometheus import Collector

    REGISTRY.register(Collector())  # every CACHES alias with a redis-cache-go backend

Every metric has the labels ``alias`` (the CACHES alias) and ``server`` (address and db, no
credentials); counters only grow. The counters are the process's (see ``cache.stats()``): scrape
each worker process, e.g. with prometheus_client's multiprocess mode or one exporter per worker.
Importing this module imports nothing from prometheus_client and touches no cache; ``collect()``
does, at scrape time.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

QUANTILES = (("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99"), ("0.999", "p999"))


class Collector:
    """A prometheus_client custom collector over ``cache.stats()`` of the given CACHES aliases
    (default: every alias whose BACKEND is a redis-cache-go RedisCache or subclass).

    It builds its own instance of each cache once (Django's ``caches[alias]`` is per thread, and
    scrapes often run on a thread of their own); instances of one configuration share their
    counters, so this instance reports the whole process.
    """

    def __init__(self, aliases: Iterable[str] | None = None, namespace: str = "redis_cache_go") -> None:
        self._aliases = list(aliases) if aliases is not None else None
        self._namespace = namespace
        self._caches: dict[str, Any] = {}
        self._lock = threading.Lock()

    def describe(self) -> list[Metric]:
        """Nothing up front: registering the collector must not build caches or load the library."""
        return []

    def _selected(self) -> dict[str, Any]:
        from django.conf import settings
        from django.core.cache import caches

        from redis_cache_go.backend import RedisCache

        with self._lock:
            aliases = self._aliases if self._aliases is not None else list(settings.CACHES)
            for alias in aliases:
                if alias not in self._caches:
                    cache = caches.create_connection(alias)
                    self._caches[alias] = cache if isinstance(cache, RedisCache) else None
            return {a: c for a, c in self._caches.items() if c is not None and a in aliases}

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        from prometheus_client.metrics_core import Metric

        ns = self._namespace
        base = ["alias", "server"]
        commands = CounterMetricFamily(f"{ns}_commands", "Redis commands sent, by operation", labels=[*base, "op"])
        hits = CounterMetricFamily(f"{ns}_hits", "Cache lookups that found a value", labels=base)
        misses = CounterMetricFamily(f"{ns}_misses", "Cache lookups that found nothing", labels=base)
        rejected = CounterMetricFamily(f"{ns}_rejected", "Values that failed their protection check (VALUE_PROTECTION)",
                                       labels=base)
        errors = CounterMetricFamily(f"{ns}_errors", "Failed commands, by kind", labels=[*base, "kind"])
        latency = Metric(f"{ns}_command_latency_seconds", "Command latency (client side), quantiles since start",
                         "summary")
        conns = GaugeMetricFamily(f"{ns}_pool_connections", "Pooled connections now, by state", labels=[*base, "state"])
        pool = CounterMetricFamily(f"{ns}_pool_events", "Connection pool events (go-redis PoolStats)",
                                   labels=[*base, "event"])
        for alias, cache in self._selected().items():
            for s in cache.stats():
                labels = [alias, s["server"]]
                for op, n in sorted(s["calls"].items()):
                    commands.add_metric([*labels, op], n)
                hits.add_metric(labels, s["hits"])
                misses.add_metric(labels, s["misses"])
                rejected.add_metric(labels, s["rejected"])
                for kind, n in sorted(s["errors_by_kind"].items()):
                    errors.add_metric([*labels, kind], n)
                lat = s["latency_us"]
                names = {"alias": alias, "server": s["server"]}
                for q, key in QUANTILES:
                    latency.add_sample(latency.name, {**names, "quantile": q}, lat[key] / 1e6)
                latency.add_sample(f"{latency.name}_count", names, lat["count"])
                latency.add_sample(f"{latency.name}_sum", names, lat["mean"] * lat["count"] / 1e6)
                p = s.get("pool") or {}
                if p:
                    conns.add_metric([*labels, "total"], p["total_conns"])
                    conns.add_metric([*labels, "idle"], p["idle_conns"])
                    for event in ("hits", "misses", "timeouts", "waits", "stale_conns"):
                        pool.add_metric([*labels, event], p[event])
        yield from (commands, hits, misses, rejected, errors, latency, conns, pool)


def register(registry: Any = None, aliases: Iterable[str] | None = None) -> Collector:
    """Register a :class:`Collector` with ``registry`` (default: prometheus_client's REGISTRY)."""
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    collector = Collector(aliases)
    registry.register(collector)
    return collector

"""The performance bars, evaluated from one bench run (bench.py's summary and sharded.py's results).

Every bar is a ratio of two medians measured in the same interleaved run. A bar whose inputs were
not measured (a workload skipped with --only, a backend unavailable) reads "not measured" with the
reason, never "holds".

Bars 1a-6 are issue 9's (ours against the peers and the floors); 17a-17c are issue 17's bar 5, the
cost of OPTIONS["VALUE_PROTECTION"]: a protected variant of ours (bench/protection.py) against
unprotected ours, measured in the same rounds of the same workload.
"""
from __future__ import annotations

from typing import Any

PEERS = ("django", "django_redis")
LABELS = {"ours": "unprotected redis_cache_go, same rounds", "django": "Django RedisCache", "django_redis": "django-redis",
          "django_redis_shard": "django-redis ShardClient", "seed_sharded": "django-redis-cache ShardedRedisCache",
          "floor": "bare-socket floor", "rb": "redis-benchmark -c1 -P1"}


def _med(summ: dict[str, Any] | None, n: str) -> float | None:
    s = (summ or {}).get(n)
    if not s or s.get("error") or not s.get("ops_per_s_median"):
        return None
    return float(s["ops_per_s_median"])


def _best_peer(summ: dict[str, Any] | None) -> tuple[float | None, str | None]:
    got = [(v, p) for p in PEERS if (v := _med(summ, p))]
    return max(got) if got else (None, None)


def evaluate(results: dict[str, dict[str, Any]], sharded: dict[str, Any] | None,
             unavailable: dict[str, str]) -> list[dict[str, Any]]:
    """A list of bars: id, what, workload, ours, against, ratio, target, holds (None = not measured)."""
    bars: list[dict[str, Any]] = []

    def add(bid: str, what: str, wl: str, ours: str, against: str, target: float,
            summ: dict[str, Any] | None, peer_value: tuple[float | None, str | None] | None = None) -> None:
        mine = _med(summ, ours)
        who: str | None = against
        if peer_value is None:
            theirs = _med(summ, against)
        else:
            theirs, who = peer_value
        why: str | None = None
        if summ is None:
            why = f"workload {wl} not run"
        elif mine is None:
            why = unavailable.get(ours) or (summ.get(ours) or {}).get("error") or f"{ours} not measured"
        elif theirs is None:
            why = f"{against} not measured"
        ratio = mine / theirs if (mine and theirs) else None
        bars.append({"bar": bid, "what": what, "workload": wl, "ours": ours, "against": who or against,
                     "ratio": round(ratio, 3) if ratio else None, "target": target,
                     "holds": (ratio >= target) if ratio else None, "why_not_measured": why})

    r = results
    add("1a", "get hit, 1 thread: >= 1.5x best peer", "get_hit", "ours", "best peer", 1.5,
        r.get("get_hit"), _best_peer(r.get("get_hit")))
    add("1b", "get hit, 1 thread: >= 0.85x bare-socket floor", "get_hit", "ours", "floor", 0.85, r.get("get_hit"))
    for wl in ("get_many_100", "set_many_100"):
        add("2a", f"{wl}, one server: >= 3x best peer", wl, "ours", "best peer", 3.0, r.get(wl),
            _best_peer(r.get(wl)))
    sh = (sharded or {}).get("results", {})
    for wl in ("shard3_get_many_100", "shard3_set_many_100"):
        summ = sh.get(wl)
        if sharded is None:
            summ = None
        add("2b", f"{wl}: >= 10x django-redis ShardClient", wl, "ours", "django_redis_shard", 10.0, summ)
        add("2c", f"{wl}: >= 3x django-redis-cache ShardedRedisCache", wl, "ours", "seed_sharded", 3.0, summ)
    add("3a", "256 KiB compressible set+get, zlib: >= 4x django-redis ZlibCompressor", "setget_256k_zlib",
        "ours", "django_redis", 4.0, r.get("setget_256k_zlib"))
    add("3b", "256 KiB compressible set+get, ours zstd: >= 10x django-redis ZlibCompressor", "setget_256k_zstd",
        "ours", "django_redis", 10.0, r.get("setget_256k_zstd"))
    add("4", "8 threads doing gets: total >= 1.5x best peer", "get_hit_8thr", "ours", "best peer", 1.5,
        r.get("get_hit_8thr"), _best_peer(r.get("get_hit_8thr")))
    add("5", "near-cache hot-key get: >= 10x best peer's get", "get_hot", "ours_local", "best peer", 10.0,
        r.get("get_hot"), _best_peer(r.get("get_hot")))
    # issue 17 bar 5: protected speed / unprotected speed (1.00 = free)
    add("17a", "get hit with VALUE_PROTECTION sign: >= 0.90x ours without", "get_hit", "ours_sign", "ours", 0.90,
        r.get("get_hit"))
    add("17b", "get_many_100 with VALUE_PROTECTION sign: >= 0.85x ours without", "get_many_100", "ours_sign",
        "ours", 0.85, r.get("get_many_100"))
    add("17c", "get hit with VALUE_PROTECTION encrypt: >= 0.85x ours without", "get_hit", "ours_encrypt", "ours",
        0.85, r.get("get_hit"))
    return bars


def print_bars(bars: list[dict[str, Any]], command: str) -> None:
    print()
    print(f"Performance bars (ratios of medians from this one run: {command})")
    w = max(len(b["what"]) for b in bars) if bars else 0
    for b in bars:
        if b["ratio"] is None:
            verdict, ratio = "NOT MEASURED", "   -  "
            note = f"  ({b['why_not_measured']})" if b["why_not_measured"] else ""
        else:
            verdict = "holds" if b["holds"] else "MISSED"
            ratio = f"{b['ratio']:5.2f}x"
            if f"{b['ratio']:.2f}" == f"{b['target']:.2f}":  # on the line: 3 digits say which side (0.848 misses 0.85)
                ratio = f"{b['ratio']:.3f}x"
            note = f"  (vs {LABELS.get(b['against'], b['against'])})"
        print(f"  {b['bar']:<4} {b['what']:<{w}}  {ratio}  {verdict}{note}")
    print("  6    where the time goes per operation: bench/README.md (`make profile` prints it)")

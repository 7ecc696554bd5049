"""The protection rows of the bench: what OPTIONS["VALUE_PROTECTION"] costs (issue 17, bar 5).

Two more variants of our backend, run by bench.py in the **same interleaved rounds** as the other
backends (the rotation includes them), on the same redis-server, with the same 100-byte value:

- ``ours_sign``: ``VALUE_PROTECTION "sign"`` (HMAC-SHA256 over the key name and the stored bytes)
- ``ours_encrypt``: ``VALUE_PROTECTION "encrypt"`` (XChaCha20-Poly1305, the key name as AD)

both with ``PROTECTION_KEY "bench-secret"`` (so the run does not depend on SECRET_KEY). They run
only ``get_hit`` and ``get_many_100``; each is compared with the unprotected ``ours`` of the
same workload and rounds: protected ops/s ÷ unprotected ops/s (1.00 = free, >= 1 would be faster).
Before a variant is timed, the value it stored is read back raw from Redis and must carry the
protection header of its mode (core/protect: 0xC1 'R' 'C' 'G' then 's' or 'e'), so a silently
ignored option cannot pass as "free".
"""
from __future__ import annotations

from typing import Any

SECRET = "bench-secret"
WORKLOADS = ("get_hit", "get_many_100")
MAGIC = b"\xc1RCG"  # core/protect.Magic

VARIANTS: dict[str, dict[str, Any]] = {
    # Same KEY_PREFIX length as the other aliases, so every Redis key has the same size.
    f"ours_{mode}": {
        "label": f"redis_cache_go +{mode}",
        "BACKEND": "redis_cache_go.RedisCache",
        "location": lambda srv: srv.location,
        "OPTIONS": {"DB": 0, "VALUE_PROTECTION": mode, "PROTECTION_KEY": SECRET},
        "KEY_PREFIX": prefix,
        # A revision without VALUE_PROTECTION refuses the option: reported UNAVAILABLE, the bars
        # read NOT MEASURED, the run goes on.
        "optional": True,
        "workloads": WORKLOADS,
        "mode": mode,
    }
    for mode, prefix in (("sign", "bs"), ("encrypt", "be"))
}
NAMES = tuple(VARIANTS)
ALIASES = {"sign": "ours_sign", "encrypt": "ours_encrypt"}


def verify_stored(name: str, stored: Any) -> None:
    """Raise unless `stored` (the raw Redis value a variant wrote) carries its mode's header."""
    want = MAGIC + VARIANTS[name]["mode"][:1].encode()
    if not isinstance(stored, bytes) or not stored.startswith(want):
        head = stored[:5] if isinstance(stored, bytes) else stored
        raise AssertionError(f"{name}: stored value is not protected (starts {head!r}, expected {want!r})")


def _med(summ: dict[str, Any], n: str) -> float | None:
    s = summ.get(n)
    if not s or s.get("error") or not s.get("ops_per_s_median"):
        return None
    return float(s["ops_per_s_median"])


def ratio(summ: dict[str, Any], n: str) -> float | None:
    """Variant n's median ops/s ÷ unprotected ours', same workload and rounds."""
    mine, base = _med(summ, n), _med(summ, "ours")
    return mine / base if mine and base else None


def ratios(summ: dict[str, Any]) -> dict[str, Any]:
    """For results.json's `_ratio`: ours_sign_over_ours, ours_encrypt_over_ours (when measured)."""
    return {f"{n}_over_ours": round(r, 3) for n in NAMES if (r := ratio(summ, n))}


def table_cell(summ: dict[str, Any], n: str) -> str:
    r = ratio(summ, n)
    return f"{r:.2f}x vs unprotected redis_cache_go" if r else "n/a"


def print_block(summary: dict[str, dict[str, Any]]) -> None:
    """One line per variant and workload: the ratio, and the p50 latency each side."""
    rows = [(wl, n) for wl in WORKLOADS for n in NAMES if wl in summary and n in summary[wl]]
    if not rows:
        return
    print()
    print(f"Protection rows (VALUE_PROTECTION, PROTECTION_KEY {SECRET!r}; the same rounds as unprotected ours; "
          "protected ÷ unprotected ops/s):")
    for wl, n in rows:
        summ = summary[wl]
        r = ratio(summ, n)
        p50 = (summ[n].get("p50_us"), (summ.get("ours") or {}).get("p50_us"))
        lat = f"p50 {p50[0]:.1f} µs protected, {p50[1]:.1f} µs unprotected" if None not in p50 else ""
        print(f"  {wl:<13} {VARIANTS[n]['mode']:<8} {f'{r:.3f}x' if r else 'n/a':>7}   {lat}")

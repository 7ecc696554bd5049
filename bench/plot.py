#!/usr/bin/env python3
"""Draw bench/results.png from bench/results.json (`make bench-plot`).

One panel per workload (their scales differ by three orders of magnitude), one bar per backend
and floor, each bar labelled with its median ops/s, and a whisker from the slowest to the fastest
round. The panel title carries ours ÷ best peer (and ÷ the bare-socket floor where there is one),
and on get_hit / get_many_100 the protected variants ÷ unprotected ours: the ratios the bench prints.

    .venv/bin/python bench/plot.py [--json bench/results.json] [--out bench/results.png]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))

# colour and short label per backend (bench.py and sharded.py names)
STYLE: dict[str, tuple[str, str]] = {
    "ours": ("#1f6feb", "ours"),
    "ours_sign": ("#54aeff", "ours +sign"),
    "ours_encrypt": ("#80ccff", "ours +encrypt"),
    "ours_local": ("#0b3d91", "ours +LOCAL_CACHE"),
    "django": ("#9a9a9a", "Django RedisCache"),
    "django_redis": ("#e0823d", "django-redis"),
    "django_redis_shard": ("#e0823d", "django-redis ShardClient"),
    "seed_sharded": ("#8e6cbf", "django-redis-cache Sharded"),
    "floor": ("#2da44e", "floor: bare socket"),
    "rb": ("#8fd19e", "floor: redis-benchmark"),
}
ORDER = list(STYLE)


def _panels(data: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(title, {backend: summary}, ratios) per workload, sharded ones last."""
    out = []
    for wl, summ in data.get("results", {}).items():
        rows = {n: s for n, s in summ.items() if not n.startswith("_") and s.get("ops_per_s_median")}
        if rows:
            out.append((wl, rows, summ.get("_ratio", {})))
    for wl, summ in ((data.get("sharded") or {}).get("results") or {}).items():
        rows = {n: s for n, s in summ.items() if not n.startswith("_") and s.get("ops_per_s_median")}
        if rows:
            best = max((summ[p]["ops_per_s_median"] for p in ("django_redis_shard", "seed_sharded") if p in rows),
                       default=None)
            ours = rows.get("ours", {}).get("ops_per_s_median")
            out.append((wl, rows, {"ours_over_best_peer": round(ours / best, 3) if ours and best else None}))
    return out


def _subtitle(ratios: dict[str, Any]) -> str:
    parts = []
    if ratios.get("ours_over_best_peer"):
        parts.append(f"ours {ratios['ours_over_best_peer']:.2f}x best peer")
    if ratios.get("ours_over_floor"):
        parts.append(f"{ratios['ours_over_floor']:.2f}x floor")
    if ratios.get("ours_local_over_best_peer"):
        parts.append(f"local {ratios['ours_local_over_best_peer']:.2f}x")
    prot = [f"{m} {ratios[f'ours_{m}_over_ours']:.2f}x" for m in ("sign", "encrypt")
            if ratios.get(f"ours_{m}_over_ours")]
    line = ", ".join(parts)
    if prot:  # the protection ratios (bench/protection.py): protected ÷ unprotected ours
        line += "\n" + ", ".join(prot) + " of ours"
    return line


def plot(data: dict[str, Any], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = _panels(data)
    if not panels:
        raise SystemExit("results file has no measured workloads")
    cols = 4
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows + 1.1), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (wl, summ, ratios) in zip(axes.flat, panels):
        names = [n for n in ORDER if n in summ]
        vals = [summ[n]["ops_per_s_median"] for n in names]
        lo = [v - (summ[n].get("ops_per_s_min") or v) for n, v in zip(names, vals)]
        hi = [(summ[n].get("ops_per_s_max") or v) - v for n, v in zip(names, vals)]
        xs = range(len(names))
        ax.bar(xs, vals, color=[STYLE[n][0] for n in names], yerr=[lo, hi], capsize=2,
               error_kw={"elinewidth": 0.6, "ecolor": "#444"})
        for x, v in zip(xs, vals):
            ax.annotate(f"{v:,.0f}" if v >= 100 else f"{v:,.1f}", (x, v), ha="center", va="bottom",
                        fontsize=7, xytext=(0, 1), textcoords="offset points")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([STYLE[n][1] + (f" ({summ[n]['compressor']})" if summ[n].get("compressor") else "")
                            for n in names], rotation=30, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(f"{wl}\n{_subtitle(ratios)}", fontsize=8.5)
        ax.set_ylabel("ops/s (median)", fontsize=7)
        ax.set_ylim(0, max(max(vals), max(v + h for v, h in zip(vals, hi))) * 1.18)
    meta = data.get("meta", {})
    v = meta.get("versions", {})
    fig.suptitle(
        f"redis-cache-go bench, one interleaved run (git {meta.get('git', '?')}, {meta.get('when', '?')}; "
        f"{meta.get('rounds')} rounds x {meta.get('round_ms')} ms; shared 2-vCPU machine)\n"
        f"Python {v.get('python')}, Django {v.get('Django')}, redis-py {v.get('redis')}, hiredis {v.get('hiredis')}, "
        f"django-redis {v.get('django-redis')}, redis-server {v.get('redis-server')}. Single-thread rows: client and "
        f"server pinned to one CPU; whiskers = slowest..fastest round",
        fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="draw the bench results as a PNG")
    p.add_argument("--json", default=os.path.join(HERE, "results.json"))
    p.add_argument("--out", default=os.path.join(HERE, "results.png"))
    a = p.parse_args(argv)
    try:
        with open(a.json, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        print(f"cannot read {a.json}: {e}; run `make bench` first", file=sys.stderr)
        return 1
    plot(data, a.out)
    print(f"wrote {os.path.relpath(a.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Targets for processes started with multiprocessing's "spawn" method (they must be importable
by name in the child, so they live here rather than in a test module)."""
from __future__ import annotations

from typing import Any


def use_caches(caches: list[tuple[str, Any]], results: Any) -> None:
    """Read "from-parent:<name>" and write "from-child:<name>" through each unpickled cache; put
    {name: what was read, or the error's repr} on ``results``."""
    out: dict[str, Any] = {}
    for name, cache in caches:
        try:
            out[name] = cache.get(f"from-parent:{name}")
            cache.set(f"from-child:{name}", name)
        except Exception as e:  # reported to the parent, which fails naming the layout
            out[name] = f"error: {e!r}"
    results.put(out)

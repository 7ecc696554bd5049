"""What the measured page reads and writes, shared by the page (views.py), the per-worker fill
(wsgi.py) and the driver (bench/e2e.py, which needs the session cookie). No Django import here.

Per request: the session read and written back (SESSION_ENGINE cache: one get, one set),
FRAGMENTS cache.get calls of 2-20 KB values, one cache.get_many of MANY keys, one cache.incr.
"""
from __future__ import annotations

SESSION_COOKIE = "sessionid"
# A fixed session key, stored by every worker at start (wsgi.py) so the session exists whatever the
# backend: a per-process cache (LocMemCache) cannot share one made by a request to another worker.
SESSION_KEY = "e2ebenchsession0000000000000000a"  # 32 characters of [a-z0-9], like Django's own keys

FRAGMENTS = 10
FRAGMENT_KEYS = [f"e2e:fragment:{i}" for i in range(FRAGMENTS)]
MANY = 20
MANY_KEYS = [f"e2e:item:{i}" for i in range(MANY)]
COUNTER_KEY = "e2e:hits"


def fragment(i: int) -> str:
    """Fragment i: HTML-like text of 2 KB (i = 0) to 20 KB (i = 9), the same in every process."""
    size = 2048 + i * 2048
    row = f'<li class="item-{i}"><a href="/p/{i}/">product {i}</a> <span>in stock</span></li>\n'
    return (row * (size // len(row) + 1))[:size]


def item(i: int) -> dict[str, object]:
    """A small record, like one row of a listing."""
    return {"id": i, "name": f"item {i}", "price": 100 + i, "tags": ["a", "b", "c"][: 1 + i % 3]}


FRAGMENT_CHARS = sum(len(fragment(i)) for i in range(FRAGMENTS))

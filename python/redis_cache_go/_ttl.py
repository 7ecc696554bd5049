"""The largest time to live, and the check every timeout goes through before it is sent.

Redis refuses an expiry later than 2**63 - 1 ms after 1970 (``SET ... PX`` and ``PEXPIRE`` add the
TTL to the server's clock). MAX_TTL_MS, the same bound as Go's ``core/expiry.MaxMS``, stays
372,036,854,775,807 ms (about 11,800 years) below that, a margin for the server's clock: every TTL
up to it (about 292 million years) is stored as asked, and a larger one is a ValueError before
anything is sent. TTLs cross to Go, and stay there, as int64 milliseconds.
"""
from __future__ import annotations

import math
from fractions import Fraction

MAX_TTL_MS = 9_223_000_000_000_000_000


def too_large(what: str, value: object) -> ValueError:
    return ValueError(
        f"{what} {value!r} is too large: the longest time to live Redis stores is {MAX_TTL_MS} ms "
        "(about 292 million years)"
    )


def whole_ms(ms: int | float | Fraction, what: str, value: object) -> int:
    """``ms`` (> 0) rounded up to whole milliseconds, or ValueError past MAX_TTL_MS.

    The bound is checked before rounding: a float too large for ``math.ceil`` (an infinite
    product) is refused too. A float's product can be off by up to half a unit in its last place
    (512 ms near the bound), far less than the second the stored TTL may differ by.
    """
    if ms > MAX_TTL_MS:
        raise too_large(what, value)
    return math.ceil(ms)


def seconds_ms(value: object, what: str) -> int:
    """A non-negative number of seconds as whole milliseconds (rounded up), at most MAX_TTL_MS."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a non-negative number of seconds, not {value!r}")
    return whole_ms(value * 1000, what, value)

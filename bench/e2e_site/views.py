"""The measured page. It checks what it reads: a miss, a short read or a cache error is a 500,
which ab counts as a non-2xx response, so a backend that fails cannot pass for a fast one."""
from __future__ import annotations

import logging

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from .workload import COUNTER_KEY, FRAGMENT_CHARS, FRAGMENT_KEYS, MANY, MANY_KEYS

OK = b"ok\n"
log = logging.getLogger("e2e_site")


def _fail(what: str) -> HttpResponse:
    log.error("e2e page failed: %s", what)
    return HttpResponse(f"e2e page failed: {what}\n".encode(), status=500, content_type="text/plain")


def page(request: HttpRequest) -> HttpResponse:
    views = request.session.get("views")
    if views is None:
        return _fail("no session (the session cookie's session is not in the cache)")
    request.session["views"] = views + 1  # saved by SessionMiddleware after the view: a cache set

    chars = 0
    for key in FRAGMENT_KEYS:
        value = cache.get(key)
        if value is None:
            return _fail(f"fragment {key} missing")
        chars += len(value)
    if chars != FRAGMENT_CHARS:
        return _fail(f"fragments: {chars} characters, expected {FRAGMENT_CHARS}")

    items = cache.get_many(MANY_KEYS)
    if len(items) != MANY:
        return _fail(f"get_many: {len(items)} of {MANY} keys")

    cache.incr(COUNTER_KEY)
    return HttpResponse(OK, content_type="text/plain")

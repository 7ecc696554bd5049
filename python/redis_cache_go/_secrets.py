"""Keeps secrets out of every message, repr and log line the settings code words.

Two kinds of secret: the value of a setting whose *name* looks like one (``PASSWORD``,
``SENTINEL_PASSWORD``, ``PROTECTION_KEY``, a redis-py ``password``, and names close to them such as
a misspelt ``PASWORD``), and the password inside a URL (``redis://user:password@host``). Names and
user names are not secrets; neither are file paths (``SSL_KEYFILE`` names a file, it is not a key).
Imports nothing from the package, so that ``exceptions`` can use it.
"""
from __future__ import annotations

import difflib
import re
from typing import Any
from urllib.parse import unquote_plus

MASK = "***"
# Names whose value is a secret, and the words that make any other name one.
SECRET_NAMES = ("PASSWORD", "SENTINEL_PASSWORD", "PROTECTION_KEY")
_SECRET_WORDS = re.compile(r"PASS|PWD|SECRET|TOKEN|CREDENTIAL|PRIVATE", re.IGNORECASE)
_NAME_IN_BRACKETS = re.compile(r"\[\s*['\"]([^'\"\]]+)['\"]\s*\]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def is_secret_name(name: Any) -> bool:
    """Whether a setting called ``name`` holds a secret (by its name, not its value)."""
    if not isinstance(name, str) or not name:
        return False
    upper = name.upper()
    if _SECRET_WORDS.search(upper) or upper.rsplit("_", 1)[-1] == "KEY" and upper != "KEY":
        return True
    return bool(difflib.get_close_matches(upper, SECRET_NAMES, n=1, cutoff=0.8))


# The LOCATION query parameters whose values messages show; any other parameter's value is masked
# (a URL copied from redis-py may carry ``?password=``). _settings reads exactly these.
URL_QUERY = frozenset({"db", "ssl_cert_reqs", "socket_timeout", "socket_connect_timeout"})


def redact_url(entry: str) -> str:
    """A LOCATION entry with its password (if any) replaced by ``***``; the user name is kept, and
    so are the values of the known query parameters (the others' values are masked too).

    Also for ``user:password@host:port`` written without a scheme. core/djcache/location.go's
    redact does the same (tests/fixtures/locations.json checks both).
    """
    scheme, sep, rest = entry.partition("://")
    if not sep:
        scheme, rest = "", entry
    if "@" in rest:
        creds, _, tail = rest.rpartition("@")
        if ":" in creds:
            rest = f"{creds.split(':', 1)[0]}:{MASK}@{tail}"
    if sep and "?" in rest:
        head, _, query = rest.partition("?")
        rest = head + "?" + "&".join(_redact_param(p) for p in query.split("&"))
    return f"{scheme}{sep}{rest}"


def _redact_param(param: str) -> str:
    name, eq, value = param.partition("=")
    if not value or unquote_plus(name) in URL_QUERY:
        return param
    end = min((i for i in (value.find("'"), value.find('"')) if i >= 0), default=len(value))
    return f"{name}{eq}{MASK}{value[end:]}"  # a quote ends the value: the entry may be quoted in a message


def redact(value: Any) -> Any:
    """A copy of ``value`` safe to print: passwords in URLs masked; in a dict (or a list of pairs)
    the values of secret-looking keys masked; recursively."""
    if isinstance(value, str):
        return redact_url(value) if "@" in value or "?" in value else value
    if isinstance(value, dict):
        return {k: MASK if is_secret_name(k) and v not in (None, "") else redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_redact_item(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def _is_secret_pair(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) == 2 and is_secret_name(v[0])


def _redact_item(v: Any) -> Any:
    if _is_secret_pair(v):
        return type(v)([v[0], MASK]) if isinstance(v, list) else (v[0], MASK)
    return redact(v)


def scrub(text: str) -> str:
    """Free text with the password of every URL in it masked (the backstop for composed messages)."""
    if "@" not in text and "?" not in text:
        return text
    out, pos = [], 0
    for match in _SCHEME.finditer(text):
        if match.start() < pos:
            continue
        end = match.end()
        while end < len(text) and not text[end].isspace():
            end += 1
        out.append(text[pos:match.start()])
        out.append(redact_url(text[match.start():end]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def setting_message(what: str, value: Any, why: str) -> str:
    """``what = value: why`` with the value masked when ``what`` names a secret, and no URL password."""
    names = _NAME_IN_BRACKETS.findall(what)
    last = names[-1] if names else what.split()[-1] if what.split() else what
    shown = MASK if is_secret_name(last) else redact(value)
    return scrub(f"{what} = {shown!r}: {why}")

"""OPTIONS['VALUE_PROTECTION'] and its companions: signed or encrypted values (core/protect).

``VALUE_PROTECTION``: ``"sign"`` (HMAC-SHA256 over the key name and the stored bytes) or
``"encrypt"`` (XChaCha20-Poly1305, the key name as associated data); default None, off.
``PROTECTION_KEY``: a secret (or a list, the first one writing) the keys are derived from instead
of ``SECRET_KEY`` + ``SECRET_KEY_FALLBACKS``. ``PROTECTION_ERRORS``: ``"miss"`` (default: a value
that does not verify is a miss, counted in stats() as ``rejected`` and logged once per key per
minute) or ``"raise"`` (:class:`~redis_cache_go.exceptions.ProtectionError`).
``ACCEPT_UNPROTECTED``: also accept values without protection, for a rollout (see
docs/security.md). Verification runs in Go, before any byte reaches the serializer.
"""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from redis_cache_go import _notes
from redis_cache_go.exceptions import setting_error as _bad

MODE = "VALUE_PROTECTION"
KEYS = frozenset({MODE, "PROTECTION_KEY", "PROTECTION_ERRORS", "ACCEPT_UNPROTECTED"})
MODES = ("sign", "encrypt")
ERRORS = ("miss", "raise")
ACCEPTING = "redis_cache_go.W008"  # ACCEPT_UNPROTECTED is on


def parse(options: dict[str, Any]) -> dict[str, Any] | None:
    """The document's "protection" object, or None when VALUE_PROTECTION is not set."""
    mode = options.get(MODE)
    if mode is None:
        for key in sorted(KEYS - {MODE}):
            if options.get(key) not in (None, False):
                _notes.warn(f"OPTIONS[{key!r}]", f"ignored: OPTIONS[{MODE!r}] is not set")
        return None
    if mode not in MODES:
        raise _bad(f"OPTIONS[{MODE!r}]", mode, "must be 'sign', 'encrypt' or None")
    errors = options.get("PROTECTION_ERRORS", "miss")
    if errors not in ERRORS:
        raise _bad("OPTIONS['PROTECTION_ERRORS']", errors, "must be 'miss' or 'raise'")
    accept = options.get("ACCEPT_UNPROTECTED", False)
    if not isinstance(accept, bool):
        raise _bad("OPTIONS['ACCEPT_UNPROTECTED']", accept, "must be True or False")
    if accept:
        _notes.warn("OPTIONS['ACCEPT_UNPROTECTED'] = True:",
                    "values without protection are accepted too, so anyone who can write to Redis can still "
                    "make this site unpickle their bytes; run `manage.py redis_cache reinsert`, then remove it",
                    check=ACCEPTING)
    return {"mode": mode, "secrets": _secrets(options.get("PROTECTION_KEY")), "errors": errors,
            "accept_unprotected": accept}


def _secrets(key: Any) -> list[str]:
    """PROTECTION_KEY as a list (first: the current one), or SECRET_KEY then SECRET_KEY_FALLBACKS."""
    if key is not None:
        keys = [key] if isinstance(key, (str, bytes)) else key
        if not isinstance(keys, (list, tuple)) or not keys:
            raise _bad("OPTIONS['PROTECTION_KEY']", "***", "must be a non-empty string or a non-empty list of them")
        return [_text("OPTIONS['PROTECTION_KEY']", k) for k in keys]
    from django.conf import settings

    try:
        current = getattr(settings, "SECRET_KEY", None)
    except ImproperlyConfigured:  # Django's LazySettings refuses to return an empty SECRET_KEY
        current = None
    if not current:
        raise ImproperlyConfigured(
            f"redis_cache_go: OPTIONS[{MODE!r}] needs a secret: set SECRET_KEY, or OPTIONS['PROTECTION_KEY']")
    fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", None) or []
    return [_text("SECRET_KEY", current), *(_text("SECRET_KEY_FALLBACKS", k) for k in fallbacks)]


def _text(what: str, secret: Any) -> str:
    if isinstance(secret, bytes):
        try:
            secret = secret.decode()
        except UnicodeDecodeError:
            raise _bad(what, "***", "must be text (or UTF-8 bytes)") from None
    if not isinstance(secret, str) or not secret:
        raise _bad(what, "***", "must be a non-empty string")
    return secret

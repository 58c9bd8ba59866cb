"""Encryption at rest for ID numbers and medical notes, and the keyed hash used to find a
person by ID number without decrypting every row.

Keys come from ``settings.MEMBERS_ENCRYPTION_KEYS`` (newest first; older keys still decrypt,
so keys can be rotated) or, when that is empty, are derived from ``SECRET_KEY`` and every key
in ``SECRET_KEY_FALLBACKS``: rotating the secret key the way Django documents it (new key,
old one kept as a fallback) keeps every value readable and findable, and
``manage.py members_rekey`` then moves the rows to the new key so the fallback can go. The
HMAC key is derived separately, so the lookup hash reveals nothing about the encryption key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _derive(label: str, secret: str) -> bytes:
    return hashlib.sha256(f"clinic-members:{label}:{secret}".encode()).digest()


def _secrets() -> list[str]:
    """The secret key first, then its fallbacks (older keys, still accepted)."""
    return [settings.SECRET_KEY, *[k for k in getattr(settings, "SECRET_KEY_FALLBACKS", []) if k]]


@cache
def _keys() -> tuple[Fernet, ...]:
    """The encryption keys, current first."""
    keys = [k for k in getattr(settings, "MEMBERS_ENCRYPTION_KEYS", []) if k]
    if not keys:
        keys = [base64.urlsafe_b64encode(_derive("fernet", secret)).decode() for secret in _secrets()]
    return tuple(Fernet(k.encode() if isinstance(k, str) else k) for k in keys)


@cache
def _fernet() -> MultiFernet:
    return MultiFernet(list(_keys()))


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise ValueError("cannot decrypt: wrong key or corrupted value") from exc


@cache
def _hmac_keys() -> tuple[bytes, ...]:
    configured = getattr(settings, "MEMBERS_HASH_KEY", "")
    if configured:
        return (configured.encode(),)
    return tuple(_derive("hmac", secret) for secret in _secrets())


def _hash(key: bytes, value: str) -> str:
    normal = "".join(value.split()).upper()
    return hmac.new(key, normal.encode("utf-8"), hashlib.sha256).hexdigest()


def lookup_hash(value: str) -> str:
    """HMAC-SHA256 of a normalised value (upper case, no spaces), hex: what a row stores."""
    return _hash(_hmac_keys()[0], value)


def lookup_hashes(value: str) -> list[str]:
    """Every hash a stored row may carry for ``value``: the current key's first, then those of
    the fallback keys (rows not yet moved by ``members_rekey``). Search with ``__in``."""
    return [_hash(key, value) for key in _hmac_keys()]


def encrypt_again(token: str) -> str | None:
    """The same value under the current key, or None when it already is."""
    raw = token.encode("ascii")
    try:
        _keys()[0].decrypt(raw)
        return None
    except InvalidToken:
        return _fernet().rotate(raw).decode("ascii")


def reset_caches() -> None:
    """Forget the derived keys (settings changed: tests, a key rotation in one process)."""
    _keys.cache_clear()
    _fernet.cache_clear()
    _hmac_keys.cache_clear()

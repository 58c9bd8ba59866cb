"""Encryption at rest for ID numbers and medical notes, and the keyed hash used to find a
person by ID number without decrypting every row.

Keys come from ``settings.MEMBERS_ENCRYPTION_KEYS`` (newest first; older keys still decrypt,
so keys can be rotated) or, when that is empty, are derived from ``SECRET_KEY``. The HMAC key
is derived separately, so the lookup hash reveals nothing about the encryption key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _derive(label: str) -> bytes:
    return hashlib.sha256(f"clinic-members:{label}:{settings.SECRET_KEY}".encode()).digest()


@cache
def _fernet() -> MultiFernet:
    keys = [k for k in getattr(settings, "MEMBERS_ENCRYPTION_KEYS", []) if k]
    if not keys:
        keys = [base64.urlsafe_b64encode(_derive("fernet")).decode()]
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise ValueError("cannot decrypt: wrong key or corrupted value") from exc


@cache
def _hmac_key() -> bytes:
    configured = getattr(settings, "MEMBERS_HASH_KEY", "")
    return configured.encode() if configured else _derive("hmac")


def lookup_hash(value: str) -> str:
    """HMAC-SHA256 of a normalised value (upper case, no spaces), hex."""
    normal = "".join(value.split()).upper()
    return hmac.new(_hmac_key(), normal.encode("utf-8"), hashlib.sha256).hexdigest()

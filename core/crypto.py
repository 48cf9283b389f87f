"""Encryption of secret fields at rest (Fernet, with key rotation) and masking.

One piece for every app that stores secrets (executions' credentials,
outgoing connections), so they share the keys, the rotation and the mask.

Keys come from ``CREDENTIALS_ENCRYPTION_KEYS`` (comma list of Fernet keys; the
first encrypts, every one decrypts, so a new key is put first and the old one
kept until ``manage.py rotate_credentials_key`` has re-encrypted every row).
Without it a laptop gets one key derived from SECRET_KEY by HKDF, so a fresh
checkout works without setup; the derivation is labelled so that the key is
never the same bytes as anything else derived from SECRET_KEY.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MASK = "••••••"


class DecryptionError(Exception):
    """No configured key opens this value (a key was dropped before rotating)."""


def derived_key(secret_key: str) -> bytes:
    """The laptop default: a Fernet key derived from SECRET_KEY."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        # Kept from when this lived in executions: stored values depend on it.
        salt=b"scheduler.executions",
        info=b"credential-fields-v1",
    )
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    raw = [key.encode() for key in keys] or [derived_key(secret_key)]
    try:
        return MultiFernet([Fernet(key) for key in raw])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "CREDENTIALS_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 "
            "bytes), comma separated; make one with "
            "`python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`."
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIALS_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt_fields(values: dict[str, Any]) -> str:
    if not values:
        return ""
    return fernet().encrypt(json.dumps(values).encode()).decode()


def decrypt_fields(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken:
        raise DecryptionError(
            "the stored fields cannot be decrypted with any key in "
            "CREDENTIALS_ENCRYPTION_KEYS"
        ) from None


def rotate(token: str) -> str:
    """The same value encrypted with the first key (no-op for an empty value)."""
    if not token:
        return ""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "a stored value cannot be decrypted with any key"
        ) from None


def mask(value: Any) -> str:
    """``••••••1234`` for long values, ``set`` for short ones, ``""`` for none.

    Four characters are shown only when at least eight exist, so a short
    secret is never half revealed.
    """
    text = "" if value is None else str(value)
    if not text:
        return ""
    if len(text) < 8:
        return "set"
    return MASK + text[-4:]

"""Secrets that sign webhook messages, in the Standard Webhooks form (``whsec_`` and base64 of
random bytes), kept with the recipient's registration: the receiver verifies with the same
secret, so it must be stored as given, unlike API keys (which are stored hashed)."""

from __future__ import annotations

import base64
import secrets

__all__ = ["SECRET_BYTES", "new_webhook_secret"]

SECRET_BYTES = 32
"""256 bits, as the HMAC-SHA256 it keys."""


def new_webhook_secret() -> str:
    """A new random secret, ``whsec_`` and base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")

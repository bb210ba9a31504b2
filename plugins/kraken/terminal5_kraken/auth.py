"""The pure Kraken signer (reference §2): no clock, no I/O, no state.

``API-Sign = base64(HMAC-SHA512(base64_decode(secret), path + SHA256(nonce + body)))``. The nonce is
passed in (``terminal5_kraken.nonce`` issues it), so the official vector is an exact unit test.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from terminal5.contract import Credentials
from terminal5.errors import AuthenticationError

#: names never recorded: the key, the signature and a 2FA password sent as ``otp``.
REDACT = frozenset({"API-Key", "API-Sign", "otp"})


def signature(secret: str, nonce: int | str, path: str, body: str) -> str:
    """The ``API-Sign`` value for ``body`` (the exact string sent, which itself contains the nonce)."""
    try:
        key = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        # Never echo the secret: only say what is wrong with it.
        raise AuthenticationError("the API secret is not valid base64", exchange="kraken") from None
    digest = hashlib.sha256(f"{nonce}{body}".encode()).digest()
    mac = hmac.new(key, path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def sign(credentials: Credentials, nonce: int | str, path: str, body: str) -> dict[str, str]:
    """The authentication headers of one private call."""
    return {
        "API-Key": credentials.api_key,
        "API-Sign": signature(credentials.api_secret, nonce, path, body),
    }

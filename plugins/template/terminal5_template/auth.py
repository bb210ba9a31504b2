"""The pure signer: credentials and a clock in, headers out. No I/O, no state."""

from __future__ import annotations

import hashlib
import hmac

from terminal5.contract import Credentials

from terminal5_template.constants import KEY_HEADER, SIGN_HEADER, TS_HEADER


def sign(credentials: Credentials, now_ms: int, method: str, path_qs: str, body: str) -> dict[str, str]:
    """HMAC-SHA256(secret, timestamp + method + path?query + body), hex."""
    timestamp = str(now_ms)
    payload = f"{timestamp}{method}{path_qs}{body}".encode()
    digest = hmac.new(credentials.api_secret.encode(), payload, hashlib.sha256).hexdigest()
    return {KEY_HEADER: credentials.api_key, TS_HEADER: timestamp, SIGN_HEADER: digest}

"""The pure Bitget signer (reference §2): base64 HMAC-SHA256 of ``timestamp + METHOD + path (+ "?" + query)
+ body``, keyed with the API secret.

No clock, no state: the caller passes the (server-corrected) timestamp, the exact query string and the
exact body text it will send, so what is signed is byte for byte what goes on the wire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

from terminal5 import jsonutil
from terminal5.contract import Credentials
from terminal5.errors import AuthenticationError
from terminal5_bitget.constants import (
    EXCHANGE,
    KEY_HEADER,
    LOCALE,
    PASSPHRASE_HEADER,
    SIGN_HEADER,
    TIMESTAMP_HEADER,
)

#: unreserved characters stay as they are: aiohttp/yarl would not re-quote them, so the signed query is
#: the one sent
_SAFE = "-_.~"


def encode_query(params: Mapping[str, str]) -> str:
    """``k=v&k2=v2`` in the given order, percent-encoded (UTF-8)."""
    return "&".join(f"{quote(str(k), safe=_SAFE)}={quote(str(v), safe=_SAFE)}" for k, v in params.items())


def encode_body(params: Mapping[str, object]) -> str:
    """The JSON body text, serialised once: the signature is computed over exactly this string."""
    return jsonutil.dumps(dict(params))


def prehash(timestamp: str, method: str, path: str, query: str = "", body: str = "") -> str:
    """The documented prehash string; ``query`` without its leading ``?``."""
    return f"{timestamp}{method.upper()}{path}{'?' + query if query else ''}{body}"


def signature(secret: str, payload: str) -> str:
    """base64 of the raw HMAC-SHA256 digest (not hex)."""
    digest = hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sign(
    credentials: Credentials,
    now_ms: int,
    method: str,
    path: str,
    *,
    query: str = "",
    body: str = "",
) -> dict[str, str]:
    """The headers of one private request. ``query``/``body`` are the exact strings that will be sent."""
    if not credentials.api_password:
        # Bitget answers 40011 anyway; refusing here keeps the keys off the wire for a request that must fail
        raise AuthenticationError(
            "Bitget needs the API key's passphrase (broker api_password)", exchange=EXCHANGE, code="40011",
            field="api_password",
        )
    timestamp = str(now_ms)
    headers = {
        KEY_HEADER: credentials.api_key,
        SIGN_HEADER: signature(credentials.api_secret, prehash(timestamp, method, path, query, body)),
        TIMESTAMP_HEADER: timestamp,
        PASSPHRASE_HEADER: credentials.api_password,
        "Content-Type": "application/json",
        "locale": LOCALE,
    }
    return headers


def public_headers() -> dict[str, str]:
    """Demo trading's ``paptrading: 1`` is not signed: the core adds it to testnet calls
    (``ExchangeUrls.testnet_headers`` of the plugin's spec)."""
    return {"Content-Type": "application/json", "locale": LOCALE}

"""The pure Binance signer (reference §2): HMAC-SHA256 over the exact query string (and body) sent.

No clock, no state: the caller passes ``now_ms`` (server-corrected), so the official worked examples are
exact tests. Credentials come per call and never leave this module except as the ``X-MBX-APIKEY`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import quote

import attrs

from terminal5.contract import Credentials
from terminal5_binance.constants import API_KEY_HEADER, DEFAULT_RECV_WINDOW

#: Characters left as-is when percent-encoding. aiohttp (yarl) normalises a URL before sending it and
#: decodes ``%3A`` to ``:`` and the like; leaving exactly those characters unencoded makes the string we
#: sign byte-identical to the one that goes on the wire (Binance checks the signature over the raw query).
#: Unreserved characters (``A-Za-z0-9-._~``) are always safe.
SAFE_CHARS = "!$'()*,/:?@"


#: a value made only of characters ``quote`` leaves as they are (most: symbols, numbers, enums, ids)
_UNCHANGED_BY_QUOTE = re.compile(r"[A-Za-z0-9\-._~" + re.escape(SAFE_CHARS) + r"]*")


def _quote(value: str) -> str:
    if _UNCHANGED_BY_QUOTE.fullmatch(value):  # nothing to encode: skip quote's byte-by-byte pass
        return value
    return quote(value, safe=SAFE_CHARS, encoding="utf-8")


def encode(params: Mapping[str, str] | list[tuple[str, str]]) -> str:
    """``k=v&k2=v2`` in the given order, UTF-8 percent-encoded (the spot docs require it before signing)."""
    items = params.items() if isinstance(params, Mapping) else params
    return "&".join(f"{_quote(str(k))}={_quote(str(v))}" for k, v in items)


def signature(secret: str, payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``payload`` keyed with ``secret``."""
    return hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).hexdigest()


@attrs.frozen(kw_only=True)
class SignedParts:
    """What goes on the wire: the query string (signature last), the body, and the headers."""

    query: str
    body: str | None
    headers: Mapping[str, str]


def sign(
    credentials: Credentials,
    now_ms: int,
    params: Mapping[str, str],
    *,
    recv_window: int | None = DEFAULT_RECV_WINDOW,
    body_params: Mapping[str, str] | None = None,
) -> SignedParts:
    """Sign a USER_DATA/TRADE request.

    ``params`` go in the query string, ``body_params`` (optional) in a form-encoded body; ``recvWindow``
    and ``timestamp`` are appended to whichever part comes last, then ``signature`` after them, exactly
    as in the official examples. The signed payload is ``query + body`` with no separator.
    """
    extra: list[tuple[str, str]] = []
    if recv_window is not None:
        extra.append(("recvWindow", str(recv_window)))
    extra.append(("timestamp", str(now_ms)))
    query_items = list(params.items())
    body_items = list(body_params.items()) if body_params is not None else None
    if body_items is None:
        query_items += extra
    else:
        body_items += extra
    query = encode(query_items)
    body = encode(body_items) if body_items is not None else None
    sig = signature(credentials.api_secret, query + (body or ""))
    headers = {API_KEY_HEADER: credentials.api_key}
    if body is None:
        query = f"{query}&signature={sig}" if query else f"signature={sig}"
    else:
        body = f"{body}&signature={sig}"
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return SignedParts(query=query, body=body, headers=headers)


def api_key_headers(credentials: Credentials | None) -> dict[str, str]:
    """For USER_STREAM/MARKET_DATA endpoints that want the key but no signature."""
    return {API_KEY_HEADER: credentials.api_key} if credentials is not None else {}

"""``map_error``: a Bitget response -> the taxonomy (reference §7).

Every answer carries the envelope ``{"code", "msg", "requestTime", "data"}``; success is ``code ==
"00000"`` whatever the HTTP status, so the code is always checked. Decided from the HTTP status and the
native code only, never from the message.
"""

from __future__ import annotations

from typing import Any

from terminal5 import errors as t5
from terminal5.contract import CallContext, HttpResponse
from terminal5.timeutil import retry_after_seconds
from terminal5_bitget import constants as c


def envelope(data: Any) -> tuple[str | None, str]:
    """(code, msg) of an envelope; (None, "") when the body is not one."""
    if isinstance(data, dict) and "code" in data:
        return str(data["code"]), str(data.get("msg") or "")
    return None, ""


def error_class(code: str) -> type[t5.ExchangeError] | None:
    if code in c.BAD_SYMBOL_CODES:
        return t5.BadSymbol
    return c.ERROR_CODES.get(code)


def map_error(response: HttpResponse, ctx: CallContext) -> t5.ExchangeError | None:
    status = response.status
    code, message = envelope(response.data)
    if code == c.SUCCESS and status < 400:
        return None
    if code is None and status < 400:
        return None  # not an envelope (never seen on V2): let the caller read it
    text = message or response.text[:200] or f"HTTP {status}"
    kwargs: dict[str, Any] = {"exchange": c.EXCHANGE, "code": code if code is not None else status}
    if status == 429 or code == "429":
        return t5.RateLimitExceeded(text, retry_after=retry_after_seconds(response.headers), **kwargs)
    if code is not None and code != c.SUCCESS:
        cls = error_class(code)
        if cls is not None:
            return cls(text, **kwargs)
    if status in (401, 403) and code is None:
        return t5.AuthenticationError(text, **kwargs) if status == 401 else t5.PermissionDenied(text, **kwargs)
    if status >= 500:  # the outcome of an order is unknown: the core looks it up
        return t5.ExchangeNotAvailable(text, **kwargs)
    return t5.ExchangeError(text, **kwargs)

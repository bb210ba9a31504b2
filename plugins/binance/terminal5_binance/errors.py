"""``map_error``: a Binance response -> the taxonomy (reference §7). Decided from the HTTP status and the
native ``code``; the message is read only for -2010/-2011, whose reason Binance gives nowhere else."""

from __future__ import annotations

from typing import Any

from terminal5 import errors as t5
from terminal5.contract import CallContext, HttpResponse
from terminal5.models import MarketType
from terminal5.timeutil import retry_after_seconds
from terminal5_binance import constants as c


def _envelope(data: Any) -> tuple[int | None, str]:
    """``{"code": -1121, "msg": "Invalid symbol."}`` -> (code, msg); (None, "") when not an error body."""
    if isinstance(data, dict) and "code" in data:
        try:
            code = int(data["code"])
        except (TypeError, ValueError):
            return None, ""
        return code, str(data.get("msg", ""))
    return None, ""


def error_class(code: int, message: str, market_type: MarketType) -> type[t5.ExchangeError] | None:
    """The taxonomy class of a native code (``None`` when the code is not in the table)."""
    product = c.SPOT_ERROR_CODES if market_type is MarketType.SPOT else c.FUTURES_ERROR_CODES
    cls = product.get(code) or c.ERROR_CODES.get(code)
    lowered = message.lower()
    for needle, refined in c.ERROR_MESSAGES.get(code, ()):
        if needle in lowered:
            return refined
    return cls


def map_error(response: HttpResponse, ctx: CallContext) -> t5.ExchangeError | None:
    status = response.status
    code, message = _envelope(response.data)
    # 2xx answers carry {"code": 200, "msg": "success"} on some endpoints: only negative codes are errors
    if status < 400 and (code is None or code >= 0):
        return None
    text = message or response.text[:200] or f"HTTP {status}"
    kwargs: dict[str, Any] = {"exchange": c.EXCHANGE, "code": code if code is not None else status}
    if status in (418, 429):
        # 418: IP auto-banned; 429: limit hit. Retry-After (seconds) is absent on order-count 429s.
        return t5.RateLimitExceeded(text, retry_after=retry_after_seconds(response.headers), **kwargs)
    if code is not None and code < 0:
        cls = error_class(code, message, ctx.market_type)
        if cls is t5.RateLimitExceeded:
            return t5.RateLimitExceeded(text, retry_after=retry_after_seconds(response.headers), **kwargs)
        if cls is not None:
            return cls(text, **kwargs)
    if status == 408:  # futures backend timeout: the order may or may not exist
        return t5.RequestTimeout(text, **kwargs)
    if status == 403:  # WAF violation
        return t5.PermissionDenied(text, **kwargs)
    if status == 401:
        return t5.AuthenticationError(text, **kwargs)
    if status >= 500:  # execution status unknown: the core looks the order up
        return t5.ExchangeNotAvailable(text, **kwargs)
    return t5.ExchangeError(text, **kwargs)

"""Kraken responses -> the taxonomy, in one place (reference §7).

Kraken answers HTTP 200 with ``{"error": [...], "result": ...}``; success is an ``error`` array without
``E`` entries (``W`` entries are warnings). The strings are Kraken's codes, looked up in
``constants.ERRORS`` (exact, then longest prefix, then by category).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

from terminal5.contract import CallContext, HttpResponse
from terminal5.errors import ExchangeError, ExchangeNotAvailable, RateLimitExceeded
from terminal5_kraken.constants import (
    DEFAULT_TIER,
    ERROR_CATEGORIES,
    ERRORS,
    EXCHANGE,
    LOCKOUT_SECONDS,
    REST_COUNTER,
    TRADING_COUNTER,
)

_BY_LENGTH = sorted(ERRORS, key=len, reverse=True)


def classify(code: str) -> tuple[type[ExchangeError], str]:
    """(taxonomy class, table key) for one Kraken error string."""
    if code in ERRORS:
        return ERRORS[code], code
    for key in _BY_LENGTH:
        if code.startswith(key + ":") or code.startswith(key + " "):
            return ERRORS[key], key
    category = code.split(":", 1)[0].strip()
    return ERROR_CATEGORIES.get(category, ExchangeError), category


def _tier(ctx: CallContext | None) -> str:
    tier = str((ctx.options if ctx else {}).get("tier") or DEFAULT_TIER)
    return tier if tier in REST_COUNTER else DEFAULT_TIER


def _server_seconds(headers: Mapping[str, str]) -> Decimal | None:
    date = next((v for k, v in headers.items() if k.lower() == "date"), None)
    if not date:
        return None
    try:
        return Decimal(int(parsedate_to_datetime(date).timestamp()))
    except (TypeError, ValueError):
        return None


def _retry_after(key: str, code: str, response: HttpResponse, ctx: CallContext | None) -> float | None:
    """Seconds to wait, derived from the response and the tier; never from a local clock (pure)."""
    if key.startswith("EService") and "Throttled" in key:
        until = code[len(key):].strip(" :")
        now = _server_seconds(response.headers)
        if until.isdigit() and now is not None:
            return float(max(Decimal(0), Decimal(until) - now))
        return 1.0
    if key == "EAPI:Rate limit exceeded":
        _, decay = REST_COUNTER[_tier(ctx)]
        return float(1 / decay)  # one point of the counter decays in 1/decay seconds
    if key == "EOrder:Rate limit exceeded":
        _, decay = TRADING_COUNTER[_tier(ctx)]
        return float(1 / decay)
    if key == "EGeneral:Temporary lockout":
        return LOCKOUT_SECONDS
    return None


def error_strings(data: Any) -> list[str]:
    if not isinstance(data, Mapping):
        return []
    errors = data.get("error")
    if not isinstance(errors, list):
        return []
    return [str(e) for e in errors if str(e).startswith("E")]


def map_error(response: HttpResponse, ctx: CallContext | None = None) -> ExchangeError | None:
    """The taxonomy error of a Kraken response, or ``None`` for a success."""
    codes = error_strings(response.data)
    if not codes:
        if response.status == 429:
            return RateLimitExceeded("HTTP 429", exchange=EXCHANGE, code=429, retry_after=None)
        if response.status >= 500 or (response.status == 200 and not isinstance(response.data, Mapping)):
            # An HTML/empty body from the edge (Cloudflare, maintenance page): the call's outcome is unknown.
            return ExchangeNotAvailable(f"HTTP {response.status} without a Kraken answer", exchange=EXCHANGE,
                                        code=response.status)
        return None
    code = codes[0]
    cls, key = classify(code)
    message = "; ".join(codes)
    field = None
    if key == "EGeneral:Invalid arguments" and code.startswith(key + ":"):
        field = code[len(key) + 1:] or None
    if issubclass(cls, RateLimitExceeded):
        return cls(message, exchange=EXCHANGE, code=code, field=field,
                   retry_after=_retry_after(key, code, response, ctx))
    return cls(message, exchange=EXCHANGE, code=code, field=field)

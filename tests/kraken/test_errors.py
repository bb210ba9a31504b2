"""Every error string of reference §7 maps to the taxonomy; successes and warnings map to None."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from terminal5 import jsonutil
from terminal5.contract import CallContext, HttpResponse
from terminal5.errors import (
    OUTCOME_UNKNOWN,
    AuthenticationError,
    BadSymbol,
    ExchangeError,
    ExchangeNotAvailable,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    PermissionDenied,
    RateLimitExceeded,
)
from terminal5_kraken.constants import ERRORS
from terminal5_kraken.errors import map_error
from terminal5_kraken.plugin import KrakenPlugin

REFERENCE = {
    "EAPI:Invalid key": AuthenticationError,
    "EAPI:Invalid signature": AuthenticationError,
    "EAPI:Invalid nonce": AuthenticationError,
    "EGeneral:Permission denied": PermissionDenied,
    "EGeneral:Invalid arguments": InvalidOrder,
    "EGeneral:Invalid arguments:volume": InvalidOrder,
    "EGeneral:Temporary lockout": RateLimitExceeded,
    "EGeneral:Internal error": ExchangeNotAvailable,
    "EAPI:Rate limit exceeded": RateLimitExceeded,
    "EService: Throttled: 1700000010": RateLimitExceeded,
    "EOrder:Rate limit exceeded": RateLimitExceeded,
    "EOrder:Orders limit exceeded": InvalidOrder,
    "EOrder:Insufficient funds": InsufficientFunds,
    "EOrder:Unknown order": OrderNotFound,
    "EOrder:Invalid order": InvalidOrder,
    "EOrder:Order minimum not met": InvalidOrder,
    "EOrder:Cost minimum not met": InvalidOrder,
    "EOrder:Invalid price": InvalidOrder,
    "EOrder:Tick size check failed": InvalidOrder,
    "EOrder:Post only order": InvalidOrder,
    "EQuery:Unknown asset pair": BadSymbol,
    "EService:Unavailable": ExchangeNotAvailable,
    "EService:Busy": ExchangeNotAvailable,
    "EService:Internal error": ExchangeNotAvailable,
    "EService:Market in cancel_only mode": InvalidOrder,
    "EService:Market in post_only mode": InvalidOrder,
    "EService:Market in limit_only mode": InvalidOrder,
    "EService:Deadline elapsed": ExchangeNotAvailable,
}

CTX = CallContext(exchange="kraken", base_url="https://api.kraken.com")


def response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    text = body if isinstance(body, str) else jsonutil.dumps(body)
    data = jsonutil.loads(text) if text.startswith("{") else None
    return HttpResponse(status=status, headers=headers or {}, text=text, latency_ms=1.0, data=data)


@pytest.mark.parametrize(("code", "cls"), sorted(REFERENCE.items()))
def test_every_reference_string(code: str, cls: type[ExchangeError]) -> None:
    error = map_error(response({"error": [code], "result": {}}), CTX)
    assert type(error) is cls
    assert error.code == code and error.exchange == "kraken"


def test_table_rows_are_all_tested() -> None:
    covered = {k for k in ERRORS if any(code == k or code.startswith(k) for code in REFERENCE)}
    assert covered | {"EAPI:Bad request", "EService:Throttled"} == set(ERRORS)


def test_outcome_unknown_for_service_errors() -> None:
    for code in ("EService:Unavailable", "EService:Busy", "EGeneral:Internal error", "EService:Strange new"):
        assert isinstance(map_error(response({"error": [code]}), CTX), OUTCOME_UNKNOWN)


def test_success_and_warnings() -> None:
    assert map_error(response({"error": [], "result": {"unixtime": 1}}), CTX) is None
    assert map_error(response({"error": ["WGeneral:Something"], "result": {}}), CTX) is None


def test_invalid_arguments_field() -> None:
    error = map_error(response({"error": ["EGeneral:Invalid arguments:volume"]}), CTX)
    assert error is not None and error.field == "volume"


def test_retry_after() -> None:
    throttled = map_error(
        response({"error": ["EService: Throttled: 1700000010"]}, headers={"Date": "Tue, 14 Nov 2023 22:13:20 GMT"}),
        CTX,
    )
    assert isinstance(throttled, RateLimitExceeded) and throttled.retry_after == 10.0
    starter = map_error(response({"error": ["EAPI:Rate limit exceeded"]}), CTX)
    pro = map_error(response({"error": ["EAPI:Rate limit exceeded"]}),
                    CallContext(exchange="kraken", base_url="x", options={"tier": "pro"}))
    assert isinstance(starter, RateLimitExceeded) and starter.retry_after == float(1 / Decimal("0.33"))
    assert isinstance(pro, RateLimitExceeded) and pro.retry_after == 1.0
    engine = map_error(response({"error": ["EOrder:Rate limit exceeded"]}), CTX)
    assert isinstance(engine, RateLimitExceeded) and engine.retry_after == 1.0
    lockout = map_error(response({"error": ["EGeneral:Temporary lockout"]}), CTX)
    assert isinstance(lockout, RateLimitExceeded) and lockout.retry_after == 900.0


def test_unknown_strings_by_category() -> None:
    assert type(map_error(response({"error": ["EOrder:Something new"]}), CTX)) is InvalidOrder
    assert type(map_error(response({"error": ["EFunding:Whatever"]}), CTX)) is ExchangeError


def test_non_json_and_http_errors() -> None:
    assert isinstance(map_error(response("<html>down</html>", status=520), CTX), ExchangeNotAvailable)
    assert isinstance(map_error(response("", status=429), CTX), RateLimitExceeded)


def test_first_error_wins_message_keeps_all() -> None:
    error = map_error(response({"error": ["EOrder:Insufficient funds", "WGeneral:x", "EGeneral:Invalid arguments"]}),
                      CTX)
    assert isinstance(error, InsufficientFunds) and "Invalid arguments" in error.message


def test_hook_ignores_other_exchanges() -> None:
    assert KrakenPlugin().map_error("binance", response({"error": ["EOrder:Unknown order"]}), CTX) is None

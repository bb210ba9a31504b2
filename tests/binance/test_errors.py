"""Every error code of the reference (§7) mapped to the taxonomy, and the HTTP-level rules."""

from __future__ import annotations

import pytest

from terminal5 import errors as t5
from terminal5 import jsonutil
from terminal5.contract import CallContext, HttpResponse
from terminal5.models import MarketType
from terminal5_binance import constants, plugin

SPOT_CTX = CallContext(exchange="binance", base_url="https://api.binance.com")
FUT_CTX = CallContext(exchange="binance", base_url="https://fapi.binance.com", market_type=MarketType.SWAP)


def response(status: int, body: object, headers: dict[str, str] | None = None) -> HttpResponse:
    text = jsonutil.dumps(body) if body is not None else ""
    return HttpResponse(status=status, headers=headers or {}, text=text, latency_ms=1.0,
                        data=jsonutil.loads(text) if text else None)


def mapped(status: int, code: int, msg: str = "x", ctx: CallContext = SPOT_CTX,
           headers: dict[str, str] | None = None) -> t5.ExchangeError | None:
    return plugin.map_error("binance", response(status, {"code": code, "msg": msg}, headers), ctx)


SHARED = [
    (-1003, "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute.", t5.RateLimitExceeded),
    (-1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
     t5.RequestTimeout),
    (-1008, "Server is currently overloaded with other requests. Please try again in a few minutes.",
     t5.ExchangeNotAvailable),
    (-1013, "Filter failure: LOT_SIZE", t5.InvalidOrder),
    (-1015, "Too many new orders; current limit is 100 orders per TEN_SECONDS.", t5.RateLimitExceeded),
    (-1021, "Timestamp for this request is outside of the recvWindow.", t5.ExchangeError),
    (-1022, "Signature for this request is not valid.", t5.AuthenticationError),
    (-1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.",
     t5.InvalidOrder),
    (-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.", t5.InvalidOrder),
    (-1111, "Precision is over the maximum defined for this asset.", t5.InvalidOrder),
    (-1121, "Invalid symbol.", t5.BadSymbol),
    (-2010, "Account has insufficient balance for requested action.", t5.InsufficientFunds),
    (-2010, "Duplicate order sent.", t5.DuplicateOrder),
    (-2010, "Order would immediately match and take.", t5.InvalidOrder),
    (-2010, "Order would trigger immediately.", t5.InvalidOrder),
    (-2010, "Market is closed.", t5.InvalidOrder),
    (-2011, "Unknown order sent.", t5.OrderNotFound),
    (-2011, "Order was not canceled due to cancel restrictions.", t5.InvalidOrder),
    (-2013, "Order does not exist.", t5.OrderNotFound),
    (-2014, "API-key format invalid.", t5.AuthenticationError),
    (-2015, "Invalid API-key, IP, or permissions for action.", t5.AuthenticationError),
    (-2026, "Order was canceled or expired with no executed qty over 90 days ago and has been archived.",
     t5.OrderNotFound),
]
SPOT_ONLY = [
    (-2021, "Order cancel-replace partially failed.", t5.ExchangeError),
    (-2022, "Order cancel-replace failed.", t5.ExchangeError),
]
FUTURES_ONLY = [
    (-2018, "Balance is insufficient.", t5.InsufficientFunds),
    (-2019, "Margin is insufficient.", t5.InsufficientFunds),
    (-2020, "Unable to fill.", t5.InvalidOrder),
    (-2021, "Order would immediately trigger.", t5.InvalidOrder),
    (-2022, "ReduceOnly Order is rejected.", t5.InvalidOrder),
    (-2025, "Reach max open order limit.", t5.InvalidOrder),
    (-4003, "Quantity less than or equal to zero.", t5.InvalidOrder),
    (-4014, "Price not increased by tick size.", t5.InvalidOrder),
    (-4015, "Client order id is not valid.", t5.InvalidOrder),
    (-4061, "Order's position side does not match user's setting.", t5.InvalidOrder),
    (-4116, "ClientOrderId is duplicated.", t5.DuplicateOrder),
    (-4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
     t5.InvalidOrder),
    (-4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit.", t5.InvalidOrder),
    (-4164, "Order's notional must be no smaller than 100 (unless you choose reduce only).", t5.InvalidOrder),
    (-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected.",
     t5.InvalidOrder),
]


@pytest.mark.parametrize(("code", "msg", "cls"), SHARED + SPOT_ONLY)
def test_spot_codes(code: int, msg: str, cls: type[t5.ExchangeError]) -> None:
    error = mapped(400, code, msg)
    assert type(error) is cls and error.code == code and error.message == msg and error.exchange == "binance"


@pytest.mark.parametrize(("code", "msg", "cls"), SHARED + FUTURES_ONLY)
def test_futures_codes(code: int, msg: str, cls: type[t5.ExchangeError]) -> None:
    error = mapped(400, code, msg, FUT_CTX)
    assert type(error) is cls and error.code == code


def test_every_code_of_the_table_is_tested() -> None:
    tested = {code for code, _, _ in SHARED + SPOT_ONLY + FUTURES_ONLY}
    assert set(constants.ERROR_CODES) | set(constants.SPOT_ERROR_CODES) | set(constants.FUTURES_ERROR_CODES) <= tested


@pytest.mark.parametrize("status", [418, 429])
def test_rate_limit_with_retry_after(status: int) -> None:
    error = mapped(status, -1003, "Way too many requests; IP banned until 1659146514934.",
                   headers={"Retry-After": "120"})
    assert isinstance(error, t5.RateLimitExceeded) and error.retry_after == 120.0 and error.retryable


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "-5", "soon", ""])
def test_a_retry_after_that_is_no_duration_is_ignored(value: str) -> None:
    """A failing exchange's Retry-After that is not a finite, non-negative number is no wait at all."""
    error = mapped(429, -1003, "Too many requests.", headers={"Retry-After": value})
    assert isinstance(error, t5.RateLimitExceeded) and error.retry_after is None


def test_order_count_429_has_no_retry_after() -> None:
    error = mapped(429, -1015, "Too many new orders.")
    assert isinstance(error, t5.RateLimitExceeded) and error.retry_after is None


def test_http_level() -> None:
    assert plugin.map_error("binance", response(200, {"orderId": 1}), SPOT_CTX) is None
    assert plugin.map_error("binance", response(200, {"code": 200, "msg": "success"}), FUT_CTX) is None
    assert isinstance(plugin.map_error("binance", response(503, None), SPOT_CTX), t5.ExchangeNotAvailable)
    assert isinstance(plugin.map_error("binance", response(502, {"code": -1000, "msg": "x"}), SPOT_CTX),
                      t5.ExchangeNotAvailable)
    assert isinstance(plugin.map_error("binance", response(408, None), FUT_CTX), t5.RequestTimeout)
    assert isinstance(plugin.map_error("binance", response(403, None), SPOT_CTX), t5.PermissionDenied)
    unknown = mapped(400, -9999, "new code")
    assert type(unknown) is t5.ExchangeError and unknown.code == -9999
    assert plugin.map_error("kraken", response(400, {"code": -1121, "msg": "x"}), SPOT_CTX) is None

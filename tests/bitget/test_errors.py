"""``map_error``: the envelope (``code`` "00000" is success, whatever else), every code of the reference's
§7 on the taxonomy, HTTP 429, and decisions never taken from message text."""

from __future__ import annotations

import pytest

from terminal5 import errors as t5
from terminal5 import jsonutil
from terminal5.contract import CallContext, HttpResponse
from terminal5.plugins import load_hooks
from terminal5_bitget import plugin

from ._data import error, ok

HOOKS = load_hooks(plugins=[plugin], load_entry_points=False)
CTX = CallContext(exchange="bitget", base_url="http://127.0.0.1")

#: every code of reference §7 (except 00000), with the class it must become
REFERENCE_CODES: list[tuple[str, str, type[t5.ExchangeError]]] = [
    ("40001", "ACCESS_KEY cannot be empty", t5.AuthenticationError),
    ("40002", "SECRET_KEY cannot be empty", t5.AuthenticationError),
    ("40003", "Signature cannot be empty", t5.AuthenticationError),
    ("40004", "Request timestamp expired", t5.ExchangeError),
    ("40005", "Invalid ACCESS_TIMESTAMP", t5.AuthenticationError),
    ("40006", "Invalid ACCESS_KEY", t5.AuthenticationError),
    ("40007", "Invalid Content_Type", t5.InvalidOrder),
    ("40008", "Request timestamp expired", t5.ExchangeError),
    ("40009", "sign signature error", t5.AuthenticationError),
    ("40011", "ACCESS_PASSPHRASE cannot be empty", t5.AuthenticationError),
    ("40012", "apikey/password is incorrect", t5.AuthenticationError),
    ("40013", "User has been frozen", t5.PermissionDenied),
    ("40014", "Incorrect permissions", t5.PermissionDenied),
    ("40017", "Parameter verification failed", t5.InvalidOrder),
    ("40018", "Invalid IP", t5.PermissionDenied),
    ("40019", "Parameter cannot be empty", t5.InvalidOrder),
    ("40020", "Parameter error", t5.InvalidOrder),
    ("40037", "Apikey does not exist", t5.AuthenticationError),
    ("40762", "The order amount exceeds the balance", t5.InsufficientFunds),
    ("40768", "Order does not exist", t5.OrderNotFound),
    ("40774", "The order type for unilateral position must also be the unilateral position type.", t5.InvalidOrder),
    ("40786", "Duplicate clientOid", t5.DuplicateOrder),
    ("40808", "Parameter verification exception size checkBDScale error", t5.InvalidOrder),
    ("41103", "param price scale error error", t5.InvalidOrder),
    ("41114", "The current trading pair is under maintenance", t5.ExchangeNotAvailable),
    ("43001", "The order does not exist", t5.OrderNotFound),
    ("43011", "The parameter does not meet the specification", t5.InvalidOrder),
    ("43012", "Insufficient balance", t5.InsufficientFunds),
    ("43025", "Plan order does not exist", t5.OrderNotFound),
    ("43118", "clientOrderId duplicate", t5.DuplicateOrder),
    ("45110", "less than the minimum amount 5 USDT", t5.InvalidOrder),
    ("22001", "No order to cancel", t5.OrderNotFound),
    ("22002", "No position to close", t5.InvalidOrder),
    ("429", "Too Many Requests", t5.RateLimitExceeded),
]


def response(status: int, body: object, headers: dict[str, str] | None = None) -> HttpResponse:
    text = jsonutil.dumps(body)
    return HttpResponse(status=status, headers=headers or {}, text=text, latency_ms=1.0, data=jsonutil.loads(text))


@pytest.mark.parametrize(("code", "msg", "cls"), REFERENCE_CODES)
def test_every_reference_code(code: str, msg: str, cls: type[t5.ExchangeError]) -> None:
    mapped = HOOKS.map_error("bitget", response(400, error(code, msg)), CTX)
    assert type(mapped) is cls and mapped.code == code and mapped.message == msg and mapped.exchange == "bitget"


def test_the_class_comes_from_the_code_not_the_text() -> None:
    mapped = HOOKS.map_error("bitget", response(400, error("43012", "Duplicate clientOid")), CTX)
    assert type(mapped) is t5.InsufficientFunds


def test_success_envelope_is_not_an_error() -> None:
    assert HOOKS.map_error("bitget", response(200, ok({"orderId": "1"})), CTX) is None
    assert HOOKS.map_error("bitget", response(200, ok([])), CTX) is None


def test_an_error_code_in_a_200_answer_is_still_an_error() -> None:
    mapped = HOOKS.map_error("bitget", response(200, error("43012", "Insufficient balance")), CTX)
    assert type(mapped) is t5.InsufficientFunds


def test_http_429_with_retry_after() -> None:
    mapped = HOOKS.map_error("bitget", response(429, error("429", "Too Many Requests"), {"Retry-After": "2"}), CTX)
    assert isinstance(mapped, t5.RateLimitExceeded) and mapped.retry_after == 2.0
    bare = HOOKS.map_error("bitget", HttpResponse(status=429, headers={}, text="", latency_ms=1.0), CTX)
    assert isinstance(bare, t5.RateLimitExceeded) and bare.code == 429


@pytest.mark.parametrize("value", ["nan", "inf", "1e999", "-5", "soon"])
def test_a_retry_after_that_is_no_duration_is_ignored(value: str) -> None:
    mapped = HOOKS.map_error("bitget", response(429, error("429", "Too Many Requests"), {"Retry-After": value}), CTX)
    assert isinstance(mapped, t5.RateLimitExceeded) and mapped.retry_after is None


def test_server_errors_leave_the_outcome_unknown() -> None:
    html = HttpResponse(status=502, headers={}, text="<html>bad gateway</html>", latency_ms=1.0)
    assert isinstance(HOOKS.map_error("bitget", html, CTX), t5.ExchangeNotAvailable)
    unknown = HOOKS.map_error("bitget", response(500, error("50001", "Internal error")), CTX)
    assert isinstance(unknown, t5.ExchangeNotAvailable)


def test_unlisted_code_is_a_plain_exchange_error() -> None:
    mapped = HOOKS.map_error("bitget", response(400, error("49999", "something new")), CTX)
    assert type(mapped) is t5.ExchangeError and mapped.code == "49999"


def test_other_exchanges_are_not_answered() -> None:
    assert HOOKS.map_error("binance", response(400, error("43012", "Insufficient balance")), CTX) is None

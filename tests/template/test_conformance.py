"""The conformance kit's pure checks against the template plugin."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import terminal5_template.plugin as plugin
from hypothesis import given
from hypothesis import strategies as st
from terminal5_template.constants import ERRORS, NAME, STATUSES

from terminal5.contract import HttpResponse
from terminal5.decimals import floor_to_step, plain
from terminal5.errors import AuthenticationError, DuplicateOrder, InsufficientFunds, OrderNotFound, RateLimitExceeded
from terminal5.models import Market, MarketType
from terminal5.testing import conformance

MARKET = Market(
    exchange=NAME,
    symbol="BTC/USDT",
    native_symbol="BTCUSDT",
    type=MarketType.SPOT,
    base="BTC",
    quote="USDT",
    tick_size=Decimal("0.01"),
    step_size=Decimal("0.00001"),
)


@pytest.fixture
def hooks(t5_hooks: Any) -> Any:
    return t5_hooks(plugin)


def response(status: int, code: str, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(
        status=status,
        headers=headers or {},
        text=f'{{"code":"{code}"}}',
        latency_ms=1,
        data={"code": code, "msg": code.lower()},
    )


def test_spec(hooks: Any) -> None:
    conformance.check_spec(hooks.registry.get(NAME))


def test_status_table(hooks: Any) -> None:
    conformance.check_status_table(hooks, NAME, STATUSES)


def test_error_map_is_total(hooks: Any) -> None:
    cases = [(response(400, code), cls) for code, cls in ERRORS.items()]
    conformance.check_error_map(hooks, NAME, cases)
    conformance.check_success_is_not_an_error(
        hooks, NAME, [HttpResponse(status=200, headers={}, text="{}", latency_ms=1, data={})]
    )
    limited = hooks.map_error(NAME, response(429, "RATE_LIMIT", {"Retry-After": "7"}), None)
    assert isinstance(limited, RateLimitExceeded) and limited.retry_after == 7
    assert {AuthenticationError, DuplicateOrder, InsufficientFunds, OrderNotFound} <= set(ERRORS.values())


def test_client_ids(hooks: Any) -> None:
    conformance.check_client_id_mapping(hooks, hooks.registry.get(NAME), ["short", "x" * 64, "with:colon/and.dot"])


@given(st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("1000"), places=8))
def test_decimal_format(value: Decimal) -> None:
    conformance.check_decimal_format(lambda v, m: plain(floor_to_step(v, m.step_size)), MARKET, [value])

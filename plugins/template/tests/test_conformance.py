"""The conformance kit's pure checks against this plugin: no network, no database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from terminal5.contract import CallContext, HttpResponse
from terminal5.errors import (
    AuthenticationError,
    DuplicateOrder,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimitExceeded,
)
from terminal5.models import Market, MarketType, OrderRequest, OrderType, Side
from terminal5.plugins import load_hooks
from terminal5.testing import conformance

import terminal5_template.plugin as plugin
from terminal5_template.constants import ERRORS, NAME, STATUSES

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
HOOKS = load_hooks(plugins=[plugin], load_entry_points=False)  # built once: hypothesis runs many examples


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
    cases = [(response(400, code), cls, code) for code, cls in ERRORS.items()]
    conformance.check_error_map(hooks, NAME, cases)
    conformance.check_success_is_not_an_error(
        hooks, NAME, [HttpResponse(status=200, headers={}, text="{}", latency_ms=1, data={})]
    )
    ctx = CallContext(exchange=NAME, base_url="http://127.0.0.1")
    limited = hooks.map_error(NAME, response(429, "RATE_LIMIT", {"Retry-After": "7"}), ctx)
    assert isinstance(limited, RateLimitExceeded) and limited.retry_after == 7
    assert {AuthenticationError, DuplicateOrder, InsufficientFunds, OrderNotFound} <= set(ERRORS.values())


def test_client_ids(hooks: Any) -> None:
    conformance.check_client_id_mapping(hooks, hooks.registry.get(NAME), ["short", "x" * 64, "with:colon/and.dot"])


@given(st.integers(min_value=1, max_value=10**8), st.sampled_from(["E", "plain"]))
def test_decimal_format(steps: int, notation: str) -> None:
    quantity = steps * MARKET.step_size
    if notation == "E":
        quantity = Decimal(f"{quantity:E}")  # the same amount written with an exponent
    conformance.check_decimal_format(HOOKS, NAME, MARKET, [quantity], price=Decimal("43000.10"))


def test_stop_loss_is_an_attached_reduce_only_order(hooks: Any) -> None:
    perpetual = attrs.evolve(MARKET, symbol="BTC/USDT:USDT", native_symbol="BTCUSDT_PERP", type=MarketType.SWAP)
    request = OrderRequest(
        symbol=perpetual.symbol, side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal("0.001"),
        price=Decimal("43000.10"), stop_loss_price=Decimal("41000"), user_id=1, broker_id=1,
    )
    call = hooks.to_native(NAME, request, perpetual, "parent-1")
    (child,) = call.attached
    assert child.role == "stop_loss" and child.client_order_id == "parent-1-sl"
    assert dict(child.call.params) == {
        "symbol": "BTCUSDT_PERP", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.001",
        "stopPrice": "41000", "reduceOnly": "true", "clientId": "parent-1-sl",
    }
    with pytest.raises(InvalidOrder, match="stop_loss_price"):
        hooks.to_native(NAME, attrs.evolve(request, stop_loss_price=Decimal("41000.001")), perpetual, "parent-2")

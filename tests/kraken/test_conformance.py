"""The core's conformance kit (terminal5.testing.conformance) run against the Kraken plugin.

Statuses and error strings come from shared/reference/kraken.md (§6, §7) and from what the plugin declares
(``constants.ERRORS``); responses are built the way Kraken answers: HTTP 200 with an ``error`` array.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import terminal5_kraken.plugin as plugin
from terminal5 import jsonutil
from terminal5.contract import CallContext, HttpResponse
from terminal5.decimals import floor_to_step
from terminal5.errors import (
    AuthenticationError,
    BadSymbol,
    ExchangeError,
    ExchangeNotAvailable,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimitExceeded,
)
from terminal5.models import Market
from terminal5.testing import conformance
from terminal5_kraken.constants import ERRORS, EXCHANGE, STATUS
from terminal5_kraken.convert import check_price, check_volume
from terminal5_kraken.markets import MarketIndex, kraken_asset, parse_asset_pairs

from .data import asset_pairs

#: reference §6, verbatim
REFERENCE_STATUSES = ["pending", "open", "closed", "canceled", "expired"]

INDEX = MarketIndex(parse_asset_pairs(asset_pairs()))
BTC_USD = INDEX.by_symbol["BTC/USD"]
DOGE_USD = INDEX.by_symbol["DOGE/USD"]


@pytest.fixture
def hooks(t5_hooks: Any) -> Any:
    return t5_hooks(plugin)


def kraken_answer(*errors: str, result: Any = None, status: int = 200) -> HttpResponse:
    """A Kraken envelope as the transport hands it over (body parsed by the core's JSON, numbers Decimal)."""
    body: dict[str, Any] = {"error": list(errors)}
    if result is not None:
        body["result"] = result
    text = jsonutil.dumps(body)
    return HttpResponse(status=status, headers={"Content-Type": "application/json"}, text=text, latency_ms=1,
                        data=jsonutil.loads(text))


# --- spec and statuses ------------------------------------------------------------------------------


def test_spec(hooks: Any) -> None:
    spec = hooks.registry.get(EXCHANGE)
    conformance.check_spec(spec)
    assert spec.client_id.kind == "int32"


def test_status_table_covers_the_reference(hooks: Any) -> None:
    conformance.check_status_table(hooks, EXCHANGE, REFERENCE_STATUSES)
    # and the plugin's table documents nothing the reference lacks
    assert sorted(STATUS) == sorted(REFERENCE_STATUSES)


# --- errors -------------------------------------------------------------------------------------------


def test_every_declared_error_string_maps(hooks: Any) -> None:
    cases = [(kraken_answer(code), cls) for code, cls in ERRORS.items()]
    conformance.check_error_map(hooks, EXCHANGE, cases)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # suffixed forms reach their table row by prefix
        ("EGeneral:Invalid arguments:volume", InvalidOrder),
        ("EService: Throttled: 1700000010", RateLimitExceeded),
        # strings in no row fall back by category, on the safe side for EService (outcome unknown)
        ("EOrder:Something new", InvalidOrder),
        ("EService:Something new", ExchangeNotAvailable),
        ("EFunding:Unknown withdraw key", ExchangeError),
    ],
)
def test_suffixed_and_unlisted_errors_map(hooks: Any, code: str, expected: type[ExchangeError]) -> None:
    conformance.check_error_map(hooks, EXCHANGE, [(kraken_answer(code), expected)])


def test_first_error_wins_and_key_classes_are_declared(hooks: Any) -> None:
    conformance.check_error_map(
        hooks, EXCHANGE, [(kraken_answer("EOrder:Insufficient funds", "WGeneral:Deprecated"), InsufficientFunds)]
    )
    assert {AuthenticationError, InsufficientFunds, OrderNotFound, BadSymbol, RateLimitExceeded} <= set(
        ERRORS.values()
    )


def test_rate_limit_errors_carry_retry_after(hooks: Any) -> None:
    ctx = CallContext(exchange=EXCHANGE, base_url="http://127.0.0.1", options={"tier": "pro"})
    error = hooks.map_error(EXCHANGE, kraken_answer("EAPI:Rate limit exceeded"), ctx)
    assert isinstance(error, RateLimitExceeded) and error.retry_after == 1.0  # pro: one point per second


def test_successes_are_not_errors(hooks: Any) -> None:
    conformance.check_success_is_not_an_error(
        hooks,
        EXCHANGE,
        [
            kraken_answer(result={"unixtime": 1700000000}),
            kraken_answer(result={"descr": {"order": "buy 1.25000000 XBTUSD @ limit 27500.0"},
                                  "txid": ["OU22CG-KLAF2-FWUDD7"]}),
            kraken_answer(result={"count": 1, "pending": False}),
            kraken_answer(result={}),
            # warnings are not errors
            kraken_answer("WGeneral:Deprecated", result={"count": 1}),
        ],
    )


def test_non_kraken_bodies_are_outcome_unknown(hooks: Any) -> None:
    ctx = CallContext(exchange=EXCHANGE, base_url="http://127.0.0.1")
    edge = HttpResponse(status=502, headers={}, text="<html>bad gateway</html>", latency_ms=1, data=None)
    assert isinstance(hooks.map_error(EXCHANGE, edge, ctx), ExchangeNotAvailable)
    limited = HttpResponse(status=429, headers={}, text="", latency_ms=1, data=None)
    assert isinstance(hooks.map_error(EXCHANGE, limited, ctx), RateLimitExceeded)


# --- client ids ---------------------------------------------------------------------------------------


def test_client_ids_are_positive_int32_userrefs(hooks: Any) -> None:
    conformance.check_client_id_mapping(
        hooks,
        hooks.registry.get(EXCHANGE),
        ["short", "x" * 64, "with:colon/and.dot", "T5_1_18b2c3d4e5f_ab12cd34", "ünïcödé", "0"],
    )


# --- decimals -----------------------------------------------------------------------------------------


def _price_grid(market: Market) -> Market:
    """The market seen with its price grid as the step (check_amount_format checks against step_size)."""
    return attrs.evolve(market, step_size=market.tick_size)


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1000"), places=12))
def test_volume_format(value: Decimal) -> None:
    conformance.check_amount_format(lambda v, m: check_volume(floor_to_step(v, m.step_size), m), BTC_USD, [value])


@given(st.decimals(min_value=Decimal("0.1"), max_value=Decimal("1000000"), places=4))
def test_price_format(value: Decimal) -> None:
    conformance.check_amount_format(
        lambda v, m: check_price(floor_to_step(v, m.step_size), m, "price"), _price_grid(BTC_USD), [value]
    )


@given(st.decimals(min_value=Decimal("0.0000001"), max_value=Decimal("10"), places=10))
def test_price_format_fine_tick(value: Decimal) -> None:
    conformance.check_amount_format(
        lambda v, m: check_price(floor_to_step(v, m.step_size), m, "price"), _price_grid(DOGE_USD), [value]
    )


def test_decimal_format_no_exponent() -> None:
    conformance.check_amount_format(
        lambda v, m: check_volume(floor_to_step(v, m.step_size), m),
        BTC_USD,
        [Decimal("1E+2"), Decimal("0.00010000"), Decimal("1.000000009")],
    )


# --- symbols ------------------------------------------------------------------------------------------


def test_symbol_roundtrip_by_pair_key() -> None:
    conformance.check_symbol_roundtrip(
        INDEX.markets, lambda s: INDEX.by_symbol[s].native_symbol, lambda n: INDEX.by_native[n].symbol
    )


@pytest.mark.parametrize("form", ["altname", "wsname"])
def test_symbol_roundtrip_by_other_names(form: str) -> None:
    """descr.pair carries the altname, WebSockets the wsname: both read back to the unified symbol."""
    markets = [attrs.evolve(m, native_symbol=m.info[form]) for m in INDEX.markets]
    conformance.check_symbol_roundtrip(
        markets, lambda s: INDEX.by_symbol[s].info[form], lambda n: INDEX.by_native[n].symbol
    )


def test_kraken_aliases() -> None:
    assert {m.symbol: m.native_symbol for m in INDEX.markets} == {
        "BTC/USD": "XXBTZUSD",
        "BTC/USDT": "XXBTZUSDT",
        "DOGE/USD": "XDGUSD",
        "SOL/USD": "SOLUSD",
    }
    assert INDEX.by_native["XBT/USD"] is BTC_USD and INDEX.by_native["XDGUSD"] is DOGE_USD
    assert (kraken_asset("BTC"), kraken_asset("DOGE"), kraken_asset("SOL")) == ("XBT", "XDG", "SOL")
    assert "BTC/USD.d" not in INDEX.by_symbol  # dark-pool pairs are not offered


def test_rest_counter_is_a_shared_decaying_budget() -> None:
    """The core applies it before each counted call, shared across processes through Redis."""
    from terminal5.contract import CallContext
    from terminal5_kraken.plugin import REST_COUNTED_ENDPOINTS, exchange_spec

    (rule,) = exchange_spec().rate_limits
    assert rule.scope == "account" and rule.decay is not None
    assert "order.place" not in REST_COUNTED_ENDPOINTS and "order.cancel" not in REST_COUNTED_ENDPOINTS
    ctx = CallContext(exchange="kraken", base_url="http://127.0.0.1")
    assert rule.for_context(ctx) == (15, 0.33)
    assert rule.for_context(CallContext(exchange="kraken", base_url="x", options={"tier": "pro"})) == (20, 1.0)


def test_to_native_writes_amounts_exactly(hooks: Any) -> None:
    """The plugin's own AddOrder call (not only its helpers): volumes in any notation, sent plain."""
    conformance.check_decimal_format(
        hooks, EXCHANGE, BTC_USD, [Decimal("0.00100"), Decimal("1E+1"), Decimal("1.50000")],
        price=Decimal("27500.0"), native_client_id=1234567,
    )

"""The core's conformance kit (terminal5.testing.conformance) applied to the Bitget plugin."""

from __future__ import annotations

from decimal import Decimal

import pytest

from terminal5.contract import CallContext, HttpResponse
from terminal5.errors import PluginError
from terminal5.models import Market, MarketType, OrderRequest, OrderType, Side
from terminal5.plugins import load_hooks
from terminal5.testing import conformance
from terminal5_bitget import constants, plugin
from terminal5_bitget.markets import parse_contracts, parse_symbols
from terminal5_bitget.symbols import SymbolIndex

from ._data import SPOT_SYMBOLS, USDC_CONTRACTS, USDT_CONTRACTS, ok
from .test_errors import REFERENCE_CODES, error, response

HOOKS = load_hooks(plugins=[plugin], load_entry_points=False)
SPEC = HOOKS.registry.get("bitget")
SPOT = parse_symbols(SPOT_SYMBOLS)
MIX = [*parse_contracts(USDT_CONTRACTS, constants.USDT_FUTURES), *parse_contracts(USDC_CONTRACTS, constants.USDC_FUTURES)]


def test_spec() -> None:
    conformance.check_spec(SPEC)
    assert SPEC.requires_passphrase and SPEC.market_types == {MarketType.SPOT, MarketType.SWAP}
    assert "reduce_only" not in SPEC.supported_params[MarketType.SPOT]
    assert SPEC.urls.for_(MarketType.SWAP, testnet=True) == SPEC.urls.for_(MarketType.SWAP, testnet=False)


def test_status_table() -> None:
    conformance.check_status_table(HOOKS, "bitget", conformance.documented_statuses(constants.STATUSES))


def test_error_map() -> None:
    conformance.check_error_map(HOOKS, "bitget", [(response(400, error(c, m)), cls) for c, m, cls in REFERENCE_CODES])
    conformance.check_success_is_not_an_error(HOOKS, "bitget", [response(200, ok({"orderId": "1"}))])


def test_client_ids() -> None:
    conformance.check_client_id_mapping(HOOKS, SPEC, ["abc", "a" * 40, "a" * 41, "x:y/z.w", "s" * 64, "ARISTO_1_x"])
    assert HOOKS.map_client_id("bitget", "ARISTO_1_1706000000_abc", 0) == "ARISTO_1_1706000000_abc"


def _sent(market: Market, **fields: object) -> dict[str, str]:
    base: dict[str, object] = {"symbol": market.symbol, "side": Side.BUY, "type": OrderType.LIMIT, "user_id": 1,
                               "broker_id": 1, "quantity": Decimal(1), "price": Decimal(43000)}
    base.update(fields)
    return dict(HOOKS.to_native("bitget", OrderRequest(**base), market, "cid", {}).params)  # type: ignore[arg-type]


def test_decimal_format_of_what_to_native_sends() -> None:
    """The kit's format check over the plugin's real output (``size`` of the native call)."""
    btc_spot, btc_perp = SPOT[0], MIX[0]
    conformance.check_decimal_format(HOOKS, "bitget", btc_spot,
                                     [Decimal("0.0001"), Decimal("1.23450"), Decimal("1E+2"), Decimal("9000")],
                                     price=Decimal("4.3E+4"))
    conformance.check_decimal_format(HOOKS, "bitget", btc_perp,
                                     [Decimal("0.001"), Decimal("0.0050"), Decimal("1E+1"), Decimal("1000.000")],
                                     price=Decimal("43000.1"))
    assert _sent(btc_perp, quantity=Decimal("0.010"), price=Decimal("4.30001E+4"))["price"] == "43000.1"


def test_symbol_roundtrip() -> None:
    for markets in (SPOT, MIX):
        index = SymbolIndex(markets)
        conformance.check_symbol_roundtrip(
            markets, lambda s, i=index: i.by_symbol(s).native_symbol,  # type: ignore[union-attr]
            lambda n, i=index: i.by_native(n).symbol,  # type: ignore[union-attr]
        )


def test_published_limits_are_shared_rules() -> None:
    rules = {r.name: r for r in SPEC.rate_limits}
    place = rules["spot.order.place-1s"]
    assert (place.limit, place.window, place.scope) == (10, 1.0, "account")
    assert place.applies("spot.order.place", MarketType.SPOT) and not place.applies("mix.order.place", MarketType.SPOT)
    assert (rules["spot.order.fetch-1s"].limit, rules["mix.order.fetch-1s"].limit) == (20, 10)
    assert (rules["mix.contracts-1s"].limit, rules["mix.contracts-1s"].scope) == (20, "ip")
    assert rules["public-1m"].limit == 6000 and rules["public-1m"].scope == "ip"
    # every endpoint label the plugin sends is governed by a rule
    labelled = {r.name.removesuffix("-1s") for r in SPEC.rate_limits}
    for market, extra in ((SPOT[0], {}), (MIX[0], {"price": Decimal("43000.1")})):
        for kind in (OrderType.LIMIT, OrderType.STOP_LOSS):
            fields = {"type": kind, **extra, **({"stop_price": Decimal(40000), "price": None} if kind is
                                                OrderType.STOP_LOSS else {}), "side": Side.SELL}
            call = HOOKS.to_native("bitget", OrderRequest(symbol=market.symbol, quantity=Decimal(1), user_id=1,
                                                          broker_id=1, **fields), market, "c", {})
            assert call.endpoint in labelled


def test_foreign_exchange_is_never_answered() -> None:
    ctx = CallContext(exchange="okx", base_url="http://127.0.0.1")
    assert HOOKS.map_error("okx", HttpResponse(status=400, headers={}, text="", latency_ms=1), ctx) is None
    assert HOOKS.normalize_status("okx", "live") is None
    with pytest.raises(PluginError):  # nobody answered: the core says so instead of passing None on
        HOOKS.map_client_id("okx", "abc", 0)

"""The core's conformance kit (terminal5.testing.conformance) applied to the Binance plugin."""

from __future__ import annotations

from decimal import Decimal

from terminal5 import errors as t5
from terminal5 import jsonutil
from terminal5.contract import CallContext, HttpResponse
from terminal5.models import MarketType
from terminal5.plugins import load_hooks
from terminal5.testing import conformance
from terminal5_binance import constants, plugin
from terminal5_binance.markets import format_price, format_quantity, parse_exchange_info
from terminal5_binance.symbols import SymbolIndex, native_symbol

from ._data import FUTURES_EXCHANGE_INFO, SPOT_EXCHANGE_INFO
from .test_errors import FUTURES_ONLY, SHARED, SPOT_ONLY

HOOKS = load_hooks(plugins=[plugin], load_entry_points=False)
SPEC = HOOKS.registry.get("binance")


def _response(status: int, body: object) -> HttpResponse:
    text = jsonutil.dumps(body)
    return HttpResponse(status=status, headers={}, text=text, latency_ms=1.0, data=jsonutil.loads(text))


def test_spec() -> None:
    conformance.check_spec(SPEC)


def test_status_table() -> None:
    conformance.check_status_table(HOOKS, "binance", conformance.documented_statuses(constants.STATUSES))


def test_error_map() -> None:
    cases = [(_response(400, {"code": code, "msg": msg}), cls) for code, msg, cls in SHARED + SPOT_ONLY]
    conformance.check_error_map(HOOKS, "binance", cases)
    conformance.check_success_is_not_an_error(
        HOOKS, "binance", [_response(200, {"orderId": 1}), _response(200, {"code": 200, "msg": "success"})]
    )
    futures_ctx = CallContext(exchange="binance", base_url="http://127.0.0.1", market_type=MarketType.SWAP)
    conformance.check_error_map(
        HOOKS, "binance", [(_response(400, {"code": code, "msg": msg}), cls) for code, msg, cls in SHARED + FUTURES_ONLY],
        futures_ctx,
    )
    # the answers the checklist's fake gives, with the HTTP statuses Binance uses for them
    conformance.check_error_map(HOOKS, "binance", [
        (_response(401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}),
         t5.AuthenticationError),
        (_response(400, {"code": -1022, "msg": "Signature for this request is not valid."}), t5.AuthenticationError),
        (_response(400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}),
         t5.InsufficientFunds),
        (_response(400, {"code": -2010, "msg": "Stop price would trigger immediately."}), t5.InvalidOrder),
        (_response(400, {"code": -1121, "msg": "Invalid symbol."}), t5.BadSymbol),
    ])


def test_client_ids() -> None:
    conformance.check_client_id_mapping(HOOKS, SPEC, ["abc", "a" * 36, "a" * 37, "x:y/z.w", "s" * 64])


def test_decimal_format_and_symbols() -> None:
    spot = parse_exchange_info(SPOT_EXCHANGE_INFO, futures=False)
    futures = parse_exchange_info(FUTURES_EXCHANGE_INFO, futures=True)
    btc_spot, btc_perp = spot[0], futures[0]
    conformance.check_amount_format(
        lambda value, market: format_quantity(market, value), btc_spot,
        [Decimal("0.00001"), Decimal("1.23450"), Decimal("1E+2"), Decimal("9000")],
    )
    conformance.check_amount_format(
        lambda value, market: format_quantity(market, value), btc_perp,
        [Decimal("0.001"), Decimal("0.0050"), Decimal("1E+1"), Decimal("1000.000")],
    )
    # prices: plain notation and on the tick (tick 0.01 spot / 0.10 perpetual, both multiples of the lot step)
    for market, prices in ((btc_spot, ["43000.10", "4.3E+4", "0.01"]), (btc_perp, ["43000.1", "4.30001E+4", "556.80"])):
        conformance.check_amount_format(
            lambda value, m: format_price(m, value), market, [Decimal(p) for p in prices]
        )
    for markets, is_futures in ((spot, False), (futures, True)):
        index = SymbolIndex(markets)
        conformance.check_symbol_roundtrip(
            markets, native_symbol, lambda n, f=is_futures, i=index: i.by_native(n, futures=f).symbol  # type: ignore[union-attr]
        )
    assert {m.type for m in futures} == {MarketType.SWAP, MarketType.FUTURE}


def test_published_limits_are_shared_rules() -> None:
    """The core enforces these across processes (Redis): weight per IP, order counts per account."""
    from terminal5.models import MarketType
    from terminal5_binance.plugin import SPEC

    rules = {r.name: r for r in SPEC.rate_limits}
    spot_weight = rules["spot-request_weight-1m"]
    assert (spot_weight.limit, spot_weight.window, spot_weight.scope, spot_weight.weighted) == (6000, 60, "ip", True)
    assert spot_weight.applies("account", MarketType.SPOT) and not spot_weight.applies("account", MarketType.SWAP)
    orders = rules["futures-orders-10s"]
    assert (orders.limit, orders.scope, orders.weighted) == (300, "account", False)
    assert orders.applies("algo.place", MarketType.SWAP) and not orders.applies("order.fetch", MarketType.SWAP)
    assert not any(r.window > 3600 for r in SPEC.rate_limits)


def test_to_native_writes_amounts_exactly() -> None:
    """The plugin's own order call (not only its helpers): quantities in any notation, sent plain."""
    spot = parse_exchange_info(SPOT_EXCHANGE_INFO, futures=False)
    futures = parse_exchange_info(FUTURES_EXCHANGE_INFO, futures=True)
    conformance.check_decimal_format(
        HOOKS, "binance", spot[0], [Decimal("0.00100"), Decimal("1E+1"), Decimal("0.5")], price=Decimal("4.3E+4")
    )
    conformance.check_decimal_format(
        HOOKS, "binance", futures[0], [Decimal("0.0050"), Decimal("1E+1")], price=Decimal("43000.1")
    )

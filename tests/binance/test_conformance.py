"""The core's conformance kit (terminal5.testing.conformance) applied to the Binance plugin."""

from __future__ import annotations

from decimal import Decimal

from terminal5 import jsonutil
from terminal5.contract import HttpResponse
from terminal5.models import MarketType
from terminal5.plugins import load_hooks
from terminal5.testing import conformance
from terminal5_binance import constants, plugin
from terminal5_binance.markets import format_quantity, parse_exchange_info
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
    assert FUTURES_ONLY  # futures-only codes are covered in test_errors with a futures context


def test_client_ids() -> None:
    conformance.check_client_id_mapping(HOOKS, SPEC, ["abc", "a" * 36, "a" * 37, "x:y/z.w", "s" * 64])


def test_decimal_format_and_symbols() -> None:
    spot = parse_exchange_info(SPOT_EXCHANGE_INFO, futures=False)
    futures = parse_exchange_info(FUTURES_EXCHANGE_INFO, futures=True)
    conformance.check_decimal_format(
        lambda value, market: format_quantity(market, value), spot[0],
        [Decimal("0.00001"), Decimal("1.23450"), Decimal("1E+2"), Decimal("9000")],
    )
    for markets, is_futures in ((spot, False), (futures, True)):
        index = SymbolIndex(markets)
        conformance.check_symbol_roundtrip(
            markets, native_symbol, lambda n, f=is_futures, i=index: i.by_native(n, futures=f).symbol  # type: ignore[union-attr]
        )
    assert {m.type for m in futures} == {MarketType.SWAP, MarketType.FUTURE}

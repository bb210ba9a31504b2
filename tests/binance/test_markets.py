"""exchangeInfo parsing, filter checks, Decimal formatting (property tests) and the symbol round trip."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal5.errors import InvalidOrder
from terminal5.models import MarketType
from terminal5_binance.markets import (
    check_lot,
    check_notional,
    check_price,
    format_price,
    format_quantity,
    parse_exchange_info,
)
from terminal5_binance.symbols import SymbolIndex, native_symbol, split_native, unified_symbol

from ._data import FUTURES_EXCHANGE_INFO, SPOT_EXCHANGE_INFO, futures_symbol, spot_symbol

SPOT = {m.symbol: m for m in parse_exchange_info(SPOT_EXCHANGE_INFO, futures=False)}
FUT = {m.symbol: m for m in parse_exchange_info(FUTURES_EXCHANGE_INFO, futures=True)}
BTC = SPOT["BTC/USDT"]
PERP = FUT["BTC/USDT:USDT"]


def test_spot_market_fields() -> None:
    assert BTC.native_symbol == "BTCUSDT" and BTC.type is MarketType.SPOT
    assert (BTC.base, BTC.quote, BTC.settle) == ("BTC", "USDT", None)
    assert BTC.tick_size == Decimal("0.01") and BTC.step_size == Decimal("0.00001")
    assert BTC.min_quantity == Decimal("0.00001") and BTC.max_quantity == Decimal("9000")
    assert BTC.min_notional == Decimal("5")
    # MARKET_LOT_SIZE with 0 bounds/step: disabled rules become None
    assert BTC.market_step_size is None and BTC.market_min_quantity is None
    assert BTC.market_max_quantity == Decimal("100")
    assert BTC.active and not SPOT["ETH/USDT"].active
    assert BTC.info["filters"][0]["filterType"] == "PRICE_FILTER"


def test_futures_markets_perpetual_and_dated() -> None:
    assert PERP.type is MarketType.SWAP and PERP.settle == "USDT" and PERP.native_symbol == "BTCUSDT"
    assert PERP.min_notional == Decimal("100")  # futures MIN_NOTIONAL uses "notional"
    assert PERP.tick_size == Decimal("0.10") and PERP.market_max_quantity == Decimal("120")
    dated = FUT["BTC/USDT:USDT-250627"]
    assert dated.type is MarketType.FUTURE and dated.native_symbol == "BTCUSDT_250627"


def test_unknown_contract_types_are_skipped() -> None:
    info = {"symbols": [futures_symbol("XUSDT", "X", "USDT", contract="TRADIFI_PERPETUAL")]}
    assert parse_exchange_info(info, futures=True) == []


@pytest.mark.parametrize(
    ("quantity", "is_market", "message"),
    [
        ("0.000001", False, "LOT_SIZE: quantity 0.000001 below minQty 0.00001"),
        ("9000.00001", False, "LOT_SIZE: quantity 9000.00001 above maxQty 9000"),
        ("0.000015", False, "LOT_SIZE: quantity 0.000015 is not a multiple of stepSize 0.00001"),
        ("101", True, "MARKET_LOT_SIZE: quantity 101 above maxQty 100"),
    ],
)
def test_lot_size_errors_name_filter_and_bound(quantity: str, is_market: bool, message: str) -> None:
    with pytest.raises(InvalidOrder) as info:
        check_lot(BTC, Decimal(quantity), is_market=is_market)
    assert info.value.message == message and info.value.field == "quantity"


def test_futures_lot_step_counts_from_min_qty() -> None:
    check_lot(PERP, Decimal("0.011"), is_market=False)
    with pytest.raises(InvalidOrder, match=re.escape("stepSize 0.001")):
        check_lot(PERP, Decimal("0.0115"), is_market=False)


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("0.001", "PRICE_FILTER: price 0.001 below minPrice 0.01"),
        ("1000000.01", "PRICE_FILTER: price 1000000.01 above maxPrice 1000000"),
        ("100.005", "PRICE_FILTER: price 100.005 is not a multiple of tickSize 0.01"),
    ],
)
def test_price_filter(price: str, message: str) -> None:
    with pytest.raises(InvalidOrder) as info:
        check_price(BTC, Decimal(price))
    assert info.value.message == message


def test_futures_price_tick_from_min_price() -> None:
    check_price(PERP, Decimal("30000.1"))
    with pytest.raises(InvalidOrder, match=re.escape("tickSize 0.1")):
        check_price(PERP, Decimal("30000.05"))


def test_notional() -> None:
    with pytest.raises(InvalidOrder, match=re.escape("NOTIONAL: notional 4.9 below minNotional 5")):
        check_notional(BTC, Decimal("0.49"), Decimal("10"))
    with pytest.raises(InvalidOrder, match=re.escape("MIN_NOTIONAL: notional 30 below minimum 100")):
        check_notional(PERP, Decimal("0.001"), Decimal("30000"))
    check_notional(BTC, Decimal("0.49"), None)  # market orders: checked by Binance at the average price


# --- property tests -----------------------------------------------------------------------------------

steps = st.sampled_from(["1", "0.1", "0.01", "0.001", "0.00001", "0.00000001", "10", "0.5", "0.025"]).map(Decimal)


@given(step=steps, multiple=st.integers(min_value=1, max_value=10**12))
def test_formatting_is_exact_plain_and_within_step_decimals(step: Decimal, multiple: int) -> None:
    value = step * multiple
    text = format_quantity(BTC, value)
    assert "e" not in text.lower() and "E" not in text
    assert Decimal(text) == value  # nothing lost, nothing rounded
    decimals = len(text.partition(".")[2])
    assert decimals <= max(0, -step.normalize().as_tuple().exponent)
    assert format_price(BTC, value) == text


@given(st.decimals(min_value=Decimal("1E-8"), max_value=Decimal("1E8"), places=8, allow_nan=False))
def test_formatting_never_uses_exponent(value: Decimal) -> None:
    text = format_quantity(BTC, value)
    assert "E" not in text and Decimal(text) == value


@given(step=steps, multiple=st.integers(min_value=1, max_value=10**6), off=st.integers(min_value=1, max_value=9))
def test_values_off_the_step_are_refused(step: Decimal, multiple: int, off: int) -> None:
    market = parse_exchange_info(
        {"symbols": [dict(spot_symbol("BTCUSDT", "BTC", "USDT"), filters=[
            {"filterType": "LOT_SIZE", "minQty": "0", "maxQty": "0", "stepSize": str(step)}])]},
        futures=False,
    )[0]
    check_lot(market, step * multiple, is_market=False)
    with pytest.raises(InvalidOrder):
        check_lot(market, step * multiple + step / (off + 1), is_market=False)


assets = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=8)


@given(base=assets, quote=assets, expiry=st.dates().map(lambda d: d.strftime("%y%m%d")))
def test_symbol_round_trip(base: str, quote: str, expiry: str) -> None:
    spot = parse_exchange_info({"symbols": [spot_symbol(base + quote, base, quote)]}, futures=False)[0]
    perp = parse_exchange_info({"symbols": [futures_symbol(base + quote, base, quote)]}, futures=True)[0]
    dated = parse_exchange_info(
        {"symbols": [futures_symbol(f"{base}{quote}_{expiry}", base, quote, "CURRENT_QUARTER")]}, futures=True
    )[0]
    index = SymbolIndex([spot, perp, dated])
    for market, futures in ((spot, False), (perp, True), (dated, True)):
        assert native_symbol(market.symbol) == market.native_symbol
        assert index.by_native(market.native_symbol, futures=futures) is market
        assert index.by_symbol(market.symbol) is market
    assert spot.symbol == f"{base}/{quote}" and perp.symbol == f"{base}/{quote}:{quote}"
    assert dated.symbol == f"{base}/{quote}:{quote}-{expiry}"


def test_split_native_fallback() -> None:
    assert split_native("BTCUSDT") == "BTC/USDT"
    assert split_native("BTCUSDT", MarketType.SWAP) == "BTC/USDT:USDT"
    assert split_native("BTCUSDT_250627", MarketType.FUTURE) == "BTC/USDT:USDT-250627"
    assert split_native("XYZABC") is None
    assert unified_symbol("BTC", "USDT", MarketType.SWAP) == "BTC/USDT:USDT"

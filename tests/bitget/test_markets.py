"""Spot symbols and mix contracts -> ``Market``, symbol mapping both ways, and Decimal formatting as a
property (hypothesis): whatever passes the checks is sent in plain notation, exactly on the grid."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminal5.errors import InvalidOrder
from terminal5.models import MarketType
from terminal5_bitget import constants
from terminal5_bitget.markets import check_price, check_quantity, fmt, parse_contracts, parse_symbols
from terminal5_bitget.symbols import SymbolIndex, native_guess, product_type_of, split_native

from ._data import COIN_CONTRACTS, DELIVERY, SPOT_SYMBOLS, USDC_CONTRACTS, USDT_CONTRACTS

SPOT = parse_symbols(SPOT_SYMBOLS)
USDT = parse_contracts([*USDT_CONTRACTS, DELIVERY], constants.USDT_FUTURES)
USDC = parse_contracts(USDC_CONTRACTS, constants.USDC_FUTURES)
COIN = parse_contracts(COIN_CONTRACTS, constants.COIN_FUTURES)


def test_spot_markets() -> None:
    btc = SPOT[0]
    assert (btc.symbol, btc.native_symbol, btc.type) == ("BTC/USDT", "BTCUSDT", MarketType.SPOT)
    assert btc.tick_size == Decimal("0.01") and btc.step_size == Decimal("0.000001")
    assert btc.min_quantity is None and btc.min_notional == Decimal(1) and btc.active
    eth_btc = SPOT[1]
    assert eth_btc.symbol == "ETH/BTC" and eth_btc.min_notional is None  # minTradeUSDT is not in BTC
    assert not SPOT[2].active


def test_contracts_of_every_product_type() -> None:
    assert [m.symbol for m in USDT] == ["BTC/USDT:USDT", "ETH/USDT:USDT"]  # delivery contracts are skipped
    eth = USDT[1]
    assert eth.tick_size == Decimal("0.05") and eth.step_size == Decimal("0.001") and eth.min_quantity == Decimal("0.01")
    assert USDC[0].symbol == "BTC/USDC:USDC" and USDC[0].native_symbol == "BTCPERP"
    assert COIN[0].symbol == "BTC/USD:BTC" and COIN[0].settle == "BTC"
    assert [product_type_of(m) for m in (USDT[0], USDC[0], COIN[0])] == ["USDT-FUTURES", "USDC-FUTURES", "COIN-FUTURES"]


def test_symbol_index_both_ways() -> None:
    index = SymbolIndex([*USDT, *USDC, *COIN])
    for market in [*USDT, *USDC, *COIN]:
        assert index.by_native(market.native_symbol) is market
        assert index.by_native(market.native_symbol.lower()) is market  # documented answers use lower case
        assert index.by_symbol(market.symbol) is market
    assert native_guess("BTC/USDT") == "BTCUSDT" and native_guess("BTC/USDT:USDT") == "BTCUSDT"
    assert split_native("ethusdt") == "ETH/USDT" and split_native("BTCUSD", MarketType.SWAP) == "BTC/USD:BTC"
    assert split_native("???") is None


def test_checks_name_the_bound() -> None:
    btc = SPOT[0]
    with pytest.raises(InvalidOrder) as info:
        check_quantity(btc, Decimal("0.0000001"))
    assert info.value.field == "quantity" and "quantityPrecision" in info.value.message and "6" in info.value.message
    with pytest.raises(InvalidOrder, match="maxOrderQty"):
        check_quantity(USDT[0], Decimal("1201"))
    with pytest.raises(InvalidOrder, match="sizeMultiplier"):
        check_quantity(parse_contracts([dict(USDT_CONTRACTS[0], sizeMultiplier="0.005")])[0], Decimal("0.001"))
    with pytest.raises(InvalidOrder) as info:
        check_price(USDT[1], Decimal("2000.01"), field="stop_price")
    assert info.value.field == "stop_price" and "0.05" in info.value.message


@settings(max_examples=200, deadline=None)
@given(units=st.integers(min_value=1, max_value=10**12), places=st.integers(min_value=0, max_value=8),
       exponent=st.integers(min_value=-3, max_value=3))
def test_formatted_amounts_are_plain_and_exact(units: int, places: int, exponent: int) -> None:
    """Any value on the grid, in any Decimal spelling (``1E+2``, trailing zeros), is sent plain and equal."""
    market = parse_symbols([dict(SPOT_SYMBOLS[0], quantityPrecision=str(places), minTradeUSDT="0",
                                maxTradeAmount="0")])[0]
    value = Decimal(units).scaleb(-places)
    spelled = value.quantize(Decimal(1).scaleb(min(-places, exponent))) if exponent < 0 else value.normalize()
    check_quantity(market, spelled)
    text = fmt(spelled)
    assert "E" not in text and "e" not in text and Decimal(text) == value
    assert text == text.strip() and (("." not in text) or not text.endswith("0"))
    assert len(text.partition(".")[2]) <= places


@settings(max_examples=200, deadline=None)
@given(units=st.integers(min_value=1, max_value=10**9), extra=st.integers(min_value=1, max_value=9))
def test_off_grid_amounts_are_refused_never_rounded(units: int, extra: int) -> None:
    market = USDT[1]  # tick 0.05, size step 0.001
    price = Decimal(units) * Decimal("0.05") + Decimal(extra) * Decimal("0.001")
    with pytest.raises(InvalidOrder):
        check_price(market, price)
    size = Decimal(units) * Decimal("0.001") + Decimal(extra) * Decimal("0.0001")
    with pytest.raises(InvalidOrder):
        check_quantity(market, size)

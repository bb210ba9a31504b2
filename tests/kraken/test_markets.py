"""AssetPairs -> markets; symbols both ways; Decimal formatting."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from terminal5.decimals import plain
from terminal5_kraken.markets import MarketIndex, kraken_asset, parse_asset_pairs, unified_asset

from .data import asset_pairs


def _index() -> MarketIndex:
    return MarketIndex(parse_asset_pairs(asset_pairs()))


def test_unified_symbols_and_filters() -> None:
    index = _index()
    btc = index.symbol("BTC/USD")
    assert btc is not None and btc.native_symbol == "XXBTZUSD"
    assert btc.tick_size == Decimal("0.1") and btc.step_size == Decimal("1E-8")
    assert btc.min_quantity == Decimal("0.0001") and btc.min_notional == Decimal("0.5")
    assert index.symbol("BTC/USDT").native_symbol == "XXBTZUSDT"  # type: ignore[union-attr]
    assert index.symbol("DOGE/USD").native_symbol == "XDGUSD"  # type: ignore[union-attr]
    sol = index.symbol("SOL/USD")
    assert sol is not None and not sol.active  # cancel_only: no new orders
    assert len(index) == 4  # the dark-pool .d pair is skipped


def test_lookup_by_key_altname_wsname() -> None:
    index = _index()
    for name in ("XXBTZUSD", "XBTUSD", "XBT/USD"):
        assert index.native(name).symbol == "BTC/USD"  # type: ignore[union-attr]
    assert index.native("XDG/USD").symbol == "DOGE/USD"  # type: ignore[union-attr]
    assert index.native("NOPE") is None


def test_assets() -> None:
    assert unified_asset("XXBT") == "BTC"
    assert unified_asset("ZUSD") == "USD"
    assert unified_asset("XXDG") == "DOGE"
    assert unified_asset("XBT.F") == "BTC.F"
    assert unified_asset("XTZ") == "XTZ"  # not a prefixed legacy code
    assert unified_asset("ZEUS") == "ZEUS"
    assert kraken_asset("BTC") == "XBT" and kraken_asset("DOGE") == "XDG" and kraken_asset("SOL") == "SOL"


def test_pair_without_wsname_uses_legacy_table() -> None:
    pairs = {"XETHZEUR": {"altname": "ETHEUR", "base": "XETH", "quote": "ZEUR", "pair_decimals": 2,
                          "lot_decimals": 8}}
    (market,) = parse_asset_pairs(pairs)
    assert market.symbol == "ETH/EUR" and market.tick_size == Decimal("0.01")


@given(st.sampled_from(sorted(_index().by_symbol)))
def test_symbol_round_trip(symbol: str) -> None:
    index = _index()
    market = index.symbol(symbol)
    assert market is not None
    for name in (market.native_symbol, market.info["altname"], market.info["wsname"]):
        assert index.native(name).symbol == symbol  # type: ignore[union-attr]


@given(st.sampled_from(["BTC", "DOGE", "ETH", "USD", "SOL", "EUR", "USDT"]))
def test_asset_round_trip(asset: str) -> None:
    assert unified_asset(kraken_asset(asset)) == asset


@given(st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1000000"), places=8,
                   allow_nan=False, allow_infinity=False))
def test_plain_formatting_is_exact(value: Decimal) -> None:
    text = plain(value)
    assert "E" not in text and "e" not in text
    assert Decimal(text) == value

"""Unified <-> native symbols: ``BTC/USDT`` <-> ``BTCUSDT`` (spot), ``BTC/USDT:USDT`` <-> ``BTCUSDT``
(USDT-M perpetual), ``BTC/USDC:USDC`` <-> ``BTCPERP`` (USDC-M), ``BTC/USD:BTC`` <-> ``BTCUSD`` (coin-M).

The native side cannot be split without metadata (USDC-M contracts are ``BTCPERP``, and ``BTCUSDT`` is
both a spot symbol and a contract), so the authoritative map both ways is a ``SymbolIndex`` built from the
loaded markets; ``native_guess``/``split_native`` are only fallbacks for markets nobody loaded.
Bitget's documented answers sometimes spell symbols in lower case (``ethusdt``): lookups are upper-cased.
"""

from __future__ import annotations

from collections.abc import Iterable

from terminal5.models import SYMBOL_RE, Market, MarketType
from terminal5_bitget.constants import COIN_FUTURES, USDC_FUTURES, USDT_FUTURES

KNOWN_QUOTES = ("USDT", "USDC", "BTC", "ETH", "EUR", "BGB", "USD")


def unified_symbol(base: str, quote: str, market_type: MarketType, *, settle: str | None = None) -> str:
    base, quote = base.upper(), quote.upper()
    if market_type is MarketType.SPOT:
        return f"{base}/{quote}"
    return f"{base}/{quote}:{(settle or quote).upper()}"


def product_type_of(market: Market) -> str:
    """The mix ``productType`` of a contract: by its settle coin."""
    settle = (market.settle or market.quote).upper()
    if settle == "USDT":
        return USDT_FUTURES
    if settle == "USDC":
        return USDC_FUTURES
    return COIN_FUTURES


def native_guess(symbol: str) -> str:
    """The native symbol of a unified one when no market is loaded (right for spot and USDT-M)."""
    match = SYMBOL_RE.match(symbol)
    if match is None:
        raise ValueError(f"{symbol!r} is not a unified symbol")
    return f"{match['base']}{match['quote']}"


def split_native(native: str, market_type: MarketType = MarketType.SPOT) -> str | None:
    """Best-effort unified symbol for a native one no loaded market describes (known quotes only)."""
    native = native.upper()
    for quote in KNOWN_QUOTES:
        if native.endswith(quote) and len(native) > len(quote):
            base = native[: -len(quote)]
            if market_type is MarketType.SPOT:
                return unified_symbol(base, quote, MarketType.SPOT)
            settle = base if quote == "USD" else quote
            return unified_symbol(base, quote, MarketType.SWAP, settle=settle)
    return None


class SymbolIndex:
    """Both directions for one market family (spot, or mix), from the loaded ``Market`` objects."""

    def __init__(self, markets: Iterable[Market] = ()) -> None:
        self._by_symbol: dict[str, Market] = {}
        self._by_native: dict[str, Market] = {}
        for market in markets:
            self.add(market)

    def add(self, market: Market) -> None:
        self._by_symbol[market.symbol] = market
        self._by_native[market.native_symbol.upper()] = market

    def by_symbol(self, symbol: str) -> Market | None:
        return self._by_symbol.get(symbol)

    def by_native(self, native: str) -> Market | None:
        return self._by_native.get(str(native).upper())

    def markets(self) -> list[Market]:
        return list(self._by_symbol.values())

    def __len__(self) -> int:
        return len(self._by_symbol)

"""Unified <-> native symbols: ``BTC/USDT`` <-> ``BTCUSDT`` (spot), ``BTC/USDT:USDT`` <-> ``BTCUSDT``
(USDⓈ-M perpetual), ``BTC/USDT:USDT-250627`` <-> ``BTCUSDT_250627`` (USDⓈ-M dated future).

The native side is ambiguous without metadata (``BTCUSDT`` is both a spot and a futures symbol, and a
concatenation cannot always be split), so the authoritative reverse map is a ``SymbolIndex`` built from
the loaded markets; ``split_native`` is only a fallback for payloads of markets nobody loaded.
"""

from __future__ import annotations

from collections.abc import Iterable

from terminal5.models import SYMBOL_RE, Market, MarketType
from terminal5_binance.constants import KNOWN_QUOTES


def unified_symbol(
    base: str, quote: str, market_type: MarketType, *, settle: str | None = None, expiry: str | None = None
) -> str:
    if market_type is MarketType.SPOT:
        return f"{base}/{quote}"
    settle = settle or quote
    if market_type is MarketType.FUTURE:
        if not expiry:
            raise ValueError("a dated future needs its expiry (YYMMDD)")
        return f"{base}/{quote}:{settle}-{expiry}"
    return f"{base}/{quote}:{settle}"


def native_symbol(symbol: str) -> str:
    """The native symbol of a unified one (no metadata needed in this direction)."""
    match = SYMBOL_RE.match(symbol)
    if match is None:
        raise ValueError(f"{symbol!r} is not a unified symbol")
    native = f"{match['base']}{match['quote']}"
    if match["expiry"]:
        native = f"{native}_{match['expiry']}"
    return native


def split_native(native: str, market_type: MarketType = MarketType.SPOT) -> str | None:
    """Best-effort unified symbol for a native one no loaded market describes (known quote assets only)."""
    base_part, _, expiry = native.partition("_")
    for quote in KNOWN_QUOTES:
        if base_part.endswith(quote) and len(base_part) > len(quote):
            base = base_part[: -len(quote)]
            if market_type is MarketType.SPOT:
                return unified_symbol(base, quote, MarketType.SPOT)
            if expiry:
                return unified_symbol(base, quote, MarketType.FUTURE, expiry=expiry)
            return unified_symbol(base, quote, MarketType.SWAP)
    return None


class SymbolIndex:
    """Both directions for one market family, from the loaded ``Market`` objects."""

    def __init__(self, markets: Iterable[Market] = ()) -> None:
        self._by_symbol: dict[str, Market] = {}
        self._by_native: dict[tuple[bool, str], Market] = {}
        for market in markets:
            self.add(market)

    def add(self, market: Market) -> None:
        self._by_symbol[market.symbol] = market
        self._by_native[(market.type is not MarketType.SPOT, market.native_symbol)] = market

    def by_symbol(self, symbol: str) -> Market | None:
        return self._by_symbol.get(symbol)

    def by_native(self, native: str, *, futures: bool) -> Market | None:
        return self._by_native.get((futures, native))

    def __len__(self) -> int:
        return len(self._by_symbol)

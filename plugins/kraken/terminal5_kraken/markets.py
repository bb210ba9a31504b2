"""AssetPairs -> unified ``Market`` objects, and symbol lookups both ways.

Kraken names one pair three ways: the key (``XXBTZUSD``, used to key results and in trades), the
``altname`` (``XBTUSD``, in ``descr.pair``) and the ``wsname`` (``XBT/USD``). The unified symbol is built
from base/quote with Kraken's aliases undone (``XBT`` -> ``BTC``, ``XDG`` -> ``DOGE``, legacy
``X``/``Z`` prefixes removed from the listed legacy codes only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from loguru import logger

from terminal5.models import Market, MarketType
from terminal5_kraken.constants import (
    ASSET_ALIASES,
    ASSET_ALIASES_REVERSE,
    EXCHANGE,
    LEGACY_ASSETS,
    TRADABLE_PAIR_STATUSES,
)

log = logger.bind(exchange=EXCHANGE)


def unified_asset(code: str) -> str:
    """``XXBT`` -> ``BTC``, ``ZUSD`` -> ``USD``, ``XDG`` -> ``DOGE``, ``SOL`` -> ``SOL``.

    A suffix after a dot (``XBT.F``, ``ETH2.S``: earn/staking balances) is kept.
    """
    head, dot, suffix = code.partition(".")
    head = LEGACY_ASSETS.get(head, head)
    head = ASSET_ALIASES.get(head, head)
    return head + dot + suffix


def kraken_asset(unified: str) -> str:
    """The Kraken code of a unified asset, without legacy prefix: ``BTC`` -> ``XBT``."""
    return ASSET_ALIASES_REVERSE.get(unified, unified)


def _step(decimals: Any) -> Decimal:
    return Decimal(1).scaleb(-int(decimals))


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    # Numbers arrive as Decimal (core JSON) or strings; never as float.
    return Decimal(str(value)) if not isinstance(value, Decimal) else value


def _base_quote(key: str, info: Mapping[str, Any]) -> tuple[str, str]:
    wsname = info.get("wsname")
    if isinstance(wsname, str) and wsname.count("/") == 1:
        base, quote = wsname.split("/")
    else:
        base, quote = str(info["base"]), str(info["quote"])
    return unified_asset(base), unified_asset(quote)


def market_from_pair(key: str, info: Mapping[str, Any]) -> Market:
    """One AssetPairs entry -> ``Market``. Precision rules live in ``tick_size``/``step_size``/
    ``min_quantity``/``min_notional``, and the raw entry (with ``key``) in ``info``."""
    base, quote = _base_quote(key, info)
    pair_decimals = int(info.get("pair_decimals", 8))
    tick = _decimal(info.get("tick_size")) or _step(pair_decimals)
    status = str(info.get("status", "online"))
    return Market(
        exchange=EXCHANGE,
        symbol=f"{base}/{quote}",
        native_symbol=key,
        type=MarketType.SPOT,
        base=base,
        quote=quote,
        tick_size=tick,
        step_size=_step(info.get("lot_decimals", 8)),
        min_quantity=_decimal(info.get("ordermin")),
        min_notional=_decimal(info.get("costmin")),
        active=status in TRADABLE_PAIR_STATUSES,
        info={**info, "key": key},
    )


def parse_asset_pairs(result: Mapping[str, Any]) -> list[Market]:
    """The ``result`` of AssetPairs -> markets, skipping dark-pool (``.d``) pairs."""
    markets: list[Market] = []
    seen: dict[str, str] = {}
    for key, info in result.items():
        if str(info.get("altname", "")).endswith(".d") or key.endswith(".d"):
            continue  # dark pool books: not tradable through this gateway
        market = market_from_pair(key, info)
        if market.symbol in seen:
            # Two pair keys for one unified symbol would make the symbol ambiguous: keep the first.
            log.warning("pairs {} and {} both map to {}; keeping {}", seen[market.symbol], key, market.symbol,
                        seen[market.symbol])
            continue
        seen[market.symbol] = key
        markets.append(market)
    return markets


class MarketIndex:
    """Lookups by unified symbol and by every Kraken name of a pair (key, altname, wsname)."""

    def __init__(self, markets: Iterable[Market]) -> None:
        self.markets = list(markets)
        self.by_symbol: dict[str, Market] = {}
        self.by_native: dict[str, Market] = {}
        for market in self.markets:
            self.by_symbol[market.symbol] = market
            for name in (market.native_symbol, market.info.get("altname"), market.info.get("wsname")):
                if isinstance(name, str) and name:
                    self.by_native.setdefault(name, market)

    def symbol(self, unified: str) -> Market | None:
        return self.by_symbol.get(unified)

    def native(self, name: str) -> Market | None:
        return self.by_native.get(name)

    def __len__(self) -> int:
        return len(self.markets)

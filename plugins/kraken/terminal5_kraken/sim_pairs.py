"""Market metadata for the Kraken simulator: the ``AssetPairs`` result of realistic size and shape.

The documented pairs first (``XXBTZUSD`` and ``XXBTZUSDT`` with legacy X/Z codes, ``XDGUSD``, ``SOLUSD`` in
``cancel_only``, the dark-pool ``XBTUSD.d``), then generated pairs up to ``PAIRS`` over Kraken's quote
currencies, with every field of reference §3 (``ordermin``, ``costmin``, ``tick_size``, decimals, fee
tiers, leverage, statuses). Deterministic (one seed); each pair comes with a reference price.
"""

from __future__ import annotations

import functools
import random
from decimal import Decimal
from typing import Any

PAIRS = 700
SEED = 20261129
#: quote asset code -> (altname suffix, wsname suffix, value of one unit in USD)
QUOTES = {"ZUSD": ("USD", "USD", Decimal(1)), "ZEUR": ("EUR", "EUR", Decimal("1.08")),
          "USDT": ("USDT", "USDT", Decimal(1)), "USDC": ("USDC", "USDC", Decimal(1)),
          "XXBT": ("XBT", "XBT", Decimal(30000)), "ZGBP": ("GBP", "GBP", Decimal("1.27")),
          "XETH": ("ETH", "ETH", Decimal(2000))}
KNOWN = ["ADA", "DOT", "SOL", "LINK", "ATOM", "AVAX", "MATIC", "UNI", "AAVE", "ALGO", "FIL", "NEAR", "APT", "ARB",
         "OP", "INJ", "TIA", "SUI", "SEI", "PEPE", "SHIB", "WIF", "BONK", "FET", "GRT", "SAND", "MANA", "AXS", "CHZ",
         "ENJ", "KSM", "FLOW", "MINA", "KAVA", "SCRT", "STX", "EGLD", "RUNE", "LDO", "CRV"]
#: fee tiers (volume, percent), written as JSON numbers as Kraken does (Decimals: never a float)
FEES = [(v, Decimal(p)) for v, p in ((0, "0.40"), (10000, "0.35"), (50000, "0.24"), (100000, "0.22"),
                                     (250000, "0.20"), (500000, "0.18"))]
FEES_MAKER = [(v, Decimal(p)) for v, p in ((0, "0.25"), (10000, "0.20"), (50000, "0.14"), (100000, "0.12"),
                                           (250000, "0.10"), (500000, "0.08"))]


def _pair(key: str, altname: str, wsname: str, base: str, quote: str, *, pair_decimals: int, lot_decimals: int,
          ordermin: str, costmin: str, tick: str, status: str = "online", leverage: bool = False) -> dict[str, Any]:
    return {
        "altname": altname, "wsname": wsname, "aclass_base": "currency", "base": base,
        "aclass_quote": "currency", "quote": quote, "lot": "unit", "cost_decimals": 5,
        "pair_decimals": pair_decimals, "lot_decimals": lot_decimals, "lot_multiplier": 1,
        "leverage_buy": [2, 3] if leverage else [], "leverage_sell": [2, 3] if leverage else [],
        "fees": [[v, p] for v, p in FEES], "fees_maker": [[v, p] for v, p in FEES_MAKER],
        "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
        "ordermin": ordermin, "costmin": costmin, "tick_size": tick, "status": status,
        "long_position_limit": 250, "short_position_limit": 200,
    }


def documented_pairs() -> dict[str, Any]:
    pairs = {
        "XXBTZUSD": _pair("XXBTZUSD", "XBTUSD", "XBT/USD", "XXBT", "ZUSD", pair_decimals=1, lot_decimals=8,
                          ordermin="0.0001", costmin="0.5", tick="0.1", leverage=True),
        "XXBTZUSDT": _pair("XXBTZUSDT", "XBTUSDT", "XBT/USDT", "XXBT", "USDT", pair_decimals=1, lot_decimals=8,
                           ordermin="0.0001", costmin="0.5", tick="0.1"),
        "XDGUSD": _pair("XDGUSD", "XDGUSD", "XDG/USD", "XXDG", "ZUSD", pair_decimals=7, lot_decimals=8,
                        ordermin="15", costmin="0.5", tick="0.0000001"),
        "SOLUSD": _pair("SOLUSD", "SOLUSD", "SOL/USD", "SOL", "ZUSD", pair_decimals=2, lot_decimals=8,
                        ordermin="0.02", costmin="0.5", tick="0.01", status="cancel_only"),
        "XBTUSD.d": {"altname": "XBTUSD.d", "wsname": "XBT/USD", "base": "XXBT", "quote": "ZUSD",
                     "pair_decimals": 1, "lot_decimals": 8, "status": "online"},
    }
    pairs["XXBTZUSDT"].pop("fee_volume_currency")
    return pairs


def _names(rng: random.Random, count: int) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    names, seen = list(KNOWN), set(KNOWN) | {"XBT", "XDG", "ETH", "USD", "EUR", "GBP", "USDT", "USDC"}
    while len(names) < count:
        name = "".join(rng.choice(letters) for _ in range(rng.choice((3, 4, 4, 5))))
        if name not in seen and not name.startswith(("X", "Z")):  # no clash with the legacy X/Z codes
            seen.add(name)
            names.append(name)
    return names


@functools.lru_cache(maxsize=1)
def _generated() -> tuple[dict[str, Any], dict[str, Decimal]]:
    rng = random.Random(SEED)
    pairs = documented_pairs()
    prices = {"XDGUSD": Decimal("0.0812345"), "SOLUSD": Decimal("101.25")}
    bases = _names(rng, PAIRS // 3 + 10)
    usd = {b: Decimal(rng.randint(1, 99_999)).scaleb(-rng.randint(0, 5)) for b in bases}
    quotes = list(QUOTES)
    i = 0
    while len(pairs) < PAIRS:
        base, quote = bases[i % len(bases)], quotes[(i // len(bases) + i) % len(quotes)]
        i += 1
        alt, ws, unit = QUOTES[quote]
        key = f"{base}{alt}"
        if key in pairs:
            continue
        price = usd[base] / unit
        pair_decimals = max(0, min(8, 4 - price.adjusted()))
        tick = Decimal(1).scaleb(-pair_decimals)
        price = price.quantize(tick) or tick
        lot_decimals = 8
        ordermin = max(Decimal(5) / usd[base], Decimal("0.00000001")).quantize(Decimal("1E-8"))
        status = "online" if i % 53 else rng.choice(["cancel_only", "post_only", "limit_only", "reduce_only"])
        pairs[key] = _pair(key, key, f"{base}/{ws}", base, quote, pair_decimals=pair_decimals,
                           lot_decimals=lot_decimals, ordermin=f"{ordermin.normalize():f}",
                           costmin="0.5" if unit <= 2 else "0.00002", tick=f"{tick:f}", status=status,
                           leverage=base in KNOWN)
        prices[key] = price
    return pairs, prices


def asset_pairs() -> dict[str, Any]:
    return _generated()[0]


def reference_prices() -> dict[str, Decimal]:
    """Pair key -> price; the XBT pairs follow the simulator's ``market_price``."""
    return dict(_generated()[1])

"""Market metadata for the Binance simulator: ``exchangeInfo`` of realistic size and shape.

Spot: the three documented symbols first (``BTCUSDT``, ``LTCBTC``, ``ETHUSDT`` in ``BREAK``), then
generated pairs up to ``SPOT_SYMBOLS``; between them they carry every spot filter type Binance documents
(``PRICE_FILTER``, ``PERCENT_PRICE``, ``PERCENT_PRICE_BY_SIDE``, ``LOT_SIZE``, ``MIN_NOTIONAL``,
``NOTIONAL``, ``ICEBERG_PARTS``, ``MARKET_LOT_SIZE``, ``MAX_NUM_ORDERS``, ``MAX_NUM_ALGO_ORDERS``,
``MAX_NUM_ICEBERG_ORDERS``, ``MAX_POSITION``, ``TRAILING_DELTA``) and the exchange filters. USDⓈ-M: the
documented ``BTCUSDT`` perpetual and ``BTCUSDT_250627`` quarterly, then generated perpetuals and
quarterlies. Generation is deterministic (one seed), so every run serves the same markets, and each
generated symbol comes with a reference price the simulator fills market orders at.
"""

from __future__ import annotations

import functools
import random
from decimal import Decimal
from typing import Any

SERVER_TIME = 1499827319559
SPOT_SYMBOLS = 2000
FUTURES_SYMBOLS = 360
SEED = 20261129

SPOT_RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]
FUTURES_RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
]
SPOT_ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                    "TAKE_PROFIT_LIMIT"]
FUTURES_ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                       "TRAILING_STOP_MARKET"]
#: quote assets and the reference price of one unit in USDT
QUOTES = {"USDT": Decimal(1), "FDUSD": Decimal(1), "USDC": Decimal(1), "BTC": Decimal(30000),
          "ETH": Decimal(2000), "BNB": Decimal(300), "TRY": Decimal("0.03"), "EUR": Decimal("1.08")}
WELL_KNOWN = ["ETH", "BNB", "SOL", "XRP", "ADA", "DOGE", "TRX", "DOT", "MATIC", "LTC", "AVAX", "LINK", "ATOM",
              "XLM", "ETC", "FIL", "APT", "ARB", "OP", "NEAR", "AAVE", "UNI", "SUI", "SEI", "INJ", "TIA", "PEPE",
              "SHIB", "WIF", "BONK", "FET", "RNDR", "GRT", "ALGO", "EGLD", "SAND", "MANA", "AXS", "CHZ", "ENJ"]


def _fmt(value: Decimal) -> str:
    return f"{value:.8f}"


def _tick_for(price: Decimal) -> Decimal:
    """About five significant digits of price, as Binance lists them."""
    exponent = price.adjusted() - 4
    return Decimal(1).scaleb(max(exponent, -8))


def _step_for(price: Decimal) -> Decimal:
    """A quantity step worth roughly a cent to a dollar."""
    exponent = -price.adjusted() - 1
    return Decimal(1).scaleb(min(max(exponent, -8), 0))


def spot_symbol(symbol: str, base: str, quote: str, *, status: str = "TRADING", tick: str = "0.01000000",
                step: str = "0.00001000", min_qty: str = "0.00001000", min_notional: str = "5.00000000",
                extra_filters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "status": status,
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": SPOT_ORDER_TYPES,
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000.00000000", "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": "9000.00000000", "stepSize": step},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000", "stepSize": "0.00000000"},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "NOTIONAL", "minNotional": min_notional, "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            *(extra_filters or []),
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def futures_symbol(symbol: str, base: str, quote: str, contract: str = "PERPETUAL", *, tick: str = "0.10",
                   min_price: str = "556.80", step: str = "0.001", min_notional: str = "100") -> dict[str, Any]:
    return {
        "symbol": symbol,
        "pair": f"{base}{quote}",
        "contractType": contract,
        "deliveryDate": 4133404800000 if contract == "PERPETUAL" else 1751011200000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": base,
        "quoteAsset": quote,
        "marginAsset": quote,
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "orderTypes": FUTURES_ORDER_TYPES,
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": min_price, "maxPrice": "4529764", "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "1000", "stepSize": step},
            {"filterType": "MARKET_LOT_SIZE", "minQty": step, "maxQty": "120", "stepSize": step},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": min_notional},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
             "multiplierDecimal": "4"},
        ],
    }


def _extra_spot_filters(i: int, price: Decimal) -> list[dict[str, Any]]:
    """Rotate the rarer filter types over the generated symbols, so each one appears many times."""
    rare = [
        {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
         "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "5", "multiplierDown": "0.2", "avgPriceMins": 5},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        {"filterType": "MAX_NUM_ICEBERG_ORDERS", "maxNumIcebergOrders": 5},
        {"filterType": "MAX_POSITION", "maxPosition": _fmt(Decimal(10_000_000) / price)},
        {"filterType": "MIN_NOTIONAL", "minNotional": "5.00000000", "applyToMarket": True, "avgPriceMins": 5},
    ]
    return [rare[i % len(rare)], rare[(i + 2) % len(rare)]]


def _names(rng: random.Random, count: int) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    names = list(WELL_KNOWN)
    seen = set(names) | set(QUOTES) | {"BTC"}
    while len(names) < count:
        name = "".join(rng.choice(letters) for _ in range(rng.choice((3, 4, 4, 5))))
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


@functools.lru_cache(maxsize=1)
def _generated() -> tuple[dict[str, Any], dict[str, Any], dict[str, Decimal]]:
    rng = random.Random(SEED)
    prices: dict[str, Decimal] = {}
    spot = [
        spot_symbol("BTCUSDT", "BTC", "USDT"),
        spot_symbol("LTCBTC", "LTC", "BTC"),
        spot_symbol("ETHUSDT", "ETH", "USDT", status="BREAK"),
    ]
    taken = {s["symbol"] for s in spot}
    quotes = list(QUOTES)
    bases = _names(rng, SPOT_SYMBOLS // 2)
    usd_price = {b: Decimal(rng.randint(1, 999_999)).scaleb(-rng.randint(0, 6)) for b in bases}
    usd_price["ETH"], usd_price["BNB"] = Decimal(2000), Decimal(300)
    i = 0
    while len(spot) < SPOT_SYMBOLS:
        base, quote = bases[i % len(bases)], quotes[(i // len(bases) + i) % len(quotes)]
        i += 1
        symbol = f"{base}{quote}"
        if base == quote or symbol in taken:
            continue
        taken.add(symbol)
        price = (usd_price[base] / QUOTES[quote]).quantize(Decimal("1E-8")) or Decimal("0.00000001")
        tick, step = _tick_for(price), _step_for(price)
        price = price.quantize(tick) or tick
        prices[symbol] = price
        min_notional = "5.00000000" if QUOTES[quote] >= 1 else _fmt((5 / QUOTES[quote]).quantize(Decimal(1)))
        status = "TRADING" if i % 97 else rng.choice(["BREAK", "HALT", "END_OF_DAY"])
        spot.append(spot_symbol(symbol, base, quote, status=status, tick=_fmt(tick), step=_fmt(step),
                                min_qty=_fmt(step), min_notional=min_notional,
                                extra_filters=_extra_spot_filters(i, price)))
    futures = [
        futures_symbol("BTCUSDT", "BTC", "USDT"),
        futures_symbol("BTCUSDT_250627", "BTC", "USDT", "CURRENT_QUARTER"),
    ]
    for base in bases:
        if len(futures) >= FUTURES_SYMBOLS:
            break
        price = usd_price[base]
        tick = _tick_for(price)
        price = price.quantize(tick) or tick
        step = _step_for(price)
        for contract, suffix in (("PERPETUAL", ""), ("CURRENT_QUARTER", "_250627"))[: 2 if base in WELL_KNOWN else 1]:
            symbol = f"{base}USDT{suffix}"
            prices[f"fapi:{symbol}"] = price
            futures.append(futures_symbol(symbol, base, "USDT", contract, tick=str(tick), min_price=str(tick),
                                          step=str(step), min_notional="5"))
    exchange_filters = [{"filterType": "EXCHANGE_MAX_NUM_ORDERS", "maxNumOrders": 1000},
                        {"filterType": "EXCHANGE_MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 200},
                        {"filterType": "EXCHANGE_MAX_NUM_ICEBERG_ORDERS", "maxNumIcebergOrders": 10000}]
    spot_info = {"timezone": "UTC", "serverTime": SERVER_TIME, "rateLimits": SPOT_RATE_LIMITS,
                 "exchangeFilters": exchange_filters, "symbols": spot}
    futures_info = {"timezone": "UTC", "serverTime": SERVER_TIME, "futuresType": "U_MARGINED",
                    "rateLimits": FUTURES_RATE_LIMITS, "exchangeFilters": [],
                    "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"},
                               {"asset": "USDC", "marginAvailable": True, "autoAssetExchange": "-10000"}],
                    "symbols": futures}
    return spot_info, futures_info, prices


def spot_exchange_info() -> dict[str, Any]:
    return _generated()[0]


def futures_exchange_info() -> dict[str, Any]:
    return _generated()[1]


def reference_prices() -> dict[str, Decimal]:
    """Native symbol -> price (futures symbols prefixed ``fapi:``); the BTC markets follow ``last``."""
    return dict(_generated()[2])

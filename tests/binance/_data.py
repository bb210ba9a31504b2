"""Documented Binance payloads (shared/reference/binance.md §3, §5, §7), shared by the unit tests and the
cassette generator. Values are illustrative, field names and formats are Binance's."""

from __future__ import annotations

from typing import Any

SERVER_TIME = 1499827319559

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


def spot_symbol(symbol: str, base: str, quote: str, *, status: str = "TRADING") -> dict[str, Any]:
    return {
        "symbol": symbol,
        "status": status,
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "permissionSets": [["SPOT"]],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
            {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000", "stepSize": "0.00000000"},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        ],
    }


SPOT_EXCHANGE_INFO: dict[str, Any] = {
    "timezone": "UTC",
    "serverTime": SERVER_TIME,
    "rateLimits": SPOT_RATE_LIMITS,
    "exchangeFilters": [],
    "symbols": [
        spot_symbol("BTCUSDT", "BTC", "USDT"),
        spot_symbol("LTCBTC", "LTC", "BTC"),
        spot_symbol("ETHUSDT", "ETH", "USDT", status="BREAK"),
    ],
}


def futures_symbol(symbol: str, base: str, quote: str, contract: str = "PERPETUAL") -> dict[str, Any]:
    return {
        "symbol": symbol,
        "pair": f"{base}{quote}",
        "contractType": contract,
        "deliveryDate": 4133404800000 if contract == "PERPETUAL" else 1751011200000,
        "status": "TRADING",
        "baseAsset": base,
        "quoteAsset": quote,
        "marginAsset": quote,
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "triggerProtect": "0.0500",
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120", "stepSize": "0.001"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"},
        ],
    }


FUTURES_EXCHANGE_INFO: dict[str, Any] = {
    "timezone": "UTC",
    "serverTime": SERVER_TIME,
    "rateLimits": FUTURES_RATE_LIMITS,
    "exchangeFilters": [],
    "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
    "symbols": [
        futures_symbol("BTCUSDT", "BTC", "USDT"),
        futures_symbol("BTCUSDT_250627", "BTC", "USDT", "CURRENT_QUARTER"),
    ],
}

# --- §5 order payloads ------------------------------------------------------------------------------------

SPOT_NEW: dict[str, Any] = {
    "symbol": "LTCBTC", "orderId": 1, "orderListId": -1, "clientOrderId": "myOrder1",
    "price": "0.1", "origQty": "1.0", "executedQty": "0.0", "cummulativeQuoteQty": "0.0",
    "status": "NEW", "timeInForce": "GTC", "type": "LIMIT", "side": "BUY",
    "stopPrice": "0.0", "icebergQty": "0.0", "time": 1499827319559, "updateTime": 1499827319559,
    "isWorking": True, "workingTime": 1499827319559, "origQuoteOrderQty": "0.000000",
    "selfTradePreventionMode": "NONE",
}

SPOT_FULL_MARKET: dict[str, Any] = {
    "symbol": "BTCUSDT", "orderId": 28, "orderListId": -1,
    "clientOrderId": "6gCrw2kRUAF9CvJDGP16IP", "transactTime": 1507725176595,
    "price": "0.00000000", "origQty": "10.00000000", "executedQty": "10.00000000",
    "origQuoteOrderQty": "0.000000", "cummulativeQuoteQty": "10.00000000",
    "status": "FILLED", "timeInForce": "GTC", "type": "MARKET", "side": "SELL",
    "workingTime": 1507725176595, "selfTradePreventionMode": "NONE",
    "fills": [
        {"price": "4000.00000000", "qty": "1.00000000", "commission": "4.00000000",
         "commissionAsset": "USDT", "tradeId": 56},
    ],
}

FUTURES_NEW: dict[str, Any] = {
    "orderId": 22542179, "symbol": "BTCUSDT", "status": "NEW", "clientOrderId": "myOrder1",
    "price": "30000", "avgPrice": "0.00000", "origQty": "0.010", "executedQty": "0",
    "cumQty": "0", "cumQuote": "0", "timeInForce": "GTC", "type": "LIMIT", "origType": "LIMIT",
    "reduceOnly": False, "closePosition": False, "side": "BUY", "positionSide": "BOTH",
    "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False,
    "priceMatch": "NONE", "selfTradePreventionMode": "NONE", "goodTillDate": 0,
    "time": 1566818724710, "updateTime": 1566818724722,
}

#: §3 algo order (field names [likely] per the reference; shape from Binance's "New Algo Order" page)
FUTURES_ALGO_NEW: dict[str, Any] = {
    "algoId": 2146760, "clientAlgoId": "sl-1", "algoType": "CONDITIONAL", "orderType": "STOP_MARKET",
    "symbol": "BTCUSDT", "side": "SELL", "positionSide": "BOTH", "timeInForce": "GTC",
    "quantity": "0.010", "algoStatus": "NEW", "triggerPrice": "28000.0", "price": "0",
    "workingType": "CONTRACT_PRICE", "priceMatch": "NONE", "closePosition": False,
    "priceProtect": False, "reduceOnly": True, "createTime": 1750485492076,
    "updateTime": 1750485492076, "triggerTime": 0, "goodTillDate": 0,
}


def error(code: int, msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg}

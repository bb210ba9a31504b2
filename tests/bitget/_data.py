"""Documented Bitget payloads (shared/reference/bitget.md §3, §5, §7), shared by the unit tests and the
cassette generator. Values are the reference's examples where it gives them; field names and formats are
Bitget's V2 ones."""

from __future__ import annotations

from typing import Any

from terminal5_bitget.simulator_state import contract, spot_symbol

SERVER_TIME = 1688008631614
REQUEST_TIME = 1695806875837

SPOT_SYMBOLS: list[dict[str, Any]] = [
    spot_symbol("BTC", "USDT"),
    spot_symbol("ETH", "BTC", price_places=6, qty_places=4),
    spot_symbol("XRP", "USDT", price_places=4, qty_places=2, status="offline"),
]
USDT_CONTRACTS: list[dict[str, Any]] = [contract("BTCUSDT", "BTC", "USDT", "USDT"),
                                        contract("ETHUSDT", "ETH", "USDT", "USDT", price_place=2, end_step=5,
                                                 min_num="0.01")]
USDC_CONTRACTS: list[dict[str, Any]] = [contract("BTCPERP", "BTC", "USDC", "USDC")]
COIN_CONTRACTS: list[dict[str, Any]] = [contract("BTCUSD", "BTC", "USD", "BTC")]
DELIVERY = dict(contract("BTCUSDT0329", "BTC", "USDT", "USDT"), symbolType="delivery")


def ok(data: Any, request_time: int = REQUEST_TIME) -> dict[str, Any]:
    return {"code": "00000", "msg": "success", "requestTime": request_time, "data": data}


def error(code: str, msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg, "requestTime": 1711648951774, "data": None}


#: §5 place answer (spot and mix)
PLACE_ANSWER = {"orderId": "1001", "clientOid": "121211212122"}

#: §5 spot orderInfo item (the documented example, data is a list)
SPOT_ORDER_INFO: dict[str, Any] = {
    "userId": "**********", "symbol": "BTCUSDT", "orderId": "121211212122", "clientOid": "121211212122",
    "price": "0", "size": "10.0000000000000000", "orderType": "market", "side": "buy", "status": "filled",
    "priceAvg": "13000.0000000000000000", "baseVolume": "0.0007000000000000", "quoteVolume": "9.1000000000000000",
    "enterPointSource": "API",
    "feeDetail": "{\"BGB\":{\"deduction\":true,\"feeCoinCode\":\"BGB\",\"totalDeductionFee\":-0.0041,"
                 "\"totalFee\":-0.0041},\"newFees\":{\"c\":0,\"d\":0,\"deduction\":false,\"r\":-0.112079256,"
                 "\"t\":-0.112079256,\"totalDeductionFee\":0}}",
    "orderSource": "market", "cancelReason": "", "cTime": "1695865232127", "uTime": "1695865233051",
}

#: §5 mix order detail (the documented example: lower-case symbol and coin, ``state``)
MIX_DETAIL: dict[str, Any] = {
    "symbol": "ethusdt", "size": "2", "orderId": "123456", "clientOid": "77777", "baseVolume": "2",
    "priceAvg": "1900", "fee": "", "price": "1900", "state": "filled", "side": "buy", "force": "gtc",
    "totalProfits": "2112", "posSide": "long", "marginCoin": "usdt", "presetStopSurplusPrice": "1910",
    "presetStopLossPrice": "1890", "quoteVolume": "1900", "orderType": "limit", "leverage": "20",
    "marginMode": "cross", "reduceOnly": "yes", "enterPointSource": "api", "tradeSide": "", "posMode": "one_way_mode",
    "orderSource": "normal", "cancelReason": "", "cTime": "1627300098776", "uTime": "1627300098776",
}

#: a live spot limit order, as unfilled-orders lists it
SPOT_LIVE: dict[str, Any] = {
    "userId": "**********", "symbol": "BTCUSDT", "orderId": "1001", "clientOid": "t5-spot-1", "price": "30000",
    "size": "0.01", "orderType": "limit", "side": "buy", "status": "live", "priceAvg": "0", "baseVolume": "0",
    "quoteVolume": "0", "enterPointSource": "API", "feeDetail": "", "orderSource": "normal", "cancelReason": "",
    "cTime": "1695865232127", "uTime": "1695865232127",
}

#: §3 mix fill (fills endpoint, ``fillList``)
MIX_FILL: dict[str, Any] = {
    "tradeId": "1111111111", "symbol": "BTCUSDT", "orderId": "123456", "price": "43000.1", "baseVolume": "0.01",
    "quoteVolume": "430.001", "feeDetail": [{"deduction": "no", "feeCoin": "USDT", "totalDeductionFee": "0",
                                              "totalFee": "-0.2580006"}],
    "side": "buy", "profit": "0", "tradeSide": "open", "posMode": "hedge_mode", "tradeScope": "taker",
    "cTime": "1695865232127",
}

#: a spot fills item ([likely] field names)
SPOT_FILL: dict[str, Any] = {
    "userId": "**********", "symbol": "BTCUSDT", "orderId": "1001", "tradeId": "2222", "orderType": "limit",
    "side": "buy", "priceAvg": "30000", "size": "0.004", "amount": "120",
    "feeDetail": {"deduction": "no", "feeCoin": "BTC", "totalDeductionFee": "0", "totalFee": "-0.000004"},
    "tradeScope": "maker", "cTime": "1695865232127", "uTime": "1695865232127",
}

SPOT_ASSETS = [
    {"coin": "USDT", "available": "1000.5", "frozen": "300", "locked": "0", "limitAvailable": "0",
     "uTime": "1622697148000"},
    {"coin": "BTC", "available": "0", "frozen": "0", "locked": "0", "limitAvailable": "0", "uTime": "1622697148000"},
]
MIX_ACCOUNTS = [{"marginCoin": "USDT", "locked": "12.5", "available": "5000", "crossedMaxAvailable": "5000",
                 "isolatedMaxAvailable": "5000", "accountEquity": "5012.5", "usdtEquity": "5012.5",
                 "unrealizedPL": "0"}]
POSITION = {"marginCoin": "USDT", "symbol": "BTCUSDT", "holdSide": "short", "openDelegateSize": "0",
            "marginSize": "21.5", "available": "0.01", "locked": "0", "total": "0.01", "leverage": "20",
            "achievedProfits": "0", "openPriceAvg": "43000", "marginMode": "isolated", "posMode": "one_way_mode",
            "unrealizedPL": "-1.2", "liquidationPrice": "80000", "markPrice": "43120", "cTime": "1695865232127",
            "uTime": "1695865232127"}

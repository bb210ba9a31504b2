"""Builds cassettes/kraken/*.yaml from the documented examples in shared/reference/kraken.md.

Kraken has no spot testnet, so the cassettes the tests replay are *built*, not recorded: each interaction is
a documented request/response pair (reference §1, §3, §5, §7). Run ``python -m tests.kraken.cassette_builder``
from the repository root to rewrite them; ``TERMINAL5_RECORD=1`` re-records from the live API instead (see
cassettes/kraken/README.md). Requests carry no API-Key/API-Sign header and no real nonce.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from .data import asset_pairs

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes" / "kraken"
BASE = "https://api.kraken.com"
HEADER = "# Built from the documented examples in shared/reference/kraken.md (not recorded live)\n"

TXID = "OU22CG-KLAF2-FWUDD7"
USERREF = 1234567


def order(status: str = "open", **over: Any) -> dict[str, Any]:
    """The reference §5 order object, as an open limit buy of the AddOrder example."""
    obj: dict[str, Any] = {
        "refid": None, "userref": USERREF, "cl_ord_id": None, "status": status, "reason": None,
        "opentm": 1688666559.8974, "closetm": 0, "starttm": 0, "expiretm": 0,
        "descr": {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "27500.0", "price2": "0",
                  "leverage": "none", "order": "buy 1.25000000 XBTUSD @ limit 27500.0", "close": ""},
        "vol": "1.25000000", "vol_exec": "0.00000000", "cost": "0.00000", "fee": "0.00000",
        "price": "0.00000", "stopprice": "0.00000", "limitprice": "0.00000", "misc": "", "oflags": "fciq",
    }
    obj.update(over)
    return obj


def ok(result: Any) -> dict[str, Any]:
    return {"error": [], "result": result}


def err(*codes: str) -> dict[str, Any]:
    return {"error": list(codes)}


PLACE = {"pair": "XXBTZUSD", "type": "buy", "ordertype": "limit", "volume": "1.25", "price": "27500",
         "userref": str(USERREF)}
PAIRS = ("GET", "/0/public/AssetPairs", {}, ok(asset_pairs()))
QUERY = ("POST", "/0/private/QueryOrders", {"txid": TXID, "trades": "true"}, ok({TXID: order()}))
CANCELED = order("canceled", closetm=1688666600.1)
OPEN_ALL = ("POST", "/0/private/OpenOrders", {"trades": "true"},
            ok({"open": {TXID: order(), "OSOL11-XXXXX-XXXXXX": order(
                userref=0, descr={**order()["descr"], "pair": "SOLUSD", "price": "20.00"})}}))

#: cassette name -> interactions (method, path, business params, response JSON)
CASSETTES_SPEC: dict[str, list[tuple[str, str, dict[str, str], dict[str, Any]]]] = {
    "test_server_time": [("GET", "/0/public/Time", {},
                          ok({"unixtime": 1688669448, "rfc1123": "Thu, 06 Jul 23 18:50:48 +0000"}))],
    "test_load_markets": [PAIRS],
    "test_place_limit_order": [
        PAIRS,
        ("POST", "/0/private/AddOrder", PLACE,
         ok({"descr": {"order": "buy 1.25000000 XBTUSD @ limit 27500.0"}, "txid": [TXID]})),
    ],  # a resting limit order: one signed call, completed from the request (no QueryOrders read-back)
    "test_place_order_readback_fails": [
        PAIRS,
        ("POST", "/0/private/AddOrder", PLACE,
         ok({"descr": {"order": "buy 1.25000000 XBTUSD @ limit 27500.0"}, "txid": [TXID]})),
        ("POST", "/0/private/QueryOrders", {"txid": TXID, "trades": "true"}, err("EService:Unavailable")),
    ],
    "test_place_validate_only": [
        PAIRS,
        ("POST", "/0/private/AddOrder", {**PLACE, "validate": "true"},
         ok({"descr": {"order": "buy 1.25000000 XBTUSD @ limit 27500.0"}})),
    ],
    "test_place_insufficient_funds": [
        PAIRS, ("POST", "/0/private/AddOrder", PLACE, err("EOrder:Insufficient funds"))],
    "test_place_engine_rate_limited": [
        PAIRS, ("POST", "/0/private/AddOrder", PLACE, err("EOrder:Rate limit exceeded"))],
    "test_place_invalid_key": [PAIRS, ("POST", "/0/private/AddOrder", PLACE, err("EAPI:Invalid key"))],
    "test_fetch_order_by_txid": [PAIRS, QUERY],
    "test_fetch_order_unknown_txid": [
        PAIRS, ("POST", "/0/private/QueryOrders", {"txid": "OXXXXX-XXXXX-XXXXXX", "trades": "true"},
                err("EOrder:Unknown order"))],
    "test_fetch_order_by_userref_open": [
        PAIRS,
        ("POST", "/0/private/OpenOrders", {"userref": str(USERREF), "trades": "true"},
         ok({"open": {TXID: order(), "OLDER1-XXXXX-XXXXXX": order(opentm=1600000000.0)}})),
    ],
    "test_fetch_order_by_userref_closed": [
        PAIRS,
        ("POST", "/0/private/OpenOrders", {"userref": str(USERREF), "trades": "true"}, ok({"open": {}})),
        ("POST", "/0/private/ClosedOrders", {"userref": str(USERREF), "trades": "true"},
         ok({"closed": {TXID: order("closed", vol_exec="1.25000000", price="27490.0", cost="34362.5",
                                    fee="34.3", closetm=1688666600.5)}, "count": 1})),
    ],
    "test_fetch_order_not_found": [
        PAIRS,
        ("POST", "/0/private/OpenOrders", {"userref": str(USERREF), "trades": "true"}, ok({"open": {}})),
        ("POST", "/0/private/ClosedOrders", {"userref": str(USERREF), "trades": "true"},
         ok({"closed": {}, "count": 0})),
    ],
    "test_fetch_order_cl_ord_id_mode": [
        PAIRS,
        ("POST", "/0/private/OpenOrders", {"cl_ord_id": "T5U1234567", "trades": "true"}, ok({"open": {}})),
        ("POST", "/0/private/ClosedOrders", {"cl_ord_id": "T5U1234567", "trades": "true"},
         ok({"closed": {TXID: order("canceled", userref=None, cl_ord_id="T5U1234567")}, "count": 1})),
    ],
    "test_cancel_order": [
        PAIRS,
        ("POST", "/0/private/CancelOrder", {"txid": TXID}, ok({"count": 1, "pending": False})),
        ("POST", "/0/private/QueryOrders", {"txid": TXID, "trades": "true"}, ok({TXID: CANCELED})),
    ],
    "test_cancel_by_userref": [
        PAIRS,
        ("POST", "/0/private/CancelOrder", {"txid": str(USERREF)}, ok({"count": 1, "pending": False})),
        ("POST", "/0/private/OpenOrders", {"userref": str(USERREF), "trades": "true"}, ok({"open": {}})),
        ("POST", "/0/private/ClosedOrders", {"userref": str(USERREF), "trades": "true"},
         ok({"closed": {TXID: CANCELED}, "count": 1})),
    ],
    "test_cancel_readback_fails": [
        PAIRS,
        ("POST", "/0/private/CancelOrder", {"txid": TXID}, ok({"count": 1, "pending": False})),
        ("POST", "/0/private/QueryOrders", {"txid": TXID, "trades": "true"}, err("EService:Busy")),
    ],
    "test_cancel_unknown_order": [
        PAIRS, ("POST", "/0/private/CancelOrder", {"txid": TXID}, err("EOrder:Unknown order"))],
    "test_amend_order": [
        PAIRS,
        ("POST", "/0/private/AmendOrder", {"txid": TXID, "order_qty": "1", "limit_price": "27400"},
         ok({"amend_id": "TJSMEH-AA67V-YUSQ6O"})),
        ("POST", "/0/private/QueryOrders", {"txid": TXID, "trades": "true"},
         ok({TXID: order(vol="1.00000000", misc="amended",
                         descr={**order()["descr"], "price": "27400.0",
                                "order": "buy 1.00000000 XBTUSD @ limit 27400.0"})})),
    ],
    "test_cancel_all_after": [
        ("POST", "/0/private/CancelAllOrdersAfter", {"timeout": "60"},
         ok({"currentTime": "2023-03-24T17:41:56Z", "triggerTime": "2023-03-24T17:42:56Z"})),
    ],
    "test_fetch_open_orders": [PAIRS, OPEN_ALL, OPEN_ALL],  # all pairs, then filtered to one
    "test_fetch_closed_orders_paged": [
        PAIRS,
        ("POST", "/0/private/ClosedOrders", {"trades": "true", "start": "1688600000", "ofs": "0"},
         ok({"closed": {f"OPAGE1-XXXXX-{i:06d}": order("closed", vol_exec="1.25000000") for i in range(50)},
             "count": 51})),
        ("POST", "/0/private/ClosedOrders", {"trades": "true", "start": "1688600000", "ofs": "50"},
         ok({"closed": {"OPAGE2-XXXXX-000000": order("expired")}, "count": 51})),
    ],
    "test_fetch_my_trades": [
        PAIRS,
        ("POST", "/0/private/TradesHistory", {"ofs": "0"},
         ok({"trades": {
             "TZX2WP-XSEOP-FP7WYR": {"ordertxid": TXID, "postxid": "TKH2SE-M7IF5-CFI7LT", "pair": "XXBTZUSD",
                                     "time": 1688667796.8802, "type": "buy", "ordertype": "limit",
                                     "price": "30010.00000", "cost": "37512.50000", "fee": "37.51250",
                                     "vol": "1.25000000", "margin": "0.00000", "misc": "", "trade_id": 39482674,
                                     "maker": True},
             "TSOL11-XSEOP-FP7WYR": {"ordertxid": "OSOL11-XXXXX-XXXXXX", "pair": "SOLUSD",
                                     "time": 1688667000.1, "type": "sell", "ordertype": "market",
                                     "price": "20.00", "cost": "20.0", "fee": "0.05", "vol": "1.0",
                                     "margin": "0", "misc": "", "maker": False},
         }, "count": 2})),
    ],
    "test_fetch_balances": [
        ("POST", "/0/private/BalanceEx", {},
         ok({"ZUSD": {"balance": "171288.6158", "hold_trade": "1000.0000"},
             "XXBT": {"balance": "0.0011", "hold_trade": "0.0000", "credit": "0", "credit_used": "0"},
             "XXDG": {"balance": "0", "hold_trade": "0"}})),
    ],
    "test_rest_rate_limited": [
        ("POST", "/0/private/BalanceEx", {}, err("EAPI:Rate limit exceeded")),
    ],
}


def interaction(method: str, path: str, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    if method == "GET":
        uri, req_body = BASE + path + (f"?{urlencode(params)}" if params else ""), None
    else:
        # nonce first, as the client sends it; its value is ignored by the matcher
        uri, req_body = BASE + path, urlencode([("nonce", "0"), *params.items()])
    return {
        "request": {"method": method, "uri": uri, "body": req_body,
                    "headers": {"Content-Type": ["application/x-www-form-urlencoded; charset=utf-8"]}
                    if method == "POST" else {}},
        "response": {"status": {"code": 200, "message": "OK"},
                     "headers": {"Content-Type": ["application/json; charset=utf-8"]},
                     "body": {"string": json.dumps(body, separators=(",", ":"))}},
    }


def main() -> None:
    CASSETTES.mkdir(parents=True, exist_ok=True)
    for name, spec in CASSETTES_SPEC.items():
        doc = {"interactions": [interaction(*item) for item in spec], "version": 1}
        text = HEADER + yaml.safe_dump(doc, sort_keys=False, width=1000)
        (CASSETTES / f"{name}.yaml").write_text(text)
    print(f"{len(CASSETTES_SPEC)} cassettes written to {CASSETTES}")


if __name__ == "__main__":
    main()

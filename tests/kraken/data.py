"""Kraken payloads built from the documented examples in shared/reference/kraken.md (§1, §3, §5).

Values the reference shows are kept; the rest of a pair's fields (ordermin, costmin, tick_size) follow the
field list of §3 with plausible values. Nothing here was recorded live.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

#: the official signing example (reference §2)
OFFICIAL_SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
OFFICIAL_NONCE = 1616492376594
OFFICIAL_BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
OFFICIAL_PATH = "/0/private/AddOrder"
OFFICIAL_SIGN = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="

#: a fake key pair for cassettes and loopback tests (the secret is base64, as Kraken's are)
TEST_KEY = "T5-TEST-KEY-not-a-real-kraken-key"
TEST_SECRET = OFFICIAL_SECRET


def asset_pairs() -> dict[str, Any]:
    """The ``result`` of AssetPairs for three pairs: a legacy X/Z pair, an XDG pair and a new asset."""
    return {
        "XXBTZUSD": {
            "altname": "XBTUSD", "wsname": "XBT/USD", "aclass_base": "currency", "base": "XXBT",
            "aclass_quote": "currency", "quote": "ZUSD", "lot": "unit", "cost_decimals": 5,
            "pair_decimals": 1, "lot_decimals": 8, "lot_multiplier": 1, "fee_volume_currency": "ZUSD",
            "ordermin": "0.0001", "costmin": "0.5", "tick_size": "0.1", "status": "online",
        },
        "XXBTZUSDT": {
            "altname": "XBTUSDT", "wsname": "XBT/USDT", "aclass_base": "currency", "base": "XXBT",
            "aclass_quote": "currency", "quote": "USDT", "cost_decimals": 5,
            "pair_decimals": 1, "lot_decimals": 8, "lot_multiplier": 1,
            "ordermin": "0.0001", "costmin": "0.5", "tick_size": "0.1", "status": "online",
        },
        "XDGUSD": {
            "altname": "XDGUSD", "wsname": "XDG/USD", "aclass_base": "currency", "base": "XXDG",
            "aclass_quote": "currency", "quote": "ZUSD", "cost_decimals": 5,
            "pair_decimals": 7, "lot_decimals": 8, "lot_multiplier": 1,
            "ordermin": "15", "costmin": "0.5", "tick_size": "0.0000001", "status": "online",
        },
        "SOLUSD": {
            "altname": "SOLUSD", "wsname": "SOL/USD", "aclass_base": "currency", "base": "SOL",
            "aclass_quote": "currency", "quote": "ZUSD", "cost_decimals": 5,
            "pair_decimals": 2, "lot_decimals": 8, "lot_multiplier": 1,
            "ordermin": "0.02", "costmin": "0.5", "tick_size": "0.01", "status": "cancel_only",
        },
        "XBTUSD.d": {
            "altname": "XBTUSD.d", "wsname": "XBT/USD", "base": "XXBT", "quote": "ZUSD",
            "pair_decimals": 1, "lot_decimals": 8, "status": "online",
        },
    }


def order_object(**overrides: Any) -> dict[str, Any]:
    """The QueryOrders order object of reference §5 (values as documented), numbers as the core's JSON
    parser delivers them (Decimal)."""
    order: dict[str, Any] = {
        "refid": None, "userref": 0, "cl_ord_id": None,
        "status": "closed", "reason": None,
        "opentm": Decimal("1688666559.8974"), "closetm": Decimal("1688666559.9012"),
        "starttm": 0, "expiretm": 0,
        "descr": {"pair": "XBTUSD", "type": "buy", "ordertype": "limit",
                  "price": "30010.0", "price2": "0", "leverage": "none",
                  "order": "buy 1.25000000 XBTUSD @ limit 30010.0", "close": ""},
        "vol": "1.25000000", "vol_exec": "1.25000000",
        "cost": "37526.2", "fee": "37.5", "price": "30021.0",
        "stopprice": "0.00000", "limitprice": "0.00000",
        "misc": "", "oflags": "fciq", "trades": ["TZX2WP-XSEOP-FP7WYR"],
    }
    order.update(overrides)
    return order

"""A small Binance on 127.0.0.1 (aiohttp) for the lifecycle tests: exchangeInfo, time, orders, algo
orders and margin type, spot and USDⓈ-M, with the documented payload shapes (reference §5) and a real
HMAC check over the raw query string it receives (so what was signed must be exactly what was sent)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from terminal5 import jsonutil

from ._data import FUTURES_EXCHANGE_INFO, SERVER_TIME, SPOT_EXCHANGE_INFO


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=jsonutil.dumps(data), content_type="application/json",
                        headers={"X-MBX-USED-WEIGHT-1M": "1"})


def _error(code: int, msg: str, status: int = 400) -> web.Response:
    return _json({"code": code, "msg": msg}, status)


class FakeBinance:
    def __init__(self, accounts: Mapping[str, str]) -> None:
        self.accounts = dict(accounts)  # api key -> secret
        self.orders: dict[int, dict[str, Any]] = {}
        self.algos: dict[int, dict[str, Any]] = {}
        self.margin_calls: list[dict[str, str]] = []
        self.requests: list[tuple[str, str]] = []
        self._ids = itertools.count(1000)
        self._trade_ids = itertools.count(1)
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeBinance:
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    # --- test controls ---------------------------------------------------------------------------
    def fill(self, order_id: int, qty: str, price: str, fee: str = "0", fee_asset: str = "USDT") -> None:
        order = self.orders[order_id]
        executed = Decimal(order["executedQty"]) + Decimal(qty)
        order["executedQty"] = str(executed)
        order["status"] = "FILLED" if executed == Decimal(order["origQty"]) else "PARTIALLY_FILLED"
        if "cummulativeQuoteQty" in order:
            order["cummulativeQuoteQty"] = str(Decimal(order["cummulativeQuoteQty"]) + Decimal(qty) * Decimal(price))
            order.setdefault("fills", []).append({"price": price, "qty": qty, "commission": fee,
                                                  "commissionAsset": fee_asset, "tradeId": next(self._trade_ids)})
        else:
            order["cumQuote"] = str(Decimal(order["cumQuote"]) + Decimal(qty) * Decimal(price))
            order["avgPrice"] = str(Decimal(order["cumQuote"]) / executed)

    # --- server ----------------------------------------------------------------------------------
    def _check_signature(self, request: web.Request) -> web.Response | None:
        key = request.headers.get("X-MBX-APIKEY")
        if key not in self.accounts:
            return _error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        raw = request.rel_url.raw_query_string
        payload, _, sig = raw.rpartition("&signature=")
        expected = hmac.new(self.accounts[key].encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig, expected):
            return _error(-1022, "Signature for this request is not valid.")
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        path, method = request.path, request.method
        self.requests.append((method, path))
        params = dict(parse_qsl(request.rel_url.raw_query_string))
        if path.endswith("/exchangeInfo"):
            return _json(FUTURES_EXCHANGE_INFO if path.startswith("/fapi") else SPOT_EXCHANGE_INFO)
        if path.endswith("/time"):
            return _json({"serverTime": SERVER_TIME})
        denied = self._check_signature(request)
        if denied is not None:
            return denied
        futures = path.startswith("/fapi")
        if path == "/fapi/v1/marginType":
            self.margin_calls.append(params)
            return _json({"code": 200, "msg": "success"})
        if path in ("/api/v3/order", "/fapi/v1/order"):
            if method == "POST":
                return self._place(params, futures)
            order = self._find(params)
            if order is None:
                return _error(-2011 if method == "DELETE" else -2013,
                              "Unknown order sent." if method == "DELETE" else "Order does not exist.")
            if method == "DELETE":
                order["status"] = "CANCELED"
            # only the place answer (newOrderRespType=FULL) carries fills; query/cancel shapes do not
            view = {k: v for k, v in order.items() if k not in ("fills", "transactTime")}
            if method == "DELETE" and not futures:
                view.update(origClientOrderId=order["clientOrderId"], clientOrderId="cxl")
            return _json(view)
        if path == "/fapi/v1/algoOrder":
            if method == "POST":
                algo_id = next(self._ids)
                algo = {"algoId": algo_id, "clientAlgoId": params["clientAlgoId"], "algoType": "CONDITIONAL",
                        "orderType": params["type"], "symbol": params["symbol"], "side": params["side"],
                        "positionSide": params.get("positionSide", "BOTH"), "timeInForce": "GTC",
                        "quantity": params["quantity"], "algoStatus": "NEW", "triggerPrice": params["triggerPrice"],
                        "price": params.get("price", "0"), "reduceOnly": params.get("reduceOnly") == "true",
                        "createTime": SERVER_TIME, "updateTime": SERVER_TIME}
                self.algos[algo_id] = algo
                return _json(algo)
            found = [a for a in self.algos.values()
                     if str(a["algoId"]) == params.get("algoId") or a["clientAlgoId"] == params.get("clientAlgoId")]
            if not found:
                return _error(-2013, "Order does not exist.")
            if method == "DELETE":
                found[0]["algoStatus"] = "CANCELED"
                return _json({"algoId": found[0]["algoId"], "clientAlgoId": found[0]["clientAlgoId"],
                              "code": "200", "msg": "success"})
            return _json(found[0])
        return _error(-1000, f"not emulated: {method} {path}", 404)

    def _find(self, params: Mapping[str, str]) -> dict[str, Any] | None:
        for order in self.orders.values():
            if str(order["orderId"]) == params.get("orderId") or order["clientOrderId"] == params.get(
                "origClientOrderId"
            ):
                return order
        return None

    def _place(self, params: Mapping[str, str], futures: bool) -> web.Response:
        cid = params["newClientOrderId"]
        if any(o["clientOrderId"] == cid and o["status"] in ("NEW", "PARTIALLY_FILLED") for o in self.orders.values()):
            return _error(-4116, "ClientOrderId is duplicated.") if futures else _error(-2010, "Duplicate order sent.")
        order_id = next(self._ids)
        order: dict[str, Any] = {
            "symbol": params["symbol"], "orderId": order_id, "clientOrderId": cid, "price": params.get("price", "0"),
            "origQty": params["quantity"], "executedQty": "0", "status": "NEW",
            "timeInForce": params.get("timeInForce", "GTC"), "type": params["type"], "side": params["side"],
            "time": SERVER_TIME, "updateTime": SERVER_TIME,
        }
        if futures:
            order.update({"avgPrice": "0", "cumQty": "0", "cumQuote": "0", "origType": params["type"],
                          "reduceOnly": params.get("reduceOnly") == "true",
                          "positionSide": params.get("positionSide", "BOTH")})
        else:
            order.update({"orderListId": -1, "cummulativeQuoteQty": "0", "transactTime": SERVER_TIME, "fills": []})
        self.orders[order_id] = order
        return _json(order)

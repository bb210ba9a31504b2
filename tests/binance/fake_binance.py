"""A small Binance on 127.0.0.1 (aiohttp) for the lifecycle and checklist tests: exchangeInfo, time,
account/balance, orders, open orders, algo orders and margin type, spot and USDⓈ-M, with the documented
payload shapes (reference §5) and a real HMAC check over the raw query string it receives (so what was
signed must be exactly what was sent).

It behaves like Binance where the checklist looks: mandatory/forbidden parameters per order type
(-1102/-1106), unknown symbols (-1121), stop prices that would trigger at once (-2010), spot balance
checks (-2010 "Account has insufficient balance for requested action."), reduce-only orders without a
position to reduce (-2022), duplicate client ids among open orders, IOC orders that cannot fill
(EXPIRED) and market orders (FILLED at the touch). A fixed book around ``last`` (default 30000),
bid and ask 100 away.
Resting orders do not lock balances and never match later (``fill`` does that by hand).

Faults for the checklist, each consumed by the next order placement: ``report_status_once`` (accept and
report a status Binance does not document), ``answer_late_once`` (accept, then answer after a delay;
released early when the server stops, so shutting down never waits for it).
"""

from __future__ import annotations

import asyncio
import contextlib
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

#: distance of the best bid/ask from the last price
HALF_SPREAD = Decimal("100")
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
#: spot order types -> (mandatory, forbidden) parameters, from "New order (TRADE)" of the spot API
SPOT_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "LIMIT": (("timeInForce", "quantity", "price"), ("stopPrice",)),
    "MARKET": (("quantity",), ("price", "stopPrice", "timeInForce")),
    "STOP_LOSS": (("quantity", "stopPrice"), ("price", "timeInForce")),
    "STOP_LOSS_LIMIT": (("timeInForce", "quantity", "price", "stopPrice"), ()),
    "TAKE_PROFIT": (("quantity", "stopPrice"), ("price", "timeInForce")),
    "TAKE_PROFIT_LIMIT": (("timeInForce", "quantity", "price", "stopPrice"), ()),
    "LIMIT_MAKER": (("quantity", "price"), ("stopPrice", "timeInForce")),
}
#: /fapi/v1/order takes LIMIT and MARKET only since conditional orders moved to the algo endpoint
FUTURES_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "LIMIT": (("timeInForce", "quantity", "price"), ()),
    "MARKET": (("quantity",), ("price",)),
}
INSUFFICIENT = "Account has insufficient balance for requested action."


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=jsonutil.dumps(data), content_type="application/json",
                        headers={"X-MBX-USED-WEIGHT-1M": "1"})


def _error(code: int, msg: str, status: int = 400) -> web.Response:
    return _json({"code": code, "msg": msg}, status)


def _business(params: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if k not in ("timestamp", "recvWindow", "signature")}


def _triggers_now(kind: str, side: str, stop: Decimal, last: Decimal) -> bool:
    """Stop-loss sells and take-profit buys trigger at or below the stop price; the others at or above."""
    below = kind.startswith("STOP") is (side == "SELL")
    return last <= stop if below else last >= stop


def _symbols(info: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(s["symbol"] for s in info["symbols"])


class FakeBinance:
    def __init__(self, accounts: Mapping[str, str], *, last: Decimal = Decimal("30000")) -> None:
        self.accounts = dict(accounts)  # api key -> secret
        self.last, self.bid, self.ask = last, last - HALF_SPREAD, last + HALF_SPREAD
        self.orders: dict[int, dict[str, Any]] = {}
        self.futures_ids: set[int] = set()  # which of ``orders`` live on /fapi
        self.algos: dict[int, dict[str, Any]] = {}
        self.margin_calls: list[dict[str, str]] = []
        self.requests: list[tuple[str, str]] = []
        #: business parameters of every authenticated order placement that reached the matching step
        self.placements: list[dict[str, str]] = []
        #: (path, native code) of every error answered
        self.rejections: list[tuple[str, int]] = []
        #: spot free balances (one account: the fake does not separate keys' wallets)
        self.balances: dict[str, Decimal] = {"USDT": Decimal("10000"), "BTC": Decimal("1")}
        #: futures one-way positions, native symbol -> signed amount
        self.positions: dict[str, Decimal] = {}
        self.hedge_mode = False  # the account's futures position mode
        self.modifications: list[dict[str, str]] = []  # business params of every PUT /fapi/v1/order
        #: futures availableBalance (USDT) and the leverage every symbol trades at
        self.futures_available = Decimal("10000")
        self.leverage = Decimal(20)
        self._status_once: str | None = None
        self._late_once: float | None = None
        self._closing = asyncio.Event()
        self._ids = itertools.count(1000)
        self._trade_ids = itertools.count(1)
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeBinance:
        self.runner = web.AppRunner(self.app, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        self._closing.set()  # release any late answer still waiting
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
            order["cumQty"] = str(executed)
            order["cumQuote"] = str(Decimal(order["cumQuote"]) + Decimal(qty) * Decimal(price))
            order["avgPrice"] = str(Decimal(order["cumQuote"]) / executed)

    def report_status_once(self, status: str) -> None:
        """The next placed order is accepted and reported (and stored) with ``status``."""
        self._status_once = status

    def answer_late_once(self, delay: float) -> None:
        """The next placed order is accepted at once, its answer sent ``delay`` seconds later."""
        self._late_once = delay

    def placed(self, client_order_id: str) -> list[dict[str, str]]:
        """What reached the matching step for this native client id (orders and algo orders)."""
        return [p for p in self.placements if client_order_id in (p.get("newClientOrderId"), p.get("clientAlgoId"))]

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
        response = await self._route(request)
        if response.status >= 400 and response.text:
            code = jsonutil.loads(response.text).get("code")
            self.rejections.append((request.path, int(code)))
        return response

    async def _route(self, request: web.Request) -> web.Response:
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
        if path == "/api/v3/account" and method == "GET":
            balances = [{"asset": a, "free": str(v), "locked": "0"} for a, v in self.balances.items()]
            return _json({"makerCommission": 10, "takerCommission": 10, "canTrade": True, "accountType": "SPOT",
                          "balances": balances, "permissions": ["SPOT"], "updateTime": SERVER_TIME})
        if path == "/fapi/v3/balance" and method == "GET":
            available = str(self.futures_available)
            return _json([{"accountAlias": "SgsR", "asset": "USDT", "balance": available, "crossWalletBalance": available,
                           "crossUnPnl": "0", "availableBalance": available, "maxWithdrawAmount": available,
                           "marginAvailable": True, "updateTime": SERVER_TIME}])
        if path in ("/api/v3/openOrders", "/fapi/v1/openOrders") and method == "GET":
            return _json([self._view(o, futures) for o in self._mine(futures, params.get("symbol"))
                          if o["status"] in OPEN_STATUSES])
        if path == "/fapi/v1/openAlgoOrders" and method == "GET":
            return _json([a for a in self.algos.values() if a["algoStatus"] == "NEW"
                          and params.get("symbol") in (None, a["symbol"])])
        if path == "/fapi/v3/positionRisk" and method == "GET":
            return _json([{"symbol": sym, "positionSide": "BOTH", "positionAmt": str(amount), "entryPrice": "0",
                           "markPrice": str(self.last), "unRealizedProfit": "0", "liquidationPrice": "0",
                           "leverage": str(self.leverage), "marginType": "cross", "isolated": False}
                          for sym, amount in self.positions.items() if amount])
        if path == "/fapi/v1/positionSide/dual" and method == "GET":
            return _json({"dualSidePosition": self.hedge_mode})
        if path == "/fapi/v1/marginType":
            self.margin_calls.append(params)
            return _json({"code": 200, "msg": "success"})
        if path in ("/api/v3/order", "/fapi/v1/order"):
            if method == "POST":
                return await self._place(params, futures)
            order = self._find(params, futures)
            if order is None:
                return _error(-2011 if method == "DELETE" else -2013,
                              "Unknown order sent." if method == "DELETE" else "Order does not exist.")
            if method == "DELETE":
                order["status"] = "CANCELED"
            if method == "PUT":
                if not futures or order["type"] != "LIMIT" or order["status"] not in OPEN_STATUSES:
                    return _error(-2011, "Unknown order sent.")
                if params.get("side") != order["side"]:
                    return _error(-1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed.")
                order["origQty"], order["price"] = params["quantity"], params["price"]
                self.modifications.append(_business(params))
            view = self._view(order, futures)
            if method == "DELETE" and not futures:
                view.update(origClientOrderId=order["clientOrderId"], clientOrderId="cxl")
            return _json(view)
        if path == "/fapi/v1/algoOrder":
            if method == "POST":
                refused = self._refuse_algo(params)
                if refused is not None:
                    return refused
                self.placements.append(_business(params))
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

    @staticmethod
    def _view(order: Mapping[str, Any], futures: bool) -> dict[str, Any]:
        """Query/cancel/list shape: only the place answer (newOrderRespType=FULL) carries fills."""
        return {k: v for k, v in order.items() if k not in ("fills", "transactTime")}

    def _mine(self, futures: bool, symbol: str | None = None) -> list[dict[str, Any]]:
        return [o for i, o in self.orders.items()
                if (i in self.futures_ids) is futures and symbol in (None, o["symbol"])]

    def _find(self, params: Mapping[str, str], futures: bool) -> dict[str, Any] | None:
        for order in self._mine(futures, params.get("symbol")):
            if str(order["orderId"]) == params.get("orderId") or order["clientOrderId"] == params.get(
                "origClientOrderId"
            ):
                return order
        return None

    def _refuse(self, params: Mapping[str, str], futures: bool) -> web.Response | None:
        """Binance's answers to an order it will not accept, in the order it checks them."""
        if params.get("symbol") not in _symbols(FUTURES_EXCHANGE_INFO if futures else SPOT_EXCHANGE_INFO):
            return _error(-1121, "Invalid symbol.")
        kind = params.get("type", "")
        table = FUTURES_TYPES if futures else SPOT_TYPES
        if kind not in table:
            if futures and kind in ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"):
                return _error(-4120, "Order type not supported for this endpoint. Please use the Algo Order API.")
            return _error(-1116, "Invalid orderType.")
        mandatory, forbidden = table[kind]
        for name in mandatory:
            if not params.get(name):
                return _error(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        for name in forbidden:
            if name in params:
                return _error(-1106, f"Parameter '{name}' sent when not required.")
        cid = params["newClientOrderId"]
        if any(o["clientOrderId"] == cid and o["status"] in OPEN_STATUSES for o in self._mine(futures)):
            return _error(-4116, "ClientOrderId is duplicated.") if futures else _error(-2010, "Duplicate order sent.")
        side, qty = params["side"], Decimal(params["quantity"])
        if "stopPrice" in params and _triggers_now(kind, side, Decimal(params["stopPrice"]), self.last):
            return _error(-2010, "Stop price would trigger immediately.")
        if futures:
            if params.get("reduceOnly") == "true":
                position = self.positions.get(params["symbol"], Decimal(0))
                reducing = (position > 0 and side == "SELL") or (position < 0 and side == "BUY")
                if not reducing or qty > abs(position):
                    return _error(-2022, "ReduceOnly Order is rejected.")
            else:
                price = Decimal(params["price"]) if "price" in params else (self.ask if side == "BUY" else self.bid)
                if qty * price / self.leverage > self.futures_available:
                    return _error(-2019, "Margin is insufficient.")
        elif side == "BUY":
            price = Decimal(params["price"]) if "price" in params else self.ask
            if qty * price > self.balances.get("USDT", Decimal(0)):
                return _error(-2010, INSUFFICIENT)
        elif qty > self.balances.get("BTC", Decimal(0)):
            return _error(-2010, INSUFFICIENT)
        return None

    def _refuse_algo(self, params: Mapping[str, str]) -> web.Response | None:
        if params.get("symbol") not in _symbols(FUTURES_EXCHANGE_INFO):
            return _error(-1121, "Invalid symbol.")
        if params.get("algoType") != "CONDITIONAL":
            return _error(-1102, "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed.")
        kind = params.get("type", "")
        if kind not in ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"):
            return _error(-1116, "Invalid orderType.")
        for name in ("quantity", "triggerPrice", "clientAlgoId", *(("price",) if kind in ("STOP", "TAKE_PROFIT") else ())):
            if not params.get(name):
                return _error(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        if any(a["clientAlgoId"] == params["clientAlgoId"] and a["algoStatus"] == "NEW" for a in self.algos.values()):
            return _error(-4116, "ClientOrderId is duplicated.")
        if _triggers_now(kind, params["side"], Decimal(params["triggerPrice"]), self.last):
            return _error(-2021, "Order would immediately trigger.")
        return None

    async def _place(self, params: Mapping[str, str], futures: bool) -> web.Response:
        refused = self._refuse(params, futures)
        if refused is not None:
            return refused
        self.placements.append(_business(params))
        order_id = next(self._ids)
        order: dict[str, Any] = {
            "symbol": params["symbol"], "orderId": order_id, "clientOrderId": params["newClientOrderId"],
            "price": params.get("price", "0"), "origQty": params["quantity"], "executedQty": "0", "status": "NEW",
            "timeInForce": params.get("timeInForce", "GTC"), "type": params["type"], "side": params["side"],
            "time": SERVER_TIME, "updateTime": SERVER_TIME,
        }
        if "stopPrice" in params:
            order["stopPrice"] = params["stopPrice"]
        if futures:
            order.update({"avgPrice": "0", "cumQty": "0", "cumQuote": "0", "origType": params["type"],
                          "reduceOnly": params.get("reduceOnly") == "true",
                          "positionSide": params.get("positionSide", "BOTH")})
            self.futures_ids.add(order_id)
        else:
            order.update({"orderListId": -1, "cummulativeQuoteQty": "0", "transactTime": SERVER_TIME, "fills": []})
        self.orders[order_id] = order
        self._match(order)
        if self._status_once is not None:
            order["status"], self._status_once = self._status_once, None
        answer = _json(order)
        if self._late_once is not None:
            delay, self._late_once = self._late_once, None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
        return answer

    def _match(self, order: dict[str, Any]) -> None:
        """Against the fixed book: market orders fill at the touch, crossing limits too; IOC leftovers expire."""
        buy = order["side"] == "BUY"
        touch = self.ask if buy else self.bid
        if order["type"] == "MARKET":
            self.fill(order["orderId"], order["origQty"], str(touch), fee="0")
        elif order["type"] == "LIMIT":
            price = Decimal(order["price"])
            if (price >= self.ask) if buy else (price <= self.bid):
                self.fill(order["orderId"], order["origQty"], str(touch))
            elif order["timeInForce"] in ("IOC", "FOK"):
                order["status"] = "EXPIRED"

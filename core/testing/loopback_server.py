"""A loopback exchange: a small signed JSON REST exchange served on 127.0.0.1, with fault injection.

It verifies every private request's HMAC against its own account table and records which key signed
each order, so tests can prove that concurrent orders of many accounts were each signed with their own
key. It binds only to loopback, serves a bounded number of requests and stops with its context manager.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs
from aiohttp import web

from terminal5 import jsonutil

KEY_HEADER = "X-LB-KEY"
TS_HEADER = "X-LB-TS"
SIGN_HEADER = "X-LB-SIGN"
MAX_REQUESTS = 200_000  # a runaway test stops here instead of looping forever


def signature(secret: str, timestamp: str, method: str, path_qs: str, body: str) -> str:
    return hmac.new(secret.encode(), f"{timestamp}{method}{path_qs}{body}".encode(), hashlib.sha256).hexdigest()


@attrs.define
class Fault:
    """One injected fault, consumed by the next matching request.

    kind: ``timeout_after_accept`` (accept the order, answer after ``delay`` seconds),
    ``error_after_accept`` (accept, answer HTTP ``status``), ``error_before_accept`` (answer HTTP
    ``status`` without accepting), ``drop_after_accept`` (accept, close the connection), ``status``
    (accept and report native status ``value``).
    """

    kind: str
    path: str = "/api/order"
    method: str = "POST"
    delay: float = 0.0
    status: int = 500
    value: str = ""


@attrs.define
class PlacedOrder:
    order: dict[str, Any]
    api_key: str
    body: dict[str, Any]


DEFAULT_MARKETS = [
    {
        "symbol": "BTCUSDT",
        "base": "BTC",
        "quote": "USDT",
        "type": "spot",
        "tickSize": "0.01",
        "stepSize": "0.00001",
        "minQty": "0.00001",
        "minNotional": "5",
    },
    {
        "symbol": "ETHUSDT",
        "base": "ETH",
        "quote": "USDT",
        "type": "spot",
        "tickSize": "0.01",
        "stepSize": "0.0001",
        "minQty": "0.0001",
        "minNotional": "5",
    },
    {
        "symbol": "BTCUSDT_PERP",
        "base": "BTC",
        "quote": "USDT",
        "settle": "USDT",
        "type": "swap",
        "tickSize": "0.1",
        "stepSize": "0.001",
        "minQty": "0.001",
        "minNotional": "5",
    },
]


class LoopbackExchange:
    """``async with LoopbackExchange(accounts={"key": "secret"}) as ex: ex.url``"""

    def __init__(self, accounts: Mapping[str, str] | None = None, *, host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the loopback exchange only binds to loopback addresses")
        self.accounts: dict[str, str] = dict(accounts or {})
        self.host = host
        self.port = 0
        self.markets = [dict(m) for m in DEFAULT_MARKETS]
        self.orders: dict[str, dict[str, Any]] = {}
        self.owner: dict[str, str] = {}  # order id -> api key
        self.placed: list[PlacedOrder] = []
        self.attempts: Counter[str] = Counter()  # every order POST per client id, accepted or not
        self.faults: list[Fault] = []
        self.requests = 0
        self.bad_signatures = 0
        self.hidden_for: float = 0.0  # a fresh order is "not found" for this long (eventual consistency)
        self._ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None
        self._pending: set[asyncio.Task[Any]] = set()
        self.balances: dict[str, dict[str, str]] = defaultdict(lambda: {"USDT": "10000", "BTC": "1"})

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> LoopbackExchange:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._pending):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- test controls -----------------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        self.faults.append(fault)

    def fill(self, order_id: str, quantity: Decimal, price: Decimal | None = None, fee: Decimal = Decimal(0)) -> None:
        order = self.orders[order_id]
        filled = Decimal(order["executedQty"]) + quantity
        order["executedQty"] = str(filled)
        order["avgPrice"] = str(price or Decimal(order.get("price") or "0"))
        order["fee"] = str(Decimal(order.get("fee", "0")) + fee)
        order["status"] = "FILLED" if filled >= Decimal(order["origQty"]) else "PARTIALLY_FILLED"
        order["updateTime"] = int(time.time() * 1000)

    def signed_by(self) -> dict[str, str]:
        """client id -> the API key that signed its placement."""
        return {p.order["clientId"]: p.api_key for p in self.placed}

    def placements(self, client_id: str) -> int:
        return sum(1 for p in self.placed if p.order["clientId"] == client_id)

    # --- request handling ------------------------------------------------------------------------
    def _fault_for(self, request: web.Request) -> Fault | None:
        for fault in self.faults:
            if fault.path == request.path and fault.method == request.method:
                self.faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _error(status: int, code: str, msg: str) -> web.Response:
        return web.json_response({"code": code, "msg": msg}, status=status)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.requests > MAX_REQUESTS:
            return self._error(503, "OVERLOAD", "request budget of this test server exhausted")
        body = await request.text()
        if request.path.startswith("/api/public/"):
            return await self._public(request)
        key = request.headers.get(KEY_HEADER, "")
        secret = self.accounts.get(key)
        if secret is None:
            return self._error(401, "INVALID_KEY", "unknown api key")
        expected = signature(secret, request.headers.get(TS_HEADER, ""), request.method, request.path_qs, body)
        if not hmac.compare_digest(expected, request.headers.get(SIGN_HEADER, "")):
            self.bad_signatures += 1
            return self._error(401, "BAD_SIGNATURE", "signature does not match")
        fault = self._fault_for(request)
        if fault and fault.kind == "error_before_accept":
            if request.method == "POST" and request.path == "/api/order":
                self.attempts[str(jsonutil.loads(body).get("clientId"))] += 1
            return self._error(fault.status, "SERVER_ERROR", "injected failure before accept")
        route = (request.method, request.path)
        if route == ("POST", "/api/order"):
            payload = jsonutil.loads(body) if body else {}
            self.attempts[str(payload.get("clientId"))] += 1
            response = self._place(key, payload, fault)
        elif route == ("GET", "/api/order"):
            response = self._query(key, request.query)
        elif route == ("DELETE", "/api/order"):
            response = self._cancel(key, request.query)
        elif route == ("GET", "/api/openOrders"):
            mine = [
                o
                for oid, o in self.orders.items()
                if self.owner[oid] == key and o["status"] in ("NEW", "PARTIALLY_FILLED")
            ]
            symbol = request.query.get("symbol")
            response = web.json_response([o for o in mine if symbol is None or o["symbol"] == symbol])
        elif route == ("GET", "/api/balances"):
            response = web.json_response(self.balances[key])
        else:
            return self._error(404, "NO_ROUTE", f"no route {request.method} {request.path}")
        if fault and fault.kind == "timeout_after_accept":
            await asyncio.sleep(fault.delay)
        elif fault and fault.kind == "error_after_accept":
            return self._error(fault.status, "SERVER_ERROR", "injected failure after accept")
        elif fault and fault.kind == "drop_after_accept":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        return response

    async def _public(self, request: web.Request) -> web.Response:
        if request.path == "/api/public/markets":
            return web.json_response(self.markets)
        if request.path == "/api/public/time":
            return web.json_response({"serverTime": int(time.time() * 1000)})
        return self._error(404, "NO_ROUTE", request.path)

    def _place(self, key: str, body: dict[str, Any], fault: Fault | None) -> web.Response:
        for field in ("symbol", "side", "type", "quantity", "clientId"):
            if field not in body:
                return self._error(400, "MISSING_PARAM", f"missing {field}")
        if any(m["symbol"] == body["symbol"] for m in self.markets) is False:
            return self._error(400, "BAD_SYMBOL", "unknown symbol")
        for oid, existing in self.orders.items():
            if self.owner[oid] == key and existing["clientId"] == body["clientId"]:
                return self._error(409, "DUPLICATE", "client id already used")
        if Decimal(str(body["quantity"])) * Decimal(str(body.get("price", "1"))) > Decimal("1000000000"):
            return self._error(400, "INSUFFICIENT_FUNDS", "balance too low")
        oid = str(next(self._ids))
        now_ms = int(time.time() * 1000)
        order = {
            "orderId": oid,
            "clientId": body["clientId"],
            "symbol": body["symbol"],
            "side": body["side"],
            "type": body["type"],
            "origQty": str(body["quantity"]),
            "price": str(body["price"]) if "price" in body else None,
            "stopPrice": str(body["stopPrice"]) if "stopPrice" in body else None,
            "executedQty": "0",
            "avgPrice": None,
            "fee": "0",
            "feeAsset": "USDT",
            "status": fault.value if fault and fault.kind == "status" else "NEW",
            "time": now_ms,
            "updateTime": now_ms,
            "visibleAfter": time.monotonic() + self.hidden_for,
        }
        if body["type"] == "MARKET":
            order["executedQty"] = order["origQty"]
            order["avgPrice"] = "100"
            order["status"] = "FILLED"
        self.orders[oid] = order
        self.owner[oid] = key
        self.placed.append(PlacedOrder(order=order, api_key=key, body=body))
        return web.json_response(self._public_view(order))

    @staticmethod
    def _public_view(order: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in order.items() if k != "visibleAfter"}

    def _find(self, key: str, query: Mapping[str, str]) -> dict[str, Any] | None:
        for oid, order in self.orders.items():
            if self.owner[oid] != key:
                continue  # another account's order is invisible, as on a real exchange
            if ("orderId" in query and query["orderId"] == oid) or (
                "clientId" in query and query["clientId"] == order["clientId"]
            ):
                if time.monotonic() < order["visibleAfter"]:
                    return None
                return order
        return None

    def _query(self, key: str, query: Mapping[str, str]) -> web.Response:
        order = self._find(key, query)
        if order is None:
            return self._error(404, "NOT_FOUND", "order does not exist")
        return web.json_response(self._public_view(order))

    def _cancel(self, key: str, query: Mapping[str, str]) -> web.Response:
        order = self._find(key, query)
        if order is None:
            return self._error(404, "NOT_FOUND", "order does not exist")
        if order["status"] not in ("NEW", "PARTIALLY_FILLED"):
            return self._error(400, "NOT_OPEN", "order is not open")
        order["status"] = "CANCELED"
        order["updateTime"] = int(time.time() * 1000)
        return web.json_response(self._public_view(order))


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))

"""The loopback exchange: a small signed JSON REST exchange (the template plugin's protocol), built on the
fake-exchange base (``terminal5.testing.fake_exchange``).

It verifies every private request's HMAC against its own account table and records which key signed
each order, so tests can prove that concurrent orders of many accounts were each signed with their own
key. Like every simulator it binds only to loopback, serves a bounded number of requests, stops by itself
after ``max_seconds`` and offers the control route (``/_sim/records``, ``/_sim/faults``, ``/_sim/fill``).

Protocol: headers ``X-LB-KEY``, ``X-LB-TS``, ``X-LB-SIGN`` (hex HMAC-SHA256 of ts + method + path?query +
body); ``GET /api/public/markets``, ``GET /api/public/time``; ``POST|GET|DELETE /api/order``,
``GET /api/openOrders``, ``GET /api/balances``; errors ``{"code": "...", "msg": "..."}``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs
from aiohttp import web

from terminal5 import jsonutil
from terminal5.testing.fake_exchange import Account, Call, FakeExchange, FaultRule, Route, json_body

KEY_HEADER = "X-LB-KEY"
TS_HEADER = "X-LB-TS"
SIGN_HEADER = "X-LB-SIGN"
MAX_REQUESTS = 200_000  # a runaway test stops here instead of looping forever
ORDER_PATH = "/api/order"
OPEN = ("NEW", "PARTIALLY_FILLED")


def signature(secret: str, timestamp: str, method: str, path_qs: str, body: str) -> str:
    return hmac.new(secret.encode(), f"{timestamp}{method}{path_qs}{body}".encode(), hashlib.sha256).hexdigest()


@attrs.define
class Fault:
    """One injected fault, consumed by the next matching request (the loopback's own vocabulary).

    kind: ``timeout_after_accept`` (accept the order, answer after ``delay`` seconds),
    ``error_after_accept`` (accept, answer HTTP ``status``), ``error_before_accept`` (answer HTTP
    ``status`` without accepting), ``drop_after_accept`` (accept, close the connection), ``status``
    (accept and report native status ``value``).
    """

    kind: str
    path: str = ORDER_PATH
    method: str = "POST"
    delay: float = 0.0
    status: int = 500
    value: str = ""

    def rule(self, endpoint: str) -> FaultRule:
        """The same fault in the base's vocabulary."""
        kind, after = {
            "timeout_after_accept": ("timeout", True),
            "error_after_accept": ("error", True),
            "error_before_accept": ("error", False),
            "drop_after_accept": ("drop", True),
            "status": ("unknown_status", True),
        }[self.kind]
        return FaultRule(endpoint=endpoint, kind=kind, after_accept=after, delay=self.delay, status=self.status,
                         value=self.value)


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


class LoopbackExchange(FakeExchange):
    """``async with LoopbackExchange(accounts={"key": "secret"}) as ex: ex.url``

    Balances are reported, not reserved (the toy exchange refuses only absurd notionals); the native
    simulators of the real plugins reserve and settle them.
    """

    name = "loopback"
    default_balances = {"USDT": "10000", "BTC": "1"}
    default_price = Decimal("100")

    def __init__(
        self, accounts: Iterable[Account] | Mapping[str, str] | None = None, *, host: str = "127.0.0.1",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("max_requests", MAX_REQUESTS)
        super().__init__(accounts, host=host, **kwargs)
        self.markets = [dict(m) for m in DEFAULT_MARKETS]
        self.orders: dict[str, dict[str, Any]] = {}
        self.owner: dict[str, str] = {}  # order id -> api key
        self.placed: list[PlacedOrder] = []
        self.attempts: Counter[str] = Counter()  # every order POST per client id, accepted or not
        self.bad_signatures = 0
        self.hidden_for: float = 0.0  # a fresh order is "not found" for this long (eventual consistency)
        self._ids = itertools.count(1000)

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/api/public/markets", self._markets, "markets", private=False),
            Route("GET", "/api/public/time", self._time, "time", private=False),
            Route("POST", ORDER_PATH, self._place_route, "order.place", role="place"),
            Route("GET", ORDER_PATH, self._query, "order.get", role="lookup"),
            Route("DELETE", ORDER_PATH, self._cancel, "order.cancel", role="cancel"),
            Route("GET", "/api/openOrders", self._open_orders, "orders.open", role="lookup"),
            Route("GET", "/api/balances", self._balances, "balances"),
        ]

    @property
    def requests(self) -> int:
        return self.request_count

    @property
    def balances(self) -> dict[str, dict[str, Decimal]]:
        """api key -> free amounts (the wallets of the base)."""
        return {key: self.wallet(key).free for key in self.wallets}

    # --- test controls -----------------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        route = self._routes.get((fault.method, fault.path))
        self.add_fault(fault.rule(route.endpoint if route else f"{fault.method} {fault.path}"))

    def fill(self, order_id: str, quantity: Decimal, price: Decimal | None = None, fee: Decimal = Decimal(0)) -> None:
        order = self.orders[order_id]
        filled = Decimal(order["executedQty"]) + quantity
        order["executedQty"] = str(filled)
        order["avgPrice"] = str(price or Decimal(order.get("price") or "0"))
        order["fee"] = str(Decimal(order.get("fee", "0")) + fee)
        order["status"] = "FILLED" if filled >= Decimal(order["origQty"]) else "PARTIALLY_FILLED"
        order["updateTime"] = self.now_ms()

    def signed_by(self) -> dict[str, str]:
        """client id -> the API key that signed its placement."""
        return {p.order["clientId"]: p.api_key for p in self.placed}

    def placements(self, client_id: str) -> int:
        return sum(1 for p in self.placed if p.order["clientId"] == client_id)

    # --- the signature check --------------------------------------------------------------------------
    def presented_key(self, request: web.Request) -> str:
        return request.headers.get(KEY_HEADER, "")

    def client_id_of(self, call: Call) -> str | None:
        try:
            return str(jsonutil.loads(call.body).get("clientId"))
        except (ValueError, AttributeError):
            return None

    async def authenticate(self, call: Call) -> Account | web.StreamResponse:
        request = call.request
        account = self.accounts.get(self.presented_key(request))
        if account is None:
            return self.error_response(401, "INVALID_KEY", "unknown api key")
        expected = signature(account.api_secret, request.headers.get(TS_HEADER, ""), request.method,
                             request.path_qs, call.body)
        if not hmac.compare_digest(expected, request.headers.get(SIGN_HEADER, "")):
            self.bad_signatures += 1
            return self.error_response(401, "BAD_SIGNATURE", "signature does not match")
        if call.route.role == "place":
            self.attempts[str(self.client_id_of(call))] += 1
        return account

    # --- routes -------------------------------------------------------------------------------------
    async def _markets(self, call: Call) -> web.StreamResponse:
        return web.json_response(self.markets)

    async def _time(self, call: Call) -> web.StreamResponse:
        return web.json_response({"serverTime": self.now_ms()})

    async def _balances(self, call: Call) -> web.StreamResponse:
        return web.json_response({a: str(v) for a, v in self.wallet(call.api_key).free.items()})

    async def _open_orders(self, call: Call) -> web.StreamResponse:
        symbol = call.request.query.get("symbol")
        mine = [o for oid, o in self.orders.items() if self.owner[oid] == call.api_key and o["status"] in OPEN]
        return web.json_response([self._public_view(o) for o in mine if symbol is None or o["symbol"] == symbol])

    async def _place_route(self, call: Call) -> web.StreamResponse:
        body = jsonutil.loads(call.body) if call.body else {}
        return self._place(call.api_key, body, call)

    def _place(self, key: str, body: dict[str, Any], call: Call) -> web.StreamResponse:
        """Synchronous on purpose: tests wrap it to look at the database at the moment the order arrives."""
        for field in ("symbol", "side", "type", "quantity", "clientId"):
            if field not in body:
                return self.refuse(call, 400, "MISSING_PARAM", f"missing {field}")
        if not any(m["symbol"] == body["symbol"] for m in self.markets):
            return self.refuse(call, 400, "BAD_SYMBOL", "unknown symbol")
        for oid, existing in self.orders.items():
            if self.owner[oid] == call.api_key and existing["clientId"] == body["clientId"]:
                return self.refuse(call, 409, "DUPLICATE", "client id already used", duplicate=True)
        if Decimal(str(body["quantity"])) * Decimal(str(body.get("price", "1"))) > Decimal("1000000000"):
            return self.refuse(call, 400, "INSUFFICIENT_FUNDS", "balance too low")
        oid = str(next(self._ids))
        now_ms = self.now_ms()
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
            "status": call.status_override or "NEW",
            "time": now_ms,
            "updateTime": now_ms,
            "visibleAfter": time.monotonic() + self.hidden_for,
        }
        if body["type"] == "MARKET":
            order["executedQty"] = order["origQty"]
            order["avgPrice"] = str(self.price_of(body["symbol"]))
            order["status"] = "FILLED"
        self.orders[oid] = order
        self.owner[oid] = call.api_key
        self.placed.append(PlacedOrder(order=order, api_key=call.api_key, body=body))
        self.accept(call, body["clientId"], oid)
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

    async def _query(self, call: Call) -> web.StreamResponse:
        order = self._find(call.api_key, call.request.query)
        if order is None:
            return self.not_found_response(call)
        return web.json_response(self._public_view(order))

    async def _cancel(self, call: Call) -> web.StreamResponse:
        order = self._find(call.api_key, call.request.query)
        if order is None:
            return self.not_found_response(call)
        if order["status"] not in OPEN:
            return self.error_response(400, "NOT_OPEN", "order is not open")
        order["status"] = "CANCELED"
        order["updateTime"] = self.now_ms()
        return web.json_response(self._public_view(order))

    def not_found_response(self, call: Call) -> web.StreamResponse:
        return self.error_response(404, "NOT_FOUND", "order does not exist")

    def error_response(self, status: int, code: str, message: str) -> web.StreamResponse:
        return self._error(status, code, message)

    @staticmethod
    def _error(status: int, code: str, msg: str) -> web.Response:
        return web.json_response({"code": code, "msg": msg}, status=status)


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


__all__ = ["DEFAULT_MARKETS", "KEY_HEADER", "SIGN_HEADER", "TS_HEADER", "Fault", "LoopbackExchange",
           "PlacedOrder", "json_body", "signature"]

"""A tiny Kraken spot REST stand-in on 127.0.0.1, for lifecycle tests through the core.

It checks what the real exchange checks and the cassettes cannot: every private call's ``API-Sign``
(reference §2) and that nonces strictly increase per key (``EAPI:Invalid nonce`` otherwise), that
``userref`` and ``cl_ord_id`` are never sent together, and the AssetPairs precision rules. Response shapes
follow reference §5. Faults: ``fail_next[path] = "EService:Unavailable"`` accepts an AddOrder and then
answers that error (the outcome-unknown case); ``delay_next[path] = seconds`` accepts it and answers only
after that delay (the client's timeout case); ``status_next`` reports the next accepted order with that
status (one Kraken never documented, for the unknown-status case).

A tiny matching model: market orders fill at once at ``market_price`` (status ``closed``); an IOC limit
fills when it crosses ``market_price`` and is otherwise ``canceled`` unfilled; other orders rest ``open``.
AddOrder checks ``BalanceEx`` funds (``EOrder:Insufficient funds``). It binds to 127.0.0.1 only, answers
at most ``MAX_REQUESTS`` requests, and a delayed answer ends early when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import attrs
from aiohttp import web

from terminal5 import jsonutil
from terminal5_kraken.auth import signature

from .data import asset_pairs

#: a runaway test stops here instead of looping forever
MAX_REQUESTS = 10_000
#: the taker fee the fake charges on fills (0.40 %, Kraken's starter taker rate)
TAKER_FEE = Decimal("0.004")


@attrs.define
class FakeKraken:
    accounts: dict[str, str]  # api key -> secret
    orders: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    nonces: dict[str, int] = attrs.field(factory=dict)
    fail_next: dict[str, str] = attrs.field(factory=dict)
    calls: list[tuple[str, dict[str, str]]] = attrs.field(factory=list)
    delay_next: dict[str, float] = attrs.field(factory=dict)
    status_next: str | None = None
    #: BalanceEx ``result`` (per asset: balance, hold_trade), strings as on the wire
    balances: dict[str, dict[str, str]] = attrs.field(
        factory=lambda: {
            "ZUSD": {"balance": "50000.0000", "hold_trade": "0.0000"},
            "XXBT": {"balance": "1.5000000000", "hold_trade": "0.0000000000"},
            "XXDG": {"balance": "0.00000000", "hold_trade": "0.00000000"},
        }
    )
    market_price: Decimal = Decimal("30000.0")
    requests: int = 0
    stopping: asyncio.Event = attrs.field(factory=asyncio.Event)
    _ids: Any = attrs.field(factory=lambda: itertools.count(1))
    clock: Decimal = Decimal("1700000000.0000")

    def _tick(self) -> Decimal:
        self.clock += Decimal("0.0100")
        return self.clock

    # --- plumbing ---
    @staticmethod
    def _answer(result: Any = None, *errors: str) -> web.Response:
        body: dict[str, Any] = {"error": list(errors)}
        if not errors:
            body["result"] = result
        return web.Response(text=jsonutil.dumps(body), content_type="application/json")

    @web.middleware
    async def _bounded(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests += 1
        if self.requests > MAX_REQUESTS:
            raise web.HTTPServiceUnavailable(text="fake Kraken: request budget exhausted")
        return await handler(request)

    def _available(self, asset: str) -> Decimal:
        entry = self.balances.get(asset) or {}
        return Decimal(entry.get("balance", "0")) - Decimal(entry.get("hold_trade", "0"))

    async def _private(self, request: web.Request) -> tuple[dict[str, str] | None, web.Response | None]:
        body = await request.text()
        key = request.headers.get("API-Key", "")
        secret = self.accounts.get(key)
        if secret is None:
            return None, self._answer(None, "EAPI:Invalid key")
        params = dict(parse_qsl(body, keep_blank_values=True))
        nonce = params.get("nonce", "")
        if signature(secret, nonce, request.path, body) != request.headers.get("API-Sign"):
            return None, self._answer(None, "EAPI:Invalid signature")
        if not nonce.isdigit() or int(nonce) <= self.nonces.get(key, 0):
            return None, self._answer(None, "EAPI:Invalid nonce")
        self.nonces[key] = int(nonce)
        params.pop("nonce")
        self.calls.append((request.path, params))
        return params, None

    # --- endpoints ---
    async def time(self, request: web.Request) -> web.Response:
        return self._answer({"unixtime": 1700000000, "rfc1123": "Tue, 14 Nov 23 22:13:20 +0000"})

    async def asset_pairs(self, request: web.Request) -> web.Response:
        return self._answer(asset_pairs())

    async def add_order(self, request: web.Request) -> web.Response:
        params, error = await self._private(request)
        if error is not None:
            return error
        assert params is not None
        if "userref" in params and "cl_ord_id" in params:
            return self._answer(None, "EGeneral:Invalid arguments:cl_ord_id")
        pairs = asset_pairs()
        key = next((k for k, v in pairs.items() if params["pair"] in (k, v["altname"])), None)
        if key is None:
            return self._answer(None, "EQuery:Unknown asset pair")
        info = pairs[key]
        volume = Decimal(params["volume"])
        if volume < Decimal(info["ordermin"]):
            return self._answer(None, "EOrder:Order minimum not met")
        ordertype = params["ordertype"]
        limit = Decimal(params["price"]) if ordertype in ("limit", "iceberg") else None
        if params["type"] == "buy":
            short = volume * (limit or self.market_price) > self._available(info["quote"])
        else:
            short = volume > self._available(info["base"])
        if short:
            return self._answer(None, "EOrder:Insufficient funds")
        txid = f"O{next(self._ids):05d}-FAKE0-KRAKEN"
        status, fills = "open", False
        if ordertype == "market":
            status, fills = "closed", True
        elif params.get("timeinforce") == "IOC" and limit is not None:
            crosses = limit >= self.market_price if params["type"] == "buy" else limit <= self.market_price
            status, fills = ("closed", True) if crosses else ("canceled", False)
        if self.status_next is not None:
            status, self.status_next = self.status_next, None
        self.orders[txid] = {
            "refid": None,
            "userref": int(params["userref"]) if "userref" in params else 0,
            "cl_ord_id": params.get("cl_ord_id"),
            "status": status,
            "reason": None,
            "opentm": self._tick(),
            "closetm": 0,
            "starttm": 0,
            "expiretm": 0,
            "descr": {"pair": info["altname"], "type": params["type"], "ordertype": params["ordertype"],
                      "price": params.get("price", "0"), "price2": params.get("price2", "0"), "leverage": "none",
                      "order": f"{params['type']} {params['volume']} {info['altname']}", "close": ""},
            "vol": params["volume"], "vol_exec": "0.00000000", "cost": "0", "fee": "0", "price": "0",
            "stopprice": "0", "limitprice": "0", "misc": "", "oflags": params.get("oflags", "fciq"),
        }
        order = self.orders[txid]
        if status in ("closed", "canceled"):
            order["closetm"] = self._tick()
        if status == "canceled" and params.get("timeinforce") == "IOC":
            order["reason"] = "Unfilled"
        if fills:
            fill_price = self.market_price  # a crossing IOC limit fills at the better market price
            cost = volume * fill_price
            order.update(vol_exec=params["volume"], price=str(fill_price), cost=str(cost),
                         fee=str((cost * TAKER_FEE).quantize(Decimal("0.00001"))),
                         trades=[f"T{next(self._ids):05d}-FAKE0-TRADE0"])
        fault = self.fail_next.pop(request.path, None)
        if fault:
            return self._answer(None, fault)  # accepted, but the caller cannot know
        delay = self.delay_next.pop(request.path, None)
        if delay:
            # accepted; the answer comes too late (or never, if the server stops first)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
        return self._answer({"descr": {"order": self.orders[txid]["descr"]["order"]}, "txid": [txid]})

    def _matching(self, params: dict[str, str], statuses: set[str]) -> dict[str, Any]:
        out = {}
        for txid, order in self.orders.items():
            if order["status"] not in statuses:
                continue
            if "userref" in params and str(order["userref"]) != params["userref"]:
                continue
            if "cl_ord_id" in params and order["cl_ord_id"] != params["cl_ord_id"]:
                continue
            out[txid] = order
        return out

    async def query_orders(self, request: web.Request) -> web.Response:
        params, error = await self._private(request)
        if error is not None:
            return error
        assert params is not None
        found = {t: self.orders[t] for t in params["txid"].split(",") if t in self.orders}
        return self._answer(found) if found else self._answer(None, "EOrder:Unknown order")

    async def open_orders(self, request: web.Request) -> web.Response:
        params, error = await self._private(request)
        if error is not None:
            return error
        return self._answer({"open": self._matching(params or {}, {"pending", "open"})})

    async def closed_orders(self, request: web.Request) -> web.Response:
        params, error = await self._private(request)
        if error is not None:
            return error
        closed = self._matching(params or {}, {"closed", "canceled", "expired"})
        return self._answer({"closed": closed, "count": len(closed)})

    async def cancel_order(self, request: web.Request) -> web.Response:
        params, error = await self._private(request)
        if error is not None:
            return error
        assert params is not None
        if "cl_ord_id" in params:
            targets = [t for t, o in self.orders.items() if o["cl_ord_id"] == params["cl_ord_id"]]
        elif params.get("txid", "").isdigit():  # a userref cancels every order carrying it
            targets = [t for t, o in self.orders.items() if str(o["userref"]) == params["txid"]]
        else:
            targets = [params["txid"]] if params.get("txid") in self.orders else []
        targets = [t for t in targets if self.orders[t]["status"] in ("pending", "open")]
        if not targets:
            return self._answer(None, "EOrder:Unknown order")
        for txid in targets:
            self.orders[txid].update(status="canceled", closetm=self._tick())
        return self._answer({"count": len(targets), "pending": False})

    async def amend_order(self, request: web.Request) -> web.Response:
        params, error = await self._private(request)
        if error is not None:
            return error
        assert params is not None
        if "cl_ord_id" in params:
            txid = next((t for t, o in self.orders.items() if o["cl_ord_id"] == params["cl_ord_id"]), None)
        else:
            txid = params.get("txid") if params.get("txid") in self.orders else None
        if txid is None or self.orders[txid]["status"] not in ("pending", "open"):
            return self._answer(None, "EOrder:Unknown order")
        order = self.orders[txid]
        if "order_qty" in params:
            order["vol"] = params["order_qty"]
        if "limit_price" in params:
            order["descr"]["price"] = params["limit_price"]
        order["misc"] = "amended"
        return self._answer({"amend_id": f"TAMEND-{txid}"})

    async def balance_ex(self, request: web.Request) -> web.Response:
        _, error = await self._private(request)
        if error is not None:
            return error
        return self._answer({asset: dict(entry) for asset, entry in self.balances.items()})

    async def balance(self, request: web.Request) -> web.Response:
        _, error = await self._private(request)
        if error is not None:
            return error
        return self._answer({asset: entry["balance"] for asset, entry in self.balances.items()})

    async def cancel_all_after(self, request: web.Request) -> web.Response:
        params, error = await self._private(request)
        if error is not None:
            return error
        assert params is not None
        return self._answer({"currentTime": "2023-11-14T22:13:20Z",
                             "triggerTime": "0" if params["timeout"] == "0" else "2023-11-14T22:14:20Z"})

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._bounded])
        app.router.add_get("/0/public/Time", self.time)
        app.router.add_get("/0/public/AssetPairs", self.asset_pairs)
        app.router.add_post("/0/private/AddOrder", self.add_order)
        app.router.add_post("/0/private/QueryOrders", self.query_orders)
        app.router.add_post("/0/private/OpenOrders", self.open_orders)
        app.router.add_post("/0/private/ClosedOrders", self.closed_orders)
        app.router.add_post("/0/private/CancelOrder", self.cancel_order)
        app.router.add_post("/0/private/AmendOrder", self.amend_order)
        app.router.add_post("/0/private/CancelAllOrdersAfter", self.cancel_all_after)
        app.router.add_post("/0/private/Balance", self.balance)
        app.router.add_post("/0/private/BalanceEx", self.balance_ex)
        return app


@asynccontextmanager
async def serve(fake: FakeKraken) -> AsyncIterator[str]:
    """Serve ``fake`` on a free loopback port; yields its base URL."""
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        fake.stopping.set()  # delayed answers end now
        await runner.cleanup()

"""A tiny Kraken spot REST stand-in on 127.0.0.1, for lifecycle tests through the core.

It checks what the real exchange checks and the cassettes cannot: every private call's ``API-Sign``
(reference §2) and that nonces strictly increase per key (``EAPI:Invalid nonce`` otherwise), that
``userref`` and ``cl_ord_id`` are never sent together, and the AssetPairs precision rules. Response shapes
follow reference §5. Faults: ``fail_next[path] = "EService:Unavailable"`` accepts an AddOrder and then
answers that error (the outcome-unknown case).
"""

from __future__ import annotations

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


@attrs.define
class FakeKraken:
    accounts: dict[str, str]  # api key -> secret
    orders: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    nonces: dict[str, int] = attrs.field(factory=dict)
    fail_next: dict[str, str] = attrs.field(factory=dict)
    calls: list[tuple[str, dict[str, str]]] = attrs.field(factory=list)
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
        if Decimal(params["volume"]) < Decimal(info["ordermin"]):
            return self._answer(None, "EOrder:Order minimum not met")
        txid = f"O{next(self._ids):05d}-FAKE0-KRAKEN"
        self.orders[txid] = {
            "refid": None,
            "userref": int(params["userref"]) if "userref" in params else 0,
            "cl_ord_id": params.get("cl_ord_id"),
            "status": "open",
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
        fault = self.fail_next.pop(request.path, None)
        if fault:
            return self._answer(None, fault)  # accepted, but the caller cannot know
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

    async def cancel_all_after(self, request: web.Request) -> web.Response:
        params, error = await self._private(request)
        if error is not None:
            return error
        assert params is not None
        return self._answer({"currentTime": "2023-11-14T22:13:20Z",
                             "triggerTime": "0" if params["timeout"] == "0" else "2023-11-14T22:14:20Z"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/0/public/Time", self.time)
        app.router.add_get("/0/public/AssetPairs", self.asset_pairs)
        app.router.add_post("/0/private/AddOrder", self.add_order)
        app.router.add_post("/0/private/QueryOrders", self.query_orders)
        app.router.add_post("/0/private/OpenOrders", self.open_orders)
        app.router.add_post("/0/private/ClosedOrders", self.closed_orders)
        app.router.add_post("/0/private/CancelOrder", self.cancel_order)
        app.router.add_post("/0/private/AmendOrder", self.amend_order)
        app.router.add_post("/0/private/CancelAllOrdersAfter", self.cancel_all_after)
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
        await runner.cleanup()

"""The control route of a simulated exchange (``/_sim/…``, on the simulator's own loopback port): records,
fault rules, fills on demand, prices, health. JSON in, JSON out."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from terminal5 import jsonutil

if TYPE_CHECKING:
    from terminal5.testing.fake_exchange import FakeExchange


async def control(sim: FakeExchange, request: web.Request, path: str) -> web.StreamResponse:
    """``GET records``, ``GET health``, ``GET|POST|DELETE faults``, ``POST fill``, ``POST price``."""
    method = request.method
    try:
        data = await request.json(loads=jsonutil.loads) if request.can_read_body else {}
        if (method, path) == ("GET", "records"):
            return web.json_response(sim.records(), dumps=jsonutil.dumps)
        if (method, path) == ("GET", "health"):
            return web.json_response({"exchange": sim.name, "requests": sim.request_count,
                                      "uptime_s": round(time.monotonic() - sim.started_at, 3),
                                      "max_seconds": sim.max_seconds})
        if path == "faults":
            if method == "POST":
                for item in data if isinstance(data, list) else [data]:
                    sim.add_fault(item)
            elif method == "DELETE":
                sim.clear_faults()
            return web.json_response([f.to_dict() for f in sim.faults])
        if (method, path) == ("POST", "fill"):
            sim.fill(sim.order_id_from(data["order_id"]), Decimal(str(data["quantity"])),
                      Decimal(str(data["price"])) if data.get("price") is not None
                      else sim.price_of(str(data.get("symbol", ""))))
            return web.json_response({"ok": True})
        if (method, path) == ("POST", "price"):
            sim.prices[str(data["symbol"])] = Decimal(str(data["price"]))
            return web.json_response({"ok": True})
    except (KeyError, ValueError, TypeError, NotImplementedError, json.JSONDecodeError) as exc:
        return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)
    return web.json_response({"error": f"no control route {method} {request.path}"}, status=404)


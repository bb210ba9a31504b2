"""AddOrder answers the txid, never fills: a resting order is completed from the request in one signed call
(Kraken's documented initial status ``pending``); an order decided at once (market, IOC) is read back."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from terminal5.contract import CallContext, Credentials, HttpRequest, HttpResponse, NativeCall, NativeContext
from terminal5.models import OrderStatus, OrderType, Side
from terminal5.plugins import load_hooks
from terminal5_kraken.client import KrakenClient
from terminal5_kraken.plugin import KrakenPlugin

from .data import TEST_KEY, TEST_SECRET

TXID = "OUF4EM-FRGI2-MQMWZD"
HOOKS = load_hooks(plugins=[KrakenPlugin()], load_entry_points=False)
FILLED = {"refid": None, "userref": 1234567, "status": "closed", "opentm": "1688666559.8974", "closetm": "1688666559.9",
          "vol": "1.25", "vol_exec": "1.25", "cost": "34375", "fee": "55", "price": "27500",
          "descr": {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "price": "0", "price2": "0"}}


class RecordingTransport:
    """Answers AddOrder with one txid and QueryOrders with a filled order; records every signed call."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def now_ms(self) -> int:
        return 1_688_666_559_000

    async def send(self, ctx: CallContext, request: HttpRequest) -> HttpResponse:
        path = request.url.rsplit("/", 1)[-1]
        if "/private/" in request.url:  # signed calls (the pair index may be loaded from the public AssetPairs)
            self.paths.append(path)
        if path == "AddOrder":
            result: Any = {"descr": {"order": "buy 1.25 XBTUSD @ limit 27500.0"}, "txid": [TXID]}
        elif path == "QueryOrders":
            result = {TXID: FILLED}
        else:
            result = {}
        return HttpResponse(status=200, headers={}, text="", latency_ms=0.0, data={"error": [], "result": result})


async def place(tmp_path: Path, options: dict[str, Any] | None = None, **params: str) -> tuple[Any, list[str]]:
    transport = RecordingTransport()
    client = KrakenClient(transport)  # type: ignore[arg-type]
    ctx = CallContext(exchange="kraken", base_url="https://api.kraken.com", broker_id=1,
                      credentials=Credentials(api_key=TEST_KEY, api_secret=TEST_SECRET),
                      options={"nonce_dir": str(tmp_path / "nonce"), **(options or {})})
    call = NativeCall(method="POST", path="/0/private/AddOrder", endpoint="order.place", native_client_id=1234567,
                      params={"pair": "XXBTZUSD", "type": "buy", "ordertype": "limit", "volume": "1.25",
                              "price": "27500", "userref": "1234567", **params})
    payload = await client.place_order(ctx, call)
    await client.close()
    return payload, transport.paths


@pytest.mark.parametrize("params", [{}, {"timeinforce": "GTC"}, {"oflags": "post"},
                                    {"ordertype": "stop-loss", "price": "25000"}])
async def test_a_resting_order_takes_one_signed_call(tmp_path: Path, params: dict[str, str]) -> None:
    payload, paths = await place(tmp_path, **params)
    assert paths == ["AddOrder"]
    assert payload["txid"] == TXID and payload["status"] == "pending" and payload["t5_synthetic"] is True
    order = HOOKS.from_native("kraken", payload, NativeContext(exchange="kraken"))
    assert order.id == TXID and order.side is Side.BUY and order.quantity == Decimal("1.25")
    assert order.filled == 0 and order.native_client_id == "1234567"
    # "pending book entry" is Kraken's documented initial state; nothing about fills is guessed
    assert HOOKS.normalize_status("kraken", order.native_status) is OrderStatus.OPEN


@pytest.mark.parametrize("params", [{"ordertype": "market"}, {"timeinforce": "IOC"}])
async def test_an_order_decided_at_once_is_read_back(tmp_path: Path, params: dict[str, str]) -> None:
    payload, paths = await place(tmp_path, **params)
    assert paths == ["AddOrder", "QueryOrders"]
    order = HOOKS.from_native("kraken", payload, NativeContext(exchange="kraken"))
    assert order.filled == Decimal("1.25") and order.type is OrderType.MARKET and "t5_synthetic" not in payload


async def test_read_back_always_reads_a_resting_order_back(tmp_path: Path) -> None:
    payload, paths = await place(tmp_path, {"read_back": "always"})
    assert paths == ["AddOrder", "QueryOrders"] and payload["status"] == "closed"

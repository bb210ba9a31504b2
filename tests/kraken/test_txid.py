"""AddOrder's ``txid`` is a list: nothing may turn a list (or a string, char by char) into an order id."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from terminal5.contract import CallContext, Credentials, HttpRequest, HttpResponse, NativeCall, NativeContext
from terminal5.models import Order, OrderStatus, OrderType, Side
from terminal5.plugins import load_hooks
from terminal5_kraken.client import KrakenClient
from terminal5_kraken.convert import txid_of
from terminal5_kraken.plugin import KrakenPlugin

from .data import TEST_KEY, TEST_SECRET

TXID = "OUF4EM-FRGI2-MQMWZD"
HOOKS = load_hooks(plugins=[KrakenPlugin()], load_entry_points=False)
ORDER = {"refid": None, "userref": 1234567, "status": "open", "opentm": "1688666559.8974", "starttm": "0",
         "expiretm": "0", "vol": "1.25", "vol_exec": "0", "cost": "0", "fee": "0", "price": "0",
         "descr": {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "27500.0", "price2": "0",
                   "leverage": "none", "order": "buy 1.25 XBTUSD @ limit 27500.0", "close": ""},
         "oflags": "fciq"}


def convert(native: dict[str, Any]) -> Order:
    return HOOKS.from_native("kraken", native, NativeContext(exchange="kraken"))


@pytest.mark.parametrize("txid", [[TXID], (TXID,), TXID])
def test_a_one_id_list_is_that_id(txid: Any) -> None:
    assert txid_of(txid) == TXID
    order = convert({**ORDER, "txid": txid})
    assert order.id == TXID and "[" not in order.id


@pytest.mark.parametrize("txid", [[TXID, "OTHER1-AAAAA-BBBBBB"], [], [7], {"id": TXID}, 12345, [[TXID]]])
def test_anything_else_is_refused_not_stringified(txid: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        convert({**ORDER, "txid": txid})


def test_the_order_model_refuses_a_non_string_id() -> None:
    with pytest.raises(TypeError):
        Order(exchange="kraken", symbol="BTC/USD", side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal(1),
              status=OrderStatus.OPEN, id=[TXID])  # type: ignore[arg-type]


class StubTransport:
    """Answers AddOrder with ``txid`` given as the test says, and QueryOrders for that id."""

    def __init__(self, txid_field: Any) -> None:
        self.txid_field = txid_field
        self.queried: list[str] = []

    def now_ms(self) -> int:
        return 1_688_666_559_000

    async def send(self, ctx: CallContext, request: HttpRequest) -> HttpResponse:
        if request.url.endswith("/AssetPairs"):
            result: Any = {}
        elif request.url.endswith("/AddOrder"):
            result = {"descr": {"order": "buy 1.25 XBTUSD @ limit 27500.0"}, "txid": self.txid_field}
        elif request.url.endswith("/QueryOrders"):
            wanted = dict(parse_qsl(request.body or ""))["txid"]
            self.queried.append(wanted)
            result = {wanted: ORDER} if wanted == TXID else {}
        else:
            raise AssertionError(request.url)
        return HttpResponse(status=200, headers={}, text="", latency_ms=0.0, data={"error": [], "result": result})


@pytest.mark.parametrize("txid_field", [[TXID], TXID])
async def test_place_reads_the_one_id_whatever_its_shape(txid_field: Any, tmp_path: Path) -> None:
    transport = StubTransport(txid_field)
    client = KrakenClient(transport)  # type: ignore[arg-type]
    ctx = CallContext(exchange="kraken", base_url="https://api.kraken.com", broker_id=1,
                      credentials=Credentials(api_key=TEST_KEY, api_secret=TEST_SECRET),
                      options={"nonce_dir": str(tmp_path / "nonce"), "read_back": "always"})
    call = NativeCall(method="POST", path="/0/private/AddOrder", endpoint="order.place", native_client_id=1234567,
                      params={"pair": "XXBTZUSD", "type": "buy", "ordertype": "limit", "volume": "1.25",
                              "price": "27500", "userref": "1234567"})
    payload = await client.place_order(ctx, call)
    assert transport.queried == [TXID]  # never "O" (list of a string's chars) nor "['OUF4…']"
    assert payload["txid"] == TXID and convert(dict(payload)).id == TXID
    await client.close()

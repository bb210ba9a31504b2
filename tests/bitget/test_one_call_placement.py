"""Bitget's place answer holds only ``orderId``/``clientOid``: a resting order (limit GTC, post-only, plan) is
completed from the request at Bitget's documented initial status in one signed call (broker option
``read_back = immediate``, the default); an order decided at once (market, IOC, FOK) is still read back, and
``read_back = always`` reads every order back. Counted on what reached the shipped simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from terminal5.contract import CallContext, Credentials, HttpResponse, NativeCall
from terminal5.models import OrderStatus, OrderType, Side
from terminal5_bitget import constants, plugin
from terminal5_bitget.client import BitgetClient
from terminal5_bitget.simulator import BitgetSimulator

GOOD = ("one-key", "one-secret", "one-pass")
#: every order call (place, read back, lookups); market loads and the clock are public and not counted
ORDER_PATHS = frozenset({
    constants.Spot.place, constants.Spot.order_info, constants.Spot.place_plan, constants.Spot.current_plan,
    constants.Spot.history_plan, constants.Spot.unfilled, constants.Spot.history,
    constants.Mix.place, constants.Mix.detail, constants.Mix.place_plan, constants.Mix.pending_plan,
    constants.Mix.history_plan, constants.Mix.pending, constants.Mix.history,
})


@pytest.fixture
async def sim() -> AsyncIterator[BitgetSimulator]:
    async with BitgetSimulator([GOOD], n_spot=50, n_usdt=20) as sim:
        yield sim


@pytest.fixture
async def gateway(t5_gateway: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TERMINAL5_BITGET_CACHE_DIR", str(tmp_path / "cache"))
    return await t5_gateway(plugin, http_timeout=1.5)


async def _broker(gateway: Any, sim: BitgetSimulator, **options: str) -> Any:
    return await gateway.add_broker(user_id=1, exchange="bitget", label=f"one-{len(options)}", api_key=GOOD[0],
                                    api_secret=GOOD[1], api_password=GOOD[2], base_url=sim.url, options=options)


def _order(broker: Any, **fields: Any) -> dict[str, Any]:
    base = {"symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": "0.001", "price": "42000.5",
            "user_id": broker.user_id, "broker_id": broker.id}
    base.update(fields)
    return base


async def _place(gateway: Any, sim: BitgetSimulator, broker: Any, **fields: Any) -> tuple[Any, list[str]]:
    before = len(sim.state.requests)
    order = await gateway.place_order(_order(broker, **fields))
    return order, [path for _, path, _ in sim.state.requests[before:] if path in ORDER_PATHS]


async def test_a_resting_spot_limit_order_is_one_signed_call(gateway: Any, sim: BitgetSimulator) -> None:
    broker = await _broker(gateway, sim)
    order, calls = await _place(gateway, sim, broker, client_order_id="one-limit")
    assert calls == [constants.Spot.place]
    assert order.status is OrderStatus.OPEN and order.native_status == constants.INITIAL_STATUS_SPOT == "init"
    assert (order.side, order.type, order.quantity, order.price) == (Side.BUY, OrderType.LIMIT, Decimal("0.001"),
                                                                     Decimal("42000.5"))
    assert order.filled == 0 and order.remaining == Decimal("0.001")
    assert order.client_order_id == "one-limit" and order.native_client_id == "one-limit"
    (placed,) = sim.state.placed("one-limit")
    assert (placed["price"], placed["size"], placed["force"]) == ("42000.5", "0.001", "gtc")
    assert order.id is not None and order.id.isdigit()  # Bitget's orderId from the place answer
    assert order.raw[constants.SYNTHETIC_MARK] is True and constants.COMPLETED_MARK not in order.raw
    stored = await gateway.get_order(broker_id=broker.id, client_order_id="one-limit")
    assert stored.status is OrderStatus.OPEN and stored.id == order.id and stored.quantity == Decimal("0.001")
    assert stored.price == Decimal("42000.5") and stored.side is Side.BUY
    # the first lookup brings Bitget's own view (and fills): the synthetic mark goes
    fetched = await gateway.fetch_order(broker_id=broker.id, client_order_id="one-limit")
    assert fetched.native_status == "live" and constants.SYNTHETIC_MARK not in fetched.raw
    assert fetched.id == order.id


async def test_fills_of_a_resting_order_come_with_the_first_lookup(gateway: Any, sim: BitgetSimulator) -> None:
    broker = await _broker(gateway, sim)
    order, calls = await _place(gateway, sim, broker, client_order_id="one-fill")
    assert calls == [constants.Spot.place] and order.filled == 0
    sim.state.fill_spot(sim.state.accounts[GOOD[0]], order.id, Decimal("0.0004"), Decimal("42000.5"))
    await gateway.reconcile(broker.id)
    stored = await gateway.get_order(broker_id=broker.id, client_order_id="one-fill")
    assert stored.native_status == "partially_filled" and stored.filled == Decimal("0.0004")
    assert stored.status is OrderStatus.OPEN and constants.SYNTHETIC_MARK not in stored.raw


async def test_post_only_and_plan_orders_rest_one_call_each(gateway: Any, sim: BitgetSimulator) -> None:
    broker = await _broker(gateway, sim)
    maker, calls = await _place(gateway, sim, broker, type="limit_maker", client_order_id="one-pm")
    assert calls == [constants.Spot.place] and maker.type is OrderType.LIMIT_MAKER
    assert maker.status is OrderStatus.OPEN and maker.raw[constants.SYNTHETIC_MARK] is True
    stop, calls = await _place(gateway, sim, broker, side="sell", type="stop_loss", price=None, stop_price="40000",
                               client_order_id="one-sl")
    assert calls == [constants.Spot.place_plan]
    assert stop.id is not None and stop.id.startswith(constants.PLAN_PREFIX) and stop.type is OrderType.STOP_LOSS
    assert stop.status is OrderStatus.OPEN and stop.native_status == constants.INITIAL_STATUS_PLAN
    assert stop.stop_price == Decimal("40000") and stop.quantity == Decimal("0.001")


@pytest.mark.parametrize(("fields", "status"), [
    ({"side": "sell", "type": "market", "price": None}, OrderStatus.CLOSED),
    ({"time_in_force": "IOC"}, OrderStatus.CANCELLED),
    ({"time_in_force": "FOK"}, OrderStatus.CANCELLED),
])
async def test_orders_decided_at_once_are_read_back(gateway: Any, sim: BitgetSimulator, fields: dict[str, Any],
                                                    status: OrderStatus) -> None:
    broker = await _broker(gateway, sim)
    order, calls = await _place(gateway, sim, broker, client_order_id="one-now", **fields)
    assert calls == [constants.Spot.place, constants.Spot.order_info]
    assert order.status is status and constants.SYNTHETIC_MARK not in order.raw


async def test_read_back_always_reads_every_order_back(gateway: Any, sim: BitgetSimulator) -> None:
    broker = await _broker(gateway, sim, read_back="always")
    order, calls = await _place(gateway, sim, broker, client_order_id="one-always")
    assert calls == [constants.Spot.place, constants.Spot.order_info]
    assert order.status is OrderStatus.OPEN and order.native_status == "live"
    assert constants.SYNTHETIC_MARK not in order.raw and order.quantity == Decimal("0.001")


async def test_mix_resting_order_is_one_call_market_two(gateway: Any, sim: BitgetSimulator) -> None:
    broker = await _broker(gateway, sim)
    limit, calls = await _place(gateway, sim, broker, symbol="BTC/USDT:USDT", quantity="0.005", price="42000.5",
                                client_order_id="one-mix")
    assert calls == [constants.Mix.place]
    assert limit.status is OrderStatus.OPEN and limit.native_status == constants.INITIAL_STATUS_MIX == "live"
    assert (limit.side, limit.quantity, limit.price) == (Side.BUY, Decimal("0.005"), Decimal("42000.5"))
    assert limit.raw[constants.SYNTHETIC_MARK] is True and limit.native_client_id == "one-mix"
    market, calls = await _place(gateway, sim, broker, symbol="BTC/USDT:USDT", quantity="0.005", type="market",
                                 price=None, client_order_id="one-mix-m")
    assert calls == [constants.Mix.place, constants.Mix.detail]
    assert market.status is OrderStatus.CLOSED and market.filled == Decimal("0.005")


class _Transport:
    """Answers the place call with ``place_answer`` and orderInfo with a live order; records every path."""

    def __init__(self, place_answer: dict[str, Any]) -> None:
        self.place_answer = place_answer
        self.paths: list[str] = []

    def now_ms(self) -> int:
        return 1_695_806_875_837

    async def send(self, ctx: Any, request: Any) -> Any:
        path = request.url.split("?")[0].removeprefix(constants.BASE_URL)
        self.paths.append(path)
        data: Any = self.place_answer if path == constants.Spot.place else [
            {"orderId": "1001", "clientOid": "t5-x", "symbol": "BTCUSDT", "side": "buy", "orderType": "limit",
             "price": "30000", "size": "0.01", "status": "live", "baseVolume": "0"}]
        return HttpResponse(status=200, headers={}, text="", latency_ms=0.0,
                            data={"code": "00000", "msg": "success", "data": data})


async def _client_place(answer: dict[str, Any], options: dict[str, str] | None = None,
                        **default: str) -> tuple[Any, list[str]]:
    transport = _Transport(answer)
    client = BitgetClient(transport, use_disk_cache=False, **default)  # type: ignore[arg-type]
    ctx = CallContext(exchange="bitget", base_url=constants.BASE_URL, broker_id=1, options=options or {},
                      credentials=Credentials(api_key="k", api_secret="s", api_password="p"))
    params = {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "gtc", "price": "30000",
              "size": "0.01", "clientOid": "t5-x"}
    call = NativeCall(method="POST", path=constants.Spot.place, params=params, endpoint="spot.order.place",
                      native_client_id="t5-x")
    return await client.place_order(ctx, call), transport.paths


async def test_client_one_call_unless_told_or_without_an_order_id() -> None:
    payload, paths = await _client_place({"orderId": "1001", "clientOid": "t5-x"})
    assert paths == [constants.Spot.place] and payload["status"] == "init" and payload["orderId"] == "1001"
    assert payload[constants.SYNTHETIC_MARK] is True and payload["size"] == "0.01" and payload["price"] == "30000"
    # the broker option, then the client's default for brokers without it
    payload, paths = await _client_place({"orderId": "1001", "clientOid": "t5-x"}, {"read_back": "always"})
    assert paths == [constants.Spot.place, constants.Spot.order_info] and payload["status"] == "live"
    _, paths = await _client_place({"orderId": "1001", "clientOid": "t5-x"}, read_back="always")
    assert paths == [constants.Spot.place, constants.Spot.order_info]
    # an answer without Bitget's id: the read-back by clientOid is what finds it
    payload, paths = await _client_place({"clientOid": "t5-x"})
    assert paths == [constants.Spot.place, constants.Spot.order_info] and payload["orderId"] == "1001"

"""Order lifecycles through the gateway against the simulator, beyond the checklist: a duplicate clientOid
adopted by lookup, reconciliation of orders placed elsewhere (spot, mix, plan), an order completed from the
request and later read for real, and an expired timestamp resynced and retried once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from terminal5.models import OrderStatus, OrderType
from terminal5_bitget import constants, plugin
from terminal5_bitget.simulator import BitgetSimulator

GOOD = ("life-key", "life-secret", "life-pass")


@pytest.fixture
async def sim() -> AsyncIterator[BitgetSimulator]:
    async with BitgetSimulator([GOOD], n_spot=50, n_usdt=20) as sim:
        yield sim


@pytest.fixture
async def world(t5_gateway: Any, sim: BitgetSimulator, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    monkeypatch.setenv("TERMINAL5_BITGET_CACHE_DIR", str(tmp_path / "cache"))
    gateway = await t5_gateway(plugin, http_timeout=0.5)
    broker = await gateway.add_broker(user_id=1, exchange="bitget", label="life", api_key=GOOD[0], api_secret=GOOD[1],
                                      api_password=GOOD[2], base_url=sim.url)
    return gateway, broker


def order(broker: Any, **fields: Any) -> dict[str, Any]:
    base = {"symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": "0.001", "price": "42000",
            "user_id": broker.user_id, "broker_id": broker.id}
    base.update(fields)
    return base


async def test_duplicate_client_oid_is_adopted_when_it_is_the_same_order(world: tuple[Any, Any],
                                                                        sim: BitgetSimulator) -> None:
    gateway, broker = world
    account = sim.state.accounts[GOOD[0]]
    # an earlier send reached Bitget, but its intent was never stored here (e.g. another process)
    sim.state.spot_place(account, {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "gtc",
                                   "price": "42000", "size": "0.001", "clientOid": "adopt-1"}, constants.Spot.place)
    adopted = await gateway.place_order(order(broker, client_order_id="adopt-1"))
    assert adopted.status is OrderStatus.OPEN and adopted.id is not None
    assert len(sim.state.placed("adopt-1")) == 1 and sim.state.rejections[-1] == (constants.Spot.place, "43118")


async def test_reconciliation_finds_orders_placed_elsewhere(world: tuple[Any, Any], sim: BitgetSimulator) -> None:
    gateway, broker = world
    account = sim.state.accounts[GOOD[0]]
    st = sim.state
    st.spot_place(account, {"symbol": "BTCUSDT", "side": "sell", "orderType": "limit", "force": "gtc",
                            "price": "45000", "size": "0.002", "clientOid": "web-1"}, constants.Spot.place)
    st.mix_place(account, {"symbol": "BTCUSDT", "productType": "USDT-FUTURES", "marginMode": "crossed",
                           "marginCoin": "USDT", "size": "0.01", "price": "40000.5", "side": "buy", "orderType": "limit",
                           "force": "gtc", "clientOid": "web-2"}, constants.Mix.place)
    st.mix_plan_place(account, {"planType": "normal_plan", "symbol": "BTCUSDT", "productType": "USDT-FUTURES",
                                "marginMode": "crossed", "marginCoin": "USDT", "size": "0.01", "triggerPrice": "39000",
                                "side": "sell", "orderType": "market", "clientOid": "web-3"}, constants.Mix.place_plan)
    found = await gateway.reconcile(broker.id)
    assert found["external"] == 3
    stored = {o.native_client_id: o for o in await gateway.list_orders(broker_id=broker.id)}
    assert stored["web-1"].symbol == "BTC/USDT" and stored["web-1"].quantity == Decimal("0.002")
    assert stored["web-2"].symbol == "BTC/USDT:USDT" and stored["web-2"].native_status == "live"
    assert stored["web-3"].id.startswith("plan:") and stored["web-3"].type is OrderType.STOP_LOSS
    assert all(o.status is OrderStatus.OPEN for o in stored.values())


async def test_completed_order_is_replaced_by_the_real_one_on_reconciliation(world: tuple[Any, Any],
                                                                           sim: BitgetSimulator) -> None:
    gateway, broker = world
    gateway.pool.client_for("bitget").client.read_back = "always"  # a resting order is read back only when asked
    sim.add_fault({"endpoint": "spot.order.fetch", "kind": "error", "status": 500})
    placed = await gateway.place_order(order(broker, client_order_id="half-1"))
    assert placed.native_status == "init" and placed.raw[constants.COMPLETED_MARK]
    sim.state.fill_spot(sim.state.accounts[GOOD[0]], placed.id, Decimal("0.0005"), Decimal(42000))
    await gateway.reconcile(broker.id)
    stored = await gateway.get_order(broker_id=broker.id, client_order_id="half-1")
    assert stored.native_status == "partially_filled" and stored.filled == Decimal("0.0005")
    assert constants.COMPLETED_MARK not in stored.raw


async def test_expired_timestamp_is_resynced_and_the_order_sent_once_more(world: tuple[Any, Any],
                                                                          sim: BitgetSimulator) -> None:
    gateway, broker = world
    await gateway.fetch_balances(broker_id=broker.id)  # markets and a first signed call
    sim.expire_timestamp_once = True
    placed = await gateway.place_order(order(broker, client_order_id="skew-1"))
    assert placed.status is OrderStatus.OPEN and len(sim.state.placed("skew-1")) == 1
    assert sim.state.rejections[-1] == (constants.Spot.place, "40008")
    assert ("GET", constants.SERVER_TIME, False) in sim.state.requests


async def test_spot_plan_orders_are_listed_per_symbol(world: tuple[Any, Any], sim: BitgetSimulator) -> None:
    gateway, broker = world
    await gateway.place_order(order(broker, client_order_id="plan-a", type="stop_loss", side="sell", price=None,
                                    stop_price="40000"))
    await gateway.place_order(order(broker, client_order_id="limit-a"))
    before = len(sim.state.requests)
    everything = await gateway.fetch_open_orders(broker_id=broker.id)
    assert {o.client_order_id for o in everything} == {"limit-a"}  # spot plans need a symbol (constants)
    asked = [path for _, path, _ in sim.state.requests[before:]]
    assert constants.Spot.unfilled in asked and constants.Spot.current_plan not in asked
    spot = await gateway.fetch_open_orders(broker_id=broker.id, symbol="BTC/USDT")
    assert {o.client_order_id for o in spot} == {"plan-a", "limit-a"}


async def test_usdc_and_coin_margined_contracts_use_the_same_code(world: tuple[Any, Any],
                                                                  sim: BitgetSimulator) -> None:
    gateway, broker = world
    usdc = await gateway.place_order(order(broker, symbol="BTC/USDC:USDC", quantity="0.01", price="42000.5",
                                           client_order_id="usdc-1"))
    coin = await gateway.place_order(order(broker, symbol="BTC/USD:BTC", type="market", price=None, quantity="0.01",
                                           client_order_id="coin-1"))
    (sent_usdc,), (sent_coin,) = sim.state.placed("usdc-1"), sim.state.placed("coin-1")
    assert (sent_usdc["symbol"], sent_usdc["productType"], sent_usdc["marginCoin"]) == ("BTCPERP", "USDC-FUTURES",
                                                                                        "USDC")
    assert (sent_coin["symbol"], sent_coin["productType"], sent_coin["marginCoin"]) == ("BTCUSD", "COIN-FUTURES", "BTC")
    assert usdc.status is OrderStatus.OPEN and usdc.symbol == "BTC/USDC:USDC"
    assert coin.status is OrderStatus.CLOSED and coin.fee_currency == "BTC"
    positions = {p.symbol: p for p in await gateway.fetch_positions(broker_id=broker.id)}
    assert positions["BTC/USD:BTC"].contracts == Decimal("0.01")

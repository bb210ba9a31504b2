"""Full lifecycle per market type through the core pipeline (terminal5.gateway.Gateway) against a
the shipped Binance simulator (terminal5_binance.simulator): place -> partial fill -> query -> cancel, checking the unified order
and both stored forms (typed columns and the raw native payload)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.fernet import Fernet

from terminal5.gateway import Gateway
from terminal5.models import OrderStatus, OrderType, PositionSide
from terminal5.plugins import load_hooks
from terminal5_binance import plugin
from terminal5_binance.constants import SIGNING_PARAMS
from terminal5_binance.simulator import BinanceSimulator

KEY, SECRET = "lifecycle-key", "lifecycle-secret"


@pytest_asyncio.fixture
async def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Gateway, Any, BinanceSimulator]]:
    monkeypatch.setenv("TERMINAL5_BINANCE_CACHE_DIR", str(tmp_path / "binance-cache"))
    async with BinanceSimulator({KEY: SECRET}) as fake:
        gw = await Gateway.open(
            database_url=f"sqlite:///{tmp_path}/t5.db",
            hooks=load_hooks(plugins=[plugin], load_entry_points=False),
            master_key=Fernet.generate_key().decode(),
            data_dir=tmp_path / "data",
            lookup_delays=(0,),
        )
        try:
            broker = await gw.add_broker(user_id=1, exchange="binance", label="a", api_key=KEY, api_secret=SECRET,
                                         base_url=fake.url)
            yield gw, broker, fake
        finally:
            await gw.close()


async def _row(gw: Gateway, broker_id: int, cid: str) -> Any:
    return await gw.storage.run(gw.orders.find, broker_id, cid)


@pytest.mark.asyncio
async def test_spot_lifecycle(setup: tuple[Gateway, Any, BinanceSimulator]) -> None:
    gw, broker, fake = setup
    order = await gw.place_order({
        "user_id": 1, "broker_id": broker.id, "symbol": "BTC/USDT", "side": "buy", "type": "limit",
        "quantity": "0.01000", "price": "30000.00", "client_order_id": "spot-life-1",
        "stop_loss_price": "28000",  # Level 2 not supported on spot: reported, not sent
    })
    assert order.status is OrderStatus.OPEN and order.native_status == "NEW" and order.id is not None
    assert order.ignored_params == ("stop_loss_price",)
    placed = fake.orders[int(order.id)]
    assert (placed["origQty"], placed["price"]) == ("0.01", "30000")  # formatted to step/tick, no exponent

    fake.fill(int(order.id), "0.004", "30000", fee="0.000004", fee_asset="BTC")
    fetched = await gw.fetch_order(user_id=1, broker_id=broker.id, client_order_id="spot-life-1")
    assert fetched.status is OrderStatus.OPEN and fetched.native_status == "PARTIALLY_FILLED"
    assert fetched.filled == Decimal("0.004") and fetched.remaining == Decimal("0.006")
    assert fetched.average == Decimal("30000")

    cancelled = await gw.cancel_order(user_id=1, broker_id=broker.id, client_order_id="spot-life-1")
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.filled == Decimal("0.004")
    row = await _row(gw, broker.id, "spot-life-1")
    assert row.status == "cancelled" and row.native_status == "CANCELED" and row.filled == Decimal("0.004")
    assert row.raw_response["status"] == "CANCELED" and row.raw_response["origClientOrderId"] == "spot-life-1"
    assert row.native_client_id == "spot-life-1" and row.exchange_order_id == order.id


@pytest.mark.asyncio
async def test_long_client_id_is_mapped_and_reversed(setup: tuple[Gateway, Any, BinanceSimulator]) -> None:
    gw, broker, fake = setup
    cid = "strategy:grid/btc.usdt." + "x" * 30
    order = await gw.place_order({"user_id": 1, "broker_id": broker.id, "symbol": "BTC/USDT", "side": "buy",
                                  "type": "limit", "quantity": "0.01", "price": "30000", "client_order_id": cid})
    native = fake.orders[int(order.id)]["clientOrderId"]
    assert len(native) <= 36 and native != cid and order.client_order_id == cid
    fetched = await gw.fetch_order(user_id=1, broker_id=broker.id, client_order_id=cid)
    assert fetched.client_order_id == cid and fetched.native_client_id == native


@pytest.mark.asyncio
async def test_futures_lifecycle_hedge_margin_and_attached_stop(setup: tuple[Gateway, Any, BinanceSimulator]) -> None:
    gw, broker, fake = setup
    order = await gw.place_order({
        "user_id": 1, "broker_id": broker.id, "symbol": "BTC/USDT:USDT", "side": "buy", "type": "limit",
        "quantity": "0.010", "price": "30000", "client_order_id": "fut-life-1", "position_side": "LONG",
        "margin_mode": "isolated", "stop_loss_price": "28000", "take_profit_price": "32000",
    })
    assert order.status is OrderStatus.OPEN and order.position_side is PositionSide.LONG
    (margin_call,) = fake.margin_calls
    assert {k: v for k, v in margin_call.items() if k not in SIGNING_PARAMS} == {
        "symbol": "BTCUSDT", "marginType": "ISOLATED"}
    # Level 2: separate conditional orders on the algo endpoint, linked to the parent
    children = {a["clientAlgoId"]: a for a in fake.algos.values()}
    assert set(children) == {"fut-life-1-sl", "fut-life-1-tp"}
    assert children["fut-life-1-sl"]["orderType"] == "STOP_MARKET" and children["fut-life-1-sl"]["side"] == "SELL"
    sl_row = await _row(gw, broker.id, "fut-life-1-sl")
    assert sl_row.parent_client_order_id == "fut-life-1" and sl_row.exchange_order_id.startswith("algo:")
    assert sl_row.status == "open" and sl_row.type == OrderType.STOP_LOSS.value

    fake.fill(int(order.id), "0.004", "30000")
    fetched = await gw.fetch_order(user_id=1, broker_id=broker.id, client_order_id="fut-life-1")
    assert fetched.native_status == "PARTIALLY_FILLED" and fetched.average == Decimal("30000")
    assert fetched.filled == Decimal("0.004")

    cancelled = await gw.cancel_order(user_id=1, broker_id=broker.id, client_order_id="fut-life-1")
    assert cancelled.status is OrderStatus.CANCELLED
    row = await _row(gw, broker.id, "fut-life-1")
    assert row.status == "cancelled" and row.raw_response["positionSide"] == "LONG"

    # the conditional child is cancelled through the algo endpoint, by its "algo:" id
    child = await gw.cancel_order(user_id=1, broker_id=broker.id, client_order_id="fut-life-1-sl")
    assert child.status is OrderStatus.CANCELLED and child.native_status == "CANCELED"

    # a second isolated order on the same symbol does not call marginType again (cached)
    await gw.place_order({"user_id": 1, "broker_id": broker.id, "symbol": "BTC/USDT:USDT", "side": "buy",
                          "type": "limit", "quantity": "0.01", "price": "30000", "client_order_id": "fut-life-2",
                          "position_side": "LONG", "margin_mode": "isolated"})
    assert len(fake.margin_calls) == 1


@pytest.mark.asyncio
async def test_broker_test_reports_the_futures_position_mode(setup: tuple[Gateway, Any, BinanceSimulator]) -> None:
    """`broker test` (the daemon) shows a hedge/one-way mismatch before the first order."""
    from terminal5.daemon.api import test_broker as broker_test

    gw, broker, fake = setup
    report = await broker_test(gw, broker)
    assert report["ok"] and report["market_types"]["swap"]["position_mode"] == "one_way", report
    fake.hedge_mode = True
    report = await broker_test(gw, broker)
    assert report["market_types"]["swap"]["position_mode"] == "hedge"
    assert report["market_types"]["swap"]["margin_mode"] == "per symbol (no open position)"
    assert ("GET", "/fapi/v1/positionSide/dual") in fake.requests

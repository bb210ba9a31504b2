"""Reconciliation against the loopback exchange, and the stored-order format validator."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from terminal5.daemon.reconcile import validate_row
from terminal5.storage.fields import now

from .conftest import World, order_body


def external_order(world: World, oid: str, client_id: str, key: str = "key-user-one") -> None:
    """An order created directly on the exchange (a phone app, another bot)."""
    ms = int(time.time() * 1000)
    world.exchange.orders[oid] = {
        "orderId": oid, "clientId": client_id, "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
        "origQty": "0.002", "price": "51000", "stopPrice": None, "executedQty": "0", "avgPrice": None, "fee": "0",
        "feeAsset": "USDT", "status": "NEW", "time": ms, "updateTime": ms, "visibleAfter": 0,
    }
    world.exchange.owner[oid] = key


async def place(world: World, cid: str) -> dict:
    resp = await world.client.post("/v1/orders", json=order_body(world.brokers["one"], cid), headers=world.auth("user1"))
    assert resp.status == 200
    return await resp.json()


async def test_external_orders_are_inserted_with_raw_payload(world: World) -> None:
    external_order(world, "9001", "phone-app-1")
    external_order(world, "9002", "other-account", key="key-user-two")
    result = await world.daemon.reconciler.reconcile_broker(world.brokers["one"])
    assert result["external"] == 1 and result["format_problems"] == 0
    orders = await world.daemon.gw.list_orders(broker_id=world.brokers["one"])
    [ext] = orders
    assert ext.source.value == "external" and ext.id == "9001" and ext.raw["clientId"] == "phone-app-1"
    assert ext.client_order_id == "EXT_9001" and ext.user_id == 1 and ext.quantity == Decimal("0.002")
    again = await world.daemon.reconciler.reconcile_broker(world.brokers["one"])
    assert again["external"] == 0  # inserted once
    two = await world.daemon.reconciler.reconcile_broker(world.brokers["two"])
    assert two["external"] == 1  # each account's order lands on its own broker


async def test_orders_closed_on_the_exchange_are_updated(world: World) -> None:
    filled = await place(world, "rc-fill")
    cancelled = await place(world, "rc-cancel")
    still_open = await place(world, "rc-open")
    world.exchange.fill(filled["id"], Decimal("0.001"), Decimal("43000.10"))
    world.exchange.orders[cancelled["id"]]["status"] = "CANCELED"
    world.exchange.fill(still_open["id"], Decimal("0.0004"))
    result = await world.daemon.reconciler.reconcile_broker(world.brokers["one"])
    assert result["updated"] >= 2 and result["external"] == 0
    gw = world.daemon.gw
    b = world.brokers["one"]
    assert (await gw.get_order(broker_id=b, client_order_id="rc-fill")).status.value == "closed"
    assert (await gw.get_order(broker_id=b, client_order_id="rc-fill")).filled == Decimal("0.001")
    assert (await gw.get_order(broker_id=b, client_order_id="rc-cancel")).status.value == "cancelled"
    partial = await gw.get_order(broker_id=b, client_order_id="rc-open")
    assert partial.status.value == "open" and partial.filled == Decimal("0.0004")
    # no order stays open in the database after it closed on the exchange
    open_ids = {o.client_order_id for o in await gw.list_orders(broker_id=b, status="open")}
    assert open_ids == {"rc-open"}
    metrics = world.daemon.metrics.render().decode()
    assert 'terminal5_reconcile_findings_total{exchange="loopback",kind="updated"}' in metrics


async def test_format_validator_reports_logs_counts_and_alerts(world: World) -> None:
    await place(world, "good-1")
    gw = world.daemon.gw
    m = gw.storage.m

    def bad_rows() -> None:
        common = {"user_id": 1, "broker_id": world.brokers["one"], "exchange": "loopback", "symbol": "BTC/USDT",
                  "market_type": "spot", "side": "buy", "type": "limit", "quantity": Decimal("0.001"),
                  "created_at": now(), "updated_at": now()}
        m.OrderRow.create(**common, source="manual", status="weird", client_order_id="bad-status",
                          raw_response={"x": 1})
        m.OrderRow.create(**common, source="manual", status="closed", client_order_id="no-raw", raw_response=None)

    await gw.storage.run(bad_rows)
    findings = await world.daemon.reconciler.validate(world.brokers["one"])
    problems = {f["client_order_id"]: f["problems"] for f in findings}
    assert set(problems) == {"bad-status", "no-raw"}
    assert any("vocabulary" in p for p in problems["bad-status"])
    assert problems["no-raw"] == ["raw_response missing"]
    before = len(gw.alerts.sent)
    await world.daemon.reconciler.reconcile_all()
    assert any(a.kind == "format_validator" for a in gw.alerts.sent[before:])
    assert 'terminal5_format_problems_total{exchange="loopback"} 2.0' in world.daemon.metrics.render().decode()


def test_validate_row_required_fields() -> None:
    class Row:
        user_id = None
        broker_id = 1
        source = "manual"
        symbol = "BTC/USDT"
        side = "buy"
        type = "limit"
        status = "UNKNOWN"
        native_status = "HALTED"
        client_order_id = "x"
        raw_response = {"a": 1}
        quantity = Decimal("1")
        filled = Decimal("2")

    problems = validate_row(Row())
    assert "missing user_id" in problems
    assert any("HALTED" in p for p in problems)
    assert any("exceeds quantity" in p for p in problems)


async def test_loop_runs_on_start_and_survives_a_failing_broker(world: World) -> None:
    external_order(world, "9100", "ext-loop")
    await world.daemon.gw.add_broker(user_id=3, exchange="loopback", label="bad", api_key="nobody",
                                     api_secret="x", base_url=world.exchange.url)
    stop = asyncio.Event()
    await asyncio.wait_for(world.daemon.reconciler.run_forever(stop, max_runs=1), 10)
    results = list(world.daemon.reconciler.last.values())
    assert any(r.get("external") == 1 for r in results)
    assert world.daemon.reconciler.runs == 1

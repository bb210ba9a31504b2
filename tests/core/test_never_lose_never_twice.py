"""Idempotency on the client order id, intent before sending, lookup before any retry."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
import terminal5_template.plugin as loopback

from terminal5.errors import DuplicateOrder, InsufficientFunds, RateLimitExceeded
from terminal5.gateway import Gateway
from terminal5.models import OrderStatus
from terminal5.testing.loopback_server import Fault


async def test_same_request_twice_reaches_the_exchange_once(env: Any) -> None:
    first = await env.gateway.place_order(env.order(client_order_id="idem-1"))
    second = await env.gateway.place_order(env.order(client_order_id="idem-1"))
    assert env.exchange.placements("idem-1") == 1 and env.exchange.attempts["idem-1"] == 1
    assert second.id == first.id and second.status == first.status
    assert second.raw == first.raw


async def test_concurrent_duplicates_reach_the_exchange_once(env: Any) -> None:
    results = await asyncio.gather(*(env.gateway.place_order(env.order(client_order_id="idem-2")) for _ in range(20)))
    assert env.exchange.placements("idem-2") == 1 and env.exchange.attempts["idem-2"] == 1
    assert len({r.id for r in results}) == 1


async def test_a_different_request_reusing_a_client_id_is_a_conflict(env: Any) -> None:
    await env.gateway.place_order(env.order(client_order_id="idem-3"))
    with pytest.raises(DuplicateOrder) as raised:
        await env.gateway.place_order(env.order(client_order_id="idem-3", price="42000"))
    assert raised.value.field == "client_order_id"
    assert env.exchange.placements("idem-3") == 1 and env.exchange.attempts["idem-3"] == 1


async def test_generated_client_ids_fit_the_exchange(env: Any) -> None:
    order = await env.gateway.place_order(env.order())
    assert order.client_order_id and order.client_order_id.startswith("T5_")
    assert env.exchange.placements(order.native_client_id) == 1 and env.exchange.attempts[order.native_client_id] == 1


async def test_intent_is_stored_before_the_native_call(env: Any) -> None:
    seen: list[str] = []
    original = env.exchange._place

    def spy(key: str, body: dict[str, Any], fault: Any) -> Any:
        row = env.gateway.storage.run_sync(env.gateway.orders.find, env.broker.id, body["clientId"])
        seen.append(row.status if row else "absent")
        return original(key, body, fault)

    env.exchange._place = spy
    await env.gateway.place_order(env.order(client_order_id="intent-1"))
    assert seen == ["pending_submit"]


@pytest.mark.parametrize("fault", ["timeout_after_accept", "error_after_accept", "drop_after_accept"])
async def test_unknown_outcome_is_looked_up_not_resent(env: Any, fault: str) -> None:
    env.exchange.inject(Fault(kind=fault, delay=3.0, status=503))
    order = await env.gateway.place_order(env.order(client_order_id=f"lost-{fault}"))
    assert env.exchange.placements(f"lost-{fault}") == 1 and env.exchange.attempts[f"lost-{fault}"] == 1
    assert order.status is OrderStatus.OPEN and order.id is not None
    stored = await env.gateway.get_order(broker_id=env.broker.id, client_order_id=f"lost-{fault}")
    assert stored.status is OrderStatus.OPEN and stored.raw


async def test_order_still_missing_stays_pending_and_visible(env: Any) -> None:
    env.exchange.hidden_for = 30.0  # the exchange reports a fresh order as missing for a while
    env.exchange.inject(Fault(kind="timeout_after_accept", delay=3.0))
    order = await env.gateway.place_order(env.order(client_order_id="hidden-1"))
    assert order.status is OrderStatus.PENDING_SUBMIT  # never marked failed by guess
    rows = await env.gateway.storage.run(lambda: env.gateway.orders.find(env.broker.id, "hidden-1"))
    assert rows.outcome_unknown
    # a replay does not resend either
    again = await env.gateway.place_order(env.order(client_order_id="hidden-1"))
    assert again.status is OrderStatus.PENDING_SUBMIT
    assert env.exchange.placements("hidden-1") == 1 and env.exchange.attempts["hidden-1"] == 1
    # once the exchange shows it, reconciliation resolves it
    env.exchange.orders[next(iter(env.exchange.orders))]["visibleAfter"] = 0
    found = await env.gateway.reconcile(env.broker.id)
    assert found["external"] + found["resolved_unknown"] >= 1
    resolved = await env.gateway.get_order(broker_id=env.broker.id, client_order_id="hidden-1")
    assert resolved.status is OrderStatus.OPEN
    assert env.exchange.placements("hidden-1") == 1 and env.exchange.attempts["hidden-1"] == 1


async def test_crash_before_answer_then_replay_adopts_the_placed_order(
    env: Any, t5_gateway: Any, tmp_path: Any
) -> None:
    """The gateway dies after the exchange accepted the order but before storing the answer."""
    url = f"sqlite:///{tmp_path}/crash.db"
    first = await t5_gateway(loopback, database_url=url)
    broker = await first.add_broker(
        user_id=7, exchange="loopback", label="c", api_key="key-1", api_secret="secret-1", base_url=env.exchange.url
    )
    data = env.order(client_order_id="crash-1", user_id=7, broker_id=broker.id)
    env.exchange.inject(Fault(kind="timeout_after_accept", delay=5.0))
    task = asyncio.create_task(first.place_order(data))
    for _ in range(200):  # wait (bounded) until the exchange has the order
        if env.exchange.placements("crash-1"):
            break
        await asyncio.sleep(0.01)
    task.cancel()  # the process "crashes" here
    with pytest.raises(asyncio.CancelledError):
        await task
    row = await first.storage.run(first.orders.find, broker.id, "crash-1")
    assert row.status == "pending_submit"
    await first.close()

    restarted: Gateway = await t5_gateway(loopback, database_url=url)
    restarted.brokers.box = first.brokers.box  # same master key
    restarted._credentials.clear()
    order = await restarted.place_order(data)
    assert env.exchange.placements("crash-1") == 1 and env.exchange.attempts["crash-1"] == 1
    assert order.status is OrderStatus.OPEN and order.id is not None


async def test_definite_rejection_is_stored_and_replays_the_same_error(env: Any) -> None:
    data = env.order(client_order_id="poor-1", quantity="100000", price="43000")
    with pytest.raises(InsufficientFunds) as raised:
        await env.gateway.place_order(data)
    assert raised.value.code == "INSUFFICIENT_FUNDS"
    stored = await env.gateway.get_order(broker_id=env.broker.id, client_order_id="poor-1")
    assert stored.status is OrderStatus.REJECTED
    with pytest.raises(InsufficientFunds):
        await env.gateway.place_order(data)
    assert env.exchange.placements("poor-1") == 0 and env.exchange.attempts["poor-1"] == 1


async def test_rate_limited_order_can_be_sent_again(env: Any) -> None:
    env.exchange.inject(Fault(kind="error_before_accept", status=429))
    original = env.exchange._error

    def rate_limited(status: int, code: str, msg: str) -> Any:
        return original(status, "RATE_LIMIT" if status == 429 else code, msg)

    env.exchange._error = rate_limited
    with pytest.raises(RateLimitExceeded) as raised:
        await env.gateway.place_order(env.order(client_order_id="rl-1"))
    assert raised.value.retry_after == 1.0
    order = await env.gateway.place_order(env.order(client_order_id="rl-1"))
    assert order.status is OrderStatus.OPEN
    assert env.exchange.placements("rl-1") == 1 and env.exchange.attempts["rl-1"] == 2  # the 429, then the order


async def test_partial_fill_then_cancel_keeps_both_forms(env: Any) -> None:
    order = await env.gateway.place_order(env.order(client_order_id="life-1", quantity="0.002"))
    env.exchange.fill(order.id, Decimal("0.0005"), Decimal("43000.1"), fee=Decimal("0.01"))
    fetched = await env.gateway.fetch_order(broker_id=env.broker.id, client_order_id="life-1")
    assert (fetched.status, fetched.filled, fetched.remaining) == (
        OrderStatus.OPEN,
        Decimal("0.0005"),
        Decimal("0.0015"),
    )
    assert fetched.raw["status"] == "PARTIALLY_FILLED"
    cancelled = await env.gateway.cancel_order(broker_id=env.broker.id, client_order_id="life-1")
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.native_status == "CANCELED"
    row = await env.gateway.storage.run(env.gateway.orders.find, env.broker.id, "life-1")
    assert row.filled == Decimal("0.0005") and row.raw_response["status"] == "CANCELED"
    assert row.fee == Decimal("0.01")


async def test_orders_placed_outside_the_gateway_are_adopted_as_external(env: Any) -> None:
    env.exchange.orders["77"] = {
        "orderId": "77",
        "clientId": "web-ui-1",
        "symbol": "ETHUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "origQty": "0.5",
        "price": "3000",
        "stopPrice": None,
        "executedQty": "0.1",
        "avgPrice": "3000",
        "fee": "0",
        "feeAsset": "USDT",
        "status": "PARTIALLY_FILLED",
        "time": 1,
        "updateTime": 2,
        "visibleAfter": 0,
    }
    env.exchange.owner["77"] = "key-1"
    found = await env.gateway.reconcile(env.broker.id)
    assert found["external"] == 1
    stored = await env.gateway.get_order(broker_id=env.broker.id, order_id="77")
    assert stored.source.value == "external" and stored.client_order_id == "EXT_77"
    assert stored.symbol == "ETH/USDT" and stored.filled == Decimal("0.1") and stored.raw["clientId"] == "web-ui-1"
    assert (await env.gateway.reconcile(env.broker.id))["external"] == 0  # adopted once
    cancelled = await env.gateway.cancel_order(broker_id=env.broker.id, order_id="77")
    assert cancelled.status is OrderStatus.CANCELLED


async def test_client_id_locks_are_released(env: Any) -> None:
    await asyncio.gather(*(env.gateway.place_order(env.order(client_order_id=f"lk-{i % 5}")) for i in range(20)))
    assert len(env.gateway._locks) == 0  # one lock per client id in flight, none kept afterwards


async def test_an_order_the_exchange_never_got_is_closed_only_after_the_grace_window(env: Any) -> None:
    import attrs

    env.exchange.inject(Fault(kind="error_before_accept", status=503))  # refused, but we cannot know it
    order = await env.gateway.place_order(env.order(client_order_id="never-1"))
    assert order.status is OrderStatus.PENDING_SUBMIT
    found = await env.gateway.reconcile(env.broker.id)  # inside the grace window: still unknown, kept
    assert found["not_found"] == 0
    assert (await env.gateway.get_order(broker_id=env.broker.id, client_order_id="never-1")).status is (
        OrderStatus.PENDING_SUBMIT
    )
    env.gateway.settings = attrs.evolve(env.gateway.settings, unknown_outcome_grace=0.0)
    found = await env.gateway.reconcile(env.broker.id)
    assert found["not_found"] == 1
    stored = await env.gateway.get_order(broker_id=env.broker.id, client_order_id="never-1")
    assert stored.status is OrderStatus.REJECTED
    assert env.exchange.attempts["never-1"] == 1 and env.exchange.placements("never-1") == 0

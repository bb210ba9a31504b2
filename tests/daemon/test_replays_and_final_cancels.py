"""Idempotent replays are not placements in the metrics; cancelling a final order answers the stored state
without a round trip (issue 10, item 19, first two parts)."""

from __future__ import annotations

from .conftest import World, order_body


def _sample(world: World, operation: str, status: str) -> float | None:
    return world.daemon.metrics.registry.get_sample_value(
        "terminal5_orders_total", {"exchange": "loopback", "operation": operation, "status": status}
    )


async def test_replays_are_counted_as_replays_not_placements(world: World) -> None:
    body = order_body(world.brokers["one"], "metric-replay-1")
    for _ in range(3):
        resp = await world.client.post("/v1/orders", json=body, headers=world.auth("user1"))
        assert resp.status == 200
    assert world.exchange.attempts["metric-replay-1"] == 1
    assert _sample(world, "place", "open") == 1.0
    assert _sample(world, "replay", "open") == 2.0


async def test_cancelling_a_cancelled_order_answers_the_stored_state_without_the_exchange(world: World) -> None:
    b = world.brokers["one"]
    resp = await world.client.post("/v1/orders", json=order_body(b, "twice-cancel"), headers=world.auth("user1"))
    assert resp.status == 200
    first = await world.client.delete(f"/v1/brokers/{b}/orders/twice-cancel", headers=world.auth("user1"))
    assert first.status == 200 and (await first.json())["status"] == "cancelled"
    calls = world.exchange.requests
    second = await world.client.delete(f"/v1/brokers/{b}/orders/twice-cancel", headers=world.auth("user1"))
    assert second.status == 200
    body = await second.json()
    assert body["status"] == "cancelled" and body["client_order_id"] == "twice-cancel"
    assert world.exchange.requests == calls  # no round trip to the exchange


async def test_cancelling_a_filled_order_answers_it_closed_without_the_exchange(world: World) -> None:
    b = world.brokers["one"]
    body = order_body(b, "filled-cancel", type="market", price=None)
    del body["price"]
    resp = await world.client.post("/v1/orders", json=body, headers=world.auth("user1"))
    assert resp.status == 200 and (await resp.json())["status"] == "closed"
    calls = world.exchange.requests
    cancel = await world.client.delete(f"/v1/brokers/{b}/orders/filled-cancel", headers=world.auth("user1"))
    assert cancel.status == 200 and (await cancel.json())["status"] == "closed"
    assert world.exchange.requests == calls

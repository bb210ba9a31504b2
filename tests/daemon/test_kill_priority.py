"""The kill switch's native calls (open orders, cancels) run with priority in every rate budget."""

from __future__ import annotations

from typing import Any

from terminal5.ratebudget import urgency

from .conftest import World, order_body


async def test_kill_calls_are_urgent_ordinary_calls_are_not(world: World) -> None:
    b = world.brokers["one"]
    seen: list[tuple[str, Any]] = []
    transport = world.daemon.gw.client_for("loopback").transport
    transport.observers.append(lambda ctx, record: seen.append((record.endpoint, urgency())))
    for cid in ("kp-1", "kp-2"):
        response = await world.client.post("/v1/orders", json=order_body(b, cid), headers=world.auth("user1"))
        assert response.status == 200
    ordinary = list(seen)
    assert ordinary and all(u is None for _, u in ordinary), ordinary
    response = await world.client.post(f"/v1/brokers/{b}/kill", json={"reason": "drill"}, headers=world.auth("admin"))
    assert response.status == 200 and len((await response.json())["cancelled"]) == 2
    kill = seen[len(ordinary):]
    assert kill and all(u == "kill switch" for _, u in kill), kill

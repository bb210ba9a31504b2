"""The order store answers typed, frozen records, never database rows."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from terminal5.storage.stored_order import StoredOrder


async def test_the_order_store_answers_frozen_stored_orders(env: Any) -> None:
    gw = env.gateway
    await gw.place_order(env.order(client_order_id="typed-1"))
    found = await gw.storage.run(gw.orders.find, env.broker.id, "typed-1")
    assert isinstance(found, StoredOrder) and found.status == "open" and found.request is not None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        found.status = "closed"  # type: ignore[misc]
    updated = await gw.storage.run(gw.orders.update, found.id, native_status="x")
    listed = await gw.storage.run(lambda: gw.orders.list(broker_id=env.broker.id))
    recent = await gw.recent_orders(broker_id=env.broker.id)
    unresolved = await gw.storage.run(gw.orders.unresolved, env.broker.id)
    assert isinstance(updated, StoredOrder) and updated.native_status == "x"
    for records in (listed, recent, unresolved):
        assert [type(r) for r in records] == [StoredOrder]

"""The façade's order operations take their arguments as typed keyword records: a misspelt keyword is
still refused (as a plain signature would refuse it), never silently ignored."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("operation", ["fetch_order", "cancel_order", "edit_order"])
async def test_a_misspelt_keyword_is_refused(env: Any, operation: str) -> None:
    placed = await env.gateway.place_order(env.order(client_order_id="kw-1"))
    with pytest.raises(TypeError, match="symbl"):
        await getattr(env.gateway, operation)(broker_id=env.broker.id, client_order_id="kw-1", symbl="BTC/USDT")
    assert (await env.gateway.get_order(broker_id=env.broker.id, client_order_id="kw-1")).status is placed.status
    assert env.exchange.placements("kw-1") == 1


async def test_a_misspelt_call_scope_is_refused(env: Any) -> None:
    from terminal5.models import MarketType

    with pytest.raises(TypeError, match="order_keys"):
        await env.gateway.context(env.broker, MarketType.SPOT, order_keys="x")

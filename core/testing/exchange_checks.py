"""Exchange-side checks every plugin gets with ``ExchangeChecklist``: what reached the exchange, read from a
simulator's records route (``GET /_sim/records``, see ``terminal5.testing.fake_exchange``).

They need ``ChecklistTarget.simulator_url`` (the base URL of a running simulator built on the
fake-exchange base); targets without one (a cassette-driven checklist) skip them.

* a local refusal (unknown symbol, a quantity below the market's minimum) sends nothing: the
  simulator's placement count does not move;
* an order whose answer is lost after the exchange accepted it (the answer comes too late, a 5xx, the
  connection dropped) is looked up, never sent again: exactly one accepted placement for its client id,
  no refused duplicate, and at least one lookup after it.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from terminal5.errors import BadSymbol, InvalidOrder
from terminal5.models import OrderStatus

#: answers the gateway must treat as "the outcome is unknown": fault rules of the simulator
LOST_ANSWERS = {
    "late": {"kind": "timeout", "after_accept": True},
    "5xx": {"kind": "error", "after_accept": True, "status": 503},
    "dropped": {"kind": "drop", "after_accept": True},
}


async def sim_get(url: str, path: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_sim/{path}") as response:
        response.raise_for_status()
        return await response.json()


async def sim_post(url: str, path: str, body: Any) -> Any:
    async with aiohttp.ClientSession() as session, session.post(f"{url}/_sim/{path}", json=body) as response:
        response.raise_for_status()
        return await response.json()


def placement_attempts(records: dict[str, Any]) -> int:
    """Every order placement the exchange saw: accepted ones plus refused ones."""
    return sum(len(items) for items in records["accepted"].values()) + len(records["refused"])


class ExchangeSideChecks:
    """Mixed into ``ExchangeChecklist``; needs the ``checklist`` fixture with ``simulator_url`` set."""

    @staticmethod
    def _simulator(checklist: Any) -> str:
        url = getattr(checklist, "simulator_url", None)
        if not url:
            pytest.skip(f"{checklist.exchange}: no simulator_url, the exchange-side checks need a simulator")
        return str(url)

    async def test_exchange_side_local_refusals_send_nothing(self, checklist: Any) -> None:
        url = self._simulator(checklist)
        before = await sim_get(url, "records")
        with pytest.raises(BadSymbol):
            await checklist.gateway.place_order(checklist.order(symbol="NOPE/NOPE", client_order_id="ck-x-symbol"))
        with pytest.raises(InvalidOrder):
            await checklist.gateway.place_order(
                checklist.order(quantity=checklist.too_small_quantity, client_order_id="ck-x-small")
            )
        after = await sim_get(url, "records")
        assert placement_attempts(after) == placement_attempts(before), "a local refusal reached the exchange"
        assert after["roles"]["place"] == before["roles"]["place"]

    @pytest.mark.parametrize("lost", sorted(LOST_ANSWERS))
    async def test_exchange_side_lost_answer_is_looked_up_never_resent(self, checklist: Any, lost: str) -> None:
        url = self._simulator(checklist)
        if "network_timeout" in getattr(checklist, "unsupported", {}):
            pytest.skip(f"{checklist.exchange}: {checklist.unsupported['network_timeout']}")
        held = float(checklist.gateway.settings.http_timeout) + 5  # longer than the gateway waits
        await sim_post(url, "faults", {"endpoint": "@place", "delay": held, **LOST_ANSWERS[lost]})
        before = await sim_get(url, "records")
        cid = f"ck-x-lost-{lost}"
        order = await checklist.gateway.place_order(checklist.order(client_order_id=cid))
        after = await sim_get(url, "records")
        new = {k: v for k, v in after["accepted"].items() if len(v) != len(before["accepted"].get(k, []))}
        assert len(new) == 1, f"one order accepted for {cid}, got {new}"
        ((native, accepted),) = new.items()
        assert len(accepted) - len(before["accepted"].get(native, [])) == 1, "sent twice"
        assert not [r for r in after["refused"][len(before["refused"]):] if r["client_id"] == native], \
            "resent after a lost answer (the exchange refused the repeat)"
        assert after["roles"]["place"] - before["roles"]["place"] == 1, "the placement was sent again"
        assert after["roles"]["lookup"] > before["roles"]["lookup"], "the order was not looked up"
        assert order.status in (OrderStatus.OPEN, OrderStatus.CLOSED, OrderStatus.PENDING_SUBMIT)

"""Reconciliation never declares a placed order absent on a failed lookup (issue 10, item 1).

Only a definite "not found" from a healthy exchange counts, and only after the exchange's past orders and
fills were searched too. A failed lookup leaves the order unresolved (pending_submit) and visible.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from loopback_double import make_plugin
from terminal5_template.client import LoopbackClient

from terminal5.contract import CallContext, NativePayload
from terminal5.errors import ExchangeNotAvailable
from terminal5.models import Market, OrderStatus, Side, Trade
from terminal5.testing.loopback_server import Fault, LoopbackExchange

Env = Any  # the ``env`` fixture of tests/core/conftest.py (gateway, exchange, broker, order())


@attrs.define
class History:
    """The exchange's history endpoints, which the loopback exchange does not serve: read from its book."""

    exchange: LoopbackExchange | None = None
    closed_fails: bool = False
    fills: list[Trade] = attrs.field(factory=list)
    closed_calls: int = 0


def history_client(history: History) -> Any:
    class WithHistory(LoopbackClient):
        async def fetch_closed_orders(
            self, ctx: CallContext, market: Market | None, since: datetime | None
        ) -> Sequence[NativePayload]:
            history.closed_calls += 1
            if history.closed_fails:
                raise ExchangeNotAvailable("history down", exchange="loopback")
            assert history.exchange is not None
            key = ctx.credentials.api_key if ctx.credentials else ""
            return [
                {k: v for k, v in o.items() if k != "visibleAfter"}
                for oid, o in history.exchange.orders.items()
                if history.exchange.owner[oid] == key and o["status"] in ("FILLED", "CANCELED")
                and (market is None or o["symbol"] == market.native_symbol)
            ]

        async def fetch_my_trades(self, ctx: CallContext, market: Market, since: datetime | None) -> Sequence[Trade]:
            return list(history.fills)

    return WithHistory


@pytest.fixture
async def hist_env(t5_gateway: Any, env: Env) -> AsyncIterator[tuple[Env, History]]:
    """Like ``env``, with a client that serves the exchange's past orders and fills."""
    history = History()
    async with LoopbackExchange({"key-1": "secret-1"}) as exchange:
        history.exchange = exchange
        gateway = await t5_gateway(make_plugin(history_client(history)))
        broker = await gateway.add_broker(
            user_id=1, exchange="loopback", label="main", api_key="key-1", api_secret="secret-1", base_url=exchange.url
        )
        yield attrs.evolve(env, gateway=gateway, exchange=exchange, broker=broker), history


def lookups_fail(env: Env, count: int) -> None:
    for _ in range(count):
        env.exchange.inject(Fault(kind="error_before_accept", path="/api/order", method="GET", status=503))


async def lost_filled_market_order(env: Env, cid: str) -> None:
    """A market order FILLED on the exchange whose answer was lost and whose lookups met an outage."""
    env.exchange.inject(Fault(kind="error_after_accept", status=503))
    lookups_fail(env, len(env.gateway.lookup_delays))
    order = await env.gateway.place_order(env.order(client_order_id=cid, type="market", price=None))
    assert order.status is OrderStatus.PENDING_SUBMIT
    assert env.exchange.placements(cid) == 1
    [placed] = [o for o in env.exchange.orders.values() if o["clientId"] == cid]
    assert placed["status"] == "FILLED"


def past_grace(env: Env) -> None:
    env.gateway.settings = attrs.evolve(env.gateway.settings, unknown_outcome_grace=0.0)


async def stored(env: Env, cid: str) -> Any:
    return await env.gateway.get_order(broker_id=env.broker.id, client_order_id=cid)


async def test_a_failed_lookup_is_not_absence(env: Env) -> None:
    await lost_filled_market_order(env, "outage-1")
    past_grace(env)
    lookups_fail(env, 1)
    found = await env.gateway.reconcile(env.broker.id)
    assert found["not_found"] == 0 and found["unresolved"] == 1
    row = await stored(env, "outage-1")
    assert row.status is OrderStatus.PENDING_SUBMIT  # unresolved, and visible
    visible = await env.gateway.list_orders(broker_id=env.broker.id, status="pending_submit")
    assert [o.client_order_id for o in visible] == ["outage-1"]
    # the exchange is healthy again: the next reconciliation finds it filled
    found = await env.gateway.reconcile(env.broker.id)
    assert found["resolved_unknown"] == 1
    row = await stored(env, "outage-1")
    assert row.status is OrderStatus.CLOSED and row.filled == Decimal("0.001")


async def test_the_client_retrying_after_an_outage_gets_the_filled_order(env: Env) -> None:
    await lost_filled_market_order(env, "outage-2")
    past_grace(env)
    lookups_fail(env, 1)
    await env.gateway.reconcile(env.broker.id)
    again = await env.gateway.place_order(env.order(client_order_id="outage-2", type="market", price=None))
    assert again.status is OrderStatus.CLOSED and again.side is Side.BUY
    assert env.exchange.placements("outage-2") == 1 and env.exchange.attempts["outage-2"] == 1


async def test_closed_orders_are_searched_before_declaring_absence(hist_env: tuple[Env, History]) -> None:
    env, history = hist_env
    await lost_filled_market_order(env, "archived-1")
    [placed] = [o for o in env.exchange.orders.values() if o["clientId"] == "archived-1"]
    placed["visibleAfter"] = float("inf")  # the order query answers a definite 404 (an archived order)
    past_grace(env)
    found = await env.gateway.reconcile(env.broker.id)
    assert history.closed_calls >= 1
    assert found["not_found"] == 0 and found["resolved_unknown"] == 1
    row = await stored(env, "archived-1")
    assert row.status is OrderStatus.CLOSED and row.id == placed["orderId"]


async def test_a_failed_history_search_leaves_the_order_unresolved(hist_env: tuple[Env, History]) -> None:
    env, history = hist_env
    await lost_filled_market_order(env, "archived-2")
    [placed] = [o for o in env.exchange.orders.values() if o["clientId"] == "archived-2"]
    placed["visibleAfter"] = float("inf")
    history.closed_fails = True
    past_grace(env)
    found = await env.gateway.reconcile(env.broker.id)
    assert found["not_found"] == 0 and found["unresolved"] == 1
    assert (await stored(env, "archived-2")).status is OrderStatus.PENDING_SUBMIT


async def test_unexplained_fills_forbid_declaring_absence(hist_env: tuple[Env, History]) -> None:
    env, history = hist_env
    env.exchange.inject(Fault(kind="error_before_accept", status=503))  # never reached the book
    order = await env.gateway.place_order(env.order(client_order_id="fills-1", type="market", price=None))
    assert order.status is OrderStatus.PENDING_SUBMIT
    history.fills.append(
        Trade(id="t1", order_id="999999", symbol="BTC/USDT", side=Side.BUY, price=Decimal("100"),
              quantity=Decimal("0.001"))
    )  # a fill of an order this database does not know
    past_grace(env)
    found = await env.gateway.reconcile(env.broker.id)
    assert found["not_found"] == 0 and found["unresolved"] == 1
    history.fills.clear()
    found = await env.gateway.reconcile(env.broker.id)
    assert found["not_found"] == 1
    assert (await stored(env, "fills-1")).status is OrderStatus.REJECTED


async def lost_then_hidden_from_reconciliation(env: Env, cid: str) -> tuple[dict[str, Any], dict[str, int]]:
    """A filled market order whose answer was lost, which the exchange does not show (eventual consistency)
    when reconciliation runs past the grace period: the exchange's record, and what reconciliation found."""
    await lost_filled_market_order(env, cid)
    [placed] = [o for o in env.exchange.orders.values() if o["clientId"] == cid]
    placed["visibleAfter"] = float("inf")
    past_grace(env)
    return placed, await env.gateway.reconcile(env.broker.id)


async def test_rejected_by_reconciliation_does_not_hide_an_order_found_later(env: Env) -> None:
    """The exchange said "not found" (eventual consistency) and reconciliation gave up; the order shows up."""
    placed, found = await lost_then_hidden_from_reconciliation(env, "late-1")
    assert found["not_found"] == 1
    assert (await stored(env, "late-1")).status is OrderStatus.REJECTED
    placed["visibleAfter"] = 0  # the exchange now shows it
    found = await env.gateway.reconcile(env.broker.id)
    assert found["revived"] == 1
    assert (await stored(env, "late-1")).status is OrderStatus.CLOSED


async def test_a_client_retry_finds_an_order_reconciliation_had_rejected(env: Env) -> None:
    placed, found = await lost_then_hidden_from_reconciliation(env, "late-2")
    assert found["not_found"] == 1
    placed["visibleAfter"] = 0
    again = await env.gateway.place_order(env.order(client_order_id="late-2", type="market", price=None))
    assert again.status is OrderStatus.CLOSED and again.id == placed["orderId"]
    assert env.exchange.attempts["late-2"] == 1


async def test_a_client_retry_of_an_order_still_absent_gets_the_stored_verdict(env: Env) -> None:
    """Still not on the exchange when the client retries: the answer is the stored order (status rejected),
    not an error, and nothing is sent again."""
    _, found = await lost_then_hidden_from_reconciliation(env, "late-3")
    assert found["not_found"] == 1
    again = await env.gateway.place_order(env.order(client_order_id="late-3", type="market", price=None))
    assert again.status is OrderStatus.REJECTED and again.client_order_id == "late-3"
    assert env.exchange.attempts["late-3"] == 1


async def test_rows_rejected_by_the_old_reconciliation_are_looked_at_again(env: Env) -> None:
    """Rows an earlier version concluded "never placed" (before the marker existed) are not buried either."""
    await lost_filled_market_order(env, "legacy-1")
    row = await env.gateway.storage.run(env.gateway.orders.find, env.broker.id, "legacy-1")
    legacy = {"error": "OrderNotFound", "message": "not on the exchange after 0:02:00"}
    await env.gateway.storage.run(env.gateway.orders.update, row.id, status="rejected", error=legacy)
    again = await env.gateway.place_order(env.order(client_order_id="legacy-1", type="market", price=None))
    assert again.status is OrderStatus.CLOSED and env.exchange.attempts["legacy-1"] == 1

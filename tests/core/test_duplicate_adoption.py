"""An order found by client id is adopted only when it is the order requested (issue 10, item 2).

Two brokers of two users share one exchange account. User 2 reuses a client id of user 1: the exchange
answers "duplicate" (or the answer is lost and the lookup finds user 1's order). The order found differs
in side, quantity and price: it is not user 2's. 409 DuplicateOrder, nothing of it stored under user 2's
request, an alert; user 1's order untouched.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest
from loopback_double import make_plugin

from terminal5.errors import DuplicateOrder
from terminal5.models import OrderStatus, Side
from terminal5.testing.loopback_server import Fault


@pytest.fixture
async def shared(env: Any) -> Any:
    """A second user's broker on the same exchange account (same key) as the env's broker."""
    return await env.gateway.add_broker(
        user_id=2, exchange="loopback", label="same-account", api_key="key-1", api_secret="secret-1",
        base_url=env.exchange.url,
    )


def user1_buy(env: Any, cid: str) -> dict[str, Any]:
    return env.order(client_order_id=cid, side="buy", quantity="0.001", price="41000")


def user2_sell(env: Any, shared: Any, cid: str) -> dict[str, Any]:
    return env.order(client_order_id=cid, side="sell", quantity="0.5", price="39000", user_id=2,
                     broker_id=shared.id)


async def _assert_not_adopted(env: Any, shared: Any, cid: str, first: Any) -> None:
    row = await env.gateway.storage.run(env.gateway.orders.find, shared.id, cid)
    if row is not None:  # the intent stays, refused, carrying nothing of the other order
        assert row.status == OrderStatus.REJECTED.value
        assert row.raw_response is None and row.exchange_order_id is None
        assert row.side == "sell" and row.error["error"] == "DuplicateOrder"
    mine = await env.gateway.get_order(broker_id=env.broker.id, client_order_id=cid)
    assert mine.side is Side.BUY and mine.id == first.id and mine.raw["side"] == "BUY"
    alerts = [a for a in env.gateway.alerts.sent if a.kind == "foreign_order"]
    assert alerts and cid in alerts[-1].message
    assert env.exchange.placements(cid) == 1


async def test_duplicate_answer_for_another_users_order_is_a_409(env: Any, shared: Any) -> None:
    first = await env.gateway.place_order(user1_buy(env, "shared-1"))
    with pytest.raises(DuplicateOrder) as raised:
        await env.gateway.place_order(user2_sell(env, shared, "shared-1"))
    assert raised.value.field == "client_order_id"
    await _assert_not_adopted(env, shared, "shared-1", first)
    # the same request again is the same refusal, still without adopting anything
    with pytest.raises(DuplicateOrder):
        await env.gateway.place_order(user2_sell(env, shared, "shared-1"))
    await _assert_not_adopted(env, shared, "shared-1", first)


async def test_unknown_outcome_lookup_finding_another_order_is_a_409(env: Any, shared: Any) -> None:
    first = await env.gateway.place_order(user1_buy(env, "shared-2"))
    env.exchange.inject(Fault(kind="timeout_after_accept", delay=3.0))  # the duplicate answer is lost
    with pytest.raises(DuplicateOrder):
        await env.gateway.place_order(user2_sell(env, shared, "shared-2"))
    await _assert_not_adopted(env, shared, "shared-2", first)


async def test_a_different_symbol_found_is_not_adopted(env: Any, shared: Any) -> None:
    first = await env.gateway.place_order(env.order(client_order_id="shared-3", symbol="ETH/USDT", quantity="0.01",
                                                    price="3000"))
    with pytest.raises(DuplicateOrder):
        await env.gateway.place_order(
            env.order(client_order_id="shared-3", quantity="0.01", price="3000", user_id=2, broker_id=shared.id)
        )
    row = await env.gateway.storage.run(env.gateway.orders.find, shared.id, "shared-3")
    assert row is None or (row.raw_response is None and row.exchange_order_id is None)
    assert (await env.gateway.get_order(broker_id=env.broker.id, client_order_id="shared-3")).id == first.id


async def _user2_pending_then_user1_takes_the_id(env: Any, shared: Any, cid: str) -> Any:
    """User 2's send meets an outage (outcome unknown, pending); then user 1 places an order with that id."""
    env.exchange.inject(Fault(kind="error_before_accept", status=503))
    pending = await env.gateway.place_order(user2_sell(env, shared, cid))
    assert pending.status is OrderStatus.PENDING_SUBMIT
    return await env.gateway.place_order(user1_buy(env, cid))


async def _other_process(env: Any, t5_gateway: Any, db_path: Any) -> tuple[Any, Any]:
    """Another gateway process (its own database) on the same exchange account, and its broker."""
    other = await t5_gateway(make_plugin(), database_url=f"sqlite:///{db_path}")
    broker = await other.add_broker(user_id=1, exchange="loopback", label="main", api_key="key-1",
                                    api_secret="secret-1", base_url=env.exchange.url)
    return other, broker


async def test_reconciliation_does_not_adopt_another_order_into_a_pending_row(env: Any, shared: Any) -> None:
    first = await _user2_pending_then_user1_takes_the_id(env, shared, "shared-4")
    env.gateway.settings = attrs.evolve(env.gateway.settings, unknown_outcome_grace=0.0)
    await env.gateway.reconcile(shared.id)
    await _assert_not_adopted(env, shared, "shared-4", first)


async def test_our_own_order_found_after_a_duplicate_answer_is_still_adopted(
    env: Any, t5_gateway: Any, tmp_path: Any
) -> None:
    """Another gateway process (its own database) sent this very order: it is ours, adopt it."""
    first = await env.gateway.place_order(env.order(client_order_id="own-1"))
    other, broker = await _other_process(env, t5_gateway, tmp_path / "other.db")
    adopted = await other.place_order(env.order(client_order_id="own-1", broker_id=broker.id, price="43000.1"))
    assert adopted.id == first.id and adopted.status is OrderStatus.OPEN
    assert env.exchange.placements("own-1") == 1


@pytest.mark.parametrize(
    ("operation", "cid"),
    [("fetch_order", "shared-5"), ("cancel_order", "shared-6")],
    ids=["refreshing never adopts", "cancelling never cancels"],
)
async def test_refreshing_or_cancelling_a_pending_order_never_touches_another_order(
    env: Any, shared: Any, operation: str, cid: str
) -> None:
    first = await _user2_pending_then_user1_takes_the_id(env, shared, cid)
    with pytest.raises(DuplicateOrder):
        await getattr(env.gateway, operation)(broker_id=shared.id, client_order_id=cid)
    assert env.exchange.orders[first.id]["status"] == "NEW"  # user 1's order is untouched on the exchange
    await _assert_not_adopted(env, shared, cid, first)


async def test_a_duplicate_answer_whose_lookup_fails_is_left_unresolved_not_rejected(
    env: Any, t5_gateway: Any, tmp_path: Any
) -> None:
    first = await env.gateway.place_order(env.order(client_order_id="own-2"))
    other, broker = await _other_process(env, t5_gateway, tmp_path / "other2.db")
    env.exchange.inject(Fault(kind="error_before_accept", path="/api/order", method="GET", status=503))
    data = env.order(client_order_id="own-2", broker_id=broker.id)
    pending = await other.place_order(data)  # "duplicate", and the lookup meets an outage: nothing is known
    assert pending.status is OrderStatus.PENDING_SUBMIT
    adopted = await other.place_order(data)  # the exchange answers again: it is ours
    assert adopted.id == first.id and adopted.status is OrderStatus.OPEN
    assert env.exchange.placements("own-2") == 1


async def test_an_order_whose_extra_params_override_amounts_is_still_recognised(env: Any) -> None:
    """Level-3 ``extra_params`` override mapped fields verbatim: the exchange's quantity may then differ from
    the unified one. Such an order is recognised by symbol and side only (it is not refused as foreign)."""
    env.exchange.inject(Fault(kind="timeout_after_accept", delay=3.0))
    order = await env.gateway.place_order(
        env.order(client_order_id="xp-1", quantity="0.001", extra_params={"quantity": "0.002"})
    )
    assert order.status is OrderStatus.OPEN and order.quantity == Decimal("0.002")
    assert env.exchange.placements("xp-1") == 1


def test_mismatches_compare_values_not_representations() -> None:
    from terminal5.models import Order, OrderType
    from terminal5.ownership import Expected, mismatches

    expected = Expected(symbol="BTC/USDT", side=Side.BUY, type=OrderType.LIMIT_MAKER, quantity=Decimal("0.001"),
                        price=Decimal("41000"))
    same = Order(exchange="x", symbol="BTC/USDT", side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal("0.00100"),
                 price=Decimal("41000.00"), status=OrderStatus.OPEN)
    assert mismatches(expected, same) == []  # post-only read back as a limit, trailing zeros
    other = attrs.evolve(same, side=Side.SELL, quantity=Decimal("0.5"), price=Decimal("39000"))
    assert mismatches(expected, other) == ["side", "quantity", "price"]
    market = Expected(symbol="BTC/USDT", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal("1"), price=None)
    filled = attrs.evolve(same, type=OrderType.MARKET, quantity=Decimal("1"), price=Decimal("0"))
    assert mismatches(market, filled) == []  # a market order answered with price 0
    assert mismatches(attrs.evolve(market, exact=False), attrs.evolve(filled, quantity=Decimal("3"))) == []
    assert mismatches(market, attrs.evolve(filled, symbol="ETH/USDT")) == ["symbol"]

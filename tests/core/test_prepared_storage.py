"""The hot path's prepared statements (``terminal5.storage.prepared``): rows written and read through them
are the rows peewee writes and reads, on SQLite and PostgreSQL; the broker row is never cached, so a kill
switch set by anyone holds for the very next order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from terminal5.errors import BrokerDisabled
from terminal5.models import Order, OrderRequest, OrderStatus, OrderType, Side
from terminal5.storage.database import Storage
from terminal5.storage.orders import OrderRepo
from terminal5.storage.stored_order import StoredOrder

RAW = {"orderId": 7, "price": Decimal("0.10000000"), "fills": [{"qty": Decimal("1E-8")}]}


def request(cid: str) -> OrderRequest:
    return OrderRequest(
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.000000000000000001"),
        price=Decimal("12345678901234567890.5"),
        user_id=1,
        broker_id=3,
        client_order_id=cid,
    )


async def test_prepared_rows_are_the_rows_peewee_reads(db_url: str) -> None:
    storage = await Storage.open(db_url)
    repo = OrderRepo(storage)
    R = storage.m.OrderRow

    def by_peewee(row_id: int) -> StoredOrder:
        return StoredOrder.of(R.get_by_id(row_id))

    def scenario() -> tuple[Any, ...]:
        intent = repo.insert_intent(
            request=request("p1"),
            exchange="ex",
            market_type="spot",
            native_client_id="n1",
            request_hash="h",
            ignored_params=("a",),
            request_id="r1",
        )
        assert intent is not None
        again = repo.insert_intent(
            request=request("p1"),
            exchange="ex",
            market_type="spot",
            native_client_id="n2",
            request_hash="h",
            ignored_params=(),
            request_id="r2",
        )
        found = repo.find(3, "p1")
        after_intent = by_peewee(intent.id)
        answer = Order(
            exchange="ex",
            symbol="BTC/USDT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal("0.000000000000000001"),
            status=OrderStatus.OPEN,
            id="X1",
            price=Decimal("12345678901234567890.5"),
            filled=Decimal("0"),
            remaining=Decimal("0.000000000000000001"),
            raw=RAW,
        )
        saved = repo.save_result(intent.id, answer)
        return intent, again, found, after_intent, saved, by_peewee(intent.id), repo.find(3, "nope")

    intent, again, found, after_intent, saved, saved_by_peewee, missing = await storage.run(scenario)
    # committed when save_result returns (UPDATE ... RETURNING included): another connection sees it
    other = await Storage.open(db_url)
    seen = await other.run(lambda: other.m.OrderRow.get_by_id(intent.id).status)
    await other.close()
    with pytest.raises(R.DoesNotExist):
        await storage.run(repo.update, 10**9, status="open")
    await storage.close()
    assert seen == "open"
    assert again is None  # the unique (broker, client id) decides, as with peewee
    assert found == after_intent == intent  # what the insert answers is what is stored
    assert saved == saved_by_peewee
    assert saved.status == "open" and saved.exchange_order_id == "X1" and saved.raw_response == RAW
    assert saved.price == Decimal("12345678901234567890.5") and saved.quantity == Decimal("1E-18")
    assert saved.created_at is not None and saved.created_at.utcoffset() is not None
    assert missing is None


async def test_a_kill_switch_set_elsewhere_refuses_the_very_next_order(env: Any) -> None:
    """Another process (the CLI, a second daemon) writes the kill switch straight into the database:
    the gateway, which has just read the broker for an order, refuses the next one."""
    gw = env.gateway
    assert (await gw.place_order(env.order(client_order_id="k1"))).status is OrderStatus.OPEN
    other = await Storage.open(gw.database_url)
    B = other.m.Broker
    await other.run(lambda: B.update(enabled=False, disabled_reason="elsewhere").where(B.id == env.broker.id).execute())
    await other.close()
    with pytest.raises(BrokerDisabled):
        await gw.place_order(env.order(client_order_id="k2"))
    assert env.order_posts() == 1
    await gw.set_broker_enabled(env.broker.id, True)
    assert (await gw.place_order(env.order(client_order_id="k3"))).status is OrderStatus.OPEN
    await gw.set_broker_enabled(env.broker.id, False, "kill switch")
    with pytest.raises(BrokerDisabled):
        await gw.place_order(env.order(client_order_id="k4"))
    assert env.order_posts() == 2


async def test_every_native_call_has_its_audit_row(env: Any) -> None:
    gw = env.gateway
    await gw.place_order(env.order(client_order_id="a1"))
    await gw.flush()
    A = gw.storage.m.AuditRecord
    rows = await gw.storage.run(lambda: list(A.select().where(A.client_order_id == "a1")))
    assert len(rows) == 1
    assert rows[0].status == 200 and rows[0].created_at is not None
    assert "secret-1" not in (rows[0].request_body or "") + rows[0].url + str(rows[0].request_headers)


async def test_a_token_revoked_elsewhere_is_refused_at_the_next_request(db_url: str) -> None:
    from terminal5.daemon.tokens import TokenStore

    storage, other = await Storage.open(db_url), await Storage.open(db_url)
    tokens = TokenStore(storage)
    info, token = await storage.run(tokens.create, user_id=4, label="t")
    principal = await storage.run(tokens.verify, token)
    assert principal is not None and principal.user_id == 4 and not principal.admin
    assert await storage.run(tokens.verify, token + "x") is None
    await other.run(TokenStore(other).revoke, info.id)  # another process (the CLI) revokes it
    assert await storage.run(tokens.verify, token) is None
    await other.close()
    await storage.close()


async def test_values_skipped_by_the_fast_path_are_the_ones_fields_keep_unchanged(db_url: str) -> None:
    """The conversion each column skips (a value of a type its field passes through) is one the field would
    have answered unchanged, both ways; money, JSON and times always get their field's conversion."""
    from terminal5.storage.prepared import PreparedTable

    storage = await Storage.open(db_url)
    samples: list[Any] = [None, "", "x", "0.1", 0, 7, -3, True, False, Decimal("0.1"), 1.5, b"b"]
    for model in (storage.m.OrderRow, storage.m.Broker, storage.m.ApiToken, storage.m.AuditRecord, storage.m.ClientId):
        table = PreparedTable(model)
        for name, field in table.fields.items():
            for value in samples:
                if type(value) in table._same[name]:
                    for convert in (field.db_value, field.python_value):
                        out = convert(value)
                        assert out is value or (type(out) is type(value) and out == value), (model, name, value)
        for name in ("price", "raw_response", "created_at"):
            if name in table.fields:
                assert table._same[name] == (type(None),)  # never skipped but for None
    await storage.close()

"""Broker ids are never reused (SQLite and PostgreSQL, fresh and upgraded databases); removing a broker with
live orders is refused unless forced; database files are private; a missing PostgreSQL schema is a clear
typed error."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import terminal5_template.plugin as loopback

from terminal5.errors import BrokerBusy, DatabaseSchemaMissing
from terminal5.storage.database import Storage


async def add(gateway: Any, user_id: int, label: str) -> Any:
    return await gateway.add_broker(user_id=user_id, exchange="loopback", label=label, api_key=f"key-{label}",
                                    api_secret="secret")


async def test_a_removed_brokers_id_is_never_given_again(db_url: str, t5_gateway: Any) -> None:
    gateway = await t5_gateway(loopback, database_url=db_url)
    await add(gateway, 1, "first")
    last = await add(gateway, 1, "second")
    await gateway.remove_broker(last.id)
    newcomer = await add(gateway, 2, "someone-else")
    assert newcomer.id > last.id  # SQLite without AUTOINCREMENT answered last.id again
    token_ids = []
    from terminal5.daemon.tokens import TokenStore

    store = TokenStore(gateway.storage)
    for _ in range(2):
        info, _ = await gateway.storage.run(store.create, user_id=1)
        token_ids.append(info.id)
    await gateway.storage.run(lambda: gateway.storage.m.ApiToken.delete().where(
        gateway.storage.m.ApiToken.id == token_ids[-1]).execute())
    info, _ = await gateway.storage.run(store.create, user_id=2)
    assert info.id > token_ids[-1]


async def test_an_old_sqlite_database_is_upgraded_to_never_reuse_ids(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    storage = await Storage.open(url)

    def make_it_old() -> None:
        db = storage.db
        (sql,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = 'brokers'").fetchone()
        db.execute_sql("DROP TABLE brokers")
        db.execute_sql(sql.replace(" AUTOINCREMENT", "").replace(', "disabled_by" VARCHAR(10)', ""))
        db.execute_sql("DELETE FROM sqlite_sequence WHERE name = 'brokers'")
        db.execute_sql("DELETE FROM schema_version WHERE version >= 2")
        for broker_id in (1, 2, 3):
            db.execute_sql(
                "INSERT INTO brokers (id, user_id, exchange, label, testnet, api_key_enc, api_secret_enc, key_hint,"
                " options, enabled, created_at) VALUES (?, 1, 'loopback', ?, 0, 'x', 'x', '…', '{}', 1, ?)",
                (broker_id, f"b{broker_id}", "2026-01-01T00:00:00+00:00"),
            )
        # broker 3 was removed, but the audit trail still names it
        db.execute_sql("DELETE FROM brokers WHERE id = 3")
        db.execute_sql(
            "INSERT INTO native_calls (exchange, broker_id, endpoint, method, url, request_headers, rate_headers,"
            " latency_ms, created_at) VALUES ('loopback', 3, 'order.place', 'POST', 'http://x', '{}', '{}', 1,"
            " '2026-01-01T00:00:00+00:00')"
        )

    await storage.run(make_it_old)
    await storage.close()
    storage = await Storage.open(url)  # migrates to v2
    try:
        def probe() -> tuple[str, int, str | None]:
            db = storage.db
            (sql,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = 'brokers'").fetchone()
            row = storage.m.Broker.create(user_id=2, exchange="loopback", label="new", api_key_enc="x",
                                          api_secret_enc="x", key_hint="…")
            kept = storage.m.Broker.get_by_id(2)
            return sql, row.id, kept.label

        sql, new_id, kept = await storage.run(probe)
    finally:
        await storage.close()
    assert "AUTOINCREMENT" in sql and kept == "b2"
    assert new_id == 4


async def test_removing_a_broker_with_live_orders_is_refused_unless_forced(env: Any) -> None:
    gateway = env.gateway
    order = await gateway.place_order(env.order(client_order_id="live-1"))
    assert order.status.value == "open"
    with pytest.raises(BrokerBusy) as raised:
        await gateway.remove_broker(env.broker.id)
    assert raised.value.field == "broker_id" and "1 order(s)" in raised.value.message
    assert "--force" in raised.value.message
    assert (await gateway.get_broker(env.broker.id)).id == env.broker.id  # still there
    await gateway.storage.run(gateway.brokers.remove, env.broker.id, None, force=True)
    assert [b.id for b in await gateway.list_brokers()] == []


async def test_removing_a_broker_whose_orders_are_done_needs_no_flag(env: Any) -> None:
    gateway = env.gateway
    await gateway.place_order(env.order(client_order_id="done-1"))
    await gateway.cancel_order(broker_id=env.broker.id, client_order_id="done-1")
    await gateway.remove_broker(env.broker.id)
    assert await gateway.list_brokers() == []


async def test_the_sqlite_file_is_private(tmp_path: Path) -> None:
    storage = await Storage.open(f"sqlite:///{tmp_path}/private.db")
    await storage.run(lambda: storage.m.Heartbeat.create(name="x", beat_at=datetime.now(UTC)))
    await storage.close()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in list(tmp_path.iterdir())}  # noqa: ASYNC240
    assert modes and set(modes.values()) == {0o600}, modes


@pytest.mark.postgres
async def test_a_missing_postgresql_schema_is_a_clear_error(pg_url: str) -> None:
    url = pg_url.rsplit("=", 1)[0] + "=t5_no_such_schema"
    with pytest.raises(DatabaseSchemaMissing) as raised:
        await Storage.open(url)
    assert raised.value.field == "database_url" and "t5_no_such_schema" in raised.value.message
    assert "CREATE SCHEMA" in raised.value.message

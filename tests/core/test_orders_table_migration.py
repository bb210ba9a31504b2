"""Migration v3: the table of orders, called ``trades`` until then (a ``Trade`` is a fill), becomes
``orders`` on SQLite and PostgreSQL with every row kept; a migrated database ends with the same indexes as
a fresh one, and the per-exchange raw-answer indexes v1 hard-coded are gone (plugins declare theirs)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from sample_orders import order_row

from terminal5.storage.database import Storage
from terminal5.storage.migrations import MIGRATIONS


def _indexes(storage: Storage, table: str) -> set[str]:
    if storage.is_postgres:
        sql = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL"
    return {name for (name,) in storage.db.execute_sql(sql, (table,)).fetchall()}


def _make_it_v2(storage: Storage) -> None:
    """The state a database released before v3 is in: the table and its indexes named ``trades``."""
    db = storage.db
    db.execute_sql('ALTER TABLE "orders" RENAME TO "trades"')
    if storage.is_postgres:
        for name in _indexes(storage, "trades"):
            if name.startswith("orders"):
                db.execute_sql(f'ALTER INDEX "{name}" RENAME TO "trades{name[len("orders") :]}"')
        db.execute_sql("ALTER SEQUENCE orders_id_seq RENAME TO trades_id_seq")
        for name, field in (("idx_raw_clientoid", "clientOid"), ("idx_raw_userref", "userref")):
            db.execute_sql(f"CREATE INDEX {name} ON trades ((raw_response->>'{field}'))")
    else:
        sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'trades' AND sql IS NOT NULL"
        for name, ddl in db.execute_sql(sql).fetchall():
            db.execute_sql(f'DROP INDEX "{name}"')
            db.execute_sql(ddl.replace(f'"{name}"', f'"trades{name[len("orders") :]}"'))
    db.execute_sql("DELETE FROM schema_version WHERE version >= 3")
    insert = (
        "INSERT INTO trades (user_id, broker_id, exchange, source, symbol, market_type, side, type, quantity,"
        " status, client_order_id, ignored_params, trades, raw_response, reduce_only, outcome_unknown,"
        " created_at, updated_at) VALUES (1, 1, 'x', 'manual', 'BTC/USDT', 'spot', 'buy', 'limit',"
        " ?, 'open', ?, '[]', '[]', ?, false, false, ?, ?)"
    ).replace("?", db.param)  # "?" on SQLite, "%s" on PostgreSQL
    for n in (1, 2):
        at = "2026-01-01T00:00:00+00:00"
        db.execute_sql(insert, (f"0.0000000{n}", f"old-{n}", f'{{"clientOid": "old-{n}"}}', at, at))


async def test_the_trades_table_becomes_orders_with_its_rows(db_url: str, tmp_path: Path) -> None:
    storage = await Storage.open(db_url)
    fresh = await storage.run(_indexes, storage, "orders")
    await storage.run(_make_it_v2, storage)
    assert await storage.run(_indexes, storage, "orders") == set()
    await storage.close()

    storage = await Storage.open(db_url)  # migrates v2 -> v3
    try:

        def probe() -> tuple[list[Any], int, set[str], bool, int]:
            m = storage.m
            rows = [
                (r.client_order_id, r.quantity, r.raw_response) for r in m.OrderRow.select().order_by(m.OrderRow.id)
            ]
            new = m.OrderRow.create(**order_row(client_order_id="new-1"))
            version = m.SchemaVersion.select(m.SchemaVersion.version).order_by(m.SchemaVersion.version.desc()).scalar()
            return rows, new.id, _indexes(storage, "orders"), storage.db.table_exists("trades"), version

        rows, new_id, indexes, trades_left, version = await storage.run(probe)
    finally:
        await storage.close()
    assert rows == [
        ("old-1", Decimal("0.00000001"), {"clientOid": "old-1"}),
        ("old-2", Decimal("0.00000002"), {"clientOid": "old-2"}),
    ]
    assert new_id == 3  # the id sequence went along with the table
    assert not trades_left and version == len(MIGRATIONS) >= 3
    assert indexes == fresh  # same index names as a fresh database: nothing of the old names left
    assert not {"idx_raw_clientoid", "idx_raw_userref", "idx_raw_client_order_id"} & indexes

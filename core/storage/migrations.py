"""Versioned schema migrations. Each step runs once, in order, in a transaction; the applied version is
kept in ``schema_version``. Add a step by appending a function; never edit a released one."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from terminal5.errors import DatabaseSchemaMissing

if TYPE_CHECKING:
    from terminal5.storage.database import Storage


def _table_exists(storage: Storage, name: str) -> bool:
    if storage.is_postgres:
        (found,) = storage.db.execute_sql("SELECT to_regclass(%s)", (name,)).fetchone()
        return found is not None
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return storage.db.execute_sql(sql, (name,)).fetchone() is not None


def _orders_table(storage: Storage) -> str:
    """The orders table's name in this database: ``trades`` until v3 renamed it, ``orders`` since."""
    return "trades" if _table_exists(storage, "trades") else storage.m.OrderRow._meta.table_name


def _v1_initial(storage: Storage) -> None:
    """The tables; on PostgreSQL, JSONB indexes on the raw answer: containment searches (GIN) and the native
    status. (Per-exchange keys, once hard-coded here, are declared by plugins since v3:
    ``ExchangeSpec.raw_index_fields``, created at start-up by ``terminal5.storage.raw_indexes``.)"""
    m = storage.m
    storage.db.create_tables([t for t in m.tables if t is not m.SchemaVersion], safe=True)
    if storage.is_postgres:
        table = _orders_table(storage)
        for sql in (
            f"CREATE INDEX IF NOT EXISTS idx_raw_response_gin ON {table} USING GIN (raw_response)",
            f"CREATE INDEX IF NOT EXISTS idx_raw_native_status ON {table} ((raw_response->>'status'))",
        ):
            storage.db.execute_sql(sql)


def _sqlite_never_reuse_ids(storage: Storage, model: Any) -> None:
    """Rebuild a SQLite table whose id lacks AUTOINCREMENT (SQLite cannot alter a column in place)."""
    db = storage.db
    table = model._meta.table_name
    (ddl,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    if "AUTOINCREMENT" not in ddl.upper():
        old = f"{table}_before_v2"
        db.execute_sql(f'ALTER TABLE "{table}" RENAME TO "{old}"')
        for (index,) in db.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (old,)
        ).fetchall():
            db.execute_sql(f'DROP INDEX "{index}"')
        model.create_table(safe=False)
        kept = {c.name for c in db.get_columns(old)}
        columns = ", ".join(f'"{c}"' for c in model._meta.columns if c in kept)
        db.execute_sql(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{old}"')  # noqa: S608 - our names
        db.execute_sql(f'DROP TABLE "{old}"')
    # The removed row with the highest id is gone already: never hand out an id something still names.
    high = db.execute_sql(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"').fetchone()[0]  # noqa: S608 - our names
    if table == "brokers":
        for other in (_orders_table(storage), "native_calls"):
            sql = f'SELECT COALESCE(MAX(broker_id), 0) FROM "{other}"'  # noqa: S608 - our table names
            high = max(high, db.execute_sql(sql).fetchone()[0])
    row = db.execute_sql("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    if row is None:
        db.execute_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, high))
    elif row[0] < high:
        db.execute_sql("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (high, table))


def _v2_ids_never_reused_and_kill_authority(storage: Storage) -> None:
    """Broker and token ids are never reused (SQLite AUTOINCREMENT; PostgreSQL's sequences already are);
    ``brokers.disabled_by`` records whether an admin or the user set the kill switch."""
    m = storage.m
    if storage.is_postgres:
        storage.db.execute_sql("ALTER TABLE brokers ADD COLUMN IF NOT EXISTS disabled_by VARCHAR(10)")
        return
    if "disabled_by" not in {c.name for c in storage.db.get_columns("brokers")}:
        storage.db.execute_sql('ALTER TABLE "brokers" ADD COLUMN "disabled_by" VARCHAR(10)')
    for model in (m.Broker, m.ApiToken):
        _sqlite_never_reuse_ids(storage, model)


#: the per-exchange raw-answer indexes v1 used to create (plugins declare theirs since v3)
_HARD_CODED_RAW_INDEXES = ("idx_raw_clientoid", "idx_raw_client_order_id", "idx_raw_userref")


def _v3_orders_table_named_orders(storage: Storage) -> None:
    """The table of orders was called ``trades`` while a ``Trade`` is a fill: it is renamed ``orders``, rows
    kept, its indexes (and PostgreSQL's id sequence) renamed with it. The per-exchange raw-answer indexes v1
    hard-coded are dropped: plugins declare theirs (``ExchangeSpec.raw_index_fields``) and they are created
    at start-up for the plugins installed."""
    db = storage.db
    if _table_exists(storage, "trades") and not _table_exists(storage, "orders"):
        db.execute_sql('ALTER TABLE "trades" RENAME TO "orders"')
        if storage.is_postgres:
            sql = (
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'orders' "
                "AND indexname LIKE %s"
            )
            for (name,) in db.execute_sql(sql, ("trades%",)).fetchall():
                db.execute_sql(f'ALTER INDEX "{name}" RENAME TO "orders{name[len("trades") :]}"')
            db.execute_sql("ALTER SEQUENCE IF EXISTS trades_id_seq RENAME TO orders_id_seq")
        else:
            # SQLite renames no index: drop the old names, create the model's (same columns, new names)
            sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders' AND sql IS NOT NULL"
            for (name,) in db.execute_sql(sql).fetchall():
                if name.startswith("trades"):
                    db.execute_sql(f'DROP INDEX "{name}"')
            storage.m.OrderRow._schema.create_indexes(safe=True)
    if storage.is_postgres:
        for name in _HARD_CODED_RAW_INDEXES:
            db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')


#: an arbitrary constant naming Terminal 5's migration lock
MIGRATION_LOCK_ID = 0x7E5A_0005

MIGRATIONS: list[Callable[[Storage], None]] = [
    _v1_initial,
    _v2_ids_never_reused_and_kill_authority,
    _v3_orders_table_named_orders,
]


def _check_target(storage: Storage) -> None:
    """A PostgreSQL search_path naming no existing schema gets a clear error, not a raw ProgrammingError
    from the first CREATE TABLE; a SQLite file holds broker secrets and orders, so only its owner reads it."""
    if storage.is_postgres:
        (schema,) = storage.db.execute_sql("SELECT current_schema()").fetchone()
        if schema is None:
            (path,) = storage.db.execute_sql("SHOW search_path").fetchone()
            raise DatabaseSchemaMissing(
                f"no schema of search_path {path} exists in this PostgreSQL database: create it first "
                f"(CREATE SCHEMA ...) or fix TERMINAL5_DATABASE_URL",
                field="database_url",
            )
        return
    name = storage.db.database
    if name and name != ":memory:" and not name.startswith("file:"):
        for path in (name, f"{name}-wal", f"{name}-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(path, 0o600)


def migrate(storage: Storage) -> int:
    """Apply pending migrations; returns the schema version now in force."""
    m = storage.m
    _check_target(storage)
    with storage.db.atomic():
        if storage.is_postgres:
            # Two processes migrating one fresh schema at once would collide in CREATE TABLE IF NOT EXISTS.
            storage.db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        storage.db.create_tables([m.SchemaVersion], safe=True)
        current = m.SchemaVersion.select(m.SchemaVersion.version).order_by(m.SchemaVersion.version.desc()).scalar()
        current = current or 0
        for version, step in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            step(storage)
            m.SchemaVersion.create(version=version)
            current = version
    return current

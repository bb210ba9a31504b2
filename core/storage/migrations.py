"""Versioned schema migrations. Each step runs once, in order, in a transaction; the applied version is
kept in ``schema_version``. Add a step by appending a function; never edit a released one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from terminal5.storage.database import Storage


def _v1_initial(storage: Storage) -> None:
    m = storage.m
    storage.db.create_tables([t for t in m.tables if t is not m.SchemaVersion], safe=True)
    if storage.is_postgres:
        # The seed's JSONB indexes: containment searches and the usual native keys.
        for sql in (
            "CREATE INDEX IF NOT EXISTS idx_raw_response_gin ON trades USING GIN (raw_response)",
            "CREATE INDEX IF NOT EXISTS idx_raw_clientoid ON trades ((raw_response->>'clientOid'))",
            "CREATE INDEX IF NOT EXISTS idx_raw_client_order_id ON trades ((raw_response->>'clientOrderId'))",
            "CREATE INDEX IF NOT EXISTS idx_raw_userref ON trades ((raw_response->>'userref'))",
            "CREATE INDEX IF NOT EXISTS idx_raw_native_status ON trades ((raw_response->>'status'))",
        ):
            storage.db.execute_sql(sql)


#: an arbitrary constant naming Terminal 5's migration lock
MIGRATION_LOCK_ID = 0x7E5A_0005

MIGRATIONS: list[Callable[[Storage], None]] = [_v1_initial]


def migrate(storage: Storage) -> int:
    """Apply pending migrations; returns the schema version now in force."""
    m = storage.m
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

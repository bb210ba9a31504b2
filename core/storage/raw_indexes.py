"""Expression indexes on the raw answers of the ``orders`` table, for the keys plugins declare.

Each plugin lists in ``ExchangeSpec.raw_index_fields`` the top-level keys of its raw order answers worth an
index (its own client-id field, typically). At start-up the gateway creates, on PostgreSQL, one index
``idx_raw_<key, lower case>`` on ``raw_response->>'<key>'`` per declared key. Creation is idempotent
(``IF NOT EXISTS``) and serialized with the migrations' lock, so several processes may start at once. A
key no installed plugin declares any more keeps its index (dropping is an operator's decision). SQLite keeps
JSON as text and gets none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from terminal5.contract import RAW_INDEX_FIELD
from terminal5.storage.migrations import MIGRATION_LOCK_ID

if TYPE_CHECKING:
    from terminal5.storage.database import Storage


def index_name(field: str) -> str:
    return f"idx_raw_{field.lower()}"


def ensure_raw_indexes(storage: Storage, fields: Iterable[str]) -> list[str]:
    """Create the missing indexes for ``fields`` (PostgreSQL only). Returns the names of all of them."""
    wanted = sorted(set(fields))
    for field in wanted:
        if not RAW_INDEX_FIELD.fullmatch(field):  # the spec refuses them already; this is SQL, check again
            raise ValueError(f"raw index field {field!r} is not a plain key")
    if not storage.is_postgres or not wanted:
        return []
    table = storage.m.OrderRow._meta.table_name
    with storage.db.atomic():
        storage.db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        for field in wanted:
            storage.db.execute_sql(
                f"CREATE INDEX IF NOT EXISTS {index_name(field)} ON {table} ((raw_response->>'{field}'))"
            )
    return [index_name(f) for f in wanted]

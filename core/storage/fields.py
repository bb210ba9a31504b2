"""Column types that keep money exact and times aware on both SQLite and PostgreSQL.

SQLite's NUMERIC affinity would silently turn "0.1" into a REAL, so money is TEXT there and
NUMERIC(38, 18) on PostgreSQL. JSON documents are TEXT on SQLite and JSONB on PostgreSQL, written and
read with the Decimal-preserving codec.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import peewee

from terminal5 import jsonutil
from terminal5.decimals import plain

SQLITE_FIELD_TYPES = {"MONEY": "TEXT", "JSONDOC": "TEXT", "UTCTIME": "TEXT"}
POSTGRES_FIELD_TYPES = {"MONEY": "NUMERIC(38, 18)", "JSONDOC": "JSONB", "UTCTIME": "TIMESTAMPTZ"}


class MoneyField(peewee.Field):
    field_type = "MONEY"

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"{self.name}: money must be a Decimal, got {type(value).__name__}")
        return plain(value)

    def python_value(self, value: Any) -> Decimal | None:
        if value is None:
            return None
        # NUMERIC(38,18) answers 0.100000000000000000: give the plain value back.
        return Decimal(plain(Decimal(value))) if isinstance(value, Decimal) else Decimal(plain(Decimal(str(value))))


class JsonField(peewee.Field):
    field_type = "JSONDOC"

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None
        return jsonutil.dumps(value)

    def python_value(self, value: Any) -> Any:
        if value is None or not isinstance(value, (str, bytes)):
            return value
        return jsonutil.loads(value)


class UtcDateTimeField(peewee.Field):
    field_type = "UTCTIME"

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise TypeError(f"{self.name}: needs a timezone-aware datetime")
        value = value.astimezone(UTC)
        return value.isoformat() if isinstance(self.model._meta.database, peewee.SqliteDatabase) else value

    def python_value(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)

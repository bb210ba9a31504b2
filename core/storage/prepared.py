"""Hot-path SQL written once per table and column set, then reused with parameters.

peewee owns the schema and the migrations, but building a query through it costs ~100-400 µs for the
36-column orders table, against ~10-40 µs for the driver's execute. The statements here are the same SQL
text peewee would build (quoted names, the dialect's placeholder), made once and kept; values still go
through each field's ``db_value`` / ``python_value``, so money stays exact and times aware exactly as with
peewee. They run through ``Database.execute_sql`` on the DB thread: the driver's errors become peewee's
(``IntegrityError``, ``OperationalError``), so outage handling (``terminal5.storage.database``) is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import peewee


class PreparedTable:
    """Statements on one model's table, cached by the columns they name."""

    def __init__(self, model: type[peewee.Model]) -> None:
        self.model = model
        self.db: peewee.Database = model._meta.database
        self.fields: dict[str, peewee.Field] = {f.name: f for f in model._meta.sorted_fields}
        self._quote = self.db.quote  # the dialect's quote characters, e.g. '""'
        self.table = self._quoted(model._meta.table_name)
        self.param = self.db.param
        self.returning = isinstance(self.db, peewee.PostgresqlDatabase)
        self._sql: dict[Any, str] = {}
        #: every column, in model order, and how each comes back from the driver
        self.columns = tuple(self.fields)
        self._readers = tuple(self.fields[name].python_value for name in self.columns)
        self._select = "SELECT " + ", ".join(self._q(c) for c in self.columns)

    def _quoted(self, name: str) -> str:
        return f"{self._quote[0]}{name}{self._quote[1]}"

    def _q(self, name: str) -> str:
        return self._quoted(self.fields[name].column_name)

    def _values(self, names: Iterable[str], values: Mapping[str, Any]) -> list[Any]:
        fields = self.fields
        return [fields[name].db_value(values[name]) for name in names]

    def insert(self, values: Mapping[str, Any]) -> int:
        """INSERT one row; its new primary key."""
        names = tuple(values)
        sql = self._sql.get(("insert", names))
        if sql is None:
            # names come from the model, values travel as parameters
            columns, marks = ", ".join(self._q(n) for n in names), ", ".join([self.param] * len(names))
            sql = f"INSERT INTO {self.table} ({columns}) VALUES ({marks})"  # noqa: S608
            if self.returning:
                sql += f" RETURNING {self._q('id')}"
            self._sql[("insert", names)] = sql
        cursor = self.db.execute_sql(sql, self._values(names, values))
        return cursor.fetchone()[0] if self.returning else cursor.lastrowid

    def update(self, row_id: int, values: Mapping[str, Any]) -> int:
        """UPDATE the row with this id; how many rows changed."""
        names = tuple(values)
        sql = self._sql.get(("update", names))
        if sql is None:
            assignments = ", ".join(f"{self._q(n)} = {self.param}" for n in names)
            sql = f"UPDATE {self.table} SET {assignments} WHERE {self._q('id')} = {self.param}"  # noqa: S608
            self._sql[("update", names)] = sql
        params = self._values(names, values)
        params.append(row_id)
        return self.db.execute_sql(sql, params).rowcount

    def select_one(self, where: Sequence[str], values: Sequence[Any]) -> dict[str, Any] | None:
        """The first row whose ``where`` columns equal ``values`` (every column, read as peewee would)."""
        key = ("select", tuple(where))
        sql = self._sql.get(key)
        if sql is None:
            condition = " AND ".join(f"{self._q(n)} = {self.param}" for n in where)
            sql = f"{self._select} FROM {self.table} WHERE {condition} LIMIT 1"
            self._sql[key] = sql
        params = [self.fields[n].db_value(v) for n, v in zip(where, values, strict=True)]
        row = self.db.execute_sql(sql, params).fetchone()
        if row is None:
            return None
        return {
            name: (None if value is None else read(value))
            for name, read, value in zip(self.columns, self._readers, row, strict=True)
        }

"""Hot-path SQL written once per table and column set, then reused with parameters.

peewee owns the schema and the migrations, but building a query through it costs ~100-400 µs for the
36-column orders table, against ~10-40 µs for the driver's execute. The statements here are the same SQL
text peewee would build (quoted names, the dialect's placeholder), made once and kept; values still go
through each field's ``db_value`` / ``python_value``, so money stays exact and times aware exactly as with
peewee. They run through ``Database.execute_sql`` on the DB thread: the driver's errors become peewee's
(``IntegrityError``, ``OperationalError``), so outage handling (``terminal5.storage.database``) is unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
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
        #: UPDATE ... RETURNING answers the row in the same statement (PostgreSQL; SQLite since 3.35)
        self.update_returns = self.returning or sqlite3.sqlite_version_info >= (3, 35, 0)
        self._sql: dict[Any, str] = {}
        #: per column: the value types its field would pass through unchanged, both ways (skipped: a
        #: conversion call per column per row is most of the cost of a wide row), and its conversions
        self._same = {name: _unchanged_types(field) for name, field in self.fields.items()}
        self._writers: dict[tuple[str, ...], tuple[tuple[str, tuple[type, ...], Any], ...]] = {}
        #: every column, in model order, and how each comes back from the driver
        self.columns = tuple(self.fields)
        self._readers = tuple((name, self._same[name], self.fields[name].python_value) for name in self.columns)
        self._columns = ", ".join(self._q(c) for c in self.columns)
        self._select = "SELECT " + self._columns

    def _quoted(self, name: str) -> str:
        return f"{self._quote[0]}{name}{self._quote[1]}"

    def _q(self, name: str) -> str:
        return self._quoted(self.fields[name].column_name)

    def _values(self, names: tuple[str, ...], values: Mapping[str, Any]) -> list[Any]:
        writers = self._writers.get(names)
        if writers is None:
            writers = self._writers[names] = tuple((n, self._same[n], self.fields[n].db_value) for n in names)
        out = []
        for name, same, write in writers:
            value = values[name]
            out.append(value if type(value) in same else write(value))
        return out

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

    def insert_unless_taken(self, values: Mapping[str, Any]) -> int | None:
        """INSERT one row; None when a unique constraint already holds its key (``ON CONFLICT DO NOTHING``:
        no error, so the surrounding transaction goes on, with no savepoint round trip on PostgreSQL). Any
        other refusal (a NOT NULL or foreign key) still raises."""
        names = tuple(values)
        key = ("insert_unless_taken", names)
        sql = self._sql.get(key)
        if sql is None:
            columns, marks = ", ".join(self._q(n) for n in names), ", ".join([self.param] * len(names))
            sql = f"INSERT INTO {self.table} ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608
            if self.update_returns:  # PostgreSQL; SQLite since 3.35
                sql += f" RETURNING {self._q('id')}"
            self._sql[key] = sql
        cursor = self.db.execute_sql(sql, self._values(names, values))
        if self.update_returns:
            row = cursor.fetchone()
            return None if row is None else int(row[0])
        return int(cursor.lastrowid) if cursor.rowcount else None

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

    def update_returning(self, row_id: int, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """UPDATE the row with this id and answer it as stored now (None if there is no such row)."""
        if not self.update_returns:
            self.update(row_id, values)
            return self.select_one(("id",), (row_id,))
        names = tuple(values)
        sql = self._sql.get(("update_returning", names))
        if sql is None:
            assignments = ", ".join(f"{self._q(n)} = {self.param}" for n in names)
            where = f"{self._q('id')} = {self.param}"
            sql = f"UPDATE {self.table} SET {assignments} WHERE {where} RETURNING {self._columns}"  # noqa: S608
            self._sql[("update_returning", names)] = sql
        params = self._values(names, values)
        params.append(row_id)
        # every row fetched: the statement finishes, so SQLite's autocommit commits now, not at cursor cleanup
        rows = self.db.execute_sql(sql, params).fetchall()
        return self._read(rows[0] if rows else None)

    def select_one(self, where: Sequence[str], values: Sequence[Any]) -> dict[str, Any] | None:
        """The first row whose ``where`` columns equal ``values`` (every column, read as peewee would)."""
        return self._read(self.db.execute_sql(self.select_sql(where), self.params(where, values)).fetchone())

    def select_sql(self, where: Sequence[str]) -> str:
        """``select_one``'s statement (every column; the first row whose ``where`` columns equal parameters)."""
        key = ("select", tuple(where))
        sql = self._sql.get(key)
        if sql is None:
            condition = " AND ".join(f"{self._q(n)} = {self.param}" for n in where)
            sql = f"{self._select} FROM {self.table} WHERE {condition} LIMIT 1"
            self._sql[key] = sql
        return sql

    def params(self, names: Sequence[str], values: Sequence[Any]) -> list[Any]:
        """``values`` of the columns ``names`` as the driver takes them (each field's ``db_value``)."""
        return self._values(tuple(names), dict(zip(names, values, strict=True)))

    def _read(self, row: Sequence[Any] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        return {
            name: (value if type(value) in same else read(value))
            for (name, same, read), value in zip(self._readers, row, strict=True)
        }


#: peewee's own field classes whose ``db_value`` and ``python_value`` answer a value of these exact types
#: unchanged (``Field``: None stays None, else ``adapt``, which is ``str``/``int``/``bool`` of the value).
#: Subclasses are not in it: they may convert (money, JSON, times), so they always get their call.
_PASSTHROUGH: dict[type[peewee.Field], tuple[type, ...]] = {
    peewee.CharField: (str,),
    peewee.TextField: (str,),
    peewee.IntegerField: (int,),
    peewee.BigIntegerField: (int,),
    peewee.AutoField: (int,),
    peewee.BigAutoField: (int,),
    peewee.BooleanField: (bool,),
}


def _unchanged_types(field: peewee.Field) -> tuple[type, ...]:
    """Value types (exact, not subclasses) that this field stores and reads back as they are: None for
    every field whose conversions keep it (peewee's, and ours: money, JSON, times), and the plain type of
    peewee's simple fields. Anything else goes through the field's conversion, as with peewee."""
    try:
        keeps_none = field.db_value(None) is None and field.python_value(None) is None
    except Exception:  # a field that refuses None converts it its own way: always ask it
        keeps_none = False
    nothing: tuple[type, ...] = (type(None),) if keeps_none else ()
    return nothing + _PASSTHROUGH.get(type(field), ())

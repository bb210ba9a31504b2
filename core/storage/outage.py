"""Which database errors mean "the database is unavailable" (as opposed to a bug in a query).

Decided from the drivers' error codes, never from message text: PostgreSQL SQLSTATE classes 08
(connection), 53 (insufficient resources), 57 (operator intervention: shutdown, crash, cannot connect
now), serialization failures and deadlocks, and client-side connection failures (no SQLSTATE); SQLite
BUSY, LOCKED, IOERR, FULL and CANTOPEN. A syntax error or a missing table stays what it is.
"""

from __future__ import annotations

import sqlite3
from typing import Any

#: PostgreSQL SQLSTATE classes and codes of an unavailable (or transiently failing) server
PG_CLASSES = frozenset({"08", "53", "57"})
PG_CODES = frozenset({"40001", "40P01"})
#: SQLite primary result codes: BUSY, LOCKED, IOERR, FULL, CANTOPEN
SQLITE_CODES = frozenset({5, 6, 10, 13, 14})


def driver_error(exc: BaseException) -> BaseException | None:
    """The driver's exception behind a peewee one (peewee passes it as the first argument)."""
    if exc.args and isinstance(exc.args[0], BaseException):
        return exc.args[0]
    return exc.__cause__ or exc.__context__


def is_outage(exc: BaseException) -> bool:
    original = driver_error(exc) or exc
    try:
        import psycopg2
    except ImportError:  # pragma: no cover - SQLite-only installs
        psycopg2 = None  # type: ignore[assignment]
    if psycopg2 is not None and isinstance(original, psycopg2.Error):
        if isinstance(original, psycopg2.InterfaceError):  # "connection already closed"
            return True
        code = original.pgcode
        if code is None:  # no answer from a server at all: refused, reset, closed
            return isinstance(original, psycopg2.OperationalError)
        return code[:2] in PG_CLASSES or code in PG_CODES
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        return code is not None and (code & 0xFF) in SQLITE_CODES
    return False


def connection_lost(conn: Any) -> bool:
    """True when a driver connection is known dead (psycopg2 sets ``closed`` once it notices)."""
    return conn is None or bool(getattr(conn, "closed", 0))


#: SQLite's BUSY_SNAPSHOT: a transaction that read first may not write after another connection wrote
SQLITE_BUSY_SNAPSHOT = 517


def is_conflict(exc: BaseException) -> bool:
    """A deadlock or serialization failure: the transaction was refused to let another one through, and
    the same work, run again, can succeed (PostgreSQL SQLSTATE 40P01, 40001; SQLite BUSY_SNAPSHOT)."""
    while exc is not None:
        original = driver_error(exc) or exc
        if getattr(original, "pgcode", None) in PG_CODES:
            return True
        if getattr(original, "sqlite_errorcode", None) == SQLITE_BUSY_SNAPSHOT:
            return True
        if original is exc:
            return False
        exc = original
    return False

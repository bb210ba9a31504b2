"""Point reads of the rows checked on every request (the API token, the broker with its kill switch) on the
caller's own thread, without the hand-off to the DB thread, and never from a cache.

SQLite file databases only: each thread that reads gets its own read-only connection (``query_only``, in
autocommit, ``busy_timeout`` 0). In WAL mode a read starts from the last committed state of the file, so a
revocation or a kill switch committed by any connection, of this process or another (the CLI, a second
daemon), holds for the very next read, exactly as with the DB thread's read. A reader never waits: a read
that cannot be made at once (busy, locked, a missing table, any driver error) answers ``MISS`` and the caller
makes the usual read on the DB thread (which reports an outage as ``DatabaseUnavailable``). PostgreSQL, an
in-memory SQLite database and a database that is not in WAL mode always answer ``MISS``.

The statements and the conversion of each column are ``PreparedTable``'s, so a row reads exactly as it
does on the DB thread.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import peewee

from terminal5.storage.prepared import PreparedTable

MISS: Final = object()  # no read was made here: read on the DB thread


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///`` URL (None for another database, or an in-memory one)."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        return None
    path = unquote(parts.path)[1:]
    return None if not path or path == ":memory:" or path.startswith("file:") else path


class FreshReads:
    """Fresh point reads on the calling thread (see the module's text). One per ``Storage``."""

    def __init__(self, url: str) -> None:
        self.path = sqlite_path(url)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    def _connection(self) -> sqlite3.Connection | None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None or self.path is None:
            return conn
        try:
            conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=True)
        except sqlite3.Error:
            return None
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA busy_timeout = 0")
            wal = conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        except sqlite3.Error:
            conn.close()
            return None
        if not wal:  # without WAL a read would have to wait for writers: the DB thread reads instead
            conn.close()
            self.path = None
            return None
        with self._lock:
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def select_one(self, table: PreparedTable, where: Sequence[str], values: Sequence[Any]) -> Any:
        """``table.select_one(where, values)`` read here and now: the row, None when there is none, or
        ``MISS`` when it could not be read here (read it on the DB thread)."""
        if self.path is None or not isinstance(table.db, peewee.SqliteDatabase):
            return MISS
        conn = self._connection()
        if conn is None:
            return MISS
        try:
            # the table's own statement (SQLite's placeholder is the driver's); fetchall: the statement runs
            # to its end, so its read transaction ends here (the next read starts from the state committed
            # by then, never from this one's snapshot)
            rows = conn.execute(table.select_sql(where), table.params(where, values)).fetchall()
        except sqlite3.Error:
            self._drop(conn)
            return MISS
        return table._read(rows[0] if rows else None)

    def _drop(self, conn: sqlite3.Connection) -> None:
        self._local.conn = None
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        conn.close()

    def close(self) -> None:
        """Close every connection opened here (a thread's next read opens a new one)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.ProgrammingError:  # made on another thread: closed when that thread's local goes
                continue
        self._local = threading.local()


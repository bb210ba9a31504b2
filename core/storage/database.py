"""Opening the database and running every query on one dedicated thread.

peewee is synchronous; the gateway is asyncio. Every database call goes through ``Storage.run``, which
executes it on a single worker thread, so the event loop never blocks on I/O and SQLite sees one writer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee
from loguru import logger

from terminal5 import jsonutil
from terminal5.errors import DatabaseUnavailable
from terminal5.storage.fields import POSTGRES_FIELD_TYPES, SQLITE_FIELD_TYPES
from terminal5.storage.migrations import migrate
from terminal5.storage.outage import connection_lost, driver_error, is_outage
from terminal5.storage.schema import build_models

T = TypeVar("T")
#: seconds a connection attempt may take (a server that is down must not hold the DB thread)
CONNECT_TIMEOUT = 5


class _Postgres(peewee.PostgresqlDatabase):
    #: statements executed successfully on this database object (tells a stale connection's first failure)
    statements = 0

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        cursor = super().execute_sql(sql, params)
        self.statements += 1
        return cursor

    def _connect(self) -> Any:
        conn = super()._connect()
        import psycopg2.extras

        # psycopg2 parses json/jsonb with floats by default; money in raw payloads must stay exact.
        psycopg2.extras.register_default_jsonb(conn_or_curs=conn, loads=jsonutil.loads)
        psycopg2.extras.register_default_json(conn_or_curs=conn, loads=jsonutil.loads)
        return conn


def open_database(url: str) -> peewee.Database:
    """``sqlite:///path/to.db`` (or ``sqlite:///:memory:``) or ``postgresql://user@host:port/db``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute/path.db
        path = unquote(parts.path)[1:] or ":memory:"
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return peewee.SqliteDatabase(
            path,
            field_types=SQLITE_FIELD_TYPES,
            pragmas={"journal_mode": "wal", "synchronous": "normal", "busy_timeout": 30000, "foreign_keys": 1},
            check_same_thread=False,
        )
    if parts.scheme in ("postgres", "postgresql"):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            raise RuntimeError("PostgreSQL needs psycopg2: pip install 'terminal5[postgres]'") from None
        query = dict(parse_qsl(parts.query))
        extra: dict[str, Any] = {}
        if "search_path" in query:  # lets tests (and tenants) use their own schema
            extra["options"] = f"-c search_path={query['search_path']}"
        return _Postgres(
            unquote(parts.path.lstrip("/")) or "postgres",
            **extra,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            connect_timeout=CONNECT_TIMEOUT,
            # a server that vanished without closing the connection is noticed, not waited for forever
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
            field_types=POSTGRES_FIELD_TYPES,
        )
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r} (use sqlite:/// or postgresql://)")


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


class Storage:
    """The database, its models, and the one thread that talks to it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = open_database(url)
        self.m = build_models(self.db)
        self.is_postgres = isinstance(self.db, peewee.PostgresqlDatabase)
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="terminal5-db")
        #: fire-and-forget writes waiting for the DB thread (``submit``), and whether a job will take them
        self._pending: list[tuple[Callable[..., Any], tuple[Any, ...], concurrent.futures.Future[Any]]] = []
        self._pending_lock = threading.Lock()
        self._drain_scheduled = False

    @classmethod
    async def open(cls, url: str) -> Storage:
        storage = cls(url)
        version = await storage.run(migrate, storage)
        logger.info("database {} ready (schema v{})", redact_url(url), version)
        return storage

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        # Carry the caller's context (loguru's request_id) onto the DB thread.
        context = contextvars.copy_context()
        call = functools.partial(context.run, self._call, fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, call)

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on an open connection. A connection the server dropped (restart, failover) is replaced
        instead of kept: the next call reconnects by itself. An unavailable database is a
        ``DatabaseUnavailable`` (503), never a bare driver error."""
        for attempt in (1, 2):
            reused = self._connect()
            before = getattr(self.db, "statements", 0)
            try:
                return fn(*args, **kwargs)
            except (peewee.OperationalError, peewee.InterfaceError) as exc:
                if not is_outage(exc):
                    raise
                lost = self._drop_if_lost()
                if attempt == 1 and lost and reused and getattr(self.db, "statements", 0) == before:
                    # A connection left over from before a restart failed before doing anything: once more
                    # on a fresh one (nothing ran, so nothing can run twice).
                    logger.info("database connection was stale; reconnected")
                    continue
                logger.warning("database unavailable: {}", driver_error(exc) or exc)
                raise DatabaseUnavailable(f"the database is unavailable ({type(exc).__name__})") from exc
        raise AssertionError("unreachable")

    def _connect(self) -> bool:
        """Open the connection if needed; True when an existing one is reused."""
        if not self.db.is_closed():
            return True
        try:
            self.db.connect()
        except (peewee.OperationalError, peewee.InterfaceError) as exc:
            if not is_outage(exc):
                raise
            self._drop_if_lost()
            logger.warning("database unavailable: cannot connect: {}", driver_error(exc) or exc)
            raise DatabaseUnavailable("the database is unavailable (cannot connect)") from exc
        return False

    def _drop_if_lost(self) -> bool:
        """Forget a dead connection (closing it quietly) so the next call opens a new one."""
        conn = self.db._state.conn
        if not self.is_postgres or not connection_lost(conn):
            return False
        with contextlib.suppress(Exception):
            conn.close()
        self.db._state.reset()  # also forgets transactions the dead connection had open
        return True

    def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """For CLI tools and other threads: same single DB thread, blocking."""
        return self._executor.submit(self._call, fn, *args, **kwargs).result()

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Fire-and-forget write (audit records), never blocking the caller. Writes submitted while the DB
        thread is busy are grouped: one job, one transaction (one commit, one hand-off) for all of them.
        Each runs before any job submitted after it; ``close`` (and any later ``run``) waits for them."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._pending_lock:
            self._pending.append((fn, args, future))
            schedule = not self._drain_scheduled
            self._drain_scheduled = True
        if schedule:
            self._executor.submit(self._drain)
        return future

    def _drain(self) -> None:
        with self._pending_lock:
            batch, self._pending = self._pending, []
            self._drain_scheduled = False
        if not batch:
            return
        try:
            results = self._call(self._write_all, batch)
        except Exception as exc:
            if len(batch) == 1 or isinstance(exc, DatabaseUnavailable):
                for _fn, _args, future in batch:  # the database is away: none of them can be written now
                    future.set_exception(exc)
                return
            # one bad write must not take the others with it (the transaction rolled back): each on its own
            for fn, args, future in batch:
                try:
                    future.set_result(self._call(fn, *args))
                except Exception as exc:
                    future.set_exception(exc)
            return
        for (_fn, _args, future), result in zip(batch, results, strict=True):
            future.set_result(result)

    def _write_all(self, batch: list[tuple[Callable[..., Any], tuple[Any, ...], Any]]) -> list[Any]:
        if len(batch) == 1:
            fn, args, _future = batch[0]
            return [fn(*args)]
        with self.db.atomic():
            return [fn(*args) for fn, args, _future in batch]

    async def close(self) -> None:
        def close_quietly() -> None:
            try:
                self.db.close()
            except (peewee.OperationalError, peewee.InterfaceError):
                self.db._state.reset()  # a dead connection: nothing left to close

        await asyncio.get_running_loop().run_in_executor(self._executor, close_quietly)
        self._executor.shutdown(wait=True)

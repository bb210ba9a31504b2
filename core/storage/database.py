"""Opening the database and running every query on one dedicated thread.

peewee is synchronous; the gateway is asyncio. Every database call goes through ``Storage.run``, which
executes it on a single worker thread, so the event loop never blocks on I/O and SQLite sees one writer.
Jobs that queue up while that thread is busy run as one group in one transaction (group commit).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee
from loguru import logger

from terminal5 import jsonutil
from terminal5.errors import DatabaseUnavailable
from terminal5.storage.fields import POSTGRES_FIELD_TYPES, SQLITE_FIELD_TYPES
from terminal5.storage.fresh_reads import FreshReads
from terminal5.storage.migrations import migrate
from terminal5.storage.outage import connection_lost, driver_error, is_conflict, is_outage
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


class _JobFailed(Exception):
    """One job of a group run without savepoints failed: the group's transaction rolls back."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index)
        self.index, self.error = index, error


class _Job:
    """One unit of database work waiting for the DB thread, and where its answer goes: an asyncio future
    (``loop`` set) or a ``concurrent.futures.Future``."""

    __slots__ = ("fn", "future", "loop", "then", "undo")

    def __init__(self, fn: Callable[[], Any], future: Any, loop: asyncio.AbstractEventLoop | None) -> None:
        self.fn = fn
        self.future = future
        self.loop = loop
        #: in-memory effects of the job, reverted if its writes roll back (``Storage.on_rollback``)
        self.undo: list[Callable[[], None]] = []
        #: effects outside the database, run once its writes are committed (``Storage.after_commit``)
        self.then: list[Callable[[], None]] = []

    def cancelled(self) -> bool:
        return self.future.cancelled()


def _resolve_all(answers: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in answers:
        if future.done():  # the caller went away (cancelled): nobody waits for this answer
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class Storage:
    """The database, its models, and the one thread that talks to it.

    Jobs queue up while the DB thread is busy and run as one group: one transaction, one commit, one
    wake-up of the event loop for all their answers (group commit). Each job keeps its own outcome. A group
    first runs without savepoints (two statements per job, a round trip each on PostgreSQL); if one job
    fails, the transaction rolls back, that job gets its error, and the others run again, each in a
    savepoint, so a second failure rolls back that job alone (a job runs at most twice). No answer is
    delivered before the commit: a caller that got its answer has its writes durable (the intent before
    the send)."""

    #: jobs per group at most (bounds the length of one transaction)
    MAX_GROUP = 256

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = open_database(url)
        self.m = build_models(self.db)
        self.is_postgres = isinstance(self.db, peewee.PostgresqlDatabase)
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="terminal5-db")
        #: jobs waiting for the DB thread, and whether a group job will take them
        self._queue: list[_Job] = []
        self._queue_lock = threading.Lock()
        self._group_scheduled = False
        #: the job running now on the DB thread (its undo/then lists), None outside a group
        self._current: _Job | None = None
        #: point reads made on the caller's own thread (SQLite; the token and broker rows)
        self.fresh = FreshReads(url)

    @classmethod
    async def open(cls, url: str) -> Storage:
        storage = cls(url)
        version = await storage.run(migrate, storage)
        logger.info("database {} ready (schema v{})", redact_url(url), version)
        return storage

    # queueing ----------------------------------------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        # Carry the caller's context (loguru's request_id) onto the DB thread.
        context = contextvars.copy_context()
        self._enqueue(_Job(functools.partial(context.run, fn, *args, **kwargs), future, loop))
        return await future

    def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """For CLI tools and other threads: same single DB thread, blocking."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._enqueue(_Job(functools.partial(fn, *args, **kwargs), future, None))
        return future.result()

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Fire-and-forget write (audit records), never blocking the caller; it joins the next group.
        Each runs before any job submitted after it; ``close`` waits for them."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._enqueue(_Job(functools.partial(fn, *args), future, None))
        return future

    def _enqueue(self, job: _Job) -> None:
        with self._queue_lock:
            self._queue.append(job)
            schedule = not self._group_scheduled
            self._group_scheduled = True
        if schedule:
            self._executor.submit(self._run_group)

    # on the DB thread --------------------------------------------------------------------------------
    def on_rollback(self, undo: Callable[[], None]) -> None:
        """From inside a job: revert an in-memory effect if the job's writes roll back (the job fails, or
        its group's commit does). Outside a job it is dropped (nothing can roll back)."""
        if self._current is not None:
            self._current.undo.append(undo)

    def after_commit(self, effect: Callable[[], None]) -> None:
        """From inside a job: an effect outside the database (a cache elsewhere), once the job's writes
        are committed. Outside a job it runs now."""
        if self._current is None:
            effect()
        else:
            self._current.then.append(effect)

    def _run_group(self) -> None:
        with self._queue_lock:
            batch, self._queue = self._queue[: self.MAX_GROUP], self._queue[self.MAX_GROUP :]
            if self._queue:
                self._executor.submit(self._run_group)
            else:
                self._group_scheduled = False
        batch = [job for job in batch if not job.cancelled()]  # as a cancelled executor job: never run
        if not batch:
            return
        try:
            outcomes = self._run_batch(batch, savepoints=False)
        except _JobFailed as failed:  # rolled back: that job has its answer, the others run again
            for job in batch:
                self._revert(job)
            rest = batch[: failed.index] + batch[failed.index + 1 :]
            outcomes = [(batch[failed.index], False, failed.error)]
            outcomes += self._run_batch(rest, savepoints=True) if rest else []
        for job, ok, _value in outcomes:
            if ok:
                for effect in job.then:
                    try:
                        effect()
                    except Exception:
                        logger.exception("an effect after a database commit failed")
        self._deliver(outcomes)

    def _run_batch(self, batch: list[_Job], *, savepoints: bool) -> list[tuple[_Job, bool, Any]]:
        """The batch in one transaction; when that is lost (the database is away, the commit failed) every
        job gets the error, or after a deadlock runs again alone. Raises ``_JobFailed`` without savepoints."""
        try:
            return self._call(self._in_one_transaction, batch, savepoints)
        except _JobFailed:
            raise
        except BaseException as exc:  # the database is away, or the commit failed: nothing of it stands
            for job in batch:
                self._revert(job)
            if not is_conflict(exc):
                return [(job, False, exc) for job in batch]
            # a deadlock with another process's transaction: all of it rolled back, so each job runs again,
            # alone (a small transaction rarely meets another one twice)
            return [self._run_alone(job) for job in batch]

    def _run_alone(self, job: _Job, attempts: int = 5) -> tuple[_Job, bool, Any]:
        for attempt in range(1, attempts + 1):
            try:
                return self._call(self._in_one_transaction, [job])[0]
            except BaseException as exc:
                self._revert(job)
                if attempt == attempts or not is_conflict(exc):
                    return job, False, exc
                time.sleep(0.002 * attempt * (1 + random.random()))  # apart from the other transaction
        raise AssertionError("unreachable")

    def _in_one_transaction(self, batch: list[_Job], savepoints: bool = True) -> list[tuple[_Job, bool, Any]]:
        outcomes: list[tuple[_Job, bool, Any]] = []
        alone = len(batch) == 1
        # a deferred BEGIN: a group of reads takes no write lock (readers go on while another process
        # writes); SQLite refusing a write because another process wrote since this group's first read
        # (BUSY_SNAPSHOT) is a conflict: the jobs run again, each alone (``_run_group``)
        with self.db.atomic():
            for index, job in enumerate(batch):
                job.undo.clear()
                job.then.clear()
                self._current = job
                try:
                    if alone or not savepoints:  # an error rolls back the whole transaction
                        value = self._run_job(job.fn)
                    else:
                        with self.db.savepoint():
                            value = self._run_job(job.fn)
                except Exception as exc:
                    if alone or isinstance(exc, DatabaseUnavailable) or is_outage(exc):
                        raise  # the whole group is lost: the caller reverts and answers every job
                    if not savepoints:
                        raise _JobFailed(index, exc) from exc
                    self._revert(job)
                    outcomes.append((job, False, exc))
                else:
                    outcomes.append((job, True, value))
                finally:
                    self._current = None
        return outcomes

    def _run_job(self, fn: Callable[[], Any]) -> Any:
        """One job's work (a seam for the benchmark's stage timers)."""
        return fn()

    @staticmethod
    def _revert(job: _Job) -> None:
        for undo in reversed(job.undo):
            try:
                undo()
            except Exception:
                logger.exception("reverting an in-memory effect of a rolled-back job failed")
        job.undo.clear()
        job.then.clear()

    @staticmethod
    def _deliver(outcomes: list[tuple[_Job, bool, Any]]) -> None:
        """Answers to asyncio callers in one wake-up per event loop; thread callers directly."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, bool, Any]]] = {}
        for job, ok, value in outcomes:
            if job.loop is None:
                if job.future.set_running_or_notify_cancel():
                    if ok:
                        job.future.set_result(value)
                    else:
                        job.future.set_exception(value)
            else:
                by_loop.setdefault(job.loop, []).append((job.future, ok, value))
        for loop, answers in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve_all, answers)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                pass

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

    async def close(self) -> None:
        def close_quietly() -> None:
            try:
                self.db.close()
            except (peewee.OperationalError, peewee.InterfaceError):
                self.db._state.reset()  # a dead connection: nothing left to close

        await asyncio.get_running_loop().run_in_executor(self._executor, close_quietly)
        self._executor.shutdown(wait=True)
        self.fresh.close()  # the read-only connections of the fresh reads (this thread's closed here)

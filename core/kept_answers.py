"""Exchange answers received while the database could not store them, kept until it can.

The order exists on the exchange; its answer must not be lost because the database is away. Each kept
answer is a database write (run on the storage thread) plus what to do once it is written (alerts). They
are written in arrival order as soon as the database answers again: by a background task that retries
with a bounded back-off for a bounded time, and at every reconciliation. A process that dies with
answers still kept loses nothing either: their orders are ``pending_submit`` in the database, and
reconciliation looks them up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from loguru import logger

from terminal5.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from terminal5.storage.database import Storage

#: waits between background attempts (seconds), the last one repeated
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
#: background attempts before leaving the rest to reconciliation (about an hour at the longest delay)
MAX_ATTEMPTS = 720


@attrs.define
class _Kept:
    what: str
    write: Callable[[], Any]
    after: Callable[[Any], None] | None


class KeptAnswers:
    def __init__(self, storage: Storage, *, retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self.storage = storage
        self.retry_delays = retry_delays
        self._kept: list[_Kept] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def keep(self, what: str, write: Callable[[], Any], after: Callable[[Any], None] | None = None) -> None:
        """Keep one write (``after`` gets its result once written) and make sure a retry is scheduled."""
        self._kept.append(_Kept(what, write, after))
        logger.warning("database unavailable: {} kept in memory until it returns ({} kept)", what, len(self._kept))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._retry(), name="terminal5-kept-answers")

    async def store_all(self) -> int:
        """Write every kept answer, in order; stops at the first outage. Returns how many were written."""
        written = 0
        async with self._lock:
            while self._kept:
                item = self._kept[0]
                try:
                    result = await self.storage.run(item.write)
                except DatabaseUnavailable:
                    break
                self._kept.pop(0)
                written += 1
                logger.info("stored {} kept during the database outage", item.what)
                if item.after is not None:
                    try:
                        item.after(result)
                    except Exception:  # an alert sink failing must not lose the next answers
                        logger.exception("after storing {}", item.what)
        return written

    async def _retry(self) -> None:
        for attempt in range(MAX_ATTEMPTS):
            await asyncio.sleep(self.retry_delays[min(attempt, len(self.retry_delays) - 1)])
            await self.store_all()
            if not self._kept:
                return
        logger.error("{} kept answer(s) still not stored; reconciliation will resolve their orders", len(self))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._kept:
            logger.error("closing with {} answer(s) not stored; their orders stay pending_submit", len(self))

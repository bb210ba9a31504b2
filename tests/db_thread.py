"""Holding the database thread busy, so that jobs queued meanwhile run as one group (``Storage``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from terminal5.storage.database import Storage


@contextmanager
def db_thread_held(storage: Storage) -> Iterator[None]:
    """The DB thread busy until the block ends: jobs queued meanwhile form one group."""
    release, busy = threading.Event(), threading.Event()

    def hold() -> None:
        busy.set()
        assert release.wait(30), "never released"

    blocker = storage._executor.submit(hold)
    assert busy.wait(30)
    try:
        yield
    finally:
        release.set()
        blocker.result(timeout=30)

"""Capture what loguru logs while a block runs, to assert a wait, a warning or an error was said (or not)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from loguru import logger


@contextlib.contextmanager
def captured_logs(level: str = "DEBUG") -> Iterator[list[dict[str, Any]]]:
    """Every record (loguru's record dict: ``message``, ``name``, ``extra`` …) logged at ``level`` or above
    inside the block, in order; the list stays readable after the block."""
    records: list[dict[str, Any]] = []
    sink = logger.add(lambda message: records.append(message.record), level=level)
    try:
        yield records
    finally:
        logger.remove(sink)

"""Logging configuration. Only the daemon and the CLI call ``configure``; library code adds no sinks.

Every line carries ``request_id`` (bound with ``logger.contextualize`` by the front doors and the
pipeline, carried onto the database thread), and ``exchange`` when a plugin binds it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from loguru import logger

FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "[{extra[request_id]}] {extra[exchange]} | <cyan>{name}</cyan> - <level>{message}</level>"
)


def configure(*, log_dir: Path | None, level: str = "INFO", json_lines: bool = False, console: bool = True) -> None:
    """Console plus a rotating file (10 MB x 5: a bounded disk footprint), optionally as JSON lines."""
    logger.remove()
    logger.configure(extra={"request_id": "-", "exchange": "-"})
    if console:
        logger.add(sys.stderr, level=level, format=FORMAT, serialize=json_lines, backtrace=False, diagnose=False)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        logger.add(
            log_dir / "terminal5.log",
            level=level,
            format=FORMAT,
            rotation="10 MB",
            retention=5,
            encoding="utf-8",
            serialize=json_lines,
            enqueue=True,  # file writes off the event loop
            backtrace=False,
            diagnose=False,  # never dump local variables (they may hold secrets)
        )

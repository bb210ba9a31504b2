"""Logging configuration. Only the daemon and the CLI call ``configure``; library code adds no sinks.

Every line carries ``request_id`` (bound by ``request_scope`` in the front doors, the pipeline and the
background loops, carried onto the database thread), and ``exchange`` when a plugin binds it. In the text
log every line of a multi-line message or a traceback carries it too, so ``grep <request id>`` finds all.

``request_scope`` also sets a context variable read by ``current_request_id()``: the gateway and the
transport use it so every native call's audit record names the request that caused it.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from loguru import logger

FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "[{extra[request_id]}] {extra[exchange]} | <cyan>{name}</cyan> - <level>{message}</level>"
)

_request_id: ContextVar[str | None] = ContextVar("terminal5_request_id", default=None)


def current_request_id() -> str | None:
    """The request id of the surrounding ``request_scope`` (None outside any)."""
    return _request_id.get()


@contextmanager
def request_scope(request_id: str) -> Iterator[str]:
    """Bind ``request_id`` to every log line and every native call made inside (tasks started inside
    inherit it: asyncio copies the context)."""
    token = _request_id.set(request_id)
    try:
        with logger.contextualize(request_id=request_id):
            yield request_id
    finally:
        _request_id.reset(token)


def _continued(text: str, prefix: str) -> str:
    return text.replace("\n", "\n" + prefix)


def text_format(record: Any) -> str:
    """FORMAT, with every continuation line (of the message or the traceback) prefixed by the request id."""
    extra = record["extra"]
    prefix = f"[{extra.get('request_id', '-')}] "
    extra["_t5_message"] = _continued(record["message"], prefix)
    line = FORMAT.replace("{message}", "{extra[_t5_message]}")
    exception = record["exception"]
    if exception is None:
        return line + "\n"
    rendered = "".join(traceback.format_exception(exception.type, exception.value, exception.traceback))
    extra["_t5_traceback"] = prefix + _continued(rendered.rstrip("\n"), prefix)
    return line + "\n{extra[_t5_traceback]}\n"


def configure(*, log_dir: Path | None, level: str = "INFO", json_lines: bool = False, console: bool = True) -> None:
    """Console plus a rotating file (10 MB x 5: a bounded disk footprint), optionally as JSON lines."""
    logger.remove()
    logger.configure(extra={"request_id": "-", "exchange": "-"})
    fmt: Any = FORMAT if json_lines else text_format
    if console:
        logger.add(sys.stderr, level=level, format=fmt, serialize=json_lines, backtrace=False, diagnose=False)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        logger.add(
            log_dir / "terminal5.log",
            level=level,
            format=fmt,
            rotation="10 MB",
            retention=5,
            encoding="utf-8",
            serialize=json_lines,
            enqueue=True,  # file writes off the event loop
            backtrace=False,
            diagnose=False,  # never dump local variables (they may hold secrets)
        )

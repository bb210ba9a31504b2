"""Logging configuration. Only the daemon and the CLI call ``configure``; library code adds no sinks.

Every line carries ``request_id`` (bound by ``request_scope`` in the front doors, the pipeline and the
background loops, carried onto the database thread), and ``exchange`` when a plugin binds it. In the text
log every line of a multi-line message or a traceback carries it too, so ``grep <request id>`` finds all.

``request_scope`` also sets a context variable read by ``current_request_id()``: the gateway and the
transport use it so every native call's audit record names the request that caused it.
"""

from __future__ import annotations

import datetime
import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from loguru import logger

from terminal5.log_sink import MB, QueuedFileSink

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


class Lazy:
    """A log argument computed only if the line is formatted (a disabled level never calls ``compute``)."""

    __slots__ = ("compute",)

    def __init__(self, compute: Callable[[], Any]) -> None:
        self.compute = compute

    def __format__(self, spec: str) -> str:
        return format(self.compute(), spec)

    def __str__(self) -> str:
        return str(self.compute())


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


def _notice_format(json_lines: bool) -> Callable[[str], str]:
    """How the file sink's own line (lines dropped) looks: like the others, at WARNING, request id ``-``."""

    def notice(text: str) -> str:
        now = datetime.datetime.now().astimezone()
        line = f"{now:%Y-%m-%d %H:%M:%S}.{now.microsecond // 1000:03d} | WARNING  | [-] - | {__name__} - {text}"
        if not json_lines:
            return line + "\n"
        record = {
            "level": {"name": "WARNING", "no": 30},
            "message": text,
            "name": __name__,
            "extra": {"request_id": "-", "exchange": "-"},
            "time": {"repr": now.isoformat(), "timestamp": now.timestamp()},
        }
        return json.dumps({"text": line + "\n", "record": record}) + "\n"

    return notice


_file_sink: QueuedFileSink | None = None


def configure(
    *,
    log_dir: Path | None,
    level: str = "INFO",
    json_lines: bool = False,
    console: bool = True,
    rotation_bytes: int = 10 * MB,
    keep: int = 5,
) -> None:
    """Console plus a rotating file (``rotation_bytes`` x ``keep`` files, 10 MB x 5: a bounded disk footprint),
    optionally as JSON lines. The file is written by its own thread (``QueuedFileSink``): the caller formats the
    line and queues the string. ``logger.remove()`` (loguru runs it at exit) writes what is queued and closes
    the file; ``flush()`` waits for the lines logged so far."""
    global _file_sink
    logger.remove()
    logger.configure(extra={"request_id": "-", "exchange": "-"})
    fmt: Any = FORMAT if json_lines else text_format
    if console:
        logger.add(sys.stderr, level=level, format=fmt, serialize=json_lines, backtrace=False, diagnose=False)
    _file_sink = None
    if log_dir is not None:
        sink = QueuedFileSink(
            log_dir / "terminal5.log",
            rotation_bytes=rotation_bytes,
            keep=keep,
            encoding="utf-8",
            notice=_notice_format(json_lines),
        )  # an unwritable directory is reported on stderr and retried: it never stops the caller
        logger.add(
            sink,
            level=level,
            format=fmt,
            serialize=json_lines,
            colorize=False,
            backtrace=False,
            diagnose=False,  # never dump local variables (they may hold secrets)
        )
        _file_sink = sink


def flush(timeout: float | None = 10.0) -> bool:
    """Wait until every line logged so far is in the log file (``logger.complete()`` does not wait for it);
    False if the writer did not catch up within ``timeout``."""
    sink = _file_sink
    return True if sink is None else sink.drain(timeout)

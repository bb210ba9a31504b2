"""A rotating log file written by one thread: loguru formats each line on the calling thread (as it always
did) and hands this sink the finished string; the sink queues only that string, and its writer thread
encodes and appends it. Nothing is pickled (loguru's ``enqueue=True`` pickles every record).

Guarantees:

- file writes off the calling thread (the event loop): ``write`` appends to an in-memory queue;
- lines reach the file in the order they were logged (one queue, one writer);
- rotation by size: the current file is renamed ``<stem>.<date>_<time>.log`` (loguru's naming) when the next
  line would take it past ``rotation_bytes``; at most ``keep`` files in all (the current one included);
- nothing lost on a clean shutdown: ``stop`` (``logger.remove``, loguru's exit hook) writes every queued line,
  closes the file and ends the thread; ``drain`` waits until every line queued so far is written;
- bounded memory: at most ``max_pending_chars`` characters wait for the disk; past that, new lines are
  dropped (never a wait on the calling thread) and counted;
- a failing disk never raises into the caller: lines that cannot be written are counted, the file is
  re-opened on the next batch after ``retry_seconds``, and once it works again a line says how many were
  lost (``notice`` formats it like the other lines).
"""

from __future__ import annotations

import datetime
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MB = 1000 * 1000

_STOP = object()


class QueuedFileSink:
    """A loguru sink (``logger.add(QueuedFileSink(path), ...)``): loguru calls ``write`` with each formatted
    line and ``stop`` at ``logger.remove``."""

    def __init__(
        self,
        path: Path,
        *,
        rotation_bytes: int = 10 * MB,
        keep: int = 5,
        encoding: str = "utf-8",
        max_pending_chars: int = 8 * MB,
        retry_seconds: float = 1.0,
        stop_timeout: float = 10.0,
        batch_seconds: float = 0.005,
        notice: Callable[[str], str] | None = None,
    ) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.path = Path(path)
        self.rotation_bytes = rotation_bytes
        self.keep = keep
        self.encoding = encoding
        self.max_pending_chars = max_pending_chars
        self.retry_seconds = retry_seconds
        self.stop_timeout = stop_timeout
        self.batch_seconds = batch_seconds
        self._notice = notice or (lambda text: text + "\n")
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        # each counter has one writer (no lost updates without a lock): the callers (serialised by loguru's
        # handler lock) count what they queue and drop, the writer thread what it took and failed to write
        self._queued_chars = 0
        self._taken_chars = 0
        self._dropped_full = 0
        self._dropped_disk = 0
        self._reported = 0
        self._file: Any = None
        self._size = 0
        self._retry_at = 0.0
        self._disk_error: str | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"log-writer:{self.path.name}", daemon=True)
        self._thread.start()

    # --- the calling thread -------------------------------------------------------------------------

    def write(self, message: str) -> None:
        """Queue one formatted line (never blocks, never raises)."""
        size = len(message)
        if self._stopped or self._queued_chars - self._taken_chars + size > self.max_pending_chars:
            self._dropped_full += 1
            return
        self._queued_chars += size
        self._queue.put(str(message))  # the bare string: loguru's Message also holds the whole record

    @property
    def dropped(self) -> int:
        """Lines lost so far: queue full (the disk slower than the log) or the disk failing."""
        return self._dropped_full + self._dropped_disk

    @property
    def pending_chars(self) -> int:
        return self._queued_chars - self._taken_chars

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every line queued before this call is written (or failed); False on timeout. (Not named
        ``flush``: loguru would call a ``flush`` after every line.)"""
        if not self._thread.is_alive():
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def stop(self) -> None:
        """Write what is queued, close the file, end the writer thread (bounded by ``stop_timeout``)."""
        if self._stopped:
            return
        self._stopped = True
        self._queue.put(_STOP)
        self._thread.join(self.stop_timeout)

    # --- the writer thread --------------------------------------------------------------------------

    def _run(self) -> None:
        get = self._queue.get
        get_nowait = self._queue.get_nowait
        running = True
        while running:
            batch: list[str] = []
            events: list[threading.Event] = []
            item = get()
            if self.batch_seconds and item is not _STOP and not isinstance(item, threading.Event):
                # let lines gather: one wake-up and one write per batch, not a GIL hand-off per line
                time.sleep(self.batch_seconds)
            while True:
                if item is _STOP:
                    running = False
                    break
                if isinstance(item, threading.Event):
                    events.append(item)  # set once the lines before it are written
                    if batch:
                        break
                else:
                    batch.append(item)  # type: ignore[arg-type]
                    if len(batch) >= 4096:
                        break
                try:
                    item = get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write_batch(batch)
            for event in events:
                event.set()
        self._close()
        # anything put after the stop marker (a flush racing the stop) must not wait forever
        while True:
            try:
                item = get_nowait()
            except queue.Empty:
                break
            if isinstance(item, threading.Event):
                item.set()

    def _write_batch(self, batch: list[str]) -> None:
        self._taken_chars += sum(map(len, batch))
        try:
            if self._file is None and not self._open():
                self._dropped_disk += len(batch)
                return
            self._report_drops()
            chunk: list[bytes] = []
            chunk_size = 0
            for line in batch:
                data = line.encode(self.encoding, "backslashreplace")
                if self._size + chunk_size + len(data) > self.rotation_bytes and self._size + chunk_size > 0:
                    self._append(b"".join(chunk))
                    chunk, chunk_size = [], 0
                    self._rotate()
                chunk.append(data)
                chunk_size += len(data)
            if chunk:
                self._append(b"".join(chunk))
        except Exception as exc:
            self._dropped_disk += len(batch)  # at most: part of the batch may have been written
            self._failed(exc)

    def _append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            view = view[written:]
        self._size += len(data)

    def _open(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab", buffering=0)
            self._size = self._file.seek(0, os.SEEK_END)
        except Exception as exc:
            self._failed(exc)
            return False
        if self._disk_error is not None:
            self._disk_error = None
        return True

    def _failed(self, exc: BaseException) -> None:
        self._close()
        self._retry_at = time.monotonic() + self.retry_seconds
        reason = f"{type(exc).__name__}: {exc}"
        if self._disk_error is None:  # once per outage, on the process's stderr (the file cannot say it)
            self._disk_error = reason
            try:
                sys.stderr.write(
                    f"terminal5: cannot write the log file {self.path} ({reason}); dropping log lines until it can\n"
                )
            except Exception:  # noqa: S110 - no stderr: nothing else to tell
                pass

    def _report_drops(self) -> None:
        dropped = self._dropped_full + self._dropped_disk
        if dropped == self._reported:
            return
        lost = dropped - self._reported
        self._reported = dropped
        text = (
            f"{lost} log line(s) dropped (total {dropped}: {self._dropped_full} with the queue full, the disk "
            f"slower than the log; {self._dropped_disk} the disk failing)"
        )
        self._append(self._notice(text).encode(self.encoding, "backslashreplace"))

    def _rotate(self) -> None:
        self._close()
        stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S_%f")
        stem, suffix = self.path.stem, self.path.suffix
        target = self.path.with_name(f"{stem}.{stamp}{suffix}")
        counter = 1
        while target.exists():
            counter += 1
            target = self.path.with_name(f"{stem}.{stamp}.{counter}{suffix}")
        os.replace(self.path, target)
        rotated = sorted(
            self.path.parent.glob(f"{stem}.*{suffix}"), key=lambda p: (p.stat().st_mtime, p.name), reverse=True
        )
        for old in rotated[self.keep - 1 :]:
            old.unlink(missing_ok=True)
        if not self._open():
            raise OSError(f"cannot reopen {self.path} after rotation: {self._disk_error}")

    def _close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except Exception:  # noqa: S110 - closing a failed file: nothing more to lose
                pass

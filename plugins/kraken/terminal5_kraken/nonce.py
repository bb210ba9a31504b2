"""Nonces that strictly increase per API key: under asyncio/thread concurrency, across restarts, and
across processes sharing the key on one host.

Kraken rejects a private call whose nonce is not above every nonce it has seen for the key
(``EAPI:Invalid nonce``; repeated -> ``EGeneral:Temporary lockout``). The nonce is
``max(now in microseconds, high-water mark + 1)``, and the high-water mark lives in a small file per key
(named by ``Credentials.fingerprint``, never by the key), updated under an exclusive ``flock``:

* one process, many tasks/threads: a lock around read-compute-write, no ``await`` inside;
* restart: the new process reads the mark, so a clock that went backwards cannot reuse a nonce;
* several processes on one host sharing a key and the same directory: ``flock`` serialises them.

What no client can guarantee: two calls *in flight* at once may reach Kraken in the other order. Kraken's
answer to that is the key's "nonce window" setting; give each gateway host its own key, or set a window,
when one key serves concurrent calls (see the README). Processes on different hosts never share a mark.
A call refused that way (``EAPI:Invalid nonce``, before Kraken processed it) is signed again with a fresh
nonce, twice at most (``terminal5_kraken.client.NONCE_RETRIES``).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from loguru import logger

try:  # POSIX; elsewhere the mark still works within one process
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logger.bind(exchange="kraken")

ENV_DATA_DIR = "TERMINAL5_DATA_DIR"
_WIDTH = 20  # digits of an unsigned 64-bit integer: fixed width, rewritten in place, never truncated


def time_us() -> int:
    return time.time_ns() // 1_000


def default_directory(options: Mapping[str, Any] | None = None) -> Path:
    """``options["nonce_dir"]``, else ``$TERMINAL5_DATA_DIR/kraken-nonce``, else a per-user temp dir."""
    if options and options.get("nonce_dir"):
        return Path(str(options["nonce_dir"]))
    data_dir = os.environ.get(ENV_DATA_DIR)
    if data_dir:
        return Path(data_dir) / "kraken-nonce"
    # Per user, so two users of one host never share (or can plant) each other's marks.
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"terminal5-{uid}" / "kraken-nonce"


def _prepare(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if hasattr(os, "getuid") and directory.stat().st_uid != os.getuid():
        # A directory someone else created in /tmp could feed us a stale or huge mark.
        raise PermissionError(f"nonce directory {directory} is not owned by this user")


class NonceStore:
    """Issues nonces for every key, persisting one high-water mark per ``fingerprint`` in ``directory``.

    ``directory=None`` keeps the marks in memory only (tests, read-only hosts): strict increase then
    holds within the process and, across restarts, only as far as the clock does.
    """

    def __init__(self, directory: Path | None, *, clock_us: Callable[[], int] = time_us) -> None:
        self.directory = directory
        self._clock_us = clock_us
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}
        self._fds: dict[str, int] = {}
        if directory is not None:
            _prepare(directory)

    def path_of(self, fingerprint: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{fingerprint}.nonce"

    def next(self, fingerprint: str) -> int:
        """The next nonce for this key. Synchronous on purpose: nothing can interleave inside."""
        with self._lock:
            fd = self._fd(fingerprint)
            if fd is None:
                nonce = max(self._clock_us(), self._last.get(fingerprint, 0) + 1)
                self._last[fingerprint] = nonce
                return nonce
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                raw = os.pread(fd, _WIDTH + 1, 0).strip()
                stored = int(raw) if raw.isdigit() else 0
                last = max(stored, self._last.get(fingerprint, 0))
                nonce = max(self._clock_us(), last + 1)
                os.pwrite(fd, f"{nonce:0{_WIDTH}d}\n".encode(), 0)
                self._last[fingerprint] = nonce
            finally:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            return nonce

    def _fd(self, fingerprint: str) -> int | None:
        fd = self._fds.get(fingerprint)  # the open file first: no path built on every call
        if fd is not None:
            return fd
        path = self.path_of(fingerprint)
        if path is None:
            return None
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._fds[fingerprint] = fd
        return fd

    def close(self) -> None:
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()


class NonceStores:
    """One ``NonceStore`` per directory (brokers may name their own ``nonce_dir``); shared by the client."""

    def __init__(self, *, clock_us: Callable[[], int] = time_us) -> None:
        self._clock_us = clock_us
        self._stores: dict[Path, NonceStore] = {}
        #: (nonce_dir option, data dir variable) -> the store of the directory they resolve to
        self._configured: dict[tuple[Any, str | None], NonceStore] = {}
        self._lock = threading.Lock()

    def for_options(self, options: Mapping[str, Any] | None) -> NonceStore:
        # every private call comes here: build and resolve the path (a filesystem walk) once per setting
        configured = ((options or {}).get("nonce_dir") or None, os.environ.get(ENV_DATA_DIR))
        store = self._configured.get(configured)
        if store is not None:
            return store
        directory = default_directory(options).resolve()
        with self._lock:
            store = self._stores.get(directory)
            if store is None:
                store = NonceStore(directory, clock_us=self._clock_us)
                self._stores[directory] = store
                log.debug("nonce high-water marks in {}", directory)
            self._configured[configured] = store
            return store

    def close(self) -> None:
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
            self._configured.clear()

"""``terminal5 watchdog``: restart the daemon when its heartbeat goes stale.

Every ``interval`` seconds the watchdog reads the daemon's heartbeat (Redis or database, as the daemon
writes it). When it is older than ``stale_after`` (or absent after the start-up grace), it stops the
daemon it started (SIGTERM, then SIGKILL), waits the back-off (doubling up to ``max_backoff``), starts the
command again and raises a ``restart`` alert. It never runs two daemons: a lock file admits one watchdog
per pid file, the daemon's pid is recorded in the pid file, and while a recorded daemon that this
watchdog did not start is still alive it starts nothing (it alerts instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from loguru import logger

from terminal5.contract import Alert
from terminal5.daemon.heartbeat import HeartbeatStore


class WatchdogBusy(RuntimeError):
    """Another watchdog holds the lock for this pid file."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Watchdog:
    def __init__(
        self,
        command: Sequence[str],
        store: HeartbeatStore,
        *,
        name: str = "terminal5",
        pid_file: Path,
        interval: float = 10.0,
        stale_after: float = 60.0,
        startup_grace: float = 30.0,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
        stop_timeout: float = 10.0,
        alert: Callable[[Alert], Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        if not command:
            raise ValueError("the watchdog needs the daemon command to run (after --)")
        self.command = list(command)
        self.store = store
        self.name = name
        self.pid_file = pid_file
        self.lock_file = pid_file.with_suffix(pid_file.suffix + ".lock")
        self.interval = interval
        self.stale_after = stale_after
        self.startup_grace = startup_grace
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stop_timeout = stop_timeout
        self.alert = alert or (lambda a: None)
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.starts = 0
        self._next_backoff = backoff
        self._lock_fd: int | None = None

    # --- the one-watchdog lock -------------------------------------------------------------------
    def acquire(self) -> None:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WatchdogBusy(f"another watchdog holds {self.lock_file}") from None
        self._lock_fd = fd

    def release(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- the daemon process ------------------------------------------------------------------------
    def recorded_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def foreign_daemon(self) -> int | None:
        """A live daemon recorded in the pid file that this watchdog did not start."""
        pid = self.recorded_pid()
        if pid is None or (self.process is not None and pid == self.process.pid):
            return None
        return pid if pid_alive(pid) else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        assert not self.running(), "never two daemons"
        self.process = subprocess.Popen(self.command, env=self.env, start_new_session=True)  # noqa: S603
        self.pid_file.write_text(str(self.process.pid))
        self.started_at = time.monotonic()
        self.starts += 1
        logger.info("watchdog: started {} (pid {})", self.command[0], self.process.pid)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                logger.warning("watchdog: pid {} ignored SIGTERM, killing it", self.process.pid)
                self.process.kill()
                self.process.wait(5)
        with contextlib.suppress(OSError):
            if self.recorded_pid() == self.process.pid:
                self.pid_file.unlink()

    # --- the loop ----------------------------------------------------------------------------------
    async def check(self) -> str:
        """One round. Returns what it did: ok | started | restarted | waiting | foreign."""
        foreign = self.foreign_daemon()
        if foreign is not None:
            self.alert(
                Alert(
                    kind="watchdog",
                    key=f"watchdog-foreign:{self.name}:{foreign}",
                    message=f"daemon pid {foreign} from {self.pid_file} is alive and not mine: not starting "
                    "another one",
                )
            )
            return "foreign"
        if self.process is None:
            self.start()
            return "started"
        age = await self.store.age(self.name)
        running = self.running()
        in_grace = time.monotonic() - self.started_at < self.startup_grace
        if running and (in_grace or (age is not None and age < self.stale_after)):
            self._next_backoff = self.backoff if age is not None and age < self.stale_after else self._next_backoff
            return "ok" if not in_grace or age is not None else "waiting"
        why = "exited" if not running else ("no heartbeat" if age is None else f"heartbeat {age:.0f}s old")
        code = self.process.poll()
        self.stop()
        delay = self._next_backoff
        self._next_backoff = min(self._next_backoff * 2, self.max_backoff)
        logger.warning("watchdog: {} {} (exit {}); restarting in {:.1f}s", self.name, why, code, delay)
        await asyncio.sleep(delay)
        self.start()
        self.restarts += 1
        self.alert(
            Alert(
                kind="restart",
                key=f"restart:{self.name}:{self.restarts}",
                severity="critical",
                message=f"{self.name} restarted by the watchdog ({why}); restart #{self.restarts}",
                details={"reason": why, "exit_code": code},
            )
        )
        return "restarted"

    async def run(
        self,
        *,
        max_iterations: int | None = None,
        max_seconds: float | None = None,
        stop: asyncio.Event | None = None,
        stop_daemon_on_exit: bool = True,
    ) -> None:
        stop = stop or asyncio.Event()
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        self.acquire()
        try:
            iterations = 0
            while not stop.is_set():
                await self.check()
                iterations += 1
                if max_iterations is not None and iterations >= max_iterations:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                wait = self.interval if deadline is None else max(0.0, min(self.interval, deadline - time.monotonic()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
        finally:
            if stop_daemon_on_exit:
                self.stop()
            self.release()

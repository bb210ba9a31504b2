"""A private ``redis-server`` on a loopback port, for tests and benchmarks that flush, restart or measure
Redis: a shared one is never touched. No persistence; ``stop`` is bounded in time, and the caller always
calls it (a fixture's ``finally``, a benchmark's ``try``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


class RedisServerUnavailable(RuntimeError):
    """``redis-server`` is not installed, or did not answer PING in time."""


class PrivateRedisServer:
    def __init__(self, workdir: Path, port: int, *, start_timeout: float = 10.0, stop_timeout: float = 10.0) -> None:
        self.workdir = workdir
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerUnavailable("redis-server is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(  # noqa: S603  (a fixed argv, no shell)
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RedisServerUnavailable(f"the private redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(self.stop_timeout)
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port: every key and consumer group is gone (no persistence)."""
        self.stop()
        self.start()

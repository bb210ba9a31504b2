"""The daemon path: ``terminal5 run`` in its own process on SQLite (HTTP in -> store -> native -> store ->
HTTP out), a broker pointed at the simulator, and the load from ``load.py`` in a third process. The CPU
per order is the daemon's own (``/proc/<pid>/stat``), so neither the load generator nor the simulator
counts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import check_loopback_url

HERE = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (every thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Daemon:
    """``terminal5 run`` with one broker and one token, started and always stopped (SIGTERM, then kill)."""

    def __init__(self, exchange: str, sim_url: str, data_dir: Path, start_timeout: float = 60.0,
                 command: list[str] | None = None, *, database_url: str | None = None,
                 redis_url: str | None = None, master_key: str | None = None) -> None:
        """SQLite in ``data_dir`` and no Redis by default; ``database_url``/``redis_url``/``master_key`` for the
        scale-out (several daemons on one PostgreSQL and one Redis Streams front door, one key for all)."""
        check_loopback_url(sim_url)
        self.exchange, self.sim_url, self.data_dir = exchange, sim_url, data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start_timeout = start_timeout
        self.env = {**os.environ, "TERMINAL5_DATA_DIR": str(data_dir), "TERMINAL5_HTTP_PORT": str(self.port),
                    "TERMINAL5_HTTP_HOST": "127.0.0.1", "TERMINAL5_RECONCILE_INTERVAL": "3600",
                    "TERMINAL5_DATABASE_URL": database_url or f"sqlite:///{data_dir / 'terminal5.db'}"}
        for name in ("TERMINAL5_REDIS_URL", "TERMINAL5_LOG_JSON", "TERMINAL5_MASTER_KEY"):
            self.env.pop(name, None)
        for url in (database_url, redis_url):
            if url is not None:
                check_loopback_url(url)
        if redis_url is not None:
            self.env["TERMINAL5_REDIS_URL"] = redis_url
        if master_key is not None:
            self.env["TERMINAL5_MASTER_KEY"] = master_key
        self.proc: subprocess.Popen[bytes] | None = None
        self.command = command or [sys.executable, "-m", "terminal5.cli", "run"]
        self.token = ""
        self.broker_ids: list[int] = []

    def sibling(self, data_dir: Path, command: list[str] | None = None) -> Daemon:
        """Another daemon on this one's database, Redis, key, brokers and token (its own port and data dir)."""
        other = Daemon(self.exchange, self.sim_url, data_dir, self.start_timeout, command or self.command,
                       database_url=self.env["TERMINAL5_DATABASE_URL"], redis_url=self.env.get("TERMINAL5_REDIS_URL"),
                       master_key=self.env.get("TERMINAL5_MASTER_KEY"))
        other.token, other.broker_ids = self.token, list(self.broker_ids)
        return other

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cli(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run([sys.executable, "-m", "terminal5.cli", *args], input=stdin.encode(), env=self.env,
                              capture_output=True, timeout=120, check=True)
        return done.stdout.decode()

    def start(self) -> None:
        self.prepare()
        self.launch()

    def prepare(self) -> None:
        # the brokers are written by a gateway on the daemon's own database and key (what `terminal5 broker
        # add` does, 32 times over, without 32 interpreter start-ups)
        self.broker_ids = json.loads(subprocess.run(
            [sys.executable, str(HERE / "daemon_path.py"), "add-brokers", self.exchange, self.sim_url],
            env=self.env, capture_output=True, timeout=120, check=True).stdout.decode().strip().splitlines()[-1])
        self.token = json.loads(self.cli("--json", "token", "create", "--user", "1"))["token"]

    def launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "daemon.out", "ab")  # the daemon writes to its own copy
        try:
            self.proc = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()  # the child has its own copy
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited: {(self.data_dir / 'daemon.out').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise TimeoutError("the daemon did not answer /health in time")

    def load(self, orders: int, concurrency: int, max_seconds: float) -> dict[str, Any]:
        assert self.proc is not None
        cpu0 = process_cpu(self.proc.pid)
        done = subprocess.run([sys.executable, str(HERE / "load.py"), "--url", self.url, f"--token={self.token}",
                               "--brokers", ",".join(map(str, self.broker_ids)), "--exchange", self.exchange,
                               "--orders", str(orders), "--concurrency", str(concurrency), "--max-seconds", str(max_seconds)],
                              capture_output=True, timeout=max_seconds + 60, check=True)
        result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
        cpu = process_cpu(self.proc.pid) - cpu0
        result["cpu_s"] = round(cpu, 4)
        result["cpu_us_per_order"] = round(cpu / result["orders"] * 1e6, 1) if result["orders"] else None
        result["daemon_rss_mb"] = round(process_rss_mb(self.proc.pid), 1)
        return result

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


async def _add_brokers(exchange: str, url: str) -> list[int]:
    from clients import add_brokers

    from terminal5.gateway import Gateway

    gw = await Gateway.open(hooks=None)
    try:
        return await add_brokers(gw, exchange, url, "t5_daemon")
    finally:
        await gw.close()


if __name__ == "__main__" and sys.argv[1:2] == ["add-brokers"]:
    import asyncio

    sys.path.insert(0, str(HERE))
    print(json.dumps(asyncio.run(_add_brokers(sys.argv[2], sys.argv[3]))))

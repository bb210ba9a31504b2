"""The built-in Discord alert sink (``TERMINAL5_DISCORD_WEBHOOK``): a plugin implementing ``alert``.

Alerts arrive already de-duplicated by the core's ``AlertBus`` (by ``alert.key``). The sink queues them
and posts from one background thread (stdlib ``urllib``), so neither the event loop nor the database
thread ever waits on Discord; at most ``per_minute`` posts go out per rolling minute and the rest are
dropped and counted (``dropped``). The webhook URL is a secret: it is never logged.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from typing import Any

from loguru import logger

from terminal5.contract import Alert
from terminal5.hookspecs import hookimpl

COLORS = {"info": 0x3498DB, "warning": 0xF1C40F, "critical": 0xE74C3C}
MAX_QUEUE = 1000


class DiscordSink:
    def __init__(self, webhook_url: str, *, per_minute: int = 10, timeout: float = 5.0, username: str = "Terminal 5"):
        if not webhook_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("the Discord webhook must be an https:// URL")
        self._url = webhook_url
        self.per_minute = per_minute
        self.timeout = timeout
        self.username = username
        self.sent = 0
        self.dropped = 0
        self.failed = 0
        self._queue: queue.Queue[Alert | None] = queue.Queue(MAX_QUEUE)
        self._times: deque[float] = deque()
        self._busy = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DiscordSink(per_minute={self.per_minute}, url=***)"

    @hookimpl
    def alert(self, alert: Alert) -> None:
        """Queue and return at once (called on the event loop)."""
        self._ensure_thread()
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="terminal5-discord", daemon=True)
                self._thread.start()

    def payload(self, alert: Alert) -> dict[str, Any]:
        title = f"{alert.severity.upper()} · {alert.kind}" + (f" · {alert.exchange}" if alert.exchange else "")
        return {
            "username": self.username,
            "embeds": [
                {
                    "title": title[:256],
                    "description": alert.message[:4000],
                    "color": COLORS.get(alert.severity, COLORS["warning"]),
                }
            ],
            "allowed_mentions": {"parse": []},
        }

    def _allowed(self) -> bool:
        now = time.monotonic()
        while self._times and now - self._times[0] >= 60:
            self._times.popleft()
        if len(self._times) >= self.per_minute:
            return False
        self._times.append(now)
        return True

    def _run(self) -> None:
        while True:
            try:
                alert = self._queue.get(timeout=30)
            except queue.Empty:
                return  # idle: the thread ends, the next alert starts a new one
            if alert is None:
                return
            self._busy.set()
            try:
                if not self._allowed():
                    self.dropped += 1
                    logger.warning(
                        "discord: rate limit of {}/min reached, alert {} dropped", self.per_minute, alert.kind
                    )
                    continue
                self._post(alert)
            finally:
                self._busy.clear()
                self._queue.task_done()

    def _post(self, alert: Alert) -> None:
        data = json.dumps(self.payload(alert)).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self._url, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read()
            self.sent += 1
        except (urllib.error.URLError, OSError) as exc:
            self.failed += 1
            reason = getattr(exc, "code", None) or type(exc).__name__
            logger.warning("discord: posting alert {} failed ({})", alert.kind, reason)

    def idle(self) -> bool:
        return self._queue.unfinished_tasks == 0

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass

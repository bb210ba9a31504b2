"""Alerts: de-duplicated by key, delivered to every ``alert`` hook implementation."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from loguru import logger

from terminal5.contract import Alert


class AlertBus:
    def __init__(self, deliver: Callable[[Alert], None], repeat_after: float = 3600.0) -> None:
        self._deliver = deliver
        self._repeat_after = repeat_after
        self._seen: dict[str, float] = {}
        self.sent: list[Alert] = []  # recent alerts, for /health and tests (bounded)

    def raise_(self, alert: Alert) -> bool:
        """Deliver unless the same key was raised within ``repeat_after`` seconds. True if delivered."""
        now = time.monotonic()
        last = self._seen.get(alert.key)
        if last is not None and now - last < self._repeat_after:
            return False
        self._seen[alert.key] = now
        log = logger.bind(exchange=alert.exchange)
        getattr(log, "critical" if alert.severity == "critical" else "warning")(
            "ALERT {}: {}", alert.kind, alert.message
        )
        self.sent.append(alert)
        del self.sent[:-100]
        self._deliver(alert)
        return True

    def critical(
        self, kind: str, *, key: str, exchange: str | None, message: str, details: Mapping[str, Any] | None = None
    ) -> bool:
        """Raise a critical alert (see ``raise_``)."""
        alert = Alert(
            kind=kind, key=key, exchange=exchange, severity="critical", message=message, details=details or {}
        )
        return self.raise_(alert)

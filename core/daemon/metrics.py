"""Prometheus metrics on a per-daemon ``CollectorRegistry`` (never the global one), so tests and
embedders can build several daemons in one process.

Native-call latency comes from ``Gateway.call_observers`` (added before the first native client is
built); order and error counts from the front doors; stored-order counts are read from the database at
each scrape.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from terminal5.contract import Alert, CallContext
from terminal5.hookspecs import hookimpl
from terminal5.transport import CallRecord

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, labels, registry=self.registry)

        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(name, doc, labels, registry=self.registry)

        self.orders = counter(
            "terminal5_orders", "Order answers given by the front doors", "exchange", "status", "operation"
        )
        self.stored_orders = gauge(
            "terminal5_stored_orders", "Orders in the database by exchange and status", "exchange", "status"
        )
        self.native_latency = Histogram(
            "terminal5_native_call_seconds",
            "Latency of native exchange calls",
            ["exchange", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.native_calls = counter(
            "terminal5_native_calls", "Native exchange calls by HTTP status", "exchange", "endpoint", "status"
        )
        self.rate_headers = gauge(
            "terminal5_rate_limit_header",
            "Last numeric value of each rate-limit response header (used weight, remaining…)",
            "exchange",
            "header",
        )
        self.rate_headroom = gauge(
            "terminal5_rate_budget_headroom", "Remaining units of a shared rate budget", "budget"
        )
        self.unknown_statuses = counter(
            "terminal5_unknown_statuses", "Orders seen with a status no plugin maps", "exchange"
        )
        self.errors = counter("terminal5_errors", "Errors by taxonomy type and origin", "type", "exchange", "origin")
        self.requests = counter("terminal5_api_requests", "Front-door requests", "door", "route", "status")
        self.reconcile_findings = counter("terminal5_reconcile_findings", "Reconciliation findings", "exchange", "kind")
        self.format_problems = counter(
            "terminal5_format_problems", "Stored orders failing the format validator", "exchange"
        )
        self.alerts = counter("terminal5_alerts", "Alerts raised", "kind")
        self.restarts = counter("terminal5_watchdog_restarts", "Daemon restarts by the watchdog")

    # --- feeds ---------------------------------------------------------------------------------
    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, kept: the same child every time (prometheus_client would check the
        values and look the child up under a lock on every call); as bounded as the children themselves."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def observe_call(self, ctx: CallContext, record: CallRecord) -> None:
        endpoint, exchange = record.endpoint or "-", record.exchange
        self.child(self.native_latency, exchange, endpoint).observe(record.latency_ms / 1000)
        self.child(self.native_calls, exchange, endpoint, str(record.status or "none")).inc()
        for header, value in record.rate_headers.items():
            text = str(value)
            if _NUMBER.match(text):
                try:
                    number = float(Decimal(text))  # Prometheus gauges are float
                except InvalidOperation:
                    continue
                self.child(self.rate_headers, exchange, header.lower()).set(number)
        if record.error:
            self.child(self.errors, record.error.split(":", 1)[0], exchange, "exchange").inc()

    def order(self, order: Any, operation: str) -> None:
        status = getattr(order.status, "value", str(order.status))
        self.child(self.orders, order.exchange, status, operation).inc()
        if status == "UNKNOWN":
            self.child(self.unknown_statuses, order.exchange).inc()

    def request(self, door: str, route: str, status: int) -> None:
        self.child(self.requests, door, route, str(status)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def alert_plugin(self) -> Any:
        """An ``alert`` hook implementation counting alerts by kind."""
        metrics = self

        class _AlertCounter:
            @hookimpl
            def alert(self, alert: Alert) -> None:
                metrics.alerts.labels(alert.kind).inc()

        return _AlertCounter()


class ErrorBurst:
    """A call observer raising one ``exchange_errors`` alert when an exchange answers ``threshold``
    errors of one type within ``window`` seconds (the AlertBus de-duplicates repeats by key)."""

    def __init__(
        self,
        raise_alert: Callable[[Alert], Any],
        *,
        threshold: int = 5,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.raise_alert = raise_alert
        self.threshold = threshold
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def __call__(self, ctx: CallContext, record: CallRecord) -> None:
        if not record.error:
            return
        kind = record.error.split(":", 1)[0]
        now = self.clock()
        times = self._seen[(record.exchange, kind)]
        times.append(now)
        while times and now - times[0] > self.window:
            times.popleft()
        if len(times) >= self.threshold:
            times.clear()
            self.raise_alert(
                Alert(
                    kind="exchange_errors",
                    key=f"exchange_errors:{record.exchange}:{kind}",
                    exchange=record.exchange,
                    severity="warning",
                    message=f"{record.exchange}: {self.threshold} {kind} errors within {self.window:.0f}s "
                    f"(last on {record.endpoint})",
                    details={"type": kind, "endpoint": record.endpoint},
                )
            )

"""Reconciliation on a schedule, and the stored-order format validator.

``Gateway.reconcile`` (``terminal5.reconciliation``, the one orchestration) compares a broker's orders on
the exchange with the database both ways. ``Reconciler`` runs it on start and every N seconds for every
enabled broker, then runs the format validator, logs and counts the findings.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from loguru import logger

from terminal5.contract import Alert
from terminal5.gateway import Gateway
from terminal5.logs import current_request_id, request_scope
from terminal5.models import OrderStatus, Side, Source

#: the columns every stored order must fill (of the ``orders`` table), whoever wrote it
REQUIRED_FIELDS = ("user_id", "broker_id", "source", "symbol", "side", "type", "status", "client_order_id")
STATUSES = frozenset(s.value for s in OrderStatus)
#: states in which an order may lack the exchange's raw payload (never answered, or refused)
RAW_OPTIONAL = frozenset({OrderStatus.PENDING_SUBMIT.value, OrderStatus.REJECTED.value})


def validate_row(row: Any) -> list[str]:
    """Problems of one stored order (empty when it is well-formed)."""
    problems = [f"missing {name}" for name in REQUIRED_FIELDS if getattr(row, name, None) in (None, "")]
    status = getattr(row, "status", None)
    if status is not None and status not in STATUSES:
        problems.append(f"status {status!r} is not in the unified vocabulary")
    elif status == OrderStatus.UNKNOWN.value:
        problems.append(f"status UNKNOWN (native status {row.native_status!r} is not mapped by the plugin)")
    if status not in RAW_OPTIONAL and getattr(row, "raw_response", None) is None:
        problems.append("raw_response missing")
    if getattr(row, "side", None) not in (None, *(s.value for s in Side)):
        problems.append(f"side {row.side!r} is not buy/sell")
    if getattr(row, "source", None) not in (None, *(s.value for s in Source)):
        problems.append(f"source {row.source!r} is unknown")
    quantity = getattr(row, "quantity", None)
    if isinstance(quantity, Decimal):
        if quantity <= 0:
            problems.append("quantity is not positive")
        filled = getattr(row, "filled", None)
        if isinstance(filled, Decimal) and filled > quantity:
            problems.append(f"filled {filled} exceeds quantity {quantity}")
    return problems


def validate_orders(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """The validator's findings over stored orders (``Gateway.recent_orders``)."""
    findings = []
    for row in rows:
        problems = validate_row(row)
        if problems:
            findings.append(
                {
                    "row_id": row.id,
                    "broker_id": row.broker_id,
                    "exchange": row.exchange,
                    "client_order_id": row.client_order_id,
                    "problems": problems,
                }
            )
    return findings


class Reconciler:
    def __init__(self, gateway: Gateway, *, metrics: Any = None, interval: float = 60.0) -> None:
        self.gw = gateway
        self.metrics = metrics
        self.interval = interval
        self.runs = 0
        self.last: dict[int, dict[str, Any]] = {}

    async def validate(self, broker_id: int | None = None) -> list[dict[str, Any]]:
        return validate_orders(await self.gw.recent_orders(broker_id=broker_id, limit=10_000))

    async def reconcile_broker(self, broker_id: int) -> dict[str, Any]:
        broker = await self.gw.get_broker(broker_id)
        with request_scope(current_request_id() or f"reconcile-{broker_id}-{uuid.uuid4().hex[:8]}"):
            # the one orchestration (terminal5.reconciliation) raises the findings' alert itself
            found = dict(await self.gw.reconcile(broker_id))
            problems = await self.validate(broker_id)
            for kind, count in found.items():
                if count:
                    logger.info("reconcile broker {}: {} {}", broker_id, count, kind)
                    if self.metrics is not None:
                        self.metrics.reconcile_findings.labels(broker.exchange, kind).inc(count)
            if problems:
                logger.warning("format validator: {} stored order(s) of broker {} malformed", len(problems), broker_id)
                for finding in problems[:20]:
                    logger.warning(
                        "  order {} ({}): {}",
                        finding["client_order_id"],
                        finding["row_id"],
                        "; ".join(finding["problems"]),
                    )
                if self.metrics is not None:
                    self.metrics.format_problems.labels(broker.exchange).inc(len(problems))
                self.gw.alerts.raise_(
                    Alert(
                        kind="format_validator",
                        key=f"format:{broker_id}:{len(problems)}",
                        exchange=broker.exchange,
                        message=f"broker {broker_id}: {len(problems)} stored order(s) fail the format validator "
                        f"(first: {problems[0]['client_order_id']}: {'; '.join(problems[0]['problems'])})",
                        details={"count": len(problems)},
                    )
                )
        result = {"broker_id": broker_id, **found, "format_problems": len(problems), "problems": problems[:20]}
        self.last[broker_id] = result
        return result

    async def reconcile_all(self) -> list[dict[str, Any]]:
        """Every enabled broker; one broker's failure never stops the others."""
        results = []
        for broker in await self.gw.list_brokers():
            if not broker.enabled:
                continue
            try:
                results.append(await self.reconcile_broker(broker.id))
            except Exception as exc:
                kind = getattr(exc, "kind", type(exc).__name__)
                logger.warning("reconcile broker {} failed: {}: {}", broker.id, kind, exc)
                if self.metrics is not None:
                    self.metrics.errors.labels(kind, broker.exchange, "reconcile").inc()
                results.append({"broker_id": broker.id, "error": kind, "message": str(exc)})
        self.runs += 1
        return results

    async def run_forever(self, stop: asyncio.Event, max_runs: int | None = None) -> None:
        """On start, then every ``interval`` seconds, until ``stop`` is set."""
        while not stop.is_set():
            await self.reconcile_all()
            if max_runs is not None and self.runs >= max_runs:
                return
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            except TimeoutError:
                pass

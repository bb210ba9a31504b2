"""Reconciliation: a broker's orders on the exchange vs the database, both ways, so neither holds an order
the other does not know (an order placed elsewhere, an answer lost to a timeout, a database outage).

0. Exchange answers kept in memory during a database outage (``terminal5.kept_answers``) are stored.
1. The exchange's open orders: unknown to the database → stored with source ``external``; known → updated.
   An open order whose client id names a different stored order is never merged into it
   (``terminal5.ownership``).
2. Stored orders not final (open, pending_submit, UNKNOWN) and not seen open are looked up. Found →
   stored. A failed lookup (5xx, 429, network) leaves the order unresolved and visible: it is counted,
   never concluded. Definitely absent past the grace window → the exchange's past orders and fills are
   searched (``terminal5.absence``); only when they are searched and hold nothing is the order declared
   never placed (``rejected``, marked as a conclusion of reconciliation).
3. Orders declared never placed in the last ``RECHECK_REJECTED`` are looked up once more per run, so an
   exchange that answered "not found" too early cannot bury an order that exists.

``Gateway.reconcile`` runs this; the daemon's ``Reconciler`` schedules it and adds the stored-order format
validator and metrics. There is no other orchestration.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger

from terminal5 import order_results
from terminal5.absence import Lookup, search_history
from terminal5.contract import Alert, NativePayload, OrderRef
from terminal5.errors import DuplicateOrder, ExchangeError, UnsupportedParameterError
from terminal5.models import MarketType, Order, OrderStatus, Side, market_type_of
from terminal5.ownership import Expected, foreign_order_alert, foreign_order_error, mismatches
from terminal5.storage.fields import now
from terminal5.storage.stored_order import StoredOrder
from terminal5.submission import look_up, typed_native_id

if TYPE_CHECKING:
    from terminal5.gateway import Gateway
    from terminal5.storage.brokers import BrokerInfo

#: what one run counts
FINDINGS = ("external", "updated", "resolved_unknown", "not_found", "unresolved", "foreign", "revived")
#: marks a rejection concluded by reconciliation (not answered by the exchange) in the row's ``error``
REJECTED_BY = "reconciliation"
#: how long such a conclusion is checked again
RECHECK_REJECTED = timedelta(hours=1)


#: how versions before the ``by`` marker wrote that conclusion (our own text, not an exchange's)
_LEGACY_CONCLUSION = "not on the exchange after "


def rejected_by_reconciliation(row: StoredOrder) -> bool:
    """A rejection reconciliation concluded from absence, not one the exchange answered."""
    error = row.error if isinstance(row.error, dict) else {}
    if row.status != OrderStatus.REJECTED.value:
        return False
    legacy = error.get("error") == "OrderNotFound" and "exchange" not in error and "code" not in error
    return error.get("by") == REJECTED_BY or (legacy and str(error.get("message", "")).startswith(_LEGACY_CONCLUSION))


class Reconciliation:
    """One run for one broker."""

    def __init__(self, gw: Gateway, broker: BrokerInfo) -> None:
        self.gw = gw
        self.broker = broker
        self.entry = gw.client_for(broker.exchange)
        self.found = dict.fromkeys(FINDINGS, 0)
        self.notes: list[str] = []
        self._concluded: set[int] = set()  # rows declared never placed by this run (not rechecked at once)

    async def run(self) -> dict[str, int]:
        await self.gw.store_kept_answers()  # answers kept during a database outage go first
        live_keys = await self._adopt_open_orders()
        grace = timedelta(seconds=self.gw.settings.unknown_outcome_grace)
        for row in await self.gw.storage.run(self.gw.orders.unresolved, self.broker.id):
            if row.client_order_id in live_keys or (row.exchange_order_id and row.exchange_order_id in live_keys):
                continue
            await self._resolve(row, grace)
        since = now() - RECHECK_REJECTED
        for row in await self.gw.storage.run(self.gw.orders.rejected_since, self.broker.id, since):
            if rejected_by_reconciliation(row) and row.id not in self._concluded:
                await self._recheck(row)
        self._alert()
        return self.found

    # --- 1. the exchange's open orders -----------------------------------------------------------------
    async def _adopt_open_orders(self) -> set[str]:
        live_keys: set[str] = set()
        for order in await self.gw.fetch_open_orders(broker_id=self.broker.id):
            outcome = await self.gw.storage.run(self._adopt, order)
            if isinstance(outcome, Alert):
                self.found["foreign"] += 1
                self.gw.alerts.raise_(outcome)
                continue
            live_keys.add(order.client_order_id or order.id or "")
            if outcome is None:
                self.found["external"] += 1
            elif outcome == OrderStatus.PENDING_SUBMIT.value:
                self.found["resolved_unknown"] += 1
            elif outcome != order.status.value:
                self.found["updated"] += 1
        return live_keys

    def _adopt(self, order: Order) -> str | Alert | None:
        """DB thread. Store one open order; returns the previous stored status (None: new), or the alert
        to raise when the order is not the one stored under its client id."""
        existing = self.gw.orders.find(self.broker.id, order.client_order_id) if order.client_order_id else None
        if existing is not None:
            if existing.exchange_order_id and order.id and existing.exchange_order_id != order.id:
                wrong = ["exchange order id"]
            elif existing.exchange_order_id:
                wrong = []
            else:  # never confirmed: the order found by client id must be the order requested
                wrong = mismatches(Expected.of_row(existing), order)
            if wrong:
                return self._refuse_foreign(existing, order, wrong)
        _, previous = self.gw.orders.upsert_external(
            broker_id=self.broker.id,
            user_id=self.broker.user_id,
            order=order,
            market_type=market_type_of(order.symbol).value,
        )
        return previous

    def _refuse_foreign(self, row: StoredOrder, found: Order, wrong: list[str]) -> Alert:
        """DB thread. Another order holds this row's client id: an unconfirmed row was never accepted."""
        if row.status == OrderStatus.PENDING_SUBMIT.value:
            error = foreign_order_error(row.client_order_id, found, wrong)
            self.gw.orders.update(
                row.id, status=OrderStatus.REJECTED.value, outcome_unknown=False, error=error.to_dict()
            )
        return foreign_order_alert(self.broker.id, row.client_order_id, found, wrong)

    # --- 2. stored orders not final ------------------------------------------------------------------------
    async def _resolve(self, row: StoredOrder, grace: timedelta) -> None:
        key = row.client_order_id
        pending = row.status == OrderStatus.PENDING_SUBMIT.value
        market_type = MarketType(row.market_type)
        try:
            market = await self.gw.market(self.broker, row.symbol, market_type)
            ctx = await self.gw.context(self.broker, market_type, order_key=key)
        except (ExchangeError, UnsupportedParameterError) as exc:  # delisted, or a market type no longer traded
            self._unresolved(row, f"{exc.kind}: {exc.message}")
            return
        native_id = typed_native_id(self.entry.spec, row.native_client_id) if row.native_client_id else None
        result = await look_up(
            self.gw,
            self.entry, ctx, market, native_id, key, exchange_id=row.exchange_order_id, delays=(0,)
        )
        if result.absent and (not pending or now() - row.created_at > grace):
            ref = OrderRef(
                market=market, exchange_id=row.exchange_order_id, native_client_id=native_id, client_order_id=key
            )
            result = await self._search_history(ctx, ref, Side(row.side), row.created_at)
        if result.payload is not None:
            if await self._store(row, market, result.payload):
                self.found["resolved_unknown" if pending else "updated"] += 1
        elif result.failure is not None:
            self._unresolved(row, result.failure)
        elif pending and now() - row.created_at > grace:
            # Definite "not found" from the order query, the past orders and the fills: never placed.
            await self.gw.storage.run(
                self.gw.orders.update,
                row.id,
                status=OrderStatus.REJECTED.value,
                outcome_unknown=False,
                error={
                    "error": "OrderNotFound",
                    "message": f"not on the exchange, in its past orders or fills after {grace}",
                    "by": REJECTED_BY,
                },
            )
            self.found["not_found"] += 1
            self._concluded.add(row.id)

    async def _search_history(self, ctx: Any, ref: OrderRef, side: Side, since: datetime) -> Lookup:
        book = await self.gw.market_book(self.broker, ref.market.type)

        async def convert(payloads: Sequence[NativePayload]) -> list[Order | None]:
            def all_() -> list[Order | None]:
                return [self.gw.conversion.convert_found(self.broker.exchange, p, ref.market.type, book) for p in payloads]

            return await self.gw.storage.run(all_)

        async def known(ids: Collection[str]) -> set[str]:
            return await self.gw.storage.run(self.gw.orders.known_exchange_ids, self.broker.id, ids)

        # a minute of slack: the exchange's clock and ours differ
        return await search_history(
            self.entry.client,
            ctx,
            ref,
            side=side,
            since=since - timedelta(minutes=1),
            convert=convert,
            known_order_ids=known,
        )

    async def _store(self, row: StoredOrder, market: Any, payload: NativePayload) -> bool:
        """Store what was found; an order found by client id for a row never confirmed must be ours."""
        expected = None if row.exchange_order_id else Expected.of_row(row)
        try:
            await order_results.store_answer(self.gw, self.broker, None, market, row, payload, expected=expected)
        except DuplicateOrder:
            self.found["foreign"] += 1
            return False
        return True

    def _unresolved(self, row: StoredOrder, why: str) -> None:
        self.found["unresolved"] += 1
        self.notes.append(f"{row.client_order_id}: {why}")
        logger.warning("order {} left unresolved ({}): it stays {} and visible", row.client_order_id, why, row.status)

    # --- 3. conclusions checked again ------------------------------------------------------------------------
    async def _recheck(self, row: StoredOrder) -> None:
        market_type = MarketType(row.market_type)
        try:
            market = await self.gw.market(self.broker, row.symbol, market_type)
            ctx = await self.gw.context(self.broker, market_type, order_key=row.client_order_id)
        except (ExchangeError, UnsupportedParameterError):
            return
        native_id = typed_native_id(self.entry.spec, row.native_client_id) if row.native_client_id else None
        result = await look_up(self.gw, self.entry, ctx, market, native_id, row.client_order_id, delays=(0,))
        if result.payload is not None and await self._store(row, market, result.payload):
            self.found["revived"] += 1
            logger.warning("order {} declared never placed was found on the exchange", row.client_order_id)

    # --- the one alert of a run ----------------------------------------------------------------------------
    def _alert(self) -> None:
        counts = {k: v for k, v in self.found.items() if v}
        if not counts:
            return
        attention = any(counts.get(k) for k in ("unresolved", "foreign", "not_found", "revived"))
        parts = [f"{v} {k}" for k, v in counts.items()]
        message = f"broker {self.broker.id} reconciled: {', '.join(parts)}"
        if counts.get("external"):
            message += f"; external = orders found on {self.broker.exchange} unknown to the database, stored"
        if self.notes:
            message += f"; unresolved: {'; '.join(self.notes[:5])}"
        self.gw.alerts.raise_(
            Alert(
                kind="reconciliation",
                key=f"reconcile:{self.broker.id}:{datetime.now(UTC):%Y%m%d%H%M}",
                exchange=self.broker.exchange,
                severity="warning" if attention else "info",
                message=message,
                details=counts,
            )
        )

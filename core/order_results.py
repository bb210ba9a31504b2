"""Persist result: an exchange's answer (or a refusal, or an unknown outcome) written onto the order's row.

A payload the plugin cannot convert is still stored raw, as ``UNKNOWN``: the order exists on the exchange
and its answer must not be lost. An order found by client id (not answered to our own send) is adopted only
if it is the order requested (``terminal5.ownership``). When the database is away, the write is kept in
memory (``terminal5.kept_answers``) and applied when it returns, unless fresher news reached the row first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from loguru import logger

from terminal5.contract import Alert, NativePayload
from terminal5.errors import DatabaseUnavailable, Terminal5Error
from terminal5.models import Market, Order, OrderRequest, OrderStatus
from terminal5.ownership import Expected, foreign_order_alert, foreign_order_error, mismatches
from terminal5.storage.brokers import BrokerInfo
from terminal5.storage.orders import row_to_order
from terminal5.storage.stored_order import StoredOrder

if TYPE_CHECKING:
    from terminal5.gateway import Gateway


async def store_answer(
    gw: Gateway,
    broker: BrokerInfo,
    request: OrderRequest | None,
    market: Market,
    row: StoredOrder,
    payload: NativePayload,
    *,
    keep_raw_on_failure: bool = True,
    expected: Expected | None = None,
) -> Order:
    """Convert and store an answer. Unconvertible payloads are stored raw as UNKNOWN, unless
    ``keep_raw_on_failure`` is False and the caller has another way to read the order.

    ``expected``: the payload was found by client id, not answered to our send; it is stored only if it
    is the order requested, else the row is refused (nothing of the other order stored) and
    ``DuplicateOrder`` raised with an alert."""
    book = await gw.market_book(broker, market.type) if expected is not None else None
    foreign: list[tuple[Order, list[str]]] = []

    def convert_and_save() -> tuple[Order, bool]:
        if expected is not None and book is not None:
            found = gw.conversion.convert_found(broker.exchange, payload, market.type, book)
            wrong = mismatches(expected, found) if found is not None else []
            if wrong:
                foreign.append((found, wrong))
                error = foreign_order_error(row.client_order_id, found, wrong)
                saved = gw.orders.update(
                    row.id, status=OrderStatus.REJECTED.value, outcome_unknown=False, error=error.to_dict()
                )
                return row_to_order(saved), False
        try:
            order, unknown = gw.conversion.convert(
                broker.exchange, payload, market_type=market.type, request=request, market=market
            )
        except Exception as exc:
            if not keep_raw_on_failure:
                raise
            logger.exception(
                "{} answer for {} could not be converted; stored raw", broker.exchange, row.client_order_id
            )
            saved = gw.orders.update(
                row.id,
                status=OrderStatus.UNKNOWN.value,
                raw_response=payload,
                outcome_unknown=False,
                error={"error": "PluginError", "message": f"from_native failed: {type(exc).__name__}: {exc}"},
            )
            return row_to_order(saved), True
        order = attrs.evolve(order, client_order_id=row.client_order_id, native_client_id=row.native_client_id)
        saved = gw.orders.save_result(row.id, order)
        return row_to_order(saved), unknown

    def after(result: tuple[Order, bool] | None) -> None:
        if result is None:
            return  # a kept answer found the row resolved meanwhile
        if foreign:
            found, wrong = foreign[0]
            gw.alerts.raise_(foreign_order_alert(broker.id, row.client_order_id, found, wrong))
            logger.warning("order {} not adopted: the order found differs in {}", row.client_order_id, wrong)
        elif result[1]:
            gw.conversion.unknown_status_alert(result[0], broker.id)

    try:
        order, unknown = await gw.storage.run(convert_and_save)
    except DatabaseUnavailable as exc:
        keep(gw, f"{broker.exchange} answer for order {row.client_order_id}", row, convert_and_save, after)
        raise exc.for_order(
            sent=True,
            client_order_id=row.client_order_id,
            note=f" and {broker.exchange} answered; the answer is kept and stored when the database returns",
        ) from exc
    after((order, unknown))
    if foreign:
        found, wrong = foreign[0]
        raise foreign_order_error(row.client_order_id, found, wrong)
    logger.info(
        "order {} {} {} {} {} -> {} ({})",
        order.client_order_id,
        order.exchange,
        order.symbol,
        order.side.value,
        order.quantity,
        order.status.value,
        order.native_status,
    )
    return order


def keep(
    gw: Gateway, what: str, row: StoredOrder, write: Callable[[], Any], after: Callable[[Any], None] | None = None
) -> None:
    """Keep a write about ``row`` until the database returns. It applies only if the row is still as it
    was: fresher news stored meanwhile (a fetch, a reconciliation) is never overwritten by older news."""

    def guarded() -> Any:
        current = gw.orders.get(row.id)
        if current is None or (current.status, current.exchange_order_id) != (row.status, row.exchange_order_id):
            logger.info("{}: the order was resolved meanwhile; the kept answer is dropped", what)
            return None
        return write()

    gw.kept.keep(what, guarded, after)


async def reject(gw: Gateway, row: StoredOrder, exc: Terminal5Error) -> Order:
    """Store a definite refusal, then raise it."""

    def write() -> Any:
        return gw.orders.update(row.id, status=OrderStatus.REJECTED.value, error=exc.to_dict(), outcome_unknown=False)

    try:
        await gw.storage.run(write)
    except DatabaseUnavailable:
        keep(gw, f"rejection of order {row.client_order_id}", row, write)
    logger.warning("order {} rejected: {}", row.client_order_id, exc)
    raise exc


async def mark_unknown(gw: Gateway, row: StoredOrder, exc: Terminal5Error) -> Order:
    """The outcome is unknown and the lookup found nothing definite: the order stays pending_submit,
    visible, for reconciliation to resolve."""

    def write() -> Any:
        return gw.orders.update(
            row.id,
            outcome_unknown=True,
            error={**exc.to_dict(), "note": "outcome unknown: reconciliation will resolve it"},
        )

    try:
        saved = await gw.storage.run(write)
    except DatabaseUnavailable as outage:
        keep(gw, f"unknown outcome of order {row.client_order_id}", row, write)
        raise outage.for_order(
            sent=None,
            client_order_id=row.client_order_id,
            note=f" ({exc.kind} from the exchange); it stays pending_submit and is looked up",
        ) from outage
    gw.alerts.raise_(
        Alert(
            kind="outcome_unknown",
            key=f"outcome_unknown:{row.exchange}:{row.client_order_id}",
            exchange=row.exchange,
            message=f"order {row.client_order_id} outcome unknown after {exc.kind}; left pending_submit",
        )
    )
    return row_to_order(saved)

"""Is an order found on the exchange by its client id the order we asked for?

A lookup by client id (after a ``DuplicateOrder`` answer, after an unknown outcome, or when
reconciliation resolves an order never confirmed) can return another order: two brokers sharing one
exchange account, an id reused by a tool outside the gateway. Adopting it would store a foreign order
under the request (a SELL row holding a BUY). An order is ours only when its symbol, side, type,
quantity and price are those requested; otherwise it is refused as a duplicate client id.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from terminal5.contract import Alert
from terminal5.errors import DuplicateOrder
from terminal5.models import Order, OrderRequest, OrderType, Side
from terminal5.storage.stored_order import StoredOrder

#: types one exchange may read back as the other (post-only is a flag on some exchanges, a type on others)
_SAME_FAMILY = {OrderType.LIMIT_MAKER: OrderType.LIMIT}


@attrs.frozen(kw_only=True)
class Expected:
    """What was requested, from the request or from the intent row stored before sending."""

    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None
    #: False when Level-3 ``extra_params`` were sent: they override mapped fields verbatim (a quote
    #: quantity, a native type…), so only the symbol and the side are known to be what was requested
    exact: bool = True

    @classmethod
    def of_request(cls, request: OrderRequest) -> Expected:
        return cls(
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            quantity=request.quantity,
            price=request.price,
            exact=not request.extra_params,
        )

    @classmethod
    def of_row(cls, row: StoredOrder) -> Expected:
        stored = row.request if isinstance(row.request, dict) else {}
        return cls(
            symbol=row.symbol,
            side=Side(row.side),
            type=OrderType(row.type),
            quantity=row.quantity,
            price=row.price,
            exact=not stored.get("extra_params"),
        )


def mismatches(expected: Expected, found: Order) -> list[str]:
    """The fields in which ``found`` is not the requested order (empty: it is ours)."""
    wrong = []
    if found.symbol != expected.symbol:
        wrong.append("symbol")
    if found.side is not expected.side:
        wrong.append("side")
    if not expected.exact:
        return wrong
    if _SAME_FAMILY.get(found.type, found.type) is not _SAME_FAMILY.get(expected.type, expected.type):
        wrong.append("type")
    if found.quantity != expected.quantity:
        wrong.append("quantity")
    # a market order has no price; exchanges answer 0 or nothing for "no price"
    if expected.price is not None and found.price and found.price != expected.price:
        wrong.append("price")
    return wrong


def describe(order: Order) -> str:
    price = f" @ {order.price}" if order.price else ""
    return f"{order.side.value} {order.quantity} {order.symbol} {order.type.value}{price} (exchange id {order.id})"


def foreign_order_error(client_order_id: str, found: Order, wrong: list[str]) -> DuplicateOrder:
    return DuplicateOrder(
        f"client_order_id {client_order_id!r} already names another order on {found.exchange}: "
        f"{describe(found)}; it differs in {', '.join(wrong)}",
        exchange=found.exchange,
        field="client_order_id",
        details={"found_order_id": found.id, "differs_in": wrong},
    )


def foreign_order_alert(broker_id: int, client_order_id: str, found: Order, wrong: list[str]) -> Alert:
    return Alert(
        kind="foreign_order",
        key=f"foreign_order:{found.exchange}:{broker_id}:{client_order_id}",
        exchange=found.exchange,
        severity="critical",
        message=f"broker {broker_id}: order {client_order_id} found on {found.exchange} is not the one requested "
        f"(differs in {', '.join(wrong)}: {describe(found)}); not adopted, refused as a duplicate client id",
        details={"broker_id": broker_id, "client_order_id": client_order_id, "found_order_id": found.id},
    )

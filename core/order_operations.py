"""Operations on one existing order: read it (stored or live), cancel it, edit it.

Each begins with the same ``locate`` step: the caller's broker (tenancy), the exchange's client, the stored
row if any, how to find the order on the exchange (``OrderRef``), and the call context.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Required, TypedDict, Unpack

import attrs

from terminal5 import order_results
from terminal5.contract import CallContext, NativeClientId, NativePayload, OrderRef, SupportsEditOrder
from terminal5.errors import OrderNotFound, PluginError, Terminal5Error, UnsupportedParameterError
from terminal5.keywords import check_keywords
from terminal5.logs import current_request_id, request_scope
from terminal5.models import Market, Order, OrderStatus, market_type_of
from terminal5.ownership import Expected
from terminal5.storage.brokers import BrokerInfo
from terminal5.storage.orders import row_to_order
from terminal5.storage.stored_order import StoredOrder
from terminal5.submission import typed_native_id

if TYPE_CHECKING:
    from terminal5.client_pool import ClientEntry
    from terminal5.gateway import Gateway

#: stored states the exchange will never change again (a cancel of such an order answers the stored state)
FINAL_ON_EXCHANGE = frozenset({OrderStatus.CLOSED.value, OrderStatus.CANCELLED.value})


class OrderAddress(TypedDict, total=False):
    """How a caller names one existing order (the keyword arguments of fetch, cancel and edit)."""

    broker_id: Required[int]
    user_id: int | None
    client_order_id: str | None
    order_id: str | None
    symbol: str | None
    request_id: str | None


@contextmanager
def scoped(address: OrderAddress) -> Iterator[str]:
    """The request id of this operation (the caller's, else the current one, else a new one), in scope."""
    check_keywords(address, OrderAddress, "order operation")
    request_id = address.get("request_id") or current_request_id() or uuid.uuid4().hex
    with request_scope(request_id):
        yield request_id


@attrs.frozen
class Target:
    """The order named by the caller: its broker, that exchange's client, and the stored row (if any)."""

    broker: BrokerInfo
    entry: ClientEntry
    row: StoredOrder | None


@attrs.frozen
class Located:
    """Everything an operation on one existing order needs."""

    broker: BrokerInfo
    entry: ClientEntry
    row: StoredOrder | None
    ref: OrderRef
    ctx: CallContext


async def target(
    gw: Gateway, user_id: int | None, broker_id: int, client_order_id: str | None, order_id: str | None
) -> Target:
    if client_order_id is None and order_id is None:
        raise Terminal5Error("give client_order_id or order_id", field="client_order_id")
    broker = await gw.get_broker(broker_id, user_id)
    entry = gw.client_for(broker.exchange)
    row = None
    if client_order_id is not None:
        row = await gw.storage.run(gw.orders.find, broker.id, client_order_id)
    elif order_id is not None:
        row = await gw.storage.run(gw.orders.find_by_exchange_id, broker.id, order_id)
    return Target(broker=broker, entry=entry, row=row)


async def locate(
    gw: Gateway,
    at: Target,
    client_order_id: str | None,
    order_id: str | None,
    symbol: str | None,
    request_id: str | None,
) -> Located:
    """How to find the order on the exchange, and the context to call it with."""
    broker, entry, row = at.broker, at.entry, at.row
    symbol = row.symbol if row is not None else symbol
    if symbol is None:
        raise OrderNotFound("unknown order: give its symbol to look it up on the exchange", field="symbol")
    market = await gw.market(broker, symbol, market_type_of(symbol))
    native_id: NativeClientId | None = None
    if row is not None and row.native_client_id is not None:
        native_id = typed_native_id(entry.spec, row.native_client_id)
    elif client_order_id is not None:
        stored = await gw.storage.run(gw.client_ids.native_id_of, broker.exchange, client_order_id)
        native_id = typed_native_id(entry.spec, stored) if stored is not None else client_order_id
    ref = OrderRef(
        market=market,
        exchange_id=(row.exchange_order_id if row is not None else None) or order_id,
        native_client_id=native_id,
        client_order_id=(row.client_order_id if row is not None else client_order_id),
    )
    ctx = await gw.context(broker, market.type, request_id=request_id, order_key=ref.client_order_id)
    return Located(broker=broker, entry=entry, row=row, ref=ref, ctx=ctx)


async def find(gw: Gateway, address: OrderAddress, request_id: str, named: Target | None = None) -> Located:
    """The ``locate`` step for the order ``address`` names (``named``: its target when already looked up)."""
    client_order_id, order_id = address.get("client_order_id"), address.get("order_id")
    if named is None:
        named = await target(gw, address.get("user_id"), address["broker_id"], client_order_id, order_id)
    return await locate(gw, named, client_order_id, order_id, address.get("symbol"), request_id)


async def get_order(
    gw: Gateway, *, broker_id: int, user_id: int | None, client_order_id: str | None, order_id: str | None
) -> Order:
    """The stored order (no exchange call)."""
    row = (await target(gw, user_id, broker_id, client_order_id, order_id)).row
    if row is None:
        raise OrderNotFound("order not found", field="client_order_id" if client_order_id else "order_id")
    return row_to_order(row)


async def fetch_order(gw: Gateway, **address: Unpack[OrderAddress]) -> Order:
    """The order as the exchange sees it now; the stored copy is updated (or created as external)."""
    with scoped(address) as request_id:
        at = await find(gw, address, request_id)
        payload = await at.entry.client.fetch_order(at.ctx, at.ref)
        if payload is None:
            raise OrderNotFound(
                f"{at.broker.exchange} does not know order {at.ref.exchange_id or at.ref.client_order_id}",
                exchange=at.broker.exchange,
            )
        return await save_fetched(gw, at.broker, at.ref.market, at.row, payload)


async def save_fetched(
    gw: Gateway, broker: BrokerInfo, market: Market, row: StoredOrder | None, payload: NativePayload
) -> Order:
    """Store what the exchange said about an existing order (an unknown one is stored as external)."""
    if row is not None:
        # a receipt that is not an order fails here: cancel_order then reads the order back.
        # A row never confirmed was found by client id: the order must be the one requested.
        expected = Expected.of_row(row) if not row.exchange_order_id else None
        return await order_results.store_answer(
            gw, broker, None, market, row, payload, keep_raw_on_failure=False, expected=expected
        )

    def convert_and_upsert() -> tuple[Order, bool]:
        order, unknown = gw.conversion.convert(broker.exchange, payload, market_type=market.type, market=market)
        saved, _ = gw.orders.upsert_external(
            broker_id=broker.id, user_id=broker.user_id, order=order, market_type=market.type.value
        )
        return row_to_order(saved), unknown

    order, unknown = await gw.storage.run(convert_and_upsert)
    if unknown:
        gw.conversion.unknown_status_alert(order, broker.id)
    return order


async def cancel_order(gw: Gateway, **address: Unpack[OrderAddress]) -> Order:
    with scoped(address) as request_id:
        named = await target(
            gw, address.get("user_id"), address["broker_id"], address.get("client_order_id"), address.get("order_id")
        )
        if named.row is not None and named.row.status in FINAL_ON_EXCHANGE:
            return row_to_order(named.row)  # already over on the exchange: nothing to cancel, no round trip
        at = await find(gw, address, request_id, named)
        if at.row is not None and not at.row.exchange_order_id:
            # never confirmed: make sure the order behind this client id is ours before cancelling it
            found = await at.entry.client.fetch_order(at.ctx, at.ref)
            if found is None:
                raise OrderNotFound(
                    f"{at.broker.exchange} does not know order {at.ref.client_order_id}", exchange=at.broker.exchange
                )
            confirmed = await save_fetched(gw, at.broker, at.ref.market, at.row, found)
            if confirmed.status.value in FINAL_ON_EXCHANGE:
                return confirmed
            at = attrs.evolve(at, ref=attrs.evolve(at.ref, exchange_id=confirmed.id))
        payload = await at.entry.client.cancel_order(at.ctx, at.ref)
        try:
            return await save_fetched(gw, at.broker, at.ref.market, at.row, payload)
        except (PluginError, KeyError, TypeError, ValueError):
            # Some exchanges answer a cancel with a receipt, not the order: read the order back.
            fetched = await at.entry.client.fetch_order(at.ctx, at.ref)
            if fetched is None:
                raise
            return await save_fetched(gw, at.broker, at.ref.market, at.row, fetched)


async def edit_order(
    gw: Gateway, *, quantity: Decimal | None, price: Decimal | None, **address: Unpack[OrderAddress]
) -> Order:
    """Amend quantity and/or price in place, where the client can (``SupportsEditOrder``)."""
    with scoped(address) as request_id:
        broker = await gw.get_broker(address["broker_id"], address.get("user_id"))
        client = gw.client_for(broker.exchange).client
        if not isinstance(client, SupportsEditOrder):
            raise UnsupportedParameterError(
                f"{broker.exchange} cannot edit an order: cancel it and place a new one", exchange=broker.exchange
            )
        at = await find(gw, address, request_id)
        payload = await client.edit_order(at.ctx, at.ref, quantity=quantity, price=price)
        payload = payload or await client.fetch_order(at.ctx, at.ref)
        if payload is None:
            raise OrderNotFound("order not found after the edit", exchange=broker.exchange)
        return await save_fetched(gw, broker, at.ref.market, at.row, payload)

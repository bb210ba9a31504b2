"""Attached orders: the stop-loss / take-profit children a plugin sends after their parent.

Each child is an order of its own: its client id claimed, its intent stored, sent once. A child that fails
never undoes its parent (already placed and stored): it raises a critical alert instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from terminal5.contract import AttachedOrder, CallContext
from terminal5.errors import DatabaseUnavailable, ExchangeError
from terminal5.models import Market, OrderRequest, OrderType, Side
from terminal5.storage.brokers import BrokerInfo
from terminal5.storage.orders import request_fingerprint
from terminal5.submission import submit

if TYPE_CHECKING:
    from terminal5.client_pool import ClientEntry
    from terminal5.gateway import Gateway


async def place_all(
    gw: Gateway,
    entry: ClientEntry,
    ctx: CallContext,
    broker: BrokerInfo,
    parent: OrderRequest,
    market: Market,
    attached: Sequence[AttachedOrder],
    request_id: str,
) -> None:
    async def place(child: AttachedOrder) -> None:
        request = child.request or derive_child(parent, child)
        native_id = child.call.native_client_id or child.client_order_id
        await gw.storage.run(gw.client_ids.claim, broker.exchange, child.client_order_id, lambda _a, n=native_id: n)
        row = await gw.storage.run(
            gw.orders.insert_intent,
            request=request,
            exchange=broker.exchange,
            market_type=market.type.value,
            native_client_id=str(native_id),
            request_hash=request_fingerprint(request),
            ignored_params=(),
            request_id=request_id,
            parent_client_order_id=parent.client_order_id,
        )
        if row is None:
            return  # already placed by an earlier attempt of this parent
        child_ctx = attrs.evolve(ctx, order_key=child.client_order_id)
        try:
            await submit(gw, entry, child_ctx, broker, request, market, row, child.call, native_id)
        except ExchangeError as exc:
            _alert(gw, broker, parent, child, f" failed: {exc}")

    for child in attached:
        try:
            await place(child)
        except DatabaseUnavailable as exc:  # the parent is placed and stored: report the child alone
            _alert(gw, broker, parent, child, f": {exc}")


def _alert(gw: Gateway, broker: BrokerInfo, parent: OrderRequest, child: AttachedOrder, what: str) -> None:
    gw.alerts.critical(
        "attached_order_failed",
        key=f"attached:{broker.exchange}:{child.client_order_id}",
        exchange=broker.exchange,
        message=f"{child.role} order {child.client_order_id} of {parent.client_order_id}{what}",
    )


def derive_child(parent: OrderRequest, child: AttachedOrder) -> OrderRequest:
    """The child's own request, when the plugin gave none: the opposite side, reduce-only, at the trigger."""
    trigger = parent.stop_loss_price if child.role == "stop_loss" else parent.take_profit_price
    return OrderRequest(
        symbol=parent.symbol,
        side=Side.SELL if parent.side is Side.BUY else Side.BUY,
        type=OrderType.STOP_LOSS if child.role == "stop_loss" else OrderType.TAKE_PROFIT,
        quantity=parent.quantity,
        user_id=parent.user_id,
        broker_id=parent.broker_id,
        source=parent.source,
        client_order_id=child.client_order_id,
        reduce_only=True,
        stop_price=trigger,
        position_side=parent.position_side,
    )

"""Unified <-> native conversions. Pure functions: no I/O, no clock."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from terminal5.contract import AttachedOrder, NativeCall, NativeClientId, NativeContext, NativePayload
from terminal5.decimals import is_multiple, plain
from terminal5.errors import InvalidOrder
from terminal5.models import Market, MarketType, Order, OrderRequest, OrderStatus, OrderType, Side
from terminal5.timeutil import from_ms

from terminal5_template.constants import (
    CLIENT_ID_MAX,
    CLIENT_ID_RE,
    NAME,
    ORDER_TYPES,
    ORDER_TYPES_BACK,
    PERPETUAL_SUFFIX,
)


def market_from_native(item: Mapping[str, Any]) -> Market:
    settle = item.get("settle")
    return Market(
        exchange=NAME,
        symbol=f"{item['base']}/{item['quote']}" + (f":{settle}" if settle else ""),
        native_symbol=item["symbol"],
        type=MarketType.SWAP if item["symbol"].endswith(PERPETUAL_SUFFIX) else MarketType.SPOT,
        base=item["base"],
        quote=item["quote"],
        settle=settle,
        tick_size=Decimal(item["tickSize"]),
        step_size=Decimal(item["stepSize"]),
        min_quantity=Decimal(item["minQty"]),
        min_notional=Decimal(item["minNotional"]),
        info=item,
    )


def client_id(client_order_id: str, attempt: int) -> str:
    """The id itself when the exchange accepts it; otherwise a deterministic compliant digest."""
    if attempt == 0 and CLIENT_ID_RE.match(client_order_id):
        return client_order_id
    return "h" + hashlib.sha256(f"{client_order_id}:{attempt}".encode()).hexdigest()[:31]


def check_filters(request: OrderRequest, market: Market) -> None:
    """The exchange's published filters, checked before anything is sent."""
    if market.min_quantity and request.quantity < market.min_quantity:
        raise InvalidOrder(
            f"LOT_SIZE: quantity {request.quantity} below the minimum {market.min_quantity}", field="quantity"
        )
    if not is_multiple(request.quantity, market.step_size):
        raise InvalidOrder(
            f"LOT_SIZE: quantity {request.quantity} is not a multiple of {market.step_size}", field="quantity"
        )
    if request.price is not None and not is_multiple(request.price, market.tick_size):
        raise InvalidOrder(
            f"PRICE_FILTER: price {request.price} is not a multiple of {market.tick_size}", field="price"
        )
    if request.price is not None and market.min_notional and request.price * request.quantity < market.min_notional:
        raise InvalidOrder(
            f"NOTIONAL: {request.price * request.quantity} below the minimum {market.min_notional}", field="quantity"
        )


def to_native(request: OrderRequest, market: Market, native_client_id: NativeClientId) -> NativeCall:
    """The order call. Amounts are checked against the market's step/tick and refused when off it (never
    rounded: a rounded order is not the order the strategy asked for), then written with ``plain``."""
    check_filters(request, market)
    params = {
        "symbol": market.native_symbol,
        "side": request.side.value.upper(),
        "type": ORDER_TYPES[request.type],
        "quantity": plain(request.quantity),
        "clientId": str(native_client_id),
    }
    if request.price is not None:
        params["price"] = plain(request.price)
    if request.stop_price is not None:
        params["stopPrice"] = plain(request.stop_price)
    if request.time_in_force is not None:
        params["timeInForce"] = request.time_in_force.value
    if request.reduce_only:
        params["reduceOnly"] = "true"
    if request.position_side is not None:
        params["positionSide"] = request.position_side.value
    return _place(params, market, native_client_id, attached=_attached_stop_loss(request, market, native_client_id))


def _place(
    params: dict[str, str], market: Market, native_client_id: NativeClientId, attached: tuple[AttachedOrder, ...] = ()
) -> NativeCall:
    return NativeCall(
        method="POST",
        path="/api/order",
        params=params,
        market_type=market.type,
        endpoint="order.place",
        native_client_id=native_client_id,
        attached=attached,
    )


def _attached_stop_loss(
    request: OrderRequest, market: Market, native_client_id: NativeClientId
) -> tuple[AttachedOrder, ...]:
    """Level 2 ``stop_loss_price`` as a separate reduce-only trigger order the core places after the parent
    (client id ``<parent>-sl``; the core derives its unified description from the parent)."""
    if request.stop_loss_price is None:
        return ()
    if not is_multiple(request.stop_loss_price, market.tick_size):
        raise InvalidOrder(
            f"PRICE_FILTER: stop_loss_price {request.stop_loss_price} is not a multiple of {market.tick_size}",
            field="stop_loss_price",
        )
    child_id = f"{str(native_client_id)[: CLIENT_ID_MAX - 3]}-sl"
    params = {
        "symbol": market.native_symbol,
        "side": "SELL" if request.side is Side.BUY else "BUY",
        "type": ORDER_TYPES[OrderType.STOP_LOSS],
        "quantity": plain(request.quantity),
        "stopPrice": plain(request.stop_loss_price),
        "reduceOnly": "true",
        "clientId": child_id,
    }
    return (AttachedOrder(role="stop_loss", client_order_id=child_id, call=_place(params, market, child_id)),)


def _decimal(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def order_from_native(native: NativePayload, context: NativeContext) -> Order:
    market = (
        context.market
        if context.market and context.market.native_symbol == native["symbol"]
        else (context.markets(native["symbol"]))
    )
    quantity = Decimal(native["origQty"])
    filled = Decimal(native["executedQty"])
    fee = _decimal(native.get("fee"))
    return Order(
        exchange=NAME,
        id=str(native["orderId"]),
        client_order_id=context.client_id_of(native["clientId"]),
        native_client_id=native["clientId"],
        symbol=market.symbol if market else native["symbol"],
        side=Side(native["side"].lower()),
        type=ORDER_TYPES_BACK.get(native["type"], OrderType.LIMIT),
        quantity=quantity,
        price=_decimal(native.get("price")),
        stop_price=_decimal(native.get("stopPrice")),
        filled=filled,
        remaining=quantity - filled,
        average=_decimal(native.get("avgPrice")),
        native_status=native["status"],
        status=OrderStatus.UNKNOWN,  # the core normalizes
        fee=fee if fee else None,
        fee_currency=native.get("feeAsset") if fee else None,
        reduce_only=bool(context.request.reduce_only) if context.request else False,
        created_at=from_ms(native.get("time")),
        updated_at=from_ms(native.get("updateTime")),
        raw=native,
    )

"""Unified <-> native conversions (pure: no I/O, no clock, no state).

``to_native`` checks the published filters and builds the ``NativeCall``; ``from_native`` reads a spot,
futures or futures-algo order payload back into an ``Order``; the rest reads fills, balances and positions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from terminal5.contract import AttachedOrder, NativeCall, NativeClientId, NativeContext
from terminal5.errors import InvalidOrder
from terminal5.models import (
    Balance,
    MarginMode,
    Market,
    MarketType,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    TimeInForce,
    Trade,
)
from terminal5_binance import constants as c
from terminal5_binance.clientids import child_client_id, map_client_id
from terminal5_binance.markets import (
    check_iceberg,
    check_lot,
    check_notional,
    check_price,
    dec,
    filters_of,
    format_price,
    format_quantity,
)
from terminal5_binance.symbols import split_native

ALGO_PREFIX = "algo:"
#: types whose execution is a market order (MARKET_LOT_SIZE applies, no price)
_MARKET_EXECUTED = frozenset({OrderType.MARKET, OrderType.STOP_LOSS, OrderType.TAKE_PROFIT})
_SPOT_TIF_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
_ICEBERG_TYPES = frozenset(
    {OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT}
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _put_amounts(params: dict[str, str], request: OrderRequest, market: Market, *, stop_key: str) -> None:
    """Quantity, price and stop price written as Binance expects them (already checked against the filters);
    the stop price goes under ``stop_key`` (``stopPrice`` on spot, ``triggerPrice`` on futures)."""
    params["quantity"] = format_quantity(market, request.quantity)
    if request.price is not None:
        params["price"] = format_price(market, request.price)
    if request.stop_price is not None:
        params[stop_key] = format_price(market, request.stop_price)


def _placement(
    path: str, params: dict[str, str], market_type: MarketType, endpoint: str, native_id: NativeClientId, **more: Any
) -> NativeCall:
    """A POST that places an order, costed by the weight Binance publishes for ``endpoint``."""
    return NativeCall(
        method="POST",
        path=path,
        params=params,
        market_type=market_type,
        endpoint=endpoint,
        cost=c.weight(market_type, endpoint),
        native_client_id=native_id,
        **more,
    )


def _fail(field: str, message: str) -> InvalidOrder:
    return InvalidOrder(message, exchange=c.EXCHANGE, field=field)


def to_ms(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(milliseconds=1)


def from_ms(value: Any) -> datetime | None:
    if value in (None, "", 0):
        return None
    return _EPOCH + timedelta(milliseconds=int(value))


# --- to_native -------------------------------------------------------------------------------------------


def _check_common(request: OrderRequest, market: Market) -> None:
    if not market.active:
        status = market.info.get("status", "inactive")
        raise _fail("symbol", f"{market.symbol} is not trading on Binance (status {status})")
    filters = filters_of(market.info)  # one pass over the market's filters for every check below
    check_lot(market, request.quantity, is_market=request.type in _MARKET_EXECUTED, filters=filters)
    if request.price is not None:
        check_price(market, request.price, filters=filters)
    if request.stop_price is not None:
        check_price(market, request.stop_price, field="stop_price", filters=filters)
    check_notional(market, request.quantity, request.price, filters=filters)


def to_native(
    request: OrderRequest, market: Market, native_client_id: NativeClientId, options: Mapping[str, Any]
) -> NativeCall:
    """Build the native call for ``request`` (filters checked, amounts formatted)."""
    _check_common(request, market)
    if market.type is MarketType.SPOT:
        return _spot_call(request, market, str(native_client_id))
    return _futures_call(request, market, str(native_client_id), options)


def _spot_call(request: OrderRequest, market: Market, native_id: str) -> NativeCall:
    kind = request.type
    tif = request.time_in_force
    params: dict[str, str] = {
        "symbol": market.native_symbol,
        "side": request.side.value.upper(),
        "type": c.SPOT_ORDER_TYPES[kind],
    }
    if kind in _SPOT_TIF_TYPES:
        tif_value = (tif or TimeInForce.GTC).value
        if tif_value not in c.SPOT_TIME_IN_FORCE:
            raise _fail("time_in_force", f"Binance spot accepts GTC, IOC or FOK, not {tif_value}")
        params["timeInForce"] = tif_value
    elif tif is not None and not (
        (kind in _MARKET_EXECUTED and tif is TimeInForce.IOC) or (kind is OrderType.LIMIT_MAKER and tif is TimeInForce.GTC)
    ):
        # market orders are IOC and LIMIT_MAKER is GTC by nature; anything else would be silently dropped
        raise _fail("time_in_force", f"Binance spot {params['type']} orders take no time in force ({tif.value})")
    _put_amounts(params, request, market, stop_key="stopPrice")
    if request.trailing_delta is not None:
        if not request.type.needs_stop_price:
            raise _fail("trailing_delta", "trailing_delta needs a stop-loss or take-profit order type")
        if request.trailing_delta != request.trailing_delta.to_integral_value():
            raise _fail("trailing_delta", "trailing_delta is in basis points (BIPS): an integer")
        if not market.info.get("allowTrailingStop", True):
            raise _fail("trailing_delta", f"{market.symbol} does not allow trailing stops")
        params["trailingDelta"] = str(int(request.trailing_delta))
    if request.iceberg_qty is not None:
        if kind not in _ICEBERG_TYPES:
            raise _fail("iceberg_qty", f"iceberg_qty needs a limit order type, not {kind.value}")
        if params.get("timeInForce", "GTC") != "GTC":
            raise _fail("iceberg_qty", "Binance requires timeInForce GTC for iceberg orders")
        if not market.info.get("icebergAllowed", True):
            raise _fail("iceberg_qty", f"{market.symbol} does not allow iceberg orders")
        check_iceberg(market, request.quantity, request.iceberg_qty)
        params["icebergQty"] = format_quantity(market, request.iceberg_qty)
    params["newClientOrderId"] = native_id
    # FULL for every type: status and fills come back at once (stop types default to ACK otherwise)
    params["newOrderRespType"] = "FULL"
    return _placement(c.SPOT_API.order, params, MarketType.SPOT, "order.place", native_id)


def _futures_call(
    request: OrderRequest, market: Market, native_id: str, options: Mapping[str, Any]
) -> NativeCall:
    kind = request.type
    tif = request.time_in_force
    if request.reduce_only and request.position_side is not None:
        raise _fail(
            "reduce_only",
            "Binance rejects reduceOnly in hedge mode: close with the opposite side and the same position_side",
        )
    meta: dict[str, str] = {}
    if request.margin_mode is not None:
        meta = {"margin_type": c.MARGIN_TYPES[request.margin_mode.value], "symbol": market.native_symbol}
    common: dict[str, str] = {"symbol": market.native_symbol, "side": request.side.value.upper()}
    if request.position_side is not None:
        common["positionSide"] = request.position_side.value
    algo = kind in c.FUTURES_ALGO_TYPES
    params = dict(common)
    if algo:
        params = {"algoType": "CONDITIONAL", **common, "type": c.FUTURES_ALGO_TYPES[kind]}
    else:
        params["type"] = "MARKET" if kind is OrderType.MARKET else "LIMIT"  # limit_maker is LIMIT + GTX
    if kind is OrderType.LIMIT_MAKER:
        if tif not in (None, TimeInForce.GTC):
            raise _fail("time_in_force", f"a post-only (GTX) order cannot also be {tif.value}")
        params["timeInForce"] = c.FUTURES_POST_ONLY_TIF
    elif kind.needs_price:
        tif_value = (tif or TimeInForce.GTC).value
        params["timeInForce"] = tif_value
        if tif is TimeInForce.GTD and request.expire_at is not None:
            params["goodTillDate"] = str(to_ms(request.expire_at))
    elif tif is not None and tif is not TimeInForce.IOC:
        raise _fail("time_in_force", f"Binance futures {params['type']} orders take no time in force ({tif.value})")
    _put_amounts(params, request, market, stop_key="triggerPrice")
    if request.reduce_only:
        params["reduceOnly"] = "true"
    if algo and options.get("working_type"):
        params["workingType"] = str(options["working_type"])
    if algo:
        params["clientAlgoId"] = native_id
    else:
        params["newClientOrderId"] = native_id
        params["newOrderRespType"] = "RESULT"
    attached = _attached(request, market, native_id, options)
    endpoint = "algo.place" if algo else "order.place"
    return _placement(
        c.FUTURES_API.algo_order if algo else c.FUTURES_API.order,
        params,
        market.type,
        endpoint,
        native_id,
        attached=attached,
        meta=meta,
    )


def _attached(
    request: OrderRequest, market: Market, parent_native_id: str, options: Mapping[str, Any]
) -> tuple[AttachedOrder, ...]:
    """Level 2 on futures: SL/TP as separate reduce-only STOP_MARKET/TAKE_PROFIT_MARKET algo orders."""
    parent_id = request.client_order_id or parent_native_id
    out = []
    for role, short, trigger, native_type in (
        ("stop_loss", "sl", request.stop_loss_price, "STOP_MARKET"),
        ("take_profit", "tp", request.take_profit_price, "TAKE_PROFIT_MARKET"),
    ):
        if trigger is None:
            continue
        check_price(market, trigger, field=f"{role}_price")
        child_id = child_client_id(parent_id, short)
        child_native = map_client_id(child_id)
        params = {
            "algoType": "CONDITIONAL",
            "symbol": market.native_symbol,
            "side": (Side.SELL if request.side is Side.BUY else Side.BUY).value.upper(),
        }
        if request.position_side is not None:
            # hedge mode: the position side makes it reducing (reduceOnly is refused there)
            params["positionSide"] = request.position_side.value
        params["type"] = native_type
        params["quantity"] = format_quantity(market, request.quantity)
        params["triggerPrice"] = format_price(market, trigger)
        if request.position_side is None:
            params["reduceOnly"] = "true"
        if options.get("working_type"):
            params["workingType"] = str(options["working_type"])
        params["clientAlgoId"] = child_native
        call = _placement(c.FUTURES_API.algo_order, params, market.type, "algo.place", child_native)
        out.append(AttachedOrder(role=role, client_order_id=child_id, call=call))
    return tuple(out)


# --- from_native -------------------------------------------------------------------------------------------


def _symbol(native_symbol: str, context: NativeContext) -> str:
    if context.market is not None and context.market.native_symbol == native_symbol:
        return context.market.symbol
    market = context.markets(native_symbol)
    if market is not None:
        return market.symbol
    if context.request is not None:
        return context.request.symbol
    # a market nobody loaded (reconciliation of an old symbol): best effort, else the native name
    return split_native(native_symbol, context.market_type) or native_symbol


def _order_type(native: Mapping[str, Any], futures: bool) -> OrderType:
    raw = str(native.get("origType") or native.get("orderType") or native.get("type") or "")
    if futures and raw == "LIMIT" and native.get("timeInForce") == c.FUTURES_POST_ONLY_TIF:
        return OrderType.LIMIT_MAKER
    table = c.FUTURES_ONLY_NATIVE_TYPES if futures else c.SPOT_ONLY_NATIVE_TYPES
    if raw in table:
        return table[raw]
    if raw in c.NATIVE_ORDER_TYPES:
        return c.NATIVE_ORDER_TYPES[raw]
    # LIQUIDATION/ADL and future types: read by what they carry, the native type stays in ``raw``
    return OrderType.LIMIT if _pos(native.get("price")) else OrderType.MARKET


def _pos(value: Any) -> Decimal | None:
    number = dec(value)
    return number if number is not None and number > 0 else None


def _tif(value: Any) -> TimeInForce | None:
    try:
        return TimeInForce(value) if value else None
    except ValueError:  # GTX (post-only, read as the limit_maker type), RPI…
        return None


def _position_side(value: Any) -> PositionSide | None:
    return PositionSide(value) if value in ("LONG", "SHORT") else None


def _trade(
    item: Mapping[str, Any],
    *,
    trade_id: str,
    order_id: str | None,
    symbol: str,
    side: Side | None,
    when: datetime | None,
    maker: bool | None = None,
) -> Trade:
    """One fill: ``price``, ``qty``, ``commission`` and ``commissionAsset`` are named alike in an order's
    ``fills`` and in ``myTrades``/``userTrades`` items."""
    return Trade(
        id=trade_id,
        order_id=order_id,
        symbol=symbol,
        side=side,
        price=dec(item["price"]) or Decimal(0),
        quantity=dec(item["qty"]) or Decimal(0),
        fee=dec(item.get("commission")),
        fee_currency=item.get("commissionAsset"),
        timestamp=when,
        maker=maker,
    )


def _fills(native: Mapping[str, Any], symbol: str, side: Side) -> tuple[Trade, ...]:
    when = from_ms(native.get("transactTime"))
    order_id = str(native["orderId"]) if native.get("orderId") is not None else None
    return tuple(
        _trade(fill, trade_id=str(fill.get("tradeId")), order_id=order_id, symbol=symbol, side=side, when=when)
        for fill in native.get("fills") or ()
    )


def _fee(trades: Sequence[Trade]) -> tuple[Decimal | None, str | None]:
    """Total fee when every fill was charged in one asset (a BNB-discounted mix has no single total)."""
    currencies = {t.fee_currency for t in trades if t.fee is not None}
    if len(currencies) != 1:
        return None, None
    return sum((t.fee for t in trades if t.fee is not None), Decimal(0)), currencies.pop()


def _times(native: Mapping[str, Any], context: NativeContext, algo: bool) -> tuple[datetime | None, datetime | None]:
    """(created, updated) from what the answer says, never from a field that means something else.

    * a query/list answer (spot and futures) carries ``time``: the creation;
    * an algo order carries ``createTime``;
    * a spot cancel answer (it names ``origClientOrderId``) carries ``transactTime``: the cancel, not the creation;
    * a spot place answer (ACK, RESULT, FULL) carries ``transactTime``: the creation;
    * a USDⓈ-M place answer carries only ``updateTime``: the order's arrival in the engine, i.e. its creation.
      Cancel and modify answers carry only ``updateTime`` too, but that is the cancel/modify time: no creation.
    """
    updated = from_ms(native.get("updateTime") or native.get("transactTime") or native.get("workingTime"))
    if algo:
        return from_ms(native.get("createTime")), updated
    if native.get("time"):
        return from_ms(native.get("time")), updated
    if "origClientOrderId" in native:  # spot cancel answer
        return None, updated
    if native.get("transactTime"):
        return from_ms(native.get("transactTime")), updated
    if context.request is not None and native.get("updateTime"):
        return from_ms(native.get("updateTime")), updated  # the answer to this very placement
    return None, updated


class IncompleteAnswer(ValueError):
    """An answer lacks a field and nothing (no request) can complete it: never guess it."""


def _side(native: Mapping[str, Any], request: OrderRequest | None) -> Side:
    if native.get("side"):
        return Side(str(native["side"]).lower())
    if request is not None:
        return request.side  # an ACK answer: the side is the one we sent
    raise IncompleteAnswer("Binance answer without side, and no request to complete it from")


def from_native(native: Mapping[str, Any], context: NativeContext) -> Order:
    """One spot/futures/algo order payload -> ``Order`` (status left UNKNOWN for the core to normalise).

    Every documented place answer converts: ``FULL`` and ``RESULT`` carry the order; ``ACK`` carries only
    ``symbol, orderId, orderListId, clientOrderId, transactTime`` (the client reads the order back; when
    that fails, side, type, quantity, price and time in force come from the request that was sent, and the
    status stays unknown, never guessed)."""
    request = context.request
    futures = context.market_type is not MarketType.SPOT or "algoId" in native or "avgPrice" in native
    algo = "algoId" in native
    native_symbol = str(native.get("symbol", ""))
    symbol = _symbol(native_symbol, context)
    side = _side(native, request)
    if algo:
        native_id = native.get("clientAlgoId")
        exchange_id = f"{ALGO_PREFIX}{native['algoId']}"
        native_status = native.get("algoStatus")
        quantity = dec(native.get("quantity")) or Decimal(0)  # a close-position algo order has none
        stop_price = _pos(native.get("triggerPrice"))
        filled = dec(native.get("executedQty")) or Decimal(0)
    else:
        # a cancel answer carries the order's id in origClientOrderId (clientOrderId is the cancel's own)
        native_id = native.get("origClientOrderId") or native.get("clientOrderId")
        exchange_id = str(native["orderId"]) if native.get("orderId") is not None else None
        native_status = native.get("status")
        quantity = dec(native.get("origQty"))
        stop_price = _pos(native.get("stopPrice"))
        filled = dec(native.get("executedQty")) or Decimal(0)
    if quantity is None:
        if request is None:
            raise IncompleteAnswer("Binance answer without quantity, and no request to complete it from")
        quantity = request.quantity
    if native_status is None and exchange_id is None:
        raise IncompleteAnswer("Binance answer with neither an order id nor a status")
    client_order_id = context.client_id_of(native_id) if native_id else None
    if client_order_id is None and request is not None:
        client_order_id = request.client_order_id
    average = _pos(native.get("avgPrice"))
    if average is None and not futures and filled > 0:
        quote = dec(native.get("cummulativeQuoteQty"))
        if quote is not None and quote > 0:  # < 0 means "data unavailable" for some old orders
            average = quote / filled
    trades = _fills(native, symbol, side)
    fee, fee_currency = _fee(trades)
    created, updated = _times(native, context, algo)
    if stop_price is None and request is not None and not ({"stopPrice", "triggerPrice"} & native.keys()):
        stop_price = request.stop_price
    has_type = any(native.get(k) for k in ("origType", "orderType", "type"))
    price = _pos(native.get("price")) if "price" in native else (request.price if request else None)
    if "timeInForce" in native:
        time_in_force = _tif(native.get("timeInForce"))
    else:
        time_in_force = request.time_in_force if request else None
    return Order(
        exchange=c.EXCHANGE,
        symbol=symbol,
        side=side,
        type=_order_type(native, futures) if has_type or request is None else request.type,
        quantity=quantity,
        status=OrderStatus.UNKNOWN,
        id=exchange_id,
        client_order_id=client_order_id,
        native_client_id=str(native_id) if native_id else None,
        price=price,
        stop_price=stop_price,
        filled=filled,
        remaining=max(quantity - filled, Decimal(0)),
        average=average,
        native_status=str(native_status) if native_status is not None else None,
        fee=fee,
        fee_currency=fee_currency,
        trades=trades,
        time_in_force=time_in_force,
        reduce_only=bool(native.get("reduceOnly", False)),
        position_side=_position_side(native.get("positionSide")),
        user_id=request.user_id if request else None,
        broker_id=request.broker_id if request else None,
        source=request.source if request else None,
        created_at=created,
        updated_at=updated,
        raw=native,
    )


def is_algo_id(exchange_id: str | None) -> bool:
    return bool(exchange_id) and str(exchange_id).startswith(ALGO_PREFIX)


def algo_id_of(exchange_id: str) -> str:
    return exchange_id[len(ALGO_PREFIX) :]


# --- fills, balances, positions ----------------------------------------------------------------------------


def trade_from_native(item: Mapping[str, Any], symbol: str) -> Trade:
    """A spot ``myTrades`` or futures ``userTrades`` item."""
    if "side" in item:
        side: Side | None = Side(str(item["side"]).lower())
    else:
        buyer = item.get("isBuyer", item.get("buyer"))
        side = None if buyer is None else (Side.BUY if buyer else Side.SELL)
    maker = item.get("isMaker", item.get("maker"))
    return _trade(
        item,
        trade_id=str(item["id"]),
        order_id=str(item["orderId"]) if item.get("orderId") is not None else None,
        symbol=symbol,
        side=side,
        when=from_ms(item.get("time")),
        maker=bool(maker) if maker is not None else None,
    )


def spot_balances(account: Mapping[str, Any]) -> list[Balance]:
    out = []
    for item in account.get("balances", ()):
        free, locked = dec(item.get("free")) or Decimal(0), dec(item.get("locked")) or Decimal(0)
        if free or locked:
            out.append(Balance(asset=item["asset"], free=free, locked=locked))
    return out


def futures_balances(items: Sequence[Mapping[str, Any]]) -> list[Balance]:
    """``/fapi/v3/balance``: ``availableBalance`` is free; the rest of the wallet is margin in use."""
    out = []
    for item in items:
        wallet = dec(item.get("balance")) or Decimal(0)
        available = dec(item.get("availableBalance"))
        free = available if available is not None else wallet
        locked = max(wallet - free, Decimal(0))
        if wallet or free:
            out.append(Balance(asset=item["asset"], free=free, locked=locked))
    return out


def position_from_native(item: Mapping[str, Any], symbol_of: Callable[[str], str]) -> Position:
    side = str(item.get("positionSide", "BOTH")).lower()
    margin_type = str(item.get("marginType", "")).lower()
    margin = MarginMode.ISOLATED if margin_type == "isolated" else MarginMode.CROSS if margin_type == "cross" else None
    return Position(
        symbol=symbol_of(str(item["symbol"])),
        side=side if side in ("long", "short") else "both",
        contracts=dec(item.get("positionAmt")) or Decimal(0),
        entry_price=_pos(item.get("entryPrice")),
        mark_price=_pos(item.get("markPrice")),
        unrealized_pnl=dec(item.get("unRealizedProfit")),
        liquidation_price=_pos(item.get("liquidationPrice")),
        leverage=_pos(item.get("leverage")),
        margin_mode=margin,
        raw=item,
    )

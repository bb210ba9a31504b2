"""Unified <-> native conversions (pure: no I/O, no clock, no state).

``to_native`` checks the published precisions and minimums and builds the ``NativeCall`` (spot or mix,
regular or plan order); ``from_native`` reads any order payload the client returns (spot ``orderInfo`` /
lists with ``status``, mix ``detail`` with ``state``, plan orders, or a place answer completed from the
request) into an ``Order``; the rest reads fills, balances and positions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from terminal5 import jsonutil
from terminal5.contract import NativeCall, NativeClientId, NativeContext
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
from terminal5.timeutil import from_ms
from terminal5_bitget import constants as c
from terminal5_bitget.markets import (
    check_notional,
    check_price,
    check_quantity,
    check_quote_size,
    dec,
    fmt,
)
from terminal5_bitget.symbols import product_type_of, split_native

_LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
_PLAN_TYPES = frozenset({OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT})
_TRUE = frozenset({"yes", "true", "1"})
SPOT_MARKET_BUY_RULE = (
    "Bitget sizes a spot market BUY in the quote coin: give the amount to spend as extra_params "
    '{"size": "<quote amount>"} (quantity is then your base estimate), or send a limit order'
)


def _fail(field: str, message: str) -> InvalidOrder:
    return InvalidOrder(message, exchange=c.EXCHANGE, field=field)


# --- to_native -------------------------------------------------------------------------------------------


def _force(request: OrderRequest) -> str:
    tif = request.time_in_force
    if request.type is OrderType.LIMIT_MAKER:
        if tif not in (None, TimeInForce.GTC):
            raise _fail("time_in_force", f"a post-only order cannot also be {tif.value}")
        return c.POST_ONLY
    if tif is None:
        return c.FORCE["GTC"]
    if tif.value not in c.FORCE:
        raise _fail("time_in_force", f"Bitget accepts GTC, IOC or FOK, not {tif.value}")
    if request.type not in _LIMIT_TYPES and tif is not TimeInForce.IOC and tif is not TimeInForce.GTC:
        raise _fail("time_in_force", f"a {request.type.value} order takes no time in force ({tif.value})")
    return c.FORCE[tif.value]


def _quote_size(request: OrderRequest, market: Market) -> str:
    raw = request.extra_params.get("size")
    if raw is None:
        raise _fail("quantity", SPOT_MARKET_BUY_RULE)
    if isinstance(raw, float):
        raise _fail("extra_params.size", "send the quote amount as a string, never a float")
    try:
        size = Decimal(str(raw))
    except InvalidOperation:
        raise _fail("extra_params.size", f"not a number: {raw!r}") from None
    check_quote_size(market, size)
    return fmt(size)


def _check(request: OrderRequest, market: Market, *, quote_sized: bool) -> None:
    if not market.active:
        status = market.info.get("status") or market.info.get("symbolStatus") or "inactive"
        raise _fail("symbol", f"{market.symbol} is not trading on Bitget (status {status})")
    if not quote_sized:
        check_quantity(market, request.quantity)
    for name in ("price", "stop_price", "stop_loss_price", "take_profit_price"):
        value = getattr(request, name)
        if value is not None:
            check_price(market, value, field=name)
    if not quote_sized:
        check_notional(market, request.quantity, request.price)


def to_native(
    request: OrderRequest, market: Market, native_client_id: NativeClientId, options: Mapping[str, Any]
) -> NativeCall:
    """Build the native call for ``request`` (precisions and minimums checked, amounts formatted)."""
    native_id = str(native_client_id)
    if market.type is MarketType.SPOT:
        return _spot_call(request, market, native_id, options)
    return _mix_call(request, market, native_id, options)


def _trigger_type(options: Mapping[str, Any]) -> str:
    value = str(options.get("trigger_type") or c.DEFAULT_TRIGGER_TYPE)
    if value not in c.TRIGGER_TYPES:
        raise _fail("trigger_type", f"broker option trigger_type is fill_price or mark_price, not {value}")
    return value


def _spot_call(request: OrderRequest, market: Market, native_id: str, options: Mapping[str, Any]) -> NativeCall:
    market_buy = request.side is Side.BUY and request.type not in _LIMIT_TYPES
    _check(request, market, quote_sized=market_buy)
    limit = request.type in _LIMIT_TYPES
    params: dict[str, str] = {"symbol": market.native_symbol, "side": request.side.value}
    plan = request.type in _PLAN_TYPES
    if plan:
        if request.stop_loss_price is not None or request.take_profit_price is not None:
            raise _fail("stop_loss_price", "Bitget takes no preset TP/SL on a spot trigger order")
        assert request.stop_price is not None
        params["triggerPrice"] = fmt(request.stop_price)
        params["orderType"] = "limit" if limit else "market"
        if request.price is not None:
            params["executePrice"] = fmt(request.price)
        params["planType"] = c.PLAN_QUOTE if market_buy else c.PLAN_BASE
        params["triggerType"] = _trigger_type(options)
    else:
        params["orderType"] = "limit" if limit else "market"
    params["force"] = _force(request)
    if not plan and request.price is not None:
        params["price"] = fmt(request.price)
    params["size"] = _quote_size(request, market) if market_buy else fmt(request.quantity)
    params["clientOid"] = native_id
    if not plan:
        for name, field in (("take_profit_price", c.SPOT_PRESET_TP), ("stop_loss_price", c.SPOT_PRESET_SL)):
            value = getattr(request, name)
            if value is None:
                continue
            if not limit:
                raise _fail(name, "Bitget attaches a preset TP/SL to spot limit orders only")
            params[field] = fmt(value)
    return NativeCall(
        method="POST",
        path=c.Spot.place_plan if plan else c.Spot.place,
        params=params,
        market_type=MarketType.SPOT,
        endpoint="spot.plan.place" if plan else "spot.order.place",
        native_client_id=native_id,
    )


def position_fields(request: OrderRequest, mode: str | None) -> dict[str, str]:
    """``side``/``tradeSide``/``reduceOnly`` for mix, from the position side, reduce-only and the account's
    position mode (broker option ``position_mode``; a ``position_side`` implies hedge mode).

    Hedge mode names the *position* in ``side`` (reference §4): open long = buy+open, close long =
    buy+close, open short = sell+open, close short = sell+close. One-way mode: the trade side, and
    ``reduceOnly=YES`` to only reduce.
    """
    if mode not in (None, "one_way", "hedge"):
        raise _fail("position_mode", f"broker option position_mode is one_way or hedge, not {mode}")
    position = request.position_side
    if position is not None and mode == "one_way":
        raise _fail("position_side", "this broker's account is in one-way mode: send no position_side")
    if position is None and mode != "hedge":
        fields = {"side": request.side.value}
        if request.reduce_only:
            fields["reduceOnly"] = c.YES
        return fields
    if position is None:  # hedge mode without a position side: reduce_only says which way
        closing = request.reduce_only
        position = (PositionSide.SHORT if request.side is Side.BUY else PositionSide.LONG) if closing else (
            PositionSide.LONG if request.side is Side.BUY else PositionSide.SHORT
        )
    opening = (position is PositionSide.LONG) is (request.side is Side.BUY)
    if request.reduce_only and opening:
        raise _fail("reduce_only", f"a {request.side.value} on the {position.value} side opens it: it cannot be reduce-only")
    return {"side": "buy" if position is PositionSide.LONG else "sell", "tradeSide": "open" if opening else "close"}


def _mix_call(request: OrderRequest, market: Market, native_id: str, options: Mapping[str, Any]) -> NativeCall:
    _check(request, market, quote_sized=False)
    limit = request.type in _LIMIT_TYPES
    plan = request.type in _PLAN_TYPES
    product_type = product_type_of(market)
    if request.margin_mode is not None:
        margin_mode = c.MARGIN_MODES[request.margin_mode.value]
    else:
        margin_mode = c.MARGIN_MODES.get(str(options.get("margin_mode", "cross")), "")
        if not margin_mode:
            raise _fail("margin_mode", f"broker option margin_mode is isolated or cross, not {options['margin_mode']}")
    params: dict[str, str] = {}
    if plan:
        params["planType"] = c.MIX_PLAN_TYPE
    params.update(
        symbol=market.native_symbol,
        productType=product_type,
        marginMode=margin_mode,
        marginCoin=(market.settle or market.quote).upper(),
        size=fmt(request.quantity),
    )
    if request.price is not None:
        params["price"] = fmt(request.price)
    if plan:
        assert request.stop_price is not None
        params["triggerPrice"] = fmt(request.stop_price)
        params["triggerType"] = _trigger_type(options)
    sides = position_fields(request, options.get("position_mode"))
    params["side"] = sides.pop("side")
    if "tradeSide" in sides:
        params["tradeSide"] = sides.pop("tradeSide")
    params["orderType"] = "limit" if limit else "market"
    if not plan:
        params["force"] = _force(request)
    elif request.time_in_force is not None:
        raise _fail("time_in_force", "Bitget trigger orders take no time in force")
    params["clientOid"] = native_id
    if "reduceOnly" in sides:
        params["reduceOnly"] = sides.pop("reduceOnly")
    for name, field in (("take_profit_price", c.MIX_PRESET_TP), ("stop_loss_price", c.MIX_PRESET_SL)):
        value = getattr(request, name)
        if value is None:
            continue
        if plan:
            raise _fail(name, "preset TP/SL are sent on regular mix orders only, not on trigger orders")
        params[field] = fmt(value)
    return NativeCall(
        method="POST",
        path=c.Mix.place_plan if plan else c.Mix.place,
        params=params,
        market_type=MarketType.SWAP,
        endpoint="mix.plan.place" if plan else "mix.order.place",
        native_client_id=native_id,
    )


# --- from_native -------------------------------------------------------------------------------------------


def _symbol(native_symbol: str, context: NativeContext) -> str:
    if context.market is not None and context.market.native_symbol == native_symbol:
        return context.market.symbol
    market = context.markets(native_symbol)
    if market is not None:
        return market.symbol
    if context.request is not None:
        return context.request.symbol
    return split_native(native_symbol, context.market_type) or native_symbol


def _pos(value: Any) -> Decimal | None:
    number = dec(value)
    return number if number is not None and number > 0 else None


def _lower(value: Any) -> str:
    return str(value or "").lower()


def is_plan(native: Mapping[str, Any]) -> bool:
    return "planType" in native or "planStatus" in native


def plan_id(order_id: Any) -> str:
    return f"{c.PLAN_PREFIX}{order_id}"


def is_plan_id(exchange_id: str | None) -> bool:
    return bool(exchange_id) and str(exchange_id).startswith(c.PLAN_PREFIX)


def strip_plan(exchange_id: str) -> str:
    return exchange_id[len(c.PLAN_PREFIX) :] if is_plan_id(exchange_id) else exchange_id


def native_status_of(native: Mapping[str, Any]) -> str | None:
    """Mix answers use ``state``, spot ``status``, mix plan orders ``planStatus``."""
    for key in ("state", "planStatus", "status"):
        value = native.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _order_type(native: Mapping[str, Any], context: NativeContext, plan: bool) -> OrderType:
    kind = _lower(native.get("orderType"))
    if plan:
        request = context.request
        if request is not None and request.type in _PLAN_TYPES:
            return request.type
        # Bitget does not say whether a trigger protects or takes profit: read as a stop
        return OrderType.STOP_LOSS_LIMIT if kind == "limit" else OrderType.STOP_LOSS
    if kind == "limit":
        post_only = _lower(native.get("force")) == c.POST_ONLY
        # spot order answers may not carry ``force``: the originating request then says it was post-only
        if not post_only and "force" not in native and context.request is not None:
            post_only = context.request.type is OrderType.LIMIT_MAKER
        return OrderType.LIMIT_MAKER if post_only else OrderType.LIMIT
    return OrderType.MARKET


def _sides(native: Mapping[str, Any]) -> tuple[Side, PositionSide | None]:
    """Hedge mode reads back the way it was sent: ``side`` names the position, ``tradeSide`` open/close."""
    side = Side(_lower(native.get("side")))
    trade_side = _lower(native.get("tradeSide"))
    if trade_side in ("open", "close"):
        position = PositionSide.LONG if side is Side.BUY else PositionSide.SHORT
        if trade_side == "close":
            side = Side.SELL if side is Side.BUY else Side.BUY
        return side, position
    return side, None


def _tif(native: Mapping[str, Any]) -> TimeInForce | None:
    force = _lower(native.get("force"))
    return next((TimeInForce(k) for k, v in c.FORCE.items() if v == force), None)


def parse_fee_detail(value: Any, received: str | None) -> tuple[Decimal | None, str | None]:
    """A spot ``feeDetail`` (a JSON *string*) -> (fee paid, currency); positive = paid.

    ``newFees`` is authoritative when present: ``t`` total (negative = paid), ``d`` part deducted in BGB,
    ``c`` coupon part, ``r`` the rest, charged in the coin received. Older answers hold one object per fee
    coin (``{"BTC": {"feeCoinCode": "BTC", "totalFee": -0.0041, …}}``). A fee split over several coins has no
    single total: ``(None, None)``, the raw payload keeps the detail.
    """
    if value in (None, ""):
        return None, None
    detail = jsonutil.loads(value) if isinstance(value, str) else value
    if not isinstance(detail, Mapping):
        return None, None
    new = detail.get("newFees")
    if isinstance(new, Mapping):
        total, bgb, coupon, rest = (dec(new.get(k)) or Decimal(0) for k in ("t", "d", "c", "r"))
        if bgb == 0 and coupon == 0:
            return -total, received
        if rest == 0 and coupon == 0:
            return -bgb, "BGB"
        return None, None
    coins = [v for k, v in detail.items() if k != "newFees" and isinstance(v, Mapping)]
    if len(coins) != 1:
        return None, None
    total = dec(coins[0].get("totalFee"))
    return (-total if total is not None else None), str(coins[0].get("feeCoinCode") or "").upper() or None


def from_native(native: Mapping[str, Any], context: NativeContext) -> Order:
    """One spot/mix/plan order payload -> ``Order`` (status left UNKNOWN for the core to normalise)."""
    plan = is_plan(native)
    native_symbol = str(native.get("symbol", "")).upper()
    symbol = _symbol(native_symbol, context)
    spot = context.market_type is MarketType.SPOT and "productType" not in native and "marginCoin" not in native
    side, position_side = (Side(_lower(native.get("side"))), None) if spot else _sides(native)
    kind = _order_type(native, context, plan)
    native_id = native.get("clientOid") or None
    client_order_id = context.client_id_of(native_id) if native_id else None
    request = context.request
    if client_order_id is None and request is not None:
        client_order_id = request.client_order_id
    filled = dec(native.get("baseVolume")) or Decimal(0)
    size = dec(native.get("size")) or Decimal(0)
    quote_sized = spot and side is Side.BUY and kind in (OrderType.MARKET, OrderType.STOP_LOSS, OrderType.TAKE_PROFIT)
    if quote_sized:
        # ``size`` is the quote amount spent: the base quantity is the caller's estimate until filled
        quantity = max(request.quantity if request is not None else Decimal(0), filled)
    else:
        quantity = size
    if spot:
        received = (context.market.base if context.market and side is Side.BUY else
                    context.market.quote if context.market else None)
        fee, fee_currency = parse_fee_detail(native.get("feeDetail"), received)
    else:
        raw_fee = dec(native.get("fee"))
        fee = -raw_fee if raw_fee is not None else None
        fee_currency = str(native.get("marginCoin") or "").upper() or None if fee is not None else None
    status = native_status_of(native)
    order_id = native.get("orderId")
    exchange_id = None if order_id in (None, "") else (plan_id(order_id) if plan else str(order_id))
    return Order(
        exchange=c.EXCHANGE,
        symbol=symbol,
        side=side,
        type=kind,
        quantity=quantity,
        status=OrderStatus.UNKNOWN,
        id=exchange_id,
        client_order_id=client_order_id,
        native_client_id=str(native_id) if native_id else None,
        price=_pos(native.get("executePrice")) or _pos(native.get("price")),
        stop_price=_pos(native.get("triggerPrice")),
        filled=filled,
        remaining=max(quantity - filled, Decimal(0)),
        average=_pos(native.get("priceAvg")),
        native_status=status,
        fee=fee,
        fee_currency=fee_currency,
        time_in_force=(_tif(native) or (request.time_in_force if request and "force" not in native else None))
        if not plan else None,
        reduce_only=_lower(native.get("reduceOnly")) in _TRUE,
        position_side=position_side,
        user_id=request.user_id if request else None,
        broker_id=request.broker_id if request else None,
        source=request.source if request else None,
        created_at=from_ms(native.get("cTime")),
        updated_at=from_ms(native.get("uTime")),
        raw=native,
    )


def initial_status_field(call_params: Mapping[str, str], plan: bool) -> tuple[str, str]:
    """(field, status) describing a just-accepted order the way Bitget's own answers would: spot ``status``
    ``init``; mix ``state`` ``live``; plan orders ``live`` (spot ``status``, mix ``planStatus``)."""
    mix = "productType" in call_params
    if plan:
        return ("planStatus" if mix else "status"), c.INITIAL_STATUS_PLAN
    return ("state", c.INITIAL_STATUS_MIX) if mix else ("status", c.INITIAL_STATUS_SPOT)


def completed_from_request(call_params: Mapping[str, str], answer: Mapping[str, Any], plan: bool,
                           *, read_back_failed: bool = True) -> dict[str, Any]:
    """A place answer carries only ``orderId``/``clientOid``. An order not read back (a resting one, broker
    option ``read_back``) or whose read-back failed is described from what was sent (same field names as
    Bitget's order answers), at Bitget's documented initial status (``initial_status_field``), marked
    ``t5_synthetic`` (and ``_t5_completed_from_request`` when the read-back failed), never as an empty half
    order; the first lookup or reconciliation replaces it by the real one (fills included)."""
    payload: dict[str, Any] = dict(call_params)
    payload.update({k: v for k, v in answer.items() if v not in (None, "")})
    if plan:
        payload.setdefault("planType", call_params.get("planType", c.PLAN_BASE))
    field, status = initial_status_field(call_params, plan)
    payload[field] = status
    payload[c.SYNTHETIC_MARK] = True
    if read_back_failed:
        payload[c.COMPLETED_MARK] = True
    return payload


# --- fills, balances, positions ----------------------------------------------------------------------------


def _fill_fee(detail: Any) -> tuple[Decimal | None, str | None]:
    items = detail if isinstance(detail, list) else [detail] if isinstance(detail, Mapping) else []
    coins = {str(i.get("feeCoin") or "").upper() for i in items}
    if len(items) == 0 or len(coins) != 1:
        return None, None
    total = sum((dec(i.get("totalFee")) or Decimal(0) for i in items), Decimal(0))
    return -total, coins.pop() or None


def trade_from_native(item: Mapping[str, Any], symbol: str) -> Trade:
    """A spot ``fills`` item (``priceAvg``, ``size``) or a mix ``fillList`` item (``price``, ``baseVolume``)."""
    fee, currency = _fill_fee(item.get("feeDetail"))
    scope = _lower(item.get("tradeScope"))
    side_value = _lower(item.get("side"))
    return Trade(
        id=str(item["tradeId"]),
        order_id=str(item["orderId"]) if item.get("orderId") not in (None, "") else None,
        symbol=symbol,
        side=Side(side_value) if side_value in ("buy", "sell") else None,
        price=_pos(item.get("priceAvg")) or _pos(item.get("price")) or Decimal(0),
        quantity=dec(item.get("size")) or dec(item.get("baseVolume")) or Decimal(0),
        fee=fee,
        fee_currency=currency,
        timestamp=from_ms(item.get("cTime")),
        maker=(scope == "maker") if scope in ("maker", "taker") else None,
    )


def spot_balances(items: Sequence[Mapping[str, Any]]) -> list[Balance]:
    out = []
    for item in items:
        free = dec(item.get("available")) or Decimal(0)
        locked = (dec(item.get("frozen")) or Decimal(0)) + (dec(item.get("locked")) or Decimal(0))
        if free or locked:
            out.append(Balance(asset=str(item["coin"]).upper(), free=free, locked=locked))
    return out


def mix_balances(items: Sequence[Mapping[str, Any]]) -> list[Balance]:
    out = []
    for item in items:
        free = dec(item.get("available")) or Decimal(0)
        locked = dec(item.get("locked")) or Decimal(0)
        if free or locked:
            out.append(Balance(asset=str(item["marginCoin"]).upper(), free=free, locked=locked))
    return out


def position_from_native(item: Mapping[str, Any], symbol_of: Callable[[str], str]) -> Position:
    """One-way positions read as side ``both`` with a signed amount; hedge ones as long/short."""
    hold = _lower(item.get("holdSide"))
    total = dec(item.get("total")) or Decimal(0)
    one_way = _lower(item.get("posMode")) == c.ONE_WAY
    if one_way:
        side, contracts = "both", (-total if hold == "short" else total)
    else:
        side, contracts = (hold if hold in ("long", "short") else "both"), total
    mode = c.NATIVE_MARGIN_MODES.get(_lower(item.get("marginMode")))
    return Position(
        symbol=symbol_of(str(item["symbol"])),
        side=side,
        contracts=contracts,
        entry_price=_pos(item.get("openPriceAvg")),
        mark_price=_pos(item.get("markPrice")),
        unrealized_pnl=dec(item.get("unrealizedPL")),
        liquidation_price=_pos(item.get("liquidationPrice")),
        leverage=_pos(item.get("leverage")),
        margin_mode=MarginMode(mode) if mode else None,
        raw=item,
    )

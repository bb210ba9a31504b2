"""Unified <-> Kraken conversions. Pure: no I/O, no clock, no global state.

``to_native`` builds the AddOrder call (checking the pair's published precision first); ``order_from_native``
reads the order object of QueryOrders/OpenOrders/ClosedOrders. An order object's ``txid`` is the dict
key on the wire: the client injects it as ``"txid"`` (and the pair key as ``"pair"``) before handing a
payload to the core.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from terminal5.contract import NativeCall, NativeClientId, NativeContext
from terminal5.decimals import decimals_of, is_multiple, plain
from terminal5.errors import InvalidOrder, UnsupportedParameterError
from terminal5.models import Market, Order, OrderRequest, OrderStatus, OrderType, Side, TimeInForce, Trade
from terminal5_kraken import userref as userrefs
from terminal5_kraken.constants import (
    CLIENT_ID_MODES,
    EXCHANGE,
    ORDER_TYPE_FROM_NATIVE,
    ORDER_TYPE_TO_NATIVE,
    PATH_ADD_ORDER,
    TIME_IN_FORCE,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO = Decimal(0)


# --- small helpers --------------------------------------------------------------------------------


def to_decimal(value: Any) -> Decimal | None:
    """A wire number (Decimal from the core's JSON, or a decimal string) -> Decimal; never via float."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):  # the core's JSON never yields one; refuse rather than round
        raise TypeError("float on the money path")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def to_datetime(seconds: Any) -> datetime | None:
    """Unix seconds with a fraction (``1688666559.8974``) -> aware UTC datetime, exact to the µs."""
    value = to_decimal(seconds)
    if value is None or value == 0:
        return None
    return EPOCH + timedelta(microseconds=int(value * 1_000_000))


def unix_seconds(moment: datetime) -> int:
    """Whole Unix seconds, by integer arithmetic on the timedelta (no float timestamp)."""
    return (moment - EPOCH) // timedelta(seconds=1)


def client_id_mode(options: Mapping[str, Any] | None) -> str:
    mode = str((options or {}).get("client_id_mode") or "userref")
    if mode not in CLIENT_ID_MODES:
        raise UnsupportedParameterError(
            f"client_id_mode must be one of {sorted(CLIENT_ID_MODES)}, got {mode!r}",
            exchange=EXCHANGE,
            field="client_id_mode",
        )
    return mode


# --- precision (reference §3, "Validate") ---------------------------------------------------------


def _invalid(field: str, rule: str, bound: Any, message: str) -> InvalidOrder:
    return InvalidOrder(
        message, exchange=EXCHANGE, code=rule, field=field, details={"rule": rule, "bound": str(bound)}
    )


def check_price(value: Decimal, market: Market, field: str) -> str:
    """Price within ``pair_decimals`` and on the ``tick_size`` grid; returns its wire form."""
    pair_decimals = market.info.get("pair_decimals")
    if pair_decimals is not None and decimals_of(value) > int(pair_decimals):
        raise _invalid(
            field, "pair_decimals", pair_decimals,
            f"{plain(value)} has {decimals_of(value)} decimals; {market.symbol} allows pair_decimals={pair_decimals}",
        )
    if not is_multiple(value, market.tick_size):
        raise _invalid(
            field, "tick_size", plain(market.tick_size or _ZERO),
            f"{plain(value)} is not a multiple of tick_size {plain(market.tick_size or _ZERO)} on {market.symbol}",
        )
    return plain(value)


def check_volume(value: Decimal, market: Market, field: str = "quantity") -> str:
    lot_decimals = market.info.get("lot_decimals")
    if lot_decimals is not None and decimals_of(value) > int(lot_decimals):
        raise _invalid(
            field, "lot_decimals", lot_decimals,
            f"{plain(value)} has {decimals_of(value)} decimals; {market.symbol} allows lot_decimals={lot_decimals}",
        )
    if market.min_quantity is not None and value < market.min_quantity:
        raise _invalid(
            field, "ordermin", plain(market.min_quantity),
            f"{plain(value)} is below ordermin {plain(market.min_quantity)} on {market.symbol}",
        )
    return plain(value)


def check_cost(volume: Decimal, price: Decimal | None, market: Market) -> None:
    """``price x volume >= costmin``. A market order has no price to check against: Kraken decides."""
    if price is None or market.min_notional is None:
        return
    cost = price * volume
    if cost < market.min_notional:
        raise _invalid(
            "quantity", "costmin", plain(market.min_notional),
            f"cost {plain(cost)} (price x quantity) is below costmin {plain(market.min_notional)} on {market.symbol}",
        )


# --- to_native ------------------------------------------------------------------------------------


def _refuse(field: str, why: str) -> UnsupportedParameterError:
    return UnsupportedParameterError(f"{why}; nothing was sent", exchange=EXCHANGE, field=field)


def to_native(
    request: OrderRequest,
    market: Market,
    native_client_id: NativeClientId,
    options: Mapping[str, Any] | None = None,
) -> NativeCall:
    """The AddOrder call for ``request``. ``native_client_id`` is the userref the core claimed."""
    # Level 1 parameters Kraken spot cannot honour: refused, never dropped.
    if request.position_side is not None:
        raise _refuse("position_side", "Kraken spot has no position side")
    if request.margin_mode is not None:
        raise _refuse("margin_mode", "margin trading is not supported by this spot plugin")
    if request.reduce_only:
        raise _refuse("reduce_only", "reduce_only applies to Kraken margin positions, not spot")
    if request.time_in_force is not None and request.time_in_force not in TIME_IN_FORCE:
        raise _refuse("time_in_force", f"{request.time_in_force.value} is not documented for Kraken spot REST")
    if isinstance(native_client_id, bool) or not isinstance(native_client_id, int):
        raise TypeError(f"Kraken's native client id is the int userref, got {type(native_client_id).__name__}")

    ordertype, oflag = ORDER_TYPE_TO_NATIVE[request.type]
    params: dict[str, str] = {
        "pair": market.native_symbol,
        "type": request.side.value,
        "ordertype": ordertype,
        "volume": check_volume(request.quantity, market),
    }
    # Kraken's ``price`` is the limit price for limit orders and the trigger for stop/take-profit ones;
    # ``price2`` is the limit of the *-limit types.
    if request.type in (OrderType.LIMIT, OrderType.LIMIT_MAKER):
        assert request.price is not None  # checked by the core (needs_price)
        params["price"] = check_price(request.price, market, "price")
    elif request.type in (OrderType.STOP_LOSS, OrderType.TAKE_PROFIT):
        assert request.stop_price is not None
        params["price"] = check_price(request.stop_price, market, "stop_price")
    elif request.type in (OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT):
        assert request.stop_price is not None and request.price is not None
        params["price"] = check_price(request.stop_price, market, "stop_price")
        params["price2"] = check_price(request.price, market, "price")
    check_cost(request.quantity, request.price or request.stop_price, market)
    if oflag:
        params["oflags"] = oflag
    if request.time_in_force is not None:
        params["timeinforce"] = TIME_IN_FORCE[request.time_in_force]
        if request.time_in_force is TimeInForce.GTD and request.expire_at is not None:
            params["expiretm"] = str(unix_seconds(request.expire_at))

    meta = {"pair": market.native_symbol, "userref": str(native_client_id)}
    mode = client_id_mode(options)
    if mode == "cl_ord_id" and request.client_order_id:
        # userref and cl_ord_id are mutually exclusive on Kraken: send only the string id.
        cl_ord_id = userrefs.cl_ord_id_for(request.client_order_id, native_client_id)
        params["cl_ord_id"] = cl_ord_id
        meta["cl_ord_id"] = cl_ord_id
    else:
        params["userref"] = str(native_client_id)
    meta["client_id_mode"] = mode
    return NativeCall(
        method="POST",
        path=PATH_ADD_ORDER,
        params=params,
        endpoint="order.place",
        cost=1,
        native_client_id=native_client_id,
        meta=meta,
    )


# --- from_native ----------------------------------------------------------------------------------


def _market_of(native: Mapping[str, Any], context: NativeContext) -> Market | None:
    descr = native.get("descr") or {}
    names = [n for n in (native.get("pair"), descr.get("pair")) if isinstance(n, str) and n]
    market = context.market
    if market is not None:
        known = {market.native_symbol, market.info.get("altname"), market.info.get("wsname")}
        if not names or any(n in known for n in names):
            return market
    for name in names:
        found = context.markets(name)
        if found is not None:
            return found
    return None


def _issued_for(request: OrderRequest | None, userref: int | None, cl_ord_id: str | None,
                hash_fn: userrefs.HashFn) -> str | None:
    """The request's client id when the payload carries an id it would have been given (fallback for
    when the store cannot answer yet)."""
    if request is None or not request.client_order_id:
        return None
    cid = request.client_order_id
    # userref_for(cid, n) for every probe n, from one hash: the n-th candidate is the first shifted by n
    first = userrefs.userref_for(cid, 0, hash_fn)
    candidates = {(first - 1 + n) % userrefs.USERREF_MAX + 1 for n in range(userrefs.MAX_VERIFY_PROBES)}
    if userref and userref in candidates:
        return cid
    if cl_ord_id and (cl_ord_id == cid or any(cl_ord_id == f"{userrefs.DERIVED_PREFIX}{c}" for c in candidates)):
        return cid
    return None


def client_ids(
    native: Mapping[str, Any], context: NativeContext, hash_fn: userrefs.HashFn = userrefs.sha256
) -> tuple[str | None, str | None]:
    """(unified client id or None, native client id as text or None) of an order payload."""
    cl_ord_id = native.get("cl_ord_id") or None
    raw_userref = native.get("userref")
    userref = int(raw_userref) if raw_userref not in (None, "", 0, "0") else None
    if cl_ord_id:
        cl_ord_id = str(cl_ord_id)
        unified = userrefs.client_id_of_cl_ord_id(cl_ord_id, context.client_id_of, hash_fn)
        native_id: str | None = cl_ord_id
    elif userref is not None:
        unified = context.client_id_of(userref)
        native_id = str(userref)
    else:
        return None, None
    if unified is None:
        unified = _issued_for(context.request, userref, cl_ord_id, hash_fn)
    return unified, native_id


def txid_of(value: Any, field: str = "txid") -> str | None:
    """A Kraken order id, typed: a non-empty string, or AddOrder's ``txid`` list holding exactly one.

    Never ``str()`` of a list (that would store ``"['OUF4…']"`` as an id); anything else is refused."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and isinstance(value[0], str) and value[0]:
            return value[0]
        raise ValueError(f"Kraken {field} must hold exactly one order id, got {len(value)}: {list(value)!r}")
    raise TypeError(f"Kraken {field} must be a string or a one-id list, not {type(value).__name__}")


def txids_of(value: Any) -> list[str]:
    """AddOrder's ``txid``: a list of strings (documented), or one string; nothing else."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise TypeError(f"Kraken AddOrder txid must be a list of order ids, got {value!r}")


def order_from_native(
    native: Mapping[str, Any], context: NativeContext, hash_fn: userrefs.HashFn = userrefs.sha256
) -> Order:
    """One Kraken order object (with ``txid`` injected) -> ``Order`` with status left UNKNOWN."""
    descr: Mapping[str, Any] = native.get("descr") or {}
    request = context.request
    market = _market_of(native, context)
    if market is not None:
        symbol = market.symbol
    elif request is not None:
        symbol = request.symbol
    else:
        symbol = str(native.get("pair") or descr.get("pair") or "")

    # Never invent a side, type or size: a payload without them (a cancel receipt) is refused, and the
    # core reads the order back instead.
    side_text = descr.get("type")
    if side_text in ("buy", "sell"):
        side = Side(side_text)
    elif request is not None:
        side = request.side
    else:
        raise ValueError(f"Kraken payload without descr.type: {sorted(native)}")
    oflags = {f for f in str(native.get("oflags") or "").split(",") if f}
    native_type = str(descr.get("ordertype") or "")
    mapped_type = ORDER_TYPE_FROM_NATIVE.get(native_type)
    if mapped_type is None and request is None:
        raise ValueError(f"Kraken payload with unknown ordertype {native_type!r}")
    order_type = mapped_type or request.type  # type: ignore[union-attr]
    if order_type is OrderType.LIMIT and "post" in oflags:
        order_type = OrderType.LIMIT_MAKER

    price1 = to_decimal(descr.get("price"))
    price2 = to_decimal(descr.get("price2"))
    price1 = price1 if price1 else None  # "0" means "not set" on Kraken
    price2 = price2 if price2 else None
    price = stop_price = None
    if order_type in (OrderType.LIMIT, OrderType.LIMIT_MAKER):
        price = price1
    elif order_type in (OrderType.STOP_LOSS, OrderType.TAKE_PROFIT):
        stop_price = price1
    elif order_type in (OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT):
        stop_price, price = price1, price2

    quantity = to_decimal(native.get("vol"))
    if quantity is None:
        if request is None:
            raise ValueError("Kraken payload without vol")
        quantity = request.quantity
    filled = to_decimal(native.get("vol_exec")) or _ZERO
    average = to_decimal(native.get("price")) if filled > 0 else None
    fee = to_decimal(native.get("fee"))
    fee_currency = None
    if fee is not None and market is not None:
        fee_currency = market.base if "fcib" in oflags else market.quote

    unified_id, native_id = client_ids(native, context, hash_fn)
    trades = native.get("trades")
    return Order(
        exchange=EXCHANGE,
        symbol=symbol,
        side=side,
        type=order_type,
        quantity=quantity,
        status=OrderStatus.UNKNOWN,
        id=txid_of(native.get("txid")),
        client_order_id=unified_id,
        native_client_id=native_id,
        price=price,
        stop_price=stop_price,
        filled=filled,
        remaining=quantity - filled,
        average=average,
        native_status=str(native["status"]) if native.get("status") else None,
        fee=fee,
        fee_currency=fee_currency,
        time_in_force=request.time_in_force if request else None,
        user_id=request.user_id if request else None,
        broker_id=request.broker_id if request else None,
        source=request.source if request else None,
        created_at=to_datetime(native.get("opentm")),
        updated_at=to_datetime(native.get("closetm")) or to_datetime(native.get("opentm")),
        raw={**native, "trades": list(trades)} if isinstance(trades, (list, tuple)) else dict(native),
    )


def trade_from_native(trade_id: str, native: Mapping[str, Any], market: Market) -> Trade:
    """One TradesHistory item -> ``Trade`` (fee in the quote currency: Kraken's default ``fciq``)."""
    side = native.get("type")
    maker = native.get("maker")
    return Trade(
        id=trade_id,
        order_id=txid_of(native.get("ordertxid"), "ordertxid"),
        symbol=market.symbol,
        side=Side(side) if side in ("buy", "sell") else None,
        price=to_decimal(native.get("price")) or _ZERO,
        quantity=to_decimal(native.get("vol")) or _ZERO,
        fee=to_decimal(native.get("fee")),
        fee_currency=market.quote,
        timestamp=to_datetime(native.get("time")),
        maker=maker if isinstance(maker, bool) else None,
    )

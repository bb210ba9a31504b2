"""Conversions: unified request -> native params (spot, mix one-way/hedge, plan orders), documented payloads
-> Order (statuses, ``state`` vs ``status``, fees), and the place answer completed from the request."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from terminal5 import jsonutil
from terminal5.contract import NativeContext
from terminal5.errors import InvalidOrder
from terminal5.models import (
    MarginMode,
    MarketType,
    OrderRequest,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
)
from terminal5.plugins import load_hooks
from terminal5_bitget import constants, convert, plugin
from terminal5_bitget.markets import parse_contracts, parse_symbols

from ._data import (
    MIX_DETAIL,
    MIX_FILL,
    PLACE_ANSWER,
    POSITION,
    SPOT_FILL,
    SPOT_LIVE,
    SPOT_ORDER_INFO,
    SPOT_SYMBOLS,
    USDT_CONTRACTS,
)

HOOKS = load_hooks(plugins=[plugin], load_entry_points=False)
SPOT = {m.symbol: m for m in parse_symbols(SPOT_SYMBOLS)}
MIX = {m.symbol: m for m in parse_contracts(USDT_CONTRACTS)}


def request(**kw: Any) -> OrderRequest:
    base: dict[str, Any] = {"symbol": "BTC/USDT", "side": Side.BUY, "type": OrderType.LIMIT,
                            "quantity": Decimal("0.01"), "price": Decimal("30000"), "user_id": 1, "broker_id": 1,
                            "client_order_id": "t5-1"}
    base.update(kw)
    return OrderRequest(**base)


def mix_request(**kw: Any) -> OrderRequest:
    return request(**{"symbol": "BTC/USDT:USDT", "price": Decimal("30000.1"), **kw})


def spot_call(req: OrderRequest, options: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    return HOOKS.to_native("bitget", req, SPOT[req.symbol], "t5-1", options or {})


def mix_call(req: OrderRequest, options: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    return HOOKS.to_native("bitget", req, MIX[req.symbol], "t5-1", options or {})


def read(payload: dict[str, Any], market_type: MarketType = MarketType.SPOT, req: OrderRequest | None = None):  # type: ignore[no-untyped-def]
    market = SPOT["BTC/USDT"] if market_type is MarketType.SPOT else None
    index = {m.native_symbol: m for m in MIX.values()}
    order = HOOKS.from_native("bitget", payload, NativeContext(
        exchange="bitget", market_type=market_type, market=market, request=req, markets=index.get))
    return order, HOOKS.normalize_status("bitget", order.native_status or "")


# --- to_native ---------------------------------------------------------------------------------------------


def test_spot_limit_params_in_bitget_names() -> None:
    call = spot_call(request(time_in_force=TimeInForce.IOC))
    assert call.path == constants.Spot.place and call.endpoint == "spot.order.place"
    assert dict(call.params) == {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "ioc",
                                 "price": "30000", "size": "0.01", "clientOid": "t5-1"}


def test_spot_post_only_and_presets() -> None:
    call = spot_call(request(type=OrderType.LIMIT_MAKER, stop_loss_price=Decimal("29000"),
                             take_profit_price=Decimal("31000")))
    assert call.params["force"] == "post_only"
    assert call.params["presetStopLossPrice"] == "29000" and call.params["presetTakeProfitPrice"] == "31000"
    with pytest.raises(InvalidOrder) as info:
        spot_call(request(type=OrderType.LIMIT_MAKER, time_in_force=TimeInForce.IOC))
    assert info.value.field == "time_in_force"


def test_spot_market_buy_is_sized_in_quote_only_when_told() -> None:
    with pytest.raises(InvalidOrder) as info:
        spot_call(request(type=OrderType.MARKET, price=None))
    assert info.value.field == "quantity" and "quote coin" in info.value.message
    call = spot_call(request(type=OrderType.MARKET, price=None, extra_params={"size": "25.5"}))
    assert call.params["size"] == "25.5" and call.params["orderType"] == "market"
    with pytest.raises(InvalidOrder, match="minTradeUSDT"):
        spot_call(request(type=OrderType.MARKET, price=None, extra_params={"size": "0.5"}))
    with pytest.raises(InvalidOrder, match="quotePrecision"):
        spot_call(request(type=OrderType.MARKET, price=None, extra_params={"size": "10.1234567"}))
    # a market SELL sizes in the base coin, as the unified quantity does
    assert spot_call(request(side=Side.SELL, type=OrderType.MARKET, price=None)).params["size"] == "0.01"


def test_spot_trigger_orders_are_plan_orders() -> None:
    call = spot_call(request(side=Side.SELL, type=OrderType.STOP_LOSS_LIMIT, stop_price=Decimal("29000"),
                             price=Decimal("28900")), {"trigger_type": "mark_price"})
    assert call.path == constants.Spot.place_plan and call.endpoint == "spot.plan.place"
    assert call.params["triggerPrice"] == "29000" and call.params["executePrice"] == "28900"
    assert call.params["planType"] == "amount" and call.params["triggerType"] == "mark_price"
    assert "price" not in call.params


def test_precision_and_minimums_are_checked_before_sending() -> None:
    with pytest.raises(InvalidOrder, match=re.escape("quantityPrecision: quantity 0.0000001 has more than 6 decimals")):
        spot_call(request(quantity=Decimal("0.0000001")))
    with pytest.raises(InvalidOrder, match=re.escape("pricePrecision: price 30000.001")):
        spot_call(request(price=Decimal("30000.001")))
    with pytest.raises(InvalidOrder, match=re.escape("minTradeUSDT: order value 0.3 below 1")):
        spot_call(request(quantity=Decimal("0.00001")))
    with pytest.raises(InvalidOrder, match=re.escape("minTradeNum: quantity 0.005 below 0.01")):
        mix_call(mix_request(symbol="ETH/USDT:USDT", quantity=Decimal("0.005"), price=Decimal("2000.05")))
    with pytest.raises(InvalidOrder, match="volumePlace"):
        mix_call(mix_request(quantity=Decimal("0.0015")))
    with pytest.raises(InvalidOrder, match=re.escape("priceEndStep: price 30000.15 is not a multiple of the tick 0.1")):
        mix_call(mix_request(price=Decimal("30000.15")))
    with pytest.raises(InvalidOrder, match="minTradeUSDT"):
        mix_call(mix_request(quantity=Decimal("0.001"), price=Decimal("1000")))
    with pytest.raises(InvalidOrder, match="not trading"):
        HOOKS.to_native("bitget", request(symbol="XRP/USDT", price=Decimal(1)), SPOT["XRP/USDT"], "x", {})


def test_mix_one_way_params() -> None:
    call = mix_call(mix_request(side=Side.SELL, reduce_only=True))
    assert call.path == constants.Mix.place and call.market_type is MarketType.SWAP
    assert dict(call.params) == {
        "symbol": "BTCUSDT", "productType": "USDT-FUTURES", "marginMode": "crossed", "marginCoin": "USDT",
        "size": "0.01", "price": "30000.1", "side": "sell", "orderType": "limit", "force": "gtc",
        "clientOid": "t5-1", "reduceOnly": "YES"}
    isolated = mix_call(mix_request(margin_mode=MarginMode.ISOLATED))
    assert isolated.params["marginMode"] == "isolated"
    assert mix_call(mix_request(), {"margin_mode": "isolated"}).params["marginMode"] == "isolated"


@pytest.mark.parametrize(
    ("side", "position", "reduce", "native_side", "trade_side"),
    [
        (Side.BUY, PositionSide.LONG, False, "buy", "open"),  # open long
        (Side.SELL, PositionSide.LONG, False, "buy", "close"),  # close long
        (Side.SELL, PositionSide.SHORT, False, "sell", "open"),  # open short
        (Side.BUY, PositionSide.SHORT, False, "sell", "close"),  # close short
        (Side.SELL, PositionSide.LONG, True, "buy", "close"),
        (Side.BUY, None, False, "buy", "open"),  # hedge account, no position side: reduce_only decides
        (Side.SELL, None, True, "buy", "close"),
        (Side.BUY, None, True, "sell", "close"),
    ],
)
def test_hedge_mode_trade_side(side: Side, position: PositionSide | None, reduce: bool, native_side: str,
                               trade_side: str) -> None:
    call = mix_call(mix_request(side=side, position_side=position, reduce_only=reduce), {"position_mode": "hedge"})
    assert (call.params["side"], call.params["tradeSide"]) == (native_side, trade_side)
    assert "reduceOnly" not in call.params
    # and it reads back as the unified side and position
    order, _ = read({**MIX_DETAIL, "side": native_side, "tradeSide": trade_side, "posMode": "hedge_mode"},
                    MarketType.SWAP)
    assert order.side is side and order.position_side is (position or order.position_side)


def test_hedge_mode_contradictions_are_refused() -> None:
    with pytest.raises(InvalidOrder) as info:
        mix_call(mix_request(side=Side.BUY, position_side=PositionSide.LONG, reduce_only=True))
    assert info.value.field == "reduce_only"
    with pytest.raises(InvalidOrder) as info:
        mix_call(mix_request(position_side=PositionSide.LONG), {"position_mode": "one_way"})
    assert info.value.field == "position_side"


def test_mix_plan_and_presets() -> None:
    call = mix_call(mix_request(side=Side.SELL, type=OrderType.STOP_LOSS, price=None, stop_price=Decimal("29000")))
    assert call.path == constants.Mix.place_plan and call.params["planType"] == "normal_plan"
    assert call.params["triggerPrice"] == "29000" and call.params["orderType"] == "market" and "force" not in call.params
    preset = mix_call(mix_request(stop_loss_price=Decimal("29000"), take_profit_price=Decimal("31000")))
    assert preset.params["presetStopLossPrice"] == "29000" and preset.params["presetStopSurplusPrice"] == "31000"
    assert preset.attached == ()


# --- from_native ----------------------------------------------------------------------------------------------


def test_documented_spot_order_info() -> None:
    order, status = read(SPOT_ORDER_INFO, req=request(type=OrderType.MARKET, price=None, quantity=Decimal("0.0007"),
                                                      client_order_id="121211212122"))
    assert status is OrderStatus.CLOSED and order.native_status == "filled"
    assert order.id == "121211212122" and order.type is OrderType.MARKET and order.side is Side.BUY
    # size "10" is the quote amount of a market buy: the base quantity is what filled
    assert order.quantity == Decimal("0.0007") and order.filled == Decimal("0.0007") and order.remaining == 0
    assert order.average == Decimal("13000")
    assert order.fee == Decimal("0.112079256") and order.fee_currency == "BTC"  # newFees is authoritative
    assert order.created_at is not None and order.created_at.year == 2023


def test_documented_mix_detail_uses_state_and_lower_case() -> None:
    order, status = read(MIX_DETAIL, MarketType.SWAP)
    assert status is OrderStatus.CLOSED and order.native_status == "filled"
    assert order.symbol == "ETH/USDT:USDT" and order.quantity == Decimal(2) and order.filled == Decimal(2)
    assert order.reduce_only is True and order.position_side is None and order.fee is None
    paid, _ = read({**MIX_DETAIL, "fee": "-1.14"}, MarketType.SWAP)
    assert paid.fee == Decimal("1.14") and paid.fee_currency == "USDT"


@pytest.mark.parametrize(
    ("native", "expected"),
    [("init", OrderStatus.OPEN), ("live", OrderStatus.OPEN), ("new", OrderStatus.OPEN),
     ("partially_filled", OrderStatus.OPEN), ("partially_fill", OrderStatus.OPEN), ("partial-fill", OrderStatus.OPEN),
     ("filled", OrderStatus.CLOSED), ("full_fill", OrderStatus.CLOSED), ("full-fill", OrderStatus.CLOSED),
     ("cancelled", OrderStatus.CANCELLED), ("canceled", OrderStatus.CANCELLED), ("expired", OrderStatus.CANCELLED),
     ("executed", OrderStatus.CLOSED), ("fail_execute", OrderStatus.CANCELLED)],
)
def test_statuses_old_and_new(native: str, expected: OrderStatus) -> None:
    assert HOOKS.normalize_status("bitget", native) is expected
    _, status = read({**SPOT_LIVE, "status": native})
    assert status is expected
    mix, mix_status = read({**MIX_DETAIL, "state": native}, MarketType.SWAP)
    assert mix.native_status == native and mix_status is expected


def test_unknown_status_is_none() -> None:
    assert HOOKS.normalize_status("bitget", "SOMETHING_NEW") is None
    assert HOOKS.normalize_status("binance", "live") is None  # another exchange's question is not answered


@pytest.mark.parametrize(
    ("detail", "received", "expected"),
    [
        ({"newFees": {"c": 0, "d": 0, "r": -0.5, "t": -0.5}}, "USDT", (Decimal("0.5"), "USDT")),
        ({"newFees": {"c": 0, "d": -0.2, "r": 0, "t": -0.2}}, "BTC", (Decimal("0.2"), "BGB")),
        ({"newFees": {"c": -0.1, "d": -0.2, "r": -0.1, "t": -0.4}}, "BTC", (None, None)),
        ({"BTC": {"deduction": False, "feeCoinCode": "BTC", "totalFee": -0.00001}}, "USDT", (Decimal("0.00001"), "BTC")),
        ({"BTC": {"feeCoinCode": "BTC", "totalFee": -1}, "BGB": {"feeCoinCode": "BGB", "totalFee": -1}}, "BTC",
         (None, None)),
    ],
)
def test_fee_detail_legacy_and_new(detail: dict[str, Any], received: str, expected: tuple[Any, Any]) -> None:
    text = jsonutil.dumps({k: ({kk: Decimal(str(vv)) if isinstance(vv, (int, float)) and not isinstance(vv, bool)
                                else vv for kk, vv in v.items()}) for k, v in detail.items()})
    assert convert.parse_fee_detail(text, received) == expected
    assert convert.parse_fee_detail("", received) == (None, None)


def test_place_answer_is_completed_from_the_request_never_half() -> None:
    call = spot_call(request())
    payload = convert.completed_from_request(call.params, PLACE_ANSWER, plan=False)
    order, status = read(payload, req=request())
    assert order.id == "1001" and order.quantity == Decimal("0.01") and order.price == Decimal("30000")
    assert status is OrderStatus.OPEN and order.native_status == "init" and payload[constants.COMPLETED_MARK]
    plan_call = mix_call(mix_request(side=Side.SELL, type=OrderType.STOP_LOSS, price=None, stop_price=Decimal("29000")))
    plan = convert.completed_from_request(plan_call.params, {"orderId": "77", "clientOid": "t5-1"}, plan=True)
    order, _ = read(plan, MarketType.SWAP, req=mix_request(side=Side.SELL, type=OrderType.STOP_LOSS, price=None,
                                                           stop_price=Decimal("29000")))
    assert order.id == "plan:77" and order.type is OrderType.STOP_LOSS and order.stop_price == Decimal("29000")


def test_fills_balances_positions() -> None:
    spot = convert.trade_from_native(SPOT_FILL, "BTC/USDT")
    assert (spot.price, spot.quantity, spot.fee, spot.fee_currency, spot.maker) == (
        Decimal(30000), Decimal("0.004"), Decimal("0.000004"), "BTC", True)
    mix = convert.trade_from_native(MIX_FILL, "BTC/USDT:USDT")
    assert (mix.price, mix.quantity, mix.fee, mix.fee_currency, mix.maker) == (
        Decimal("43000.1"), Decimal("0.01"), Decimal("0.2580006"), "USDT", False)
    position = convert.position_from_native(POSITION, lambda native: "BTC/USDT:USDT")
    assert position.side == "both" and position.contracts == Decimal("-0.01")  # one-way short: negative
    hedge = convert.position_from_native({**POSITION, "posMode": "hedge_mode"}, lambda n: "BTC/USDT:USDT")
    assert hedge.side == "short" and hedge.contracts == Decimal("0.01") and hedge.margin_mode.value == "isolated"


def test_answers_without_force_take_post_only_and_tif_from_the_request() -> None:
    payload = {k: v for k, v in SPOT_LIVE.items() if k != "force"}
    maker, _ = read(payload, req=request(type=OrderType.LIMIT_MAKER))
    assert maker.type is OrderType.LIMIT_MAKER
    ioc, _ = read(payload, req=request(time_in_force=TimeInForce.IOC))
    assert ioc.type is OrderType.LIMIT and ioc.time_in_force is TimeInForce.IOC
    assert read(payload)[0].type is OrderType.LIMIT
    assert read({**payload, "force": "post_only"})[0].type is OrderType.LIMIT_MAKER

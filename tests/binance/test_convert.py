"""to_native / from_native / statuses / client ids, through the plugin's hooks."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
from terminal5.wire import CLIENT_ORDER_ID_RE
from terminal5_binance import constants, plugin
from terminal5_binance.clientids import child_client_id, is_compliant, map_client_id
from terminal5_binance.markets import parse_exchange_info

from ._data import FUTURES_ALGO_NEW, FUTURES_EXCHANGE_INFO, FUTURES_NEW, SPOT_EXCHANGE_INFO, SPOT_FULL_MARKET, SPOT_NEW

HOOKS = load_hooks(plugins=[plugin], load_entry_points=False)
SPOT = {m.symbol: m for m in parse_exchange_info(SPOT_EXCHANGE_INFO, futures=False)}
FUT = {m.symbol: m for m in parse_exchange_info(FUTURES_EXCHANGE_INFO, futures=True)}


def req(**kw: Any) -> OrderRequest:
    base: dict[str, Any] = {"symbol": "BTC/USDT", "side": Side.BUY, "type": OrderType.LIMIT, "quantity": Decimal("0.01"),
                            "price": Decimal("30000"), "user_id": 1, "broker_id": 1, "client_order_id": "c1"}
    base.update(kw)
    return OrderRequest(**base)


def native(request: OrderRequest, options: dict[str, Any] | None = None) -> Any:
    market = (SPOT if request.market_type is MarketType.SPOT else FUT)[request.symbol]
    return HOOKS.to_native("binance", request, market, "c1", options or {})


def test_other_exchanges_get_none() -> None:
    assert plugin.normalize_status("kraken", "NEW") is None
    assert plugin.map_client_id("kraken", "x", 0) is None
    assert plugin.to_native("kraken", req(), SPOT["BTC/USDT"], "c1", {}) is None
    assert plugin.from_native("kraken", SPOT_NEW, NativeContext(exchange="kraken")) is None


def test_spec_registered() -> None:
    spec = HOOKS.registry.get("binance")
    assert spec.supports(MarketType.SPOT, "iceberg_qty") and not spec.supports(MarketType.SPOT, "reduce_only")
    assert spec.supports(MarketType.SWAP, "stop_loss_price") and not spec.supports(MarketType.SWAP, "iceberg_qty")
    assert spec.urls.for_(MarketType.SWAP, testnet=True) == constants.FUTURES_TESTNET_URL


def test_spot_limit() -> None:
    call = native(req(price=Decimal("30000.50"), quantity=Decimal("0.01000")))
    assert call.method == "POST" and call.path == "/api/v3/order" and call.native_client_id == "c1"
    assert dict(call.params) == {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                 "quantity": "0.01", "price": "30000.5", "newClientOrderId": "c1",
                                 "newOrderRespType": "FULL"}
    assert list(call.params)[:3] == ["symbol", "side", "type"]


@pytest.mark.parametrize(
    ("kind", "extra", "native_type"),
    [
        (OrderType.MARKET, {"price": None}, "MARKET"),
        (OrderType.LIMIT_MAKER, {}, "LIMIT_MAKER"),
        (OrderType.STOP_LOSS, {"price": None, "stop_price": Decimal("29000")}, "STOP_LOSS"),
        (OrderType.STOP_LOSS_LIMIT, {"stop_price": Decimal("29000")}, "STOP_LOSS_LIMIT"),
        (OrderType.TAKE_PROFIT, {"price": None, "stop_price": Decimal("31000")}, "TAKE_PROFIT"),
        (OrderType.TAKE_PROFIT_LIMIT, {"stop_price": Decimal("31000")}, "TAKE_PROFIT_LIMIT"),
    ],
)
def test_spot_types(kind: OrderType, extra: dict[str, Any], native_type: str) -> None:
    call = native(req(type=kind, **extra))
    assert call.params["type"] == native_type
    assert ("timeInForce" in call.params) is (kind.needs_price and kind is not OrderType.LIMIT_MAKER)
    if kind.needs_stop_price:
        assert call.params["stopPrice"] == str(extra["stop_price"])


def test_spot_level2_iceberg_and_trailing() -> None:
    call = native(req(iceberg_qty=Decimal("0.002")))
    assert call.params["icebergQty"] == "0.002"
    call = native(req(type=OrderType.STOP_LOSS, price=None, stop_price=Decimal("29000"), trailing_delta=Decimal("100")))
    assert call.params["trailingDelta"] == "100"
    with pytest.raises(InvalidOrder, match=re.escape("ICEBERG_PARTS")):
        native(req(quantity=Decimal("1"), iceberg_qty=Decimal("0.01")))
    with pytest.raises(InvalidOrder, match=re.escape("BIPS")):
        native(req(type=OrderType.STOP_LOSS, price=None, stop_price=Decimal("29000"), trailing_delta=Decimal("1.5")))


def test_spot_filter_and_tif_errors() -> None:
    with pytest.raises(InvalidOrder, match=re.escape("LOT_SIZE: quantity 0.000001 below minQty 0.00001")):
        native(req(quantity=Decimal("0.000001")))
    with pytest.raises(InvalidOrder) as info:
        native(req(time_in_force=TimeInForce.GTD, expire_at=datetime(2030, 1, 1, tzinfo=UTC)))
    assert info.value.field == "time_in_force"
    with pytest.raises(InvalidOrder, match=re.escape("not trading")):
        native(req(symbol="ETH/USDT"))


def test_futures_limit_hedge_and_margin() -> None:
    call = native(req(symbol="BTC/USDT:USDT", position_side=PositionSide.LONG, margin_mode=MarginMode.ISOLATED))
    assert call.path == "/fapi/v1/order" and call.market_type is MarketType.SWAP
    assert dict(call.params) == {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "LIMIT",
                                 "timeInForce": "GTC", "quantity": "0.01", "price": "30000",
                                 "newClientOrderId": "c1", "newOrderRespType": "RESULT"}
    assert dict(call.meta) == {"margin_type": "ISOLATED", "symbol": "BTCUSDT"}


def test_futures_post_only_reduce_only_gtd() -> None:
    call = native(req(symbol="BTC/USDT:USDT", type=OrderType.LIMIT_MAKER, reduce_only=True))
    assert call.params["timeInForce"] == "GTX" and call.params["reduceOnly"] == "true"
    call = native(req(symbol="BTC/USDT:USDT", time_in_force=TimeInForce.GTD, expire_at=datetime(2030, 1, 1, tzinfo=UTC)))
    assert call.params["goodTillDate"] == "1893456000000"
    with pytest.raises(InvalidOrder, match=re.escape("hedge mode")):
        native(req(symbol="BTC/USDT:USDT", reduce_only=True, position_side=PositionSide.SHORT))


def test_futures_conditional_goes_to_algo_endpoint() -> None:
    call = native(req(symbol="BTC/USDT:USDT", type=OrderType.STOP_LOSS, price=None, stop_price=Decimal("28000")),
                  {"working_type": "MARK_PRICE"})
    assert call.path == "/fapi/v1/algoOrder" and call.endpoint == "algo.place"
    assert call.params["algoType"] == "CONDITIONAL" and call.params["type"] == "STOP_MARKET"
    assert call.params["triggerPrice"] == "28000" and call.params["clientAlgoId"] == "c1"
    assert call.params["workingType"] == "MARK_PRICE" and "newClientOrderId" not in call.params
    call = native(req(symbol="BTC/USDT:USDT", type=OrderType.TAKE_PROFIT_LIMIT, stop_price=Decimal("31000")))
    assert call.params["type"] == "TAKE_PROFIT" and call.params["price"] == "30000"


def test_futures_attached_sl_tp() -> None:
    call = native(req(symbol="BTC/USDT:USDT", stop_loss_price=Decimal("28000"), take_profit_price=Decimal("32000")))
    sl, tp = call.attached
    assert (sl.role, sl.client_order_id, tp.client_order_id) == ("stop_loss", "c1-sl", "c1-tp")
    assert sl.call.params["type"] == "STOP_MARKET" and sl.call.params["side"] == "SELL"
    assert sl.call.params["reduceOnly"] == "true" and sl.call.params["clientAlgoId"] == "c1-sl"
    assert tp.call.params["type"] == "TAKE_PROFIT_MARKET" and tp.call.params["triggerPrice"] == "32000"
    hedge = native(req(symbol="BTC/USDT:USDT", position_side=PositionSide.LONG, stop_loss_price=Decimal("28000")))
    assert "reduceOnly" not in hedge.attached[0].call.params
    assert hedge.attached[0].call.params["positionSide"] == "LONG"


def test_from_native_spot_full_with_fees() -> None:
    ctx = NativeContext(exchange="binance", markets=lambda n: SPOT["BTC/USDT"] if n == "BTCUSDT" else None,
                        client_id_of=lambda n: "unified-1" if n == "6gCrw2kRUAF9CvJDGP16IP" else None)
    order = HOOKS.from_native("binance", SPOT_FULL_MARKET, ctx)
    assert order.symbol == "BTC/USDT" and order.side is Side.SELL and order.type is OrderType.MARKET
    assert order.id == "28" and order.client_order_id == "unified-1"
    assert order.native_client_id == "6gCrw2kRUAF9CvJDGP16IP" and order.native_status == "FILLED"
    assert order.filled == Decimal("10") and order.remaining == 0 and order.average == Decimal("1")
    assert order.fee == Decimal("4") and order.fee_currency == "USDT"
    assert order.trades[0].id == "56" and order.trades[0].price == Decimal("4000")
    assert order.price is None and order.status is OrderStatus.UNKNOWN and order.raw is SPOT_FULL_MARKET


def test_from_native_spot_query_and_cancel() -> None:
    ctx = NativeContext(exchange="binance", markets=lambda n: SPOT.get("LTC/BTC"), client_id_of=lambda n: None)
    order = HOOKS.from_native("binance", SPOT_NEW, ctx)
    assert order.symbol == "LTC/BTC" and order.price == Decimal("0.1") and order.stop_price is None
    assert order.client_order_id is None and order.created_at == datetime.fromtimestamp(1499827319.559, UTC)
    cancel = dict(SPOT_NEW, status="CANCELED", origClientOrderId="myOrder1", clientOrderId="cancelMyOrder1")
    assert HOOKS.from_native("binance", cancel, ctx).native_client_id == "myOrder1"


def test_from_native_futures_and_algo() -> None:
    ctx = NativeContext(exchange="binance", market_type=MarketType.SWAP, market=FUT["BTC/USDT:USDT"])
    order = HOOKS.from_native("binance", dict(FUTURES_NEW, executedQty="0.004", avgPrice="30000.0"), ctx)
    assert order.symbol == "BTC/USDT:USDT" and order.filled == Decimal("0.004") and order.average == Decimal("30000")
    assert order.remaining == Decimal("0.006") and order.position_side is None
    gtx = HOOKS.from_native("binance", dict(FUTURES_NEW, timeInForce="GTX", positionSide="SHORT"), ctx)
    assert gtx.type is OrderType.LIMIT_MAKER and gtx.position_side is PositionSide.SHORT
    algo = HOOKS.from_native("binance", FUTURES_ALGO_NEW, ctx)
    assert algo.id == "algo:2146760" and algo.native_client_id == "sl-1" and algo.type is OrderType.STOP_LOSS
    assert algo.stop_price == Decimal("28000") and algo.reduce_only and algo.native_status == "NEW"


@pytest.mark.parametrize(("native_status", "status"), [
    ("NEW", "open"), ("PENDING_NEW", "open"), ("PARTIALLY_FILLED", "open"), ("PENDING_CANCEL", "open"),
    ("FILLED", "closed"), ("CANCELED", "cancelled"), ("REJECTED", "cancelled"), ("EXPIRED", "cancelled"),
    ("EXPIRED_IN_MATCH", "cancelled"),
])
def test_every_documented_status(native_status: str, status: str) -> None:
    assert HOOKS.normalize_status("binance", native_status) == OrderStatus(status)


def test_unknown_status_goes_to_the_core_unknown_path() -> None:
    assert HOOKS.normalize_status("binance", "SOMETHING_NEW") is None


def test_client_ids() -> None:
    assert HOOKS.map_client_id("binance", "abc-123_X", 0) == "abc-123_X"
    long_id = "strategy:grid/btc." + "x" * 40
    first = HOOKS.map_client_id("binance", long_id, 0)
    assert is_compliant(first) and len(first) == 36 and first == map_client_id(long_id, 0)
    assert HOOKS.map_client_id("binance", long_id, 1) != first
    assert HOOKS.map_client_id("binance", "abc", 1) != "abc"


@given(st.from_regex(CLIENT_ORDER_ID_RE, fullmatch=True), st.integers(min_value=0, max_value=5))
def test_any_unified_id_maps_to_a_compliant_deterministic_id(cid: str, attempt: int) -> None:
    out = map_client_id(cid, attempt)
    assert is_compliant(out) and out == map_client_id(cid, attempt)
    child = child_client_id(cid, "sl")
    assert CLIENT_ORDER_ID_RE.match(child) and child.endswith("-sl")


def test_to_native_reads_the_market_filters_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from terminal5_binance import convert, markets

    passes: list[str] = []
    real = markets.filters_of

    def counting(info: Any) -> Any:
        passes.append(info.get("symbol", ""))
        return real(info)

    monkeypatch.setattr(markets, "filters_of", counting)
    monkeypatch.setattr(convert, "filters_of", counting)
    call = native(req(stop_price=Decimal("29000"), type=OrderType.STOP_LOSS_LIMIT))
    assert call.params["stopPrice"] == "29000" and passes == ["BTCUSDT"]  # lot, price, stop price, notional
    with pytest.raises(InvalidOrder, match="PRICE_FILTER"):  # the checks still run on that one pass
        native(req(price=Decimal("30000.001")))

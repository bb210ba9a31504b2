"""Every documented place answer converts (ACK, RESULT, FULL), what an answer lacks is completed from the
request or read back (never guessed), and created_at means creation: a USDⓈ-M place answer's updateTime,
a query's ``time``; never a cancel's or a modify's time."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest

from terminal5.contract import NativeContext, OrderRef
from terminal5.models import MarketType, OrderRequest, OrderStatus, OrderType, Side

from .conftest import Env
from .test_client import FUT, HOOKS, SPOT, spot_request


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def convert(payload: object, market_type: MarketType = MarketType.SPOT, request: OrderRequest | None = None):
    market = SPOT["BTC/USDT"] if market_type is MarketType.SPOT else FUT["BTC/USDT:USDT"]
    order = HOOKS.from_native("binance", payload, NativeContext(exchange="binance", market_type=market_type,
                                                                  market=market, request=request))
    return order, HOOKS.normalize_status("binance", order.native_status) if order.native_status else None


def spot_call(cid: str, resp_type: str | None):
    call = HOOKS.to_native("binance", spot_request(client_order_id=cid), SPOT["BTC/USDT"], cid, {})
    if resp_type is None:
        return call
    return attrs.evolve(call, params={**call.params, "newOrderRespType": resp_type})  # as extra_params would


@pytest.mark.asyncio
async def test_ack_result_and_full_answers_all_convert(env: Env, cassette) -> None:
    with cassette("spot_answer_shapes") as cas:
        # ACK: the client reads the order back by its exchange id, so the full state is known
        request = spot_request(client_order_id="t5-ack-1")
        acked = await env.client.place_order(env.spot, spot_call("t5-ack-1", "ACK"))
        order, status = convert(acked, request=request)
        assert order.id == "12346" and status is OrderStatus.OPEN and order.side is Side.BUY
        assert order.created_at == ms(1507725176595)

        # ACK whose read-back fails: the ACK is the answer; completed from the request, status not guessed
        request = spot_request(client_order_id="t5-ack-2")
        bare = await env.client.place_order(env.spot, spot_call("t5-ack-2", "ACK"))
        assert "status" not in bare and bare["orderId"] == 12347
        order, status = convert(bare, request=request)
        assert order.id == "12347" and order.native_status is None and status is None  # the core: UNKNOWN
        assert (order.side, order.type, order.quantity, order.price) == (
            Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal("30000"))
        assert order.time_in_force == request.time_in_force and order.client_order_id == "t5-ack-2"
        assert order.filled == 0 and order.created_at == ms(1507725176595)

        # RESULT: the order without fills
        result = await env.client.place_order(env.spot, spot_call("t5-result-1", "RESULT"))
        order, status = convert(result, request=spot_request(client_order_id="t5-result-1"))
        assert status is OrderStatus.OPEN and order.filled == Decimal("0.004") and order.trades == ()
        assert order.average == Decimal("119.9995") / Decimal("0.004") and order.fee is None

        # FULL (the default the plugin asks for): with its fills and fees
        full = await env.client.place_order(env.spot, spot_call("t5-full-1", None))
        order, status = convert(full, request=spot_request(client_order_id="t5-full-1"))
        assert status is OrderStatus.OPEN and len(order.trades) == 2 and order.fee == Decimal("0.000004")
        assert order.created_at == ms(1507725176595)

        # a spot cancel answer: transactTime is when it was cancelled, not when it was created
        cancelled = await env.client.cancel_order(env.spot, OrderRef(market=SPOT["BTC/USDT"], exchange_id="12349"))
        order, status = convert(cancelled)
        assert status is OrderStatus.CANCELLED and order.native_client_id == "t5-full-1"
        assert order.created_at is None and order.updated_at == ms(1507725999000)
        assert cas.all_played


def test_an_ack_with_no_request_to_complete_it_is_refused_not_guessed() -> None:
    ack = {"symbol": "BTCUSDT", "orderId": 1, "orderListId": -1, "clientOrderId": "x", "transactTime": 1}
    with pytest.raises(ValueError, match="side"):
        convert(ack)


@pytest.mark.asyncio
async def test_futures_created_at_is_the_creation_never_a_later_event(env: Env, cassette) -> None:
    market = FUT["BTC/USDT:USDT"]
    request = spot_request(symbol="BTC/USDT:USDT", client_order_id="t5-fut-t")
    call = HOOKS.to_native("binance", request, market, "t5-fut-t", {})
    ref = OrderRef(market=market, exchange_id="22542179")
    with cassette("futures_answer_times") as cas:
        placed = await env.client.place_order(env.futures, call)
        assert "time" not in placed  # a USDⓈ-M place answer carries updateTime only
        order, status = convert(placed, MarketType.SWAP, request=request)
        assert status is OrderStatus.OPEN and order.created_at == ms(1566818724710)

        modified = await env.client.edit_order(env.futures, ref, price=Decimal("30100"))
        order, _ = convert(modified, MarketType.SWAP)
        assert order.price == Decimal("30100") and order.updated_at == ms(1566818800000)
        assert order.created_at is None  # the modify's time is not the creation

        cancelled = await env.client.cancel_order(env.futures, ref)
        order, status = convert(cancelled, MarketType.SWAP)
        assert status is OrderStatus.CANCELLED and order.updated_at == ms(1566818900000)
        assert order.created_at is None
        assert cas.all_played

    # the query answer names the creation: `time`
    from ._data import FUTURES_NEW

    order, _ = convert(dict(FUTURES_NEW, symbol="BTCUSDT"), MarketType.SWAP)
    assert order.created_at == ms(FUTURES_NEW["time"])

"""The native client through the core ``HttpTransport``, replaying cassettes built from the reference."""

from __future__ import annotations

from decimal import Decimal

import pytest

from terminal5 import errors as t5
from terminal5.contract import CallContext, Credentials, NativeContext, OrderRef
from terminal5.models import MarginMode, MarketType, OrderRequest, OrderStatus, OrderType, PositionSide, Side
from terminal5.plugins import load_hooks
from terminal5_binance import plugin
from terminal5_binance.client import BinanceClient
from terminal5_binance.markets import parse_exchange_info

from . import make_cassettes
from ._data import FUTURES_EXCHANGE_INFO, SERVER_TIME, SPOT_EXCHANGE_INFO
from .conftest import CASSETTE_DIR, KEY, SECRET, Env

HOOKS = load_hooks(plugins=[plugin], load_entry_points=False)
SPOT = {m.symbol: m for m in parse_exchange_info(SPOT_EXCHANGE_INFO, futures=False)}
FUT = {m.symbol: m for m in parse_exchange_info(FUTURES_EXCHANGE_INFO, futures=True)}


def spot_request(**kw: object) -> OrderRequest:
    base: dict[str, object] = {"symbol": "BTC/USDT", "side": Side.BUY, "type": OrderType.LIMIT,
                               "quantity": Decimal("0.01"), "price": Decimal("30000"), "user_id": 1, "broker_id": 1,
                               "client_order_id": "t5-spot-1"}
    base.update(kw)
    return OrderRequest(**base)  # type: ignore[arg-type]


def to_order(payload: object, market_type: MarketType = MarketType.SPOT):
    market = SPOT["BTC/USDT"] if market_type is MarketType.SPOT else FUT["BTC/USDT:USDT"]
    order = HOOKS.from_native("binance", payload, NativeContext(exchange="binance", market_type=market_type,
                                                                  market=market))
    return order, HOOKS.normalize_status("binance", order.native_status or "")


def test_cassettes_are_up_to_date() -> None:
    for name, interactions in make_cassettes.cassettes().items():
        path = CASSETTE_DIR / f"{name}.yaml"
        assert path.read_text("utf-8") == make_cassettes.render(interactions), f"regenerate {path.name}"


def test_cassettes_hold_no_secret() -> None:
    for path in CASSETTE_DIR.glob("*.yaml"):
        text = path.read_text("utf-8")
        assert text.startswith("# Built from the documented examples in shared/reference/binance.md")
        for needle in ("signature=", "timestamp=", "X-MBX-APIKEY", KEY, SECRET):
            assert needle not in text, (path.name, needle)


@pytest.mark.asyncio
async def test_spot_markets_time_and_disk_cache(env: Env, cassette, tmp_path) -> None:
    with cassette("spot_markets_and_time") as cas:
        markets = await env.client.load_markets(env.spot)
        assert {m.symbol for m in markets} == {"BTC/USDT", "LTC/BTC", "ETH/USDT"}
        # rate limits published by exchangeInfo now drive the weight limiter
        limiter = env.client.limits.weight("spot", "api.binance.com")
        assert [w.limit for w in limiter.windows] == [6000]
        assert limiter.windows[0].used == 20  # X-MBX-USED-WEIGHT-1M of the answer
        assert [w.limit for w in env.client.limits.orders("spot", "x").windows] == [100, 200000]
        env.clock[0] = SERVER_TIME - 3000  # local clock 3 s behind
        when = await env.client.server_time(env.spot)
        assert when.year == 2017 and env.client.offsets["https://api.binance.com"] == 3000
        assert env.client.now_ms(env.spot) == SERVER_TIME
        assert cas.all_played
    # a restart (a new client, same cache dir) does not refetch: the cassette is exhausted
    again = BinanceClient(env.transport, cache_dir=env.client.cache_dir)
    with cassette("spot_markets_and_time"):
        assert len(await again.load_markets(env.spot)) == 3


@pytest.mark.asyncio
async def test_futures_markets_split_swap_and_future(env: Env, cassette) -> None:
    with cassette("futures_markets_and_time") as cas:
        swaps = await env.client.load_markets(env.futures)
        dated = await env.client.load_markets(env.ctx(MarketType.FUTURE))  # served from memory
        assert [m.symbol for m in swaps] == ["BTC/USDT:USDT"]
        assert [m.symbol for m in dated] == ["BTC/USDT:USDT-250627"]
        await env.client.server_time(env.futures)
        assert env.client.offsets["https://fapi.binance.com"] == 5
        assert cas.all_played


@pytest.mark.asyncio
async def test_spot_order_lifecycle(env: Env, cassette) -> None:
    market = SPOT["BTC/USDT"]
    call = HOOKS.to_native("binance", spot_request(), market, "t5-spot-1", {})
    with cassette("spot_order_lifecycle") as cas:
        placed = await env.client.place_order(env.spot, call)
        order, status = to_order(placed)
        assert status is OrderStatus.OPEN and order.native_status == "PARTIALLY_FILLED"
        assert order.filled == Decimal("0.004") and order.remaining == Decimal("0.006")
        assert order.fee == Decimal("0.000004") and order.fee_currency == "BTC" and len(order.trades) == 2
        assert order.average == Decimal("119.9995") / Decimal("0.004")
        by_id = await env.client.fetch_order(env.spot, OrderRef(market=market, exchange_id="12345"))
        by_cid = await env.client.fetch_order(env.spot, OrderRef(market=market, native_client_id="t5-spot-1"))
        assert by_id == by_cid and by_id["status"] == "PARTIALLY_FILLED"
        cancelled = await env.client.cancel_order(env.spot, OrderRef(market=market, exchange_id="12345"))
        order, status = to_order(cancelled)
        assert status is OrderStatus.CANCELLED and order.native_client_id == "t5-spot-1"
        assert order.filled == Decimal("0.004")
        assert await env.client.fetch_order(env.spot, OrderRef(market=market, native_client_id="missing")) is None
        with pytest.raises(t5.OrderNotFound):
            await env.client.cancel_order(env.spot, OrderRef(market=market, native_client_id="missing"))
        assert cas.all_played
    # the order-count headers fed the per-account limiter
    orders = env.client.limits.orders("spot", env.spot.credentials.fingerprint)
    assert [w.used for w in orders.windows] == [1, 1]
    # the audit trail never holds the key, the secret or the signature
    for record in env.records:
        text = record.url + str(record.request_headers)
        assert KEY not in text and SECRET not in text and "signature=***" in record.url


@pytest.mark.asyncio
async def test_spot_account_endpoints(env: Env, cassette) -> None:
    from datetime import UTC, datetime

    market = SPOT["BTC/USDT"]
    with cassette("spot_account") as cas:
        assert len(await env.client.fetch_open_orders(env.spot, market)) == 1
        assert len(await env.client.fetch_open_orders(env.spot, None)) == 2
        closed = await env.client.fetch_closed_orders(env.spot, market, datetime.fromtimestamp(1499827319, UTC))
        assert [o["status"] for o in closed] == ["FILLED", "CANCELED", "EXPIRED"]
        (trade,) = await env.client.fetch_my_trades(env.spot, market, None)
        assert trade.id == "28457" and trade.side is Side.BUY and trade.maker is False
        assert trade.fee == Decimal("10.1") and trade.fee_currency == "BNB" and trade.quantity == Decimal(12)
        balances = {b.asset: b for b in await env.client.fetch_balances(env.spot)}
        assert balances["BTC"].free == Decimal("4723846.89208129") and balances["LTC"].locked == Decimal("1E-8")
        assert await env.client.fetch_positions(env.spot) == []
        assert cas.all_played
    with pytest.raises(t5.BadSymbol):
        await env.client.fetch_closed_orders(env.spot, None, None)


@pytest.mark.asyncio
async def test_every_status_through_the_client(env: Env, cassette) -> None:
    market = SPOT["BTC/USDT"]
    expected = {"NEW": "open", "PENDING_NEW": "open", "PARTIALLY_FILLED": "open", "FILLED": "closed",
                "CANCELED": "cancelled", "PENDING_CANCEL": "open", "REJECTED": "cancelled",
                "EXPIRED": "cancelled", "EXPIRED_IN_MATCH": "cancelled", "SOMETHING_NEW": None}
    with cassette("spot_statuses") as cas:
        for native, unified in expected.items():
            payload = await env.client.fetch_order(env.spot, OrderRef(market=market, native_client_id=f"st-{native}"))
            _, status = to_order(payload)
            assert (status.value if status else None) == unified, native
        assert cas.all_played


@pytest.mark.parametrize(("code", "cls", "retry_after"), [
    (-1003, t5.RateLimitExceeded, 120.0), (-1007, t5.RequestTimeout, None), (-1008, t5.ExchangeNotAvailable, None),
    (-1013, t5.InvalidOrder, None), (-1015, t5.RateLimitExceeded, None), (-1022, t5.AuthenticationError, None),
    (-1100, t5.InvalidOrder, None), (-1102, t5.InvalidOrder, None), (-1111, t5.InvalidOrder, None),
    (-1121, t5.BadSymbol, None), (-2010, t5.InsufficientFunds, None), (-2011, t5.OrderNotFound, None),
    (-2013, t5.OrderNotFound, None), (-2014, t5.AuthenticationError, None),
    (-2015, t5.AuthenticationError, None), (-2026, t5.OrderNotFound, None),
])
@pytest.mark.asyncio
async def test_error_answers_through_the_transport(env: Env, cassette, code: int, cls: type, retry_after) -> None:
    call = HOOKS.to_native("binance", spot_request(client_order_id=f"err{abs(code)}"), SPOT["BTC/USDT"],
                           f"err{abs(code)}", {})
    with cassette("spot_errors"), pytest.raises(t5.ExchangeError) as info:
        await env.client.place_order(env.spot, call)
    assert type(info.value) is cls and info.value.code == code
    if cls is t5.RateLimitExceeded:
        assert info.value.retry_after == retry_after


@pytest.mark.asyncio
async def test_clock_skew_resync_and_retry_once(env: Env, cassette) -> None:
    call = HOOKS.to_native("binance", spot_request(), SPOT["BTC/USDT"], "t5-spot-1", {})
    with cassette("clock_skew") as cas:
        payload = await env.client.place_order(env.spot, call)
        assert payload["status"] == "NEW" and cas.all_played
    assert env.client.offsets["https://api.binance.com"] == 7000
    sent = [r.url for r in env.records if r.endpoint == "order.place"]
    assert len(sent) == 2 and f"timestamp={SERVER_TIME + 7000}" in sent[1]


@pytest.mark.asyncio
async def test_ip_ban_blocks_the_host(env: Env, cassette) -> None:
    with cassette("rate_limit_ban"):
        with pytest.raises(t5.RateLimitExceeded) as info:
            await env.client.fetch_open_orders(env.spot, SPOT["BTC/USDT"])
        assert info.value.retry_after == 30
        # nothing else leaves for this host until Retry-After has passed (refused client-side, no request)
        with pytest.raises(t5.RateLimitExceeded, match="client-side"):
            await env.client.fetch_open_orders(env.spot, SPOT["BTC/USDT"])


@pytest.mark.asyncio
async def test_weight_headroom_waits_for_the_next_window(env: Env, cassette) -> None:
    with cassette("weight_headroom") as cas:
        await env.client.server_time(env.spot)  # the answer says 5500 of 6000 used this minute (> 90 %)
        assert env.slept == []
        await env.client.server_time(env.spot)  # waits for the minute window to roll, then sends
        assert len(env.slept) == 1 and 0 < env.slept[0] <= 60
        assert cas.all_played


@pytest.mark.asyncio
async def test_futures_order_lifecycle_hedge_and_margin(env: Env, cassette) -> None:
    market = FUT["BTC/USDT:USDT"]

    def call(cid: str):
        request = spot_request(symbol="BTC/USDT:USDT", client_order_id=cid, position_side=PositionSide.LONG,
                               margin_mode=MarginMode.ISOLATED)
        return HOOKS.to_native("binance", request, market, cid, {})

    other = CallContext(exchange="binance", base_url=env.futures.base_url, market_type=MarketType.SWAP,
                        credentials=Credentials(api_key="other-key", api_secret="other-secret"))
    with cassette("futures_order_lifecycle") as cas:
        first = await env.client.place_order(env.futures, call("t5-fut-1"))
        second = await env.client.place_order(env.futures, call("t5-fut-2"))  # margin type cached: no call
        assert first["positionSide"] == "LONG" and second["clientOrderId"] == "t5-fut-2"
        fetched = await env.client.fetch_order(env.futures, OrderRef(market=market, exchange_id="22542179"))
        order, status = to_order(fetched, MarketType.SWAP)
        assert status is OrderStatus.OPEN and order.filled == Decimal("0.004") and order.average == Decimal(30000)
        assert order.position_side is PositionSide.LONG
        cancelled = await env.client.cancel_order(env.futures, OrderRef(market=market, exchange_id="22542179"))
        assert to_order(cancelled, MarketType.SWAP)[1] is OrderStatus.CANCELLED
        third = await env.client.place_order(other, call("t5-fut-3"))  # -4046 on marginType counts as done
        assert third["clientOrderId"] == "t5-fut-3"
        with pytest.raises(t5.DuplicateOrder):
            await env.client.place_order(env.futures, call("t5-fut-dup"))
        assert cas.all_played
    assert env.client.margin_types[(other.credentials.fingerprint, "https://fapi.binance.com", "BTCUSDT")] == "ISOLATED"


@pytest.mark.asyncio
async def test_futures_algo_orders(env: Env, cassette) -> None:
    market = FUT["BTC/USDT:USDT"]
    request = spot_request(symbol="BTC/USDT:USDT", side=Side.SELL, type=OrderType.STOP_LOSS, price=None,
                           stop_price=Decimal("28000"), reduce_only=True, client_order_id="sl-1")
    call = HOOKS.to_native("binance", request, market, "sl-1", {})
    with cassette("futures_algo") as cas:
        placed = await env.client.place_order(env.futures, call)
        order, status = to_order(placed, MarketType.SWAP)
        assert order.id == "algo:2146760" and status is OrderStatus.OPEN
        assert await env.client.fetch_order(env.futures, OrderRef(market=market, exchange_id=order.id)) == placed
        # known only by client id: the regular endpoint says -2013, the algo endpoint finds it
        found = await env.client.fetch_order(env.futures, OrderRef(market=market, native_client_id="sl-1"))
        assert found["algoId"] == 2146760
        cancelled = await env.client.cancel_order(env.futures, OrderRef(market=market, exchange_id=order.id))
        assert to_order(cancelled, MarketType.SWAP)[1] is OrderStatus.CANCELLED
        # what Binance answers when a conditional order is sent to the regular endpoint (-4120)
        legacy = dict(call.params, newClientOrderId="legacy")
        legacy.pop("clientAlgoId")
        from terminal5.contract import NativeCall

        with pytest.raises(t5.InvalidOrder) as info:
            await env.client.place_order(env.futures, NativeCall(method="POST", path="/fapi/v1/order",
                                                                 params=legacy, market_type=MarketType.SWAP))
        assert info.value.code == -4120
        assert cas.all_played


@pytest.mark.asyncio
async def test_futures_account_endpoints(env: Env, cassette) -> None:
    market = FUT["BTC/USDT:USDT"]
    with cassette("futures_account") as cas:
        open_orders = await env.client.fetch_open_orders(env.futures, None)
        # the dated contract's order belongs to the FUTURE market type, not SWAP; algo orders included
        assert [o.get("orderId", o.get("algoId")) for o in open_orders] == [22542179, 2146760]
        closed = await env.client.fetch_closed_orders(env.futures, market, None)
        assert [o.get("status", o.get("algoStatus")) for o in closed] == ["FILLED", "FINISHED"]
        (trade,) = await env.client.fetch_my_trades(env.futures, market, None)
        assert trade.side is Side.SELL and trade.fee == Decimal("-0.0781901") and trade.symbol == "BTC/USDT:USDT"
        (usdt,) = await env.client.fetch_balances(env.futures)
        assert usdt.free == Decimal("23.72469206") and usdt.total == Decimal("122607.35137903")
        positions = await env.client.fetch_positions(env.futures)
        assert [(p.side, p.contracts) for p in positions] == [("long", Decimal("0.010")), ("short", Decimal("-0.002"))]
        assert positions[0].symbol == "BTC/USDT:USDT" and positions[0].liquidation_price == Decimal("25000.1")
        assert cas.all_played

"""The native client through the core ``HttpTransport``, replaying cassettes built from the reference."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from terminal5 import errors as t5
from terminal5.contract import NativeContext, OrderRef
from terminal5.models import MarketType, OrderRequest, OrderStatus, OrderType, PositionSide, Side
from terminal5.plugins import load_hooks
from terminal5_bitget import constants, plugin
from terminal5_bitget.markets import parse_contracts, parse_symbols

from . import make_cassettes
from ._data import SERVER_TIME, SPOT_SYMBOLS, USDT_CONTRACTS
from .conftest import CASSETTE_DIR, KEY, PASSPHRASE, SECRET, Env

HOOKS = load_hooks(plugins=[plugin], load_entry_points=False)
SPOT = {m.symbol: m for m in parse_symbols(SPOT_SYMBOLS)}
MIX = {m.symbol: m for m in parse_contracts(USDT_CONTRACTS)}


def spot_request(**kw: Any) -> OrderRequest:
    base: dict[str, Any] = {"symbol": "BTC/USDT", "side": Side.BUY, "type": OrderType.LIMIT,
                            "quantity": Decimal("0.01"), "price": Decimal("30000"), "user_id": 1, "broker_id": 1,
                            "client_order_id": "t5-spot-1"}
    base.update(kw)
    return OrderRequest(**base)


def always(ctx: Any) -> Any:
    """The context of a broker with ``read_back = always``: these cassettes hold the documented read-back
    answers, so the tests replaying them read every order back (one call per resting order is tested in
    test_one_call_placement.py)."""
    return attrs.evolve(ctx, options={**ctx.options, "read_back": "always"})


def to_order(payload: Any, market_type: MarketType = MarketType.SPOT, request: OrderRequest | None = None):  # type: ignore[no-untyped-def]
    market = SPOT["BTC/USDT"] if market_type is MarketType.SPOT else MIX["BTC/USDT:USDT"]
    order = HOOKS.from_native("bitget", payload, NativeContext(exchange="bitget", market_type=market_type,
                                                                  market=market, request=request))
    return order, HOOKS.normalize_status("bitget", order.native_status or "")


def test_cassettes_are_up_to_date() -> None:
    for name, interactions in make_cassettes.cassettes().items():
        path = CASSETTE_DIR / f"{name}.yaml"
        assert path.read_text("utf-8") == make_cassettes.render(interactions), f"regenerate {path.name}"


def test_cassettes_hold_no_secret() -> None:
    paths = list(CASSETTE_DIR.glob("*.yaml"))
    assert len(paths) == len(make_cassettes.cassettes())
    for path in paths:
        text = path.read_text("utf-8")
        assert text.startswith("# Built from the documented examples in shared/reference/bitget.md")
        for needle in (*constants.SECRET_HEADERS, KEY, SECRET, PASSPHRASE):
            assert needle not in text, (path.name, needle)


async def test_spot_markets_time_and_disk_cache(env: Env, cassette: Any) -> None:
    with cassette("spot_markets_and_time") as cas:
        markets = await env.client.load_markets(env.spot)
        assert {m.symbol for m in markets} == {"BTC/USDT", "ETH/BTC", "XRP/USDT"}
        env.clock[0] = SERVER_TIME - 3000  # local clock 3 s behind
        when = await env.client.server_time(env.spot)
        assert when.year == 2023 and env.client.offsets[constants.BASE_URL] == 3000
        assert env.client.now_ms(env.spot) == SERVER_TIME
        assert cas.all_played
    again = type(env.client)(env.transport, cache_dir=env.client.cache_dir)
    with cassette("spot_markets_and_time"):  # served from the disk cache: nothing replayed
        assert len(await again.load_markets(env.spot)) == 3


async def test_mix_markets_of_every_product_type(env: Env, cassette: Any) -> None:
    with cassette("mix_markets") as cas:
        markets = await env.client.load_markets(env.mix)
        assert [m.symbol for m in markets] == ["BTC/USDT:USDT", "ETH/USDT:USDT", "BTC/USDC:USDC", "BTC/USD:BTC"]
        assert cas.all_played


async def test_spot_order_lifecycle(env: Env, cassette: Any) -> None:
    market = SPOT["BTC/USDT"]
    call = HOOKS.to_native("bitget", spot_request(), market, "t5-spot-1", {})
    with cassette("spot_order_lifecycle") as cas:
        placed = await env.client.place_order(always(env.spot), call)
        order, status = to_order(placed, request=spot_request())
        assert status is OrderStatus.OPEN and order.native_status == "live" and order.id == "1001"
        assert order.quantity == Decimal("0.01") and order.price == Decimal(30000)
        by_cid = await env.client.fetch_order(env.spot, OrderRef(market=market, native_client_id="t5-spot-1"))
        assert by_cid == placed
        cancelled = await env.client.cancel_order(env.spot, OrderRef(market=market, exchange_id="1001"))
        assert to_order(cancelled)[1] is OrderStatus.CANCELLED
        assert await env.client.fetch_order(env.spot, OrderRef(market=market, native_client_id="missing")) is None
        with pytest.raises(t5.OrderNotFound):
            await env.client.cancel_order(env.spot, OrderRef(market=market, native_client_id="missing"))
        assert cas.all_played
    # what was signed is what was sent: the audit trail has the body, never a key, passphrase or signature
    place = env.sent[0]
    assert place.body == '{"symbol":"BTCUSDT","side":"buy","orderType":"limit","force":"gtc","price":"30000",' \
                         '"size":"0.01","clientOid":"t5-spot-1"}'
    for record in env.records:
        text = record.url + str(record.request_headers) + str(record.request_body)
        assert KEY not in text and SECRET not in text and PASSPHRASE not in text
        if constants.SIGN_HEADER in record.request_headers:
            assert record.request_headers[constants.SIGN_HEADER] == "***"


async def test_a_failed_read_back_completes_the_order_from_the_request(env: Env, cassette: Any) -> None:
    call = HOOKS.to_native("bitget", spot_request(), SPOT["BTC/USDT"], "t5-spot-1", {})
    with cassette("spot_read_back_fails") as cas:
        placed = await env.client.place_order(always(env.spot), call)
        assert cas.all_played
    assert placed[constants.COMPLETED_MARK] is True and placed[constants.SYNTHETIC_MARK] is True
    assert placed["orderId"] == "1001"
    order, status = to_order(placed, request=spot_request())
    assert status is OrderStatus.OPEN and order.quantity == Decimal("0.01") and order.side is Side.BUY


async def test_documented_spot_order(env: Env, cassette: Any) -> None:
    with cassette("spot_documented_order"):
        payload = await env.client.fetch_order(env.spot, OrderRef(market=SPOT["BTC/USDT"], exchange_id="121211212122"))
    order, status = to_order(payload)
    assert status is OrderStatus.CLOSED and order.filled == Decimal("0.0007") and order.fee == Decimal("0.112079256")


async def test_spot_account_endpoints(env: Env, cassette: Any) -> None:
    market = SPOT["BTC/USDT"]
    with cassette("spot_account") as cas:
        balances = await env.client.fetch_balances(env.spot)
        assert [(b.asset, b.free, b.locked) for b in balances] == [("USDT", Decimal("1000.5"), Decimal(300))]
        open_orders = await env.client.fetch_open_orders(env.spot, market)
        assert [o["orderId"] for o in open_orders] == ["1001"]
        since = datetime(2023, 9, 28, 1, 36, 40, tzinfo=UTC)
        closed = await env.client.fetch_closed_orders(env.spot, market, since)
        assert closed[0]["status"] == "filled"
        (trade,) = await env.client.fetch_my_trades(env.spot, market, None)
        assert trade.quantity == Decimal("0.004") and trade.fee == Decimal("0.000004") and trade.maker is True
        assert cas.all_played


async def test_mix_order_lifecycle_in_hedge_mode(env: Env, cassette: Any) -> None:
    market = MIX["BTC/USDT:USDT"]
    request = OrderRequest(symbol="BTC/USDT:USDT", side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal("0.01"),
                           price=Decimal("30000.1"), user_id=1, broker_id=1, position_side=PositionSide.LONG)
    call = HOOKS.to_native("bitget", request, market, "t5-mix-1", {"position_mode": "hedge"})
    with cassette("mix_order_lifecycle") as cas:
        placed = await env.client.place_order(always(env.mix), call)
        order, status = to_order(placed, MarketType.SWAP)
        assert status is OrderStatus.OPEN and order.position_side is PositionSide.LONG and order.side is Side.BUY
        edited = await env.client.edit_order(env.mix, OrderRef(market=market, exchange_id="2001"),
                                             quantity=Decimal("0.02"))
        assert edited["size"] == "0.02" and edited["orderId"] == "2001"
        cancelled = await env.client.cancel_order(env.mix, OrderRef(market=market, exchange_id="2001"))
        assert to_order(cancelled, MarketType.SWAP)[1] is OrderStatus.CANCELLED
        assert await env.client.fetch_order(env.mix, OrderRef(market=market, native_client_id="nope")) is None
        assert cas.all_played


async def test_spot_edit_is_refused_before_anything_is_sent(env: Env) -> None:
    with pytest.raises(t5.UnsupportedParameterError, match="mix"):
        await env.client.edit_order(env.spot, OrderRef(market=SPOT["BTC/USDT"], exchange_id="1"), price=Decimal(1))
    assert env.sent == []


async def test_mix_plan_order(env: Env, cassette: Any) -> None:
    market = MIX["BTC/USDT:USDT"]
    request = OrderRequest(symbol="BTC/USDT:USDT", side=Side.SELL, type=OrderType.STOP_LOSS, quantity=Decimal("0.01"),
                           stop_price=Decimal(29000), reduce_only=True, user_id=1, broker_id=1)
    call = HOOKS.to_native("bitget", request, market, "t5-sl-1", {})
    with cassette("mix_plan_order") as cas:
        placed = await env.client.place_order(always(env.mix), call)
        order, status = to_order(placed, MarketType.SWAP, request)
        assert order.id == "plan:3001" and order.type is OrderType.STOP_LOSS and status is OrderStatus.OPEN
        assert order.stop_price == Decimal(29000) and order.reduce_only
        cancelled = await env.client.cancel_order(env.mix, OrderRef(market=market, exchange_id="plan:3001"))
        assert to_order(cancelled, MarketType.SWAP, request)[1] is OrderStatus.CANCELLED
        assert cas.all_played


async def test_mix_account_positions_config_fills(env: Env, cassette: Any) -> None:
    market = MIX["BTC/USDT:USDT"]
    with cassette("mix_account") as cas:
        balances = await env.client.fetch_balances(env.mix)
        assert [(b.asset, b.free, b.locked) for b in balances] == [("USDT", Decimal(5000), Decimal("12.5"))]
        (position,) = await env.client.fetch_positions(env.mix)
        assert position.symbol == "BTC/USDT:USDT" and position.contracts == Decimal("-0.01")
        config = await env.client.fetch_account_config(env.mix)
        assert config == {"position_mode": "hedge", "margin_mode": "cross"}
        (fill,) = await env.client.fetch_my_trades(env.mix, market, None)
        assert fill.fee == Decimal("0.2580006") and fill.fee_currency == "USDT"
        (closed,) = await env.client.fetch_closed_orders(env.mix, market, None)
        assert to_order(closed, MarketType.SWAP)[1] is OrderStatus.CLOSED
        open_orders = await env.client.fetch_open_orders(env.mix, market)
        assert [o["orderId"] for o in open_orders] == ["2001", "3001"]
        assert cas.all_played


async def test_errors_through_the_transport(env: Env, cassette: Any) -> None:
    spot_call = HOOKS.to_native("bitget", spot_request(quantity=Decimal(100)), SPOT["BTC/USDT"], "t5-spot-1", {})
    mix_request = OrderRequest(symbol="BTC/USDT:USDT", side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal("0.01"),
                               price=Decimal("30000.1"), user_id=1, broker_id=1, position_side=PositionSide.LONG)
    mix_call = HOOKS.to_native("bitget", mix_request, MIX["BTC/USDT:USDT"], "t5-mix-1", {"position_mode": "hedge"})
    with cassette("errors") as cas:
        with pytest.raises(t5.InsufficientFunds) as funds:
            await env.client.place_order(env.spot, spot_call)
        assert funds.value.code == "43012"
        with pytest.raises(t5.DuplicateOrder):
            await env.client.place_order(env.mix, mix_call)
        with pytest.raises(t5.RateLimitExceeded) as limited:
            await env.client.fetch_balances(env.spot)
        assert limited.value.retry_after == 1.0
        with pytest.raises(t5.AuthenticationError):
            await env.client.fetch_balances(env.spot)
        assert cas.all_played


async def test_expired_timestamp_resyncs_and_retries_once(env: Env, cassette: Any) -> None:
    call = HOOKS.to_native("bitget", spot_request(), SPOT["BTC/USDT"], "t5-spot-1", {})
    with cassette("clock_skew") as cas:
        placed = await env.client.place_order(always(env.spot), call)
        assert placed["orderId"] == "1001" and cas.all_played
    assert env.client.offsets[constants.BASE_URL] == 40_000
    first, retry = (r for r in env.sent if r.url.endswith("place-order"))
    assert int(retry.headers[constants.TIMESTAMP_HEADER]) - int(first.headers[constants.TIMESTAMP_HEADER]) == 40_000
    assert first.body == retry.body  # the same order, re-signed


async def test_demo_trading_sends_the_header_on_every_call(env: Env, cassette: Any) -> None:
    demo = attrs.evolve(env.spot, testnet=True)
    with cassette("spot_account"):
        await env.client.fetch_balances(demo)
    with cassette("spot_markets_and_time"):
        await env.client.server_time(attrs.evolve(demo, credentials=None))
    # the core transport adds the spec's testnet header after the client signed: read what went on the wire
    assert env.records and all(r.request_headers.get(constants.DEMO_HEADER) == "1" for r in env.records)
    assert env.sent and all(constants.DEMO_HEADER not in r.headers for r in env.sent)  # never signed


async def test_spot_plan_order(env: Env, cassette: Any) -> None:
    market = SPOT["BTC/USDT"]
    request = spot_request(side=Side.SELL, type=OrderType.TAKE_PROFIT_LIMIT, stop_price=Decimal(50000),
                           price=Decimal(49900), client_order_id="t5-tp-1")
    call = HOOKS.to_native("bitget", request, market, "t5-tp-1", {})
    with cassette("spot_plan_order") as cas:
        placed = await env.client.place_order(always(env.spot), call)
        order, status = to_order(placed, request=request)
        assert (order.id, order.type, status) == ("plan:4001", OrderType.TAKE_PROFIT_LIMIT, OrderStatus.OPEN)
        assert order.price == Decimal(49900) and order.stop_price == Decimal(50000)
        cancelled = await env.client.cancel_order(env.spot, OrderRef(market=market, exchange_id="plan:4001"))
        assert to_order(cancelled, request=request)[1] is OrderStatus.CANCELLED
        assert cas.all_played

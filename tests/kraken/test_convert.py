"""to_native (AddOrder params, precision rules, refused parameters) and from_native (order objects)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from terminal5.contract import NativeContext
from terminal5.errors import InvalidOrder, UnsupportedParameterError
from terminal5.models import MarginMode, Market, OrderRequest, OrderType, PositionSide, Side, TimeInForce
from terminal5_kraken import userref
from terminal5_kraken.constants import STATUS
from terminal5_kraken.convert import order_from_native, to_datetime, to_native, trade_from_native
from terminal5_kraken.markets import MarketIndex, parse_asset_pairs
from terminal5_kraken.plugin import KrakenPlugin

from .data import asset_pairs, order_object

INDEX = MarketIndex(parse_asset_pairs(asset_pairs()))
BTC: Market = INDEX.symbol("BTC/USD")  # type: ignore[assignment]


def req(**kw: Any) -> OrderRequest:
    base: dict[str, Any] = dict(symbol="BTC/USD", side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal("1.25"),
                                price=Decimal("37500"), user_id=1, broker_id=1, client_order_id="cid-1")
    base.update(kw)
    return OrderRequest(**base)


def test_limit_matches_official_example_fields() -> None:
    call = to_native(req(), BTC, 42, {})
    assert dict(call.params) == {"pair": "XXBTZUSD", "type": "buy", "ordertype": "limit", "volume": "1.25",
                                 "price": "37500", "userref": "42"}
    assert call.path == "/0/private/AddOrder" and call.method == "POST" and call.native_client_id == 42


@pytest.mark.parametrize(
    ("otype", "extra", "expected"),
    [
        (OrderType.MARKET, {"price": None}, {"ordertype": "market"}),
        (OrderType.LIMIT_MAKER, {}, {"ordertype": "limit", "price": "37500", "oflags": "post"}),
        (OrderType.STOP_LOSS, {"price": None, "stop_price": Decimal("30000.5")},
         {"ordertype": "stop-loss", "price": "30000.5"}),
        (OrderType.TAKE_PROFIT, {"price": None, "stop_price": Decimal("40000")},
         {"ordertype": "take-profit", "price": "40000"}),
        (OrderType.STOP_LOSS_LIMIT, {"price": Decimal("29900"), "stop_price": Decimal("30000")},
         {"ordertype": "stop-loss-limit", "price": "30000", "price2": "29900"}),
        (OrderType.TAKE_PROFIT_LIMIT, {"price": Decimal("40100"), "stop_price": Decimal("40000")},
         {"ordertype": "take-profit-limit", "price": "40000", "price2": "40100"}),
    ],
)
def test_order_types(otype: OrderType, extra: dict[str, Any], expected: dict[str, str]) -> None:
    params = dict(to_native(req(type=otype, **extra), BTC, 1, {}).params)
    for key, value in expected.items():
        assert params[key] == value
    if otype is OrderType.MARKET:
        assert "price" not in params


def test_time_in_force() -> None:
    assert to_native(req(time_in_force=TimeInForce.IOC), BTC, 1, {}).params["timeinforce"] == "IOC"
    gtd = to_native(req(time_in_force=TimeInForce.GTD, expire_at=datetime(2030, 1, 1, tzinfo=UTC)), BTC, 1, {})
    assert gtd.params["timeinforce"] == "GTD" and gtd.params["expiretm"] == "1893456000"
    with pytest.raises(UnsupportedParameterError):
        to_native(req(time_in_force=TimeInForce.FOK), BTC, 1, {})


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"position_side": PositionSide.LONG}, "position_side"), ({"margin_mode": MarginMode.ISOLATED}, "margin_mode"),
     ({"reduce_only": True}, "reduce_only")],
)
def test_level1_unsupported(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(UnsupportedParameterError) as info:
        to_native(req(**kw), BTC, 1, {})
    assert info.value.field == field


@pytest.mark.parametrize(
    ("kw", "rule", "bound"),
    [
        ({"price": Decimal("37500.05")}, "pair_decimals", "1"),
        ({"quantity": Decimal("0.000000001")}, "lot_decimals", "8"),
        ({"quantity": Decimal("0.00005")}, "ordermin", "0.0001"),
        ({"quantity": Decimal("0.0001"), "price": Decimal("1000")}, "costmin", "0.5"),
    ],
)
def test_precision_rules(kw: dict[str, Any], rule: str, bound: str) -> None:
    with pytest.raises(InvalidOrder) as info:
        to_native(req(**kw), BTC, 1, {})
    assert info.value.code == rule and info.value.details["bound"] == bound
    assert rule in str(info.value) and bound in str(info.value)


def test_tick_size_rule() -> None:
    doge = INDEX.symbol("DOGE/USD")
    assert doge is not None
    odd = attrs_evolve_tick(doge, Decimal("0.0000005"))
    with pytest.raises(InvalidOrder) as info:
        to_native(req(symbol="DOGE/USD", quantity=Decimal("100"), price=Decimal("0.1000001")), odd, 1, {})
    assert info.value.code == "tick_size"


def attrs_evolve_tick(market: Market, tick: Decimal) -> Market:
    import attrs

    return attrs.evolve(market, tick_size=tick)


def test_cl_ord_id_mode_sends_no_userref() -> None:
    call = to_native(req(client_order_id="short-1"), BTC, 99, {"client_id_mode": "cl_ord_id"})
    assert call.params["cl_ord_id"] == "short-1" and "userref" not in call.params
    assert call.native_client_id == 99 and call.meta["userref"] == "99"
    long_id = to_native(req(client_order_id="T5_1_18d3c0a1b2c_deadbeef"), BTC, 99, {"client_id_mode": "cl_ord_id"})
    assert long_id.params["cl_ord_id"] == "T5U99"
    with pytest.raises(UnsupportedParameterError):
        to_native(req(), BTC, 1, {"client_id_mode": "bogus"})


def _ctx(store: dict[Any, str] | None = None, **kw: Any) -> NativeContext:
    return NativeContext(exchange="kraken", markets=INDEX.native,
                         client_id_of=lambda n: (store or {}).get(int(n)) if str(n).isdigit() else None, **kw)


def test_from_native_documented_order() -> None:
    native = {**order_object(userref=4242), "txid": "OBCMZD-JIEE7-77TH3F", "pair": "XXBTZUSD"}
    order = order_from_native(native, _ctx({4242: "cid-1"}))
    assert order.id == "OBCMZD-JIEE7-77TH3F" and order.symbol == "BTC/USD" and order.side is Side.BUY
    assert order.type is OrderType.LIMIT and order.price == Decimal("30010.0")
    assert order.quantity == Decimal("1.25") and order.filled == Decimal("1.25") and order.remaining == 0
    assert order.average == Decimal("30021.0") and order.fee == Decimal("37.5") and order.fee_currency == "USD"
    assert order.native_status == "closed" and order.client_order_id == "cid-1" and order.native_client_id == "4242"
    assert order.created_at == datetime(2023, 7, 6, 18, 2, 39, 897400, tzinfo=UTC)
    assert order.raw is not None and order.raw["userref"] == 4242


def test_from_native_foreign_userref_keeps_raw() -> None:
    native = {**order_object(userref=777), "txid": "O1"}
    order = order_from_native(native, _ctx({}))
    assert order.client_order_id is None and order.native_client_id == "777" and order.raw["userref"] == 777
    no_ref = order_from_native({**order_object(), "txid": "O2"}, _ctx({}))
    assert no_ref.client_order_id is None and no_ref.native_client_id is None


def test_from_native_cl_ord_id() -> None:
    cid = "T5_1_18d3c0a1b2c_deadbeef"
    native = {**order_object(cl_ord_id="T5U555", userref=None), "txid": "O3"}
    assert order_from_native(native, _ctx({555: cid})).client_order_id == cid
    verbatim = "short-1"
    store = {userref.userref_for(verbatim, 0): verbatim}
    native = {**order_object(cl_ord_id=verbatim), "txid": "O4"}
    assert order_from_native(native, _ctx(store)).client_order_id == verbatim
    assert order_from_native(native, _ctx({})).client_order_id is None  # never issued by this gateway


def test_from_native_stop_limit_and_post_only() -> None:
    descr = {"pair": "XBTUSD", "type": "sell", "ordertype": "stop-loss-limit", "price": "30000", "price2": "29900"}
    order = order_from_native({**order_object(descr=descr, vol_exec="0", status="open"), "txid": "O5"}, _ctx())
    assert order.type is OrderType.STOP_LOSS_LIMIT and order.stop_price == Decimal("30000")
    assert order.price == Decimal("29900") and order.average is None and order.side is Side.SELL
    post = order_from_native({**order_object(oflags="post,fciq"), "txid": "O6"}, _ctx())
    assert post.type is OrderType.LIMIT_MAKER


def test_from_native_refuses_to_invent_side() -> None:
    with pytest.raises(ValueError):
        order_from_native({"txid": "O7", "status": "canceled", "t5_synthetic": True}, _ctx())


def test_statuses_cover_the_reference() -> None:
    plugin = KrakenPlugin()
    for status in ("pending", "open", "closed", "canceled", "expired"):
        assert plugin.normalize_status("kraken", status) is STATUS[status]
    assert plugin.normalize_status("kraken", "brand-new") is None


def test_times_are_exact() -> None:
    assert to_datetime(Decimal("1688666559.897412")) == datetime(2023, 7, 6, 18, 2, 39, 897412, tzinfo=UTC)
    assert to_datetime("0") is None and to_datetime(None) is None
    with pytest.raises(TypeError):
        to_datetime(1.5)


def test_trade_from_native() -> None:
    trade = trade_from_native("TZX2WP-XSEOP-FP7WYR", {
        "ordertxid": "OBCMZD-JIEE7-77TH3F", "pair": "XXBTZUSD", "time": Decimal("1688667796.8802"),
        "type": "buy", "ordertype": "limit", "price": "30010.00000", "cost": "37512.50000", "fee": "37.51250",
        "vol": "1.25000000", "margin": "0.00000", "misc": "", "maker": True,
    }, BTC)
    assert trade.price == Decimal("30010") and trade.quantity == Decimal("1.25") and trade.maker is True
    assert trade.order_id == "OBCMZD-JIEE7-77TH3F" and trade.fee_currency == "USD"


@pytest.mark.parametrize("cid", ["cid-1", "T5_1_lifecycle_0001", "x", "wrap-around-probe"])
def test_the_issued_userref_candidates_are_userref_for_every_probe(cid: str) -> None:
    from terminal5_kraken import userref as userrefs
    from terminal5_kraken.convert import _issued_for

    request = OrderRequest(symbol="BTC/USD", side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal("1"),
                           price=Decimal("1"), user_id=1, broker_id=1, client_order_id=cid)
    for n in range(userrefs.MAX_VERIFY_PROBES):
        assert _issued_for(request, userrefs.userref_for(cid, n), None, userrefs.sha256) == cid
    # a hash whose first guess is the largest userref: the probes wrap around to 1, 2, …
    top = (2**31 - 1).to_bytes(4, "big") + bytes(28)
    assert _issued_for(request, 1, None, lambda data: top) == cid
    assert _issued_for(request, userrefs.userref_for(cid, userrefs.MAX_VERIFY_PROBES), None, userrefs.sha256) is None

"""Malformed requests: each gets a typed error naming the field, and none reaches the exchange."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from terminal5.errors import BadSymbol, InvalidOrder, InvalidOrderRequest, Terminal5Error, UnsupportedParameterError
from terminal5.wire import structure_request

BASE = {
    "symbol": "BTC/USDT",
    "side": "buy",
    "type": "limit",
    "quantity": "0.001",
    "price": "43000.10",
    "user_id": 1,
    "broker_id": 1,
}
DROP = object()


def req(**changes: Any) -> dict[str, Any]:
    data = dict(BASE)
    for key, value in changes.items():
        if value is DROP:
            data.pop(key, None)
        else:
            data[key] = value
    return data


# (case id, request, expected error class, field named)
CASES: list[tuple[str, dict[str, Any], type[Terminal5Error], str]] = [
    ("unknown field", req(amount="1"), InvalidOrderRequest, "amount"),
    ("float quantity", req(quantity=0.1), InvalidOrderRequest, "quantity"),
    ("float price", req(price=43000.5), InvalidOrderRequest, "price"),
    ("NaN quantity", req(quantity="NaN"), InvalidOrderRequest, "quantity"),
    ("infinite price", req(price="Infinity"), InvalidOrderRequest, "price"),
    ("text quantity", req(quantity="ten"), InvalidOrderRequest, "quantity"),
    ("zero quantity", req(quantity="0"), InvalidOrderRequest, "quantity"),
    ("negative quantity", req(quantity="-1"), InvalidOrderRequest, "quantity"),
    ("negative price", req(price="-5"), InvalidOrderRequest, "price"),
    ("limit without price", req(price=DROP), InvalidOrderRequest, "price"),
    ("market with price", req(type="market"), InvalidOrderRequest, "price"),
    ("stop without stop_price", req(type="stop_loss", price=DROP), InvalidOrderRequest, "stop_price"),
    ("stop-limit without stop_price", req(type="stop_loss_limit"), InvalidOrderRequest, "stop_price"),
    ("stop_price on limit", req(stop_price="42000"), InvalidOrderRequest, "stop_price"),
    ("unknown side", req(side="hold"), InvalidOrderRequest, "side"),
    ("unknown type", req(type="iceberg"), InvalidOrderRequest, "type"),
    ("unknown time in force", req(time_in_force="DAY"), InvalidOrderRequest, "time_in_force"),
    ("unknown source", req(source="telegram"), InvalidOrderRequest, "source"),
    ("reserved source", req(source="external"), InvalidOrderRequest, "source"),
    ("missing symbol", req(symbol=DROP), InvalidOrderRequest, "symbol"),
    ("missing side", req(side=DROP), InvalidOrderRequest, "side"),
    ("missing quantity", req(quantity=DROP), InvalidOrderRequest, "quantity"),
    ("missing user", req(user_id=DROP), InvalidOrderRequest, "user_id"),
    ("string user id", req(user_id="1"), InvalidOrderRequest, "user_id"),
    ("boolean broker id", req(broker_id=True), InvalidOrderRequest, "broker_id"),
    ("negative broker id", req(broker_id=-3), InvalidOrderRequest, "broker_id"),
    ("lower-case symbol", req(symbol="btc/usdt"), InvalidOrderRequest, "symbol"),
    ("symbol without slash", req(symbol="BTCUSDT"), InvalidOrderRequest, "symbol"),
    ("reduce_only as string", req(reduce_only="yes"), InvalidOrderRequest, "reduce_only"),
    ("client id with spaces", req(client_order_id="my order"), InvalidOrderRequest, "client_order_id"),
    ("client id too long", req(client_order_id="x" * 65), InvalidOrderRequest, "client_order_id"),
    ("GTD without expiry", req(time_in_force="GTD"), InvalidOrderRequest, "expire_at"),
    ("naive expiry", req(time_in_force="GTD", expire_at="2030-01-01T00:00:00"), InvalidOrderRequest, "expire_at"),
    ("extra_params float", req(extra_params={"x": 1.5}), InvalidOrderRequest, "extra_params"),
    ("extra_params not an object", req(extra_params=["a"]), InvalidOrderRequest, "extra_params"),
    ("iceberg above quantity", req(iceberg_qty="1"), InvalidOrderRequest, "iceberg_qty"),
    ("too many digits", req(quantity="1." + "1" * 40), InvalidOrderRequest, "quantity"),
    ("position side unknown", req(position_side="UP"), InvalidOrderRequest, "position_side"),
    # bounded to what NUMERIC(38,18) and the INTEGER id columns hold, written plainly (issue 10, items 8-9)
    ("quantity 1e999", req(quantity="1e999"), InvalidOrderRequest, "quantity"),
    ("quantity 1e25", req(quantity="1e25"), InvalidOrderRequest, "quantity"),
    ("price 1e-19", req(price="1e-19"), InvalidOrderRequest, "price"),
    ("quantity with spaces", req(quantity=" 0.001 "), InvalidOrderRequest, "quantity"),
    ("quantity with underscore", req(quantity="0_001"), InvalidOrderRequest, "quantity"),
    ("broker id above 2^63", req(broker_id=2**63 + 1), InvalidOrderRequest, "broker_id"),
    ("user id above 2^31", req(user_id=2**31), InvalidOrderRequest, "user_id"),
    # valid shape, refused by the exchange's declared capabilities or published filters
    ("position_side on spot (Level 1)", req(position_side="LONG"), UnsupportedParameterError, "position_side"),
    ("reduce_only on spot (Level 1)", req(reduce_only=True), UnsupportedParameterError, "reduce_only"),
    ("margin_mode unsupported (Level 1)", req(margin_mode="isolated"), UnsupportedParameterError, "margin_mode"),
    ("unsupported order type", req(type="limit_maker"), UnsupportedParameterError, "type"),
    ("unknown market", req(symbol="DOGE/USDT"), BadSymbol, "symbol"),
    ("off-step quantity", req(quantity="0.0000155"), InvalidOrder, "quantity"),
    ("below minimum quantity", req(quantity="0.000001"), InvalidOrder, "quantity"),
    ("off-tick price", req(price="43000.105"), InvalidOrder, "price"),
]


def test_suite_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(("case", "data", "error", "field"), CASES, ids=[c[0] for c in CASES])
async def test_bad_request_is_refused_before_the_exchange(
    env: Any, case: str, data: dict[str, Any], error: type[Terminal5Error], field: str
) -> None:
    # the template's ids (1) stand for the test's broker and its owner; other values are the defect
    data = {
        k: (
            getattr(env.broker, "id" if k == "broker_id" else "user_id")
            if k in ("user_id", "broker_id") and v == 1 and type(v) is int
            else v
        )
        for k, v in data.items()
    }
    with pytest.raises(error) as raised:
        await env.gateway.place_order(data)
    assert raised.value.field == field, f"{case}: error names {raised.value.field!r}: {raised.value}"
    assert str(raised.value)  # a readable message
    assert env.order_posts() == 0, f"{case}: an order reached the exchange"
    stored = await env.gateway.list_orders(broker_id=env.broker.id)
    assert all(o.status.value != "pending_submit" for o in stored)


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidOrderRequest) as raised:
        structure_request(req(side="hold", quantity=0.5, foo=1))
    fields = [f for f, _ in raised.value.errors]
    assert set(fields) == {"side", "quantity", "foo"}
    assert raised.value.to_dict()["details"][0]["reason"]


def test_money_is_decimal_from_the_text() -> None:
    request = structure_request(req(quantity="0.100000000000000001", price="43000.123456789012345678"))
    assert request.quantity == Decimal("0.100000000000000001")  # 18 places: what NUMERIC(38,18) holds
    assert isinstance(request.price, Decimal)
    assert str(request.price) == "43000.123456789012345678"


def test_not_an_object() -> None:
    with pytest.raises(InvalidOrderRequest) as raised:
        structure_request(["not", "a", "dict"])
    assert raised.value.field == "request"

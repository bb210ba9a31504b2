"""Hostile requests over HTTP: each gets a typed 4xx naming the field, none a 5xx, none reaches the exchange.

One daemon serves every case (each case is one request; a fresh daemon per case would cost seconds for
nothing): the loopback exchange's request counter must not move, and no order may be stored.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from terminal5 import jsonutil

from .conftest import World, order_body

BIG = 2**63
JSON = "application/json"


@attrs.frozen
class Case:
    name: str
    method: str
    path: str  # "{b}" is user 1's broker
    body: bytes | None
    field: str
    status: int = 400
    content_type: str | None = JSON
    who: str = "user1"


def enc(data: Any) -> bytes:
    return json.dumps(data).encode()


def order(**changes: Any) -> dict[str, Any]:
    data = order_body(0, "hostile-1")  # broker_id 0 is replaced by "{b}" below
    data["broker_id"] = "{b}"
    data.update(changes)
    return data


def place(name: str, field: str, status: int = 400, **changes: Any) -> Case:
    return Case(name, "POST", "/v1/orders", enc(order(**changes)), field, status)


def place_raw(name: str, text: str, field: str, status: int = 400, content_type: str | None = JSON) -> Case:
    return Case(name, "POST", "/v1/orders", text.encode(), field, status, content_type)


def without(key: str) -> dict[str, Any]:
    data = order()
    data.pop(key)
    return data


VALID = json.dumps(order())

CASES: list[Case] = [
    # --- numbers beyond what NUMERIC(38,18) or an exchange holds --------------------------------------
    place("quantity 1e999", "quantity", quantity="1e999"),
    place("quantity 1e25", "quantity", quantity="1e25"),
    place("quantity -1e999", "quantity", quantity="-1e999"),
    place("quantity 1e-999", "quantity", quantity="1e-999"),
    place("quantity 19 decimal places", "quantity", quantity="0.0000000000000000001"),
    place("quantity 21 integer digits", "quantity", quantity="123456789012345678901"),
    place("quantity 5000 digits", "quantity", quantity="1" + "0" * 5000),
    place("price 1e999", "price", price="1e999"),
    place("price 1e25", "price", price="1e25"),
    place("stop_price 1e999", "stop_price", type="stop_loss_limit", stop_price="1e999"),
    place("iceberg_qty 1e999", "iceberg_qty", iceberg_qty="1e999"),
    place("trailing_delta 1e400", "trailing_delta", trailing_delta="1e400"),
    place("take_profit_price 1e30", "take_profit_price", take_profit_price="1e30"),
    place("stop_loss_price 1e30", "stop_loss_price", stop_loss_price="1e30"),
    # --- amounts not written as plain decimal strings -----------------------------------------------
    place("quantity with spaces", "quantity", quantity=" 0.001 "),
    place("quantity trailing space", "quantity", quantity="0.001 "),
    place("quantity with underscore", "quantity", quantity="1_000"),
    place("quantity hex", "quantity", quantity="0x10"),
    place("quantity empty", "quantity", quantity=""),
    place("quantity NaN", "quantity", quantity="NaN"),
    place("quantity -Infinity", "quantity", quantity="-Infinity"),
    place("quantity sNaN", "quantity", quantity="sNaN"),
    place("quantity JSON float", "quantity", quantity=0.001),
    place("quantity JSON integer", "quantity", quantity=1),
    place("quantity boolean", "quantity", quantity=True),
    place("quantity null", "quantity", quantity=None),
    place("quantity array", "quantity", quantity=[]),
    place("quantity object", "quantity", quantity={}),
    place("price JSON float", "price", price=43000.1),
    # --- ids beyond the INTEGER columns, or not integers ----------------------------------------------
    place("broker_id 2^63", "broker_id", broker_id=BIG),
    place("broker_id 2^64+5", "broker_id", broker_id=2**64 + 5),
    place("broker_id 2^31", "broker_id", broker_id=2**31),
    place("broker_id negative", "broker_id", broker_id=-1),
    place("broker_id zero", "broker_id", broker_id=0),
    place("broker_id string", "broker_id", broker_id="1"),
    place("broker_id 1.0", "broker_id", broker_id=1.0),
    place("broker_id null", "broker_id", broker_id=None),
    Case("broker_id missing", "POST", "/v1/orders", enc(without("broker_id")), "broker_id"),
    place_raw("broker_id 1e3", VALID.replace('"broker_id": "{b}"', '"broker_id": 1e3'), "broker_id"),
    place_raw("broker_id 5000 digits", VALID.replace('"broker_id": "{b}"', '"broker_id": ' + "9" * 5000), "request"),
    place("user_id 2^63", "user_id", user_id=BIG),
    place("user_id 2^31", "user_id", user_id=2**31),
    place("user_id negative", "user_id", user_id=-5),
    # --- duplicate keys: json keeps the last one silently -------------------------------------------
    place_raw("duplicate side", VALID.replace('"side": "buy"', '"side": "buy", "side": "sell"'), "side"),
    place_raw("duplicate quantity", VALID.replace('"quantity": "0.001"', '"quantity": "0.001", "quantity": "5"'),
              "quantity"),
    place_raw("duplicate key in extra_params", VALID[:-1] + ', "extra_params": {"a": "1", "a": "2"}}', "a"),
    # --- extra_params (Level 3, sent verbatim: refused unless plain) ----------------------------------
    place("extra_params float", "extra_params.x", extra_params={"x": 1.5}),
    place_raw("extra_params 1e3", VALID[:-1] + ', "extra_params": {"x": 1e3}}', "extra_params.x"),
    place("extra_params 2^70", "extra_params.x", extra_params={"x": 2**70}),
    place("extra_params nested object", "extra_params", extra_params={"x": {"y": "1"}}),
    place("extra_params array value", "extra_params", extra_params={"x": ["1"]}),
    place("extra_params null value", "extra_params", extra_params={"x": None}),
    place("extra_params 51 keys", "extra_params", extra_params={f"k{i}": "1" for i in range(51)}),
    place("extra_params a string", "extra_params", extra_params="recvWindow=1"),
    place("extra_params empty key", "extra_params", extra_params={"": "a"}),
    place("extra_params long value", "extra_params.x", extra_params={"x": "v" * 501}),
    # --- other fields --------------------------------------------------------------------------------
    place("side upper case", "side", side="BUY"),
    place("side number", "side", side=1),
    place("type upper case", "type", type="LIMIT"),
    place("symbol lower case", "symbol", symbol="btc/usdt"),
    place("symbol 100 characters", "symbol", symbol="A" * 100 + "/USDT"),
    place("symbol with NUL", "symbol", symbol="BTC\x00/USDT"),
    place_raw("client_order_id lone surrogate", VALID.replace('"hostile-1"', '"\\ud800"'), "client_order_id"),
    place("client_order_id 65 characters", "client_order_id", client_order_id="c" * 65),
    place("client_order_id integer", "client_order_id", client_order_id=123),
    place("time_in_force GTX", "time_in_force", time_in_force="GTX"),
    place("expire_at not a date", "expire_at", time_in_force="GTD", expire_at="tomorrow"),
    place("reduce_only string", "reduce_only", reduce_only="true"),
    place("source external", "source", source="external"),
    place("unknown field", "leverage", leverage="10"),
    # --- the JSON text itself ------------------------------------------------------------------------
    place_raw("NaN literal", VALID.replace('"0.001"', "NaN"), "request"),
    place_raw("Infinity literal", VALID.replace('"0.001"', "Infinity"), "request"),
    place_raw("100,000 nested arrays", "[" * 100_000 + "]" * 100_000, "request", 413),  # over the size bound
    place_raw("30,000 nested arrays", "[" * 30_000 + "]" * 30_000, "request"),  # under it: the depth bound
    place_raw("17 nested objects", VALID[:-1] + ', "extra_params": ' + '{"a": ' * 17 + '"1"' + "}" * 17 + "}",
              "request"),
    place_raw("body above 64 KiB", VALID[:-1] + ', "pad": "' + "x" * 70_000 + '"}', "request", 413),
    place_raw("invalid JSON", "{nope", "request"),
    place_raw("an array", "[]", "request"),
    place_raw("null", "null", "request"),
    place_raw("a string", '"order"', "request"),
    place_raw("a number", "12", "request"),
    place_raw("empty body", "", "request"),
    Case("invalid UTF-8", "POST", "/v1/orders", b'{"symbol": "\xff"}', "request"),
    place_raw("byte order mark", "\ufeff" + VALID, "request"),
    # --- Content-Type --------------------------------------------------------------------------------
    place_raw("text/plain", VALID, "Content-Type", 415, "text/plain"),
    place_raw("form encoded", VALID, "Content-Type", 415, "application/x-www-form-urlencoded"),
    place_raw("no Content-Type", VALID, "Content-Type", 415, None),
    place_raw("application/xml", VALID, "Content-Type", 415, "application/xml"),
    # --- paths and queries ----------------------------------------------------------------------------
    Case("path id 2^63", "GET", f"/v1/brokers/{BIG}", None, "broker_id"),
    Case("path id 23 digits", "GET", "/v1/brokers/99999999999999999999999", None, "broker_id"),
    Case("path id 2^31", "GET", "/v1/brokers/2147483648", None, "broker_id"),
    Case("path id negative", "GET", "/v1/brokers/-1", None, "broker_id"),
    Case("path id zero", "GET", "/v1/brokers/0", None, "broker_id"),
    Case("path id Arabic digit", "GET", "/v1/brokers/\u0661", None, "broker_id"),
    Case("path id 1e3", "GET", "/v1/brokers/1e3", None, "broker_id"),
    Case("path user 2^63", "POST", f"/v1/users/{BIG}/kill", None, "user_id"),
    Case("path user zero", "POST", "/v1/users/0/enable", None, "user_id"),
    Case("path balances id 2^63", "GET", f"/v1/brokers/{BIG}/balances", None, "broker_id"),
    Case("path cancel id 2^63", "DELETE", f"/v1/brokers/{BIG}/orders/x", None, "broker_id"),
    Case("limit 2^63", "GET", f"/v1/orders?limit={BIG}", None, "limit"),
    Case("offset 20 digits", "GET", "/v1/orders?offset=99999999999999999999", None, "offset"),
    Case("offset negative", "GET", "/v1/orders?offset=-1", None, "offset"),
    Case("broker_id filter 2^63", "GET", f"/v1/orders?broker_id={BIG}", None, "broker_id"),
    Case("user_id filter text", "GET", "/v1/orders?user_id=abc", None, "user_id"),
    Case("limit 1.5", "GET", "/v1/orders?limit=1.5", None, "limit"),
    Case("limit twice", "GET", "/v1/orders?limit=1&limit=2", None, "limit"),
    Case("status bogus", "GET", "/v1/orders?status=bogus", None, "status"),
    Case("since not a date", "GET", "/v1/orders?since=yesterday", None, "since"),
    Case("symbol filter 200 characters", "GET", "/v1/orders?symbol=" + "S" * 200, None, "symbol"),
    Case("brokers user_id 20 digits", "GET", "/v1/brokers?user_id=99999999999999999999", None, "user_id", 400,
         JSON, "admin"),
    Case("order key 200 characters", "GET", "/v1/brokers/{b}/orders/" + "k" * 200, None, "key"),
    Case("order key with NUL", "GET", "/v1/brokers/{b}/orders/a%00b", None, "key"),
    Case("order key with newline", "DELETE", "/v1/brokers/{b}/orders/a%0Ab", None, "key"),
    Case("unknown path", "GET", "/v1/brokers/{b}/nothing", None, "path", 404),
    Case("by bogus", "GET", "/v1/brokers/{b}/orders/abc?by=bogus", None, "by"),
    Case("refresh maybe", "GET", "/v1/brokers/{b}/orders/abc?refresh=maybe", None, "refresh"),
    Case("open-orders symbol garbage", "GET", "/v1/brokers/{b}/open-orders?symbol=garbage", None, "symbol"),
    Case("unknown query parameter", "GET", "/v1/brokers/{b}/balances?foo=1", None, "foo"),
    Case("cancel symbol garbage", "DELETE", "/v1/brokers/{b}/orders/abc?symbol=x", None, "symbol"),
    # --- edit -----------------------------------------------------------------------------------------
    Case("edit price 1e999", "PATCH", "/v1/brokers/{b}/orders/abc", enc({"price": "1e999"}), "price"),
    Case("edit price float", "PATCH", "/v1/brokers/{b}/orders/abc", b'{"price": 1.5}', "price"),
    Case("edit quantity spaces", "PATCH", "/v1/brokers/{b}/orders/abc", enc({"quantity": " 1 "}), "quantity"),
    Case("edit unknown field", "PATCH", "/v1/brokers/{b}/orders/abc", enc({"colour": "red"}), "colour"),
    Case("edit duplicate price", "PATCH", "/v1/brokers/{b}/orders/abc", b'{"price": "1", "price": "2"}', "price"),
    Case("edit an array", "PATCH", "/v1/brokers/{b}/orders/abc", b"[]", "request"),
    Case("edit text/plain", "PATCH", "/v1/brokers/{b}/orders/abc", enc({"price": "1"}), "Content-Type", 415,
         "text/plain"),
    # --- kill switch bodies -----------------------------------------------------------------------------
    Case("kill reason object", "POST", "/v1/brokers/{b}/kill", enc({"reason": {"a": 1}}), "reason"),
    Case("kill reason number", "POST", "/v1/brokers/{b}/kill", enc({"reason": 5}), "reason"),
    Case("kill reason 501 characters", "POST", "/v1/brokers/{b}/kill", enc({"reason": "r" * 501}), "reason"),
    Case("kill unknown field", "POST", "/v1/brokers/{b}/kill", enc({"why": "x"}), "why"),
    Case("kill body an array", "POST", "/v1/brokers/{b}/kill", b"[1]", "request"),
    Case("kill text/plain", "POST", "/v1/brokers/{b}/kill", b'{"reason": "x"}', "Content-Type", 415, "text/plain"),
    Case("user kill reason array", "POST", "/v1/users/1/kill", enc({"reason": ["a"]}), "reason"),
    # --- dead-man switch ---------------------------------------------------------------------------------
    Case("dead-man 1.5", "POST", "/v1/brokers/{b}/dead-man-switch", b'{"timeout": 1.5}', "timeout"),
    Case("dead-man string", "POST", "/v1/brokers/{b}/dead-man-switch", enc({"timeout": "60"}), "timeout"),
    Case("dead-man negative", "POST", "/v1/brokers/{b}/dead-man-switch", enc({"timeout": -1}), "timeout"),
    Case("dead-man 2^63", "POST", "/v1/brokers/{b}/dead-man-switch", enc({"timeout": BIG}), "timeout"),
    Case("dead-man above a day", "POST", "/v1/brokers/{b}/dead-man-switch", enc({"timeout": 86_401}), "timeout"),
    Case("dead-man missing", "POST", "/v1/brokers/{b}/dead-man-switch", enc({}), "timeout"),
    Case("dead-man unknown field", "POST", "/v1/brokers/{b}/dead-man-switch", enc({"timeout": 6, "x": 1}), "x"),
    Case("dead-man boolean", "POST", "/v1/brokers/{b}/dead-man-switch", enc({"timeout": True}), "timeout"),
    # --- methods ---------------------------------------------------------------------------------------
    Case("PUT on orders", "PUT", "/v1/orders", None, "method", 405),
    Case("DELETE on orders", "DELETE", "/v1/orders", None, "method", 405),
]


def test_depth_is_checked_before_parsing() -> None:
    from terminal5.daemon.body import depth_of, parse
    from terminal5.errors import InvalidOrderRequest

    deep = b"[" * 100_000 + b"]" * 100_000
    assert depth_of(deep) == 100_000
    assert depth_of(b'{"a": "[[[[{{{{", "b": [1, {"c": []}]}') == 4  # brackets in strings do not count
    try:
        parse(deep)
    except InvalidOrderRequest as exc:
        assert exc.field == "request" and "deeper" in exc.message
    else:
        raise AssertionError("100,000 nested arrays were parsed")


def test_the_suite_is_large_enough() -> None:
    assert len(CASES) >= 80
    assert len({c.name for c in CASES}) == len(CASES)


async def test_every_hostile_request_gets_a_typed_4xx_naming_the_field(world: World) -> None:
    broker = world.brokers["one"]
    failures: list[str] = []
    for case in CASES:
        before = world.exchange.requests
        headers = world.auth(case.who)
        if case.content_type is not None:
            headers["Content-Type"] = case.content_type
        data = case.body.replace(b'"{b}"', str(broker).encode()) if case.body is not None else None
        resp = await world.client.request(case.method, case.path.replace("{b}", str(broker)), data=data,
                                          headers=headers, skip_auto_headers=("Content-Type",))
        text = await resp.text()
        try:
            answer = jsonutil.loads(text)
        except ValueError:
            answer = {"unparsed": text[:200]}
        problems = []
        if resp.status != case.status:
            problems.append(f"status {resp.status}, expected {case.status}")
        if not isinstance(answer, dict) or not isinstance(answer.get("error"), str):
            problems.append("no typed error")
        elif answer.get("field") != case.field:
            problems.append(f"field {answer.get('field')!r}, expected {case.field!r}")
        if case.status == 405 and "Allow" not in resp.headers:
            problems.append("405 without an Allow header")
        if world.exchange.requests != before:
            problems.append("reached the exchange")
        if problems:
            failures.append(f"{case.name}: {'; '.join(problems)} -> {str(answer)[:300]}")
    assert not failures, "\n".join(failures)
    assert world.exchange.requests == 0 and world.exchange.placed == []
    assert await world.daemon.gw.list_orders(broker_id=broker) == []
    assert (await world.daemon.gw.get_broker(broker)).enabled  # no hostile kill went through

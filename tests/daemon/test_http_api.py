"""Every HTTP route, tenancy on every route, the error mapping and the OpenAPI document."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from pathlib import Path

import pytest

from terminal5 import jsonutil
from terminal5.daemon.openapi import build_document, path_params
from terminal5.daemon.routes import ROUTES
from terminal5.errors import RateLimitExceeded
from terminal5.testing.loopback_server import Fault

from .conftest import World, order_body


async def call(world: World, method: str, path: str, who: str | None = "user1", body=None, headers=None):
    h = dict(world.auth(who)) if who else {}
    if body is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    data = jsonutil.dumps(body) if body is not None else None
    resp = await world.client.request(method, path, data=data, headers=h)
    text = await resp.text()
    parsed = jsonutil.loads(text) if resp.content_type == "application/json" else text
    return resp, parsed


async def test_place_replay_get_cancel(world: World) -> None:
    b = world.brokers["one"]
    resp, order = await call(world, "POST", "/v1/orders", body=order_body(b, "web-1"))
    assert resp.status == 200, order
    assert order["status"] == "open" and order["client_order_id"] == "web-1"
    assert order["price"] == "43000.1" and order["quantity"] == "0.001"  # money as strings
    assert order["raw"]["orderId"] == order["id"] and order["user_id"] == 1
    resp, replay = await call(world, "POST", "/v1/orders", body=order_body(b, "web-1"))
    assert resp.status == 200 and replay["id"] == order["id"]
    assert world.exchange.placements("web-1") == 1  # the replay answered the stored order

    resp, got = await call(world, "GET", f"/v1/brokers/{b}/orders/web-1")
    assert resp.status == 200 and got["id"] == order["id"]
    resp, got = await call(world, "GET", f"/v1/brokers/{b}/orders/{order['id']}?by=order_id")
    assert resp.status == 200 and got["client_order_id"] == "web-1"
    world.exchange.fill(order["id"], Decimal("0.0004"))
    resp, got = await call(world, "GET", f"/v1/brokers/{b}/orders/web-1?refresh=true")
    assert resp.status == 200 and got["filled"] == "0.0004" and got["status"] == "open"

    resp, cancelled = await call(world, "DELETE", f"/v1/brokers/{b}/orders/web-1")
    assert resp.status == 200 and cancelled["status"] == "cancelled"
    resp, err = await call(world, "GET", f"/v1/brokers/{b}/orders/nope")
    assert resp.status == 404 and err["error"] == "OrderNotFound"


async def test_list_orders_filters_and_paging(world: World) -> None:
    b = world.brokers["one"]
    for i in range(3):
        resp, _ = await call(world, "POST", "/v1/orders", body=order_body(b, f"list-{i}"))
        assert resp.status == 200
    await call(world, "POST", "/v1/orders", body=order_body(b, "list-eth", symbol="ETH/USDT", quantity="0.01",
                                                               price="2000"))
    await call(world, "DELETE", f"/v1/brokers/{b}/orders/list-0")
    resp, page = await call(world, "GET", f"/v1/orders?broker_id={b}&limit=2")
    assert resp.status == 200 and len(page["orders"]) == 2 and page["next_offset"] == 2
    resp, page2 = await call(world, "GET", f"/v1/orders?broker_id={b}&limit=2&offset=2")
    assert {o["client_order_id"] for o in page["orders"] + page2["orders"]} == {"list-0", "list-1", "list-2",
                                                                                   "list-eth"}
    _, by_status = await call(world, "GET", "/v1/orders?status=cancelled")
    assert [o["client_order_id"] for o in by_status["orders"]] == ["list-0"]
    _, by_symbol = await call(world, "GET", "/v1/orders?symbol=ETH/USDT")
    assert [o["client_order_id"] for o in by_symbol["orders"]] == ["list-eth"]
    _, future = await call(world, "GET", "/v1/orders?since=2999-01-01T00:00:00Z")
    assert future["orders"] == []
    _, past = await call(world, "GET", "/v1/orders?until=2000-01-01T00:00:00Z")
    assert past["orders"] == []
    resp, err = await call(world, "GET", "/v1/orders?status=bogus")
    assert resp.status == 400 and err["field"] == "status"
    resp, err = await call(world, "GET", "/v1/orders?colour=red")
    assert resp.status == 400 and err["field"] == "colour"
    resp, err = await call(world, "GET", "/v1/orders?since=yesterday")
    assert resp.status == 400 and err["field"] == "since"


async def test_live_reads_reconcile_broker_routes(world: World) -> None:
    b = world.brokers["one"]
    await call(world, "POST", "/v1/orders", body=order_body(b, "live-1"))
    resp, live = await call(world, "GET", f"/v1/brokers/{b}/open-orders")
    assert resp.status == 200 and [o["client_order_id"] for o in live] == ["live-1"]
    resp, live = await call(world, "GET", f"/v1/brokers/{b}/open-orders?symbol=ETH/USDT")
    assert resp.status == 200 and live == []
    resp, balances = await call(world, "GET", f"/v1/brokers/{b}/balances")
    assert resp.status == 200 and {x["asset"]: x["free"] for x in balances}["USDT"] == "10000"
    resp, positions = await call(world, "GET", f"/v1/brokers/{b}/positions")
    assert resp.status == 200 and positions == []
    resp, rec = await call(world, "POST", f"/v1/brokers/{b}/reconcile")
    assert resp.status == 200 and rec["broker_id"] == b and rec["format_problems"] == 0
    resp, brokers = await call(world, "GET", "/v1/brokers")
    assert resp.status == 200 and [x["id"] for x in brokers] == [b]
    assert "api_secret" not in jsonutil.dumps(brokers) and "secret-one" not in jsonutil.dumps(brokers)
    resp, one = await call(world, "GET", f"/v1/brokers/{b}")
    assert resp.status == 200 and one["label"] == "one"
    resp, test = await call(world, "POST", f"/v1/brokers/{b}/test")
    assert resp.status == 200 and test["ok"] is True and test["market_types"]["swap"]["position_mode"] == "unknown"
    resp, exchanges = await call(world, "GET", "/v1/exchanges", who=None)
    assert resp.status == 200 and exchanges[0]["name"] == "loopback"
    assert exchanges[0]["order_types"]["spot"] and exchanges[0]["supported_params"]["swap"]


async def test_broker_test_reports_bad_keys(world: World) -> None:
    gw = world.daemon.gw
    bad = await gw.add_broker(user_id=1, exchange="loopback", label="bad", api_key="key-user-one",
                              api_secret="wrong-secret", base_url=world.exchange.url)
    resp, test = await call(world, "POST", f"/v1/brokers/{bad.id}/test")
    assert resp.status == 200 and test["ok"] is False and test["error"]["error"] == "AuthenticationError"
    assert "wrong-secret" not in jsonutil.dumps(test)


async def test_admin_sees_all_and_places_for_owner(world: World) -> None:
    resp, brokers = await call(world, "GET", "/v1/brokers", who="admin")
    assert {b["user_id"] for b in brokers} == {1, 2}
    resp, order = await call(world, "POST", "/v1/orders", who="admin", body=order_body(world.brokers["two"], "adm-1"))
    assert resp.status == 200 and order["user_id"] == 2
    _, orders = await call(world, "GET", "/v1/orders?user_id=2", who="admin")
    assert [o["client_order_id"] for o in orders["orders"]] == ["adm-1"]
    resp, _ = await call(world, "GET", "/v1/brokers?user_id=2", who="user1")
    assert resp.status == 403


# --- tenancy: every authenticated route, user 2 against user 1's resources ------------------------------
def tenancy_cases(one: int) -> dict[tuple[str, str], tuple[str, dict | None, int]]:
    """route -> (concrete path, body, expected status for user 2 acting on user 1)."""
    return {
        ("GET", "/v1/brokers"): ("/v1/brokers?user_id=1", None, 403),
        ("GET", "/v1/brokers/{broker_id}"): (f"/v1/brokers/{one}", None, 404),
        ("POST", "/v1/brokers/{broker_id}/test"): (f"/v1/brokers/{one}/test", None, 404),
        ("GET", "/v1/brokers/{broker_id}/open-orders"): (f"/v1/brokers/{one}/open-orders", None, 404),
        ("GET", "/v1/brokers/{broker_id}/balances"): (f"/v1/brokers/{one}/balances", None, 404),
        ("GET", "/v1/brokers/{broker_id}/positions"): (f"/v1/brokers/{one}/positions", None, 404),
        ("POST", "/v1/brokers/{broker_id}/reconcile"): (f"/v1/brokers/{one}/reconcile", None, 404),
        ("POST", "/v1/brokers/{broker_id}/kill"): (f"/v1/brokers/{one}/kill", {}, 404),
        ("POST", "/v1/brokers/{broker_id}/enable"): (f"/v1/brokers/{one}/enable", None, 404),
        ("POST", "/v1/brokers/{broker_id}/dead-man-switch"): (f"/v1/brokers/{one}/dead-man-switch", {"timeout": 60}, 404),
        ("POST", "/v1/users/{user_id}/kill"): ("/v1/users/1/kill", {}, 403),
        ("POST", "/v1/users/{user_id}/enable"): ("/v1/users/1/enable", None, 403),
        ("POST", "/v1/orders"): ("/v1/orders", order_body(one, "steal-1"), 404),
        ("GET", "/v1/orders"): ("/v1/orders?user_id=1", None, 403),
        ("GET", "/v1/brokers/{broker_id}/orders/{key}"): (f"/v1/brokers/{one}/orders/mine-1", None, 404),
        ("DELETE", "/v1/brokers/{broker_id}/orders/{key}"): (f"/v1/brokers/{one}/orders/mine-1", None, 404),
        ("PATCH", "/v1/brokers/{broker_id}/orders/{key}"): (f"/v1/brokers/{one}/orders/mine-1", {"price": "1"}, 404),
    }


async def test_tenancy_every_route(world: World) -> None:
    one = world.brokers["one"]
    resp, _ = await call(world, "POST", "/v1/orders", body=order_body(one, "mine-1"))
    assert resp.status == 200
    cases = tenancy_cases(one)
    authed = {(r.method, r.path) for r in ROUTES if r.auth}
    assert set(cases) == authed, "every authenticated route needs a tenancy case"
    for (method, _template), (path, body, expected) in cases.items():
        resp, err = await call(world, method, path, who="user2", body=body)
        assert resp.status == expected, (method, path, err)
        assert err["error"] in ("BrokerNotFound", "PermissionDenied"), err
        assert resp.status != 401
    # nothing of user 1 changed or leaked
    assert world.exchange.placements("steal-1") == 0
    broker = await world.daemon.gw.get_broker(one)
    assert broker.enabled
    _, own = await call(world, "GET", "/v1/orders", who="user2")
    assert own["orders"] == []
    _, brokers = await call(world, "GET", "/v1/brokers", who="user2")
    assert [b["id"] for b in brokers] == [world.brokers["two"]]
    # a body naming another user is refused, not silently re-owned
    resp, err = await call(world, "POST", "/v1/orders", who="user2",
                           body=order_body(world.brokers["two"], "x-1", user_id=1))
    assert resp.status == 403 and err["error"] == "PermissionDenied" and err["field"] == "user_id"


async def test_authentication(world: World) -> None:
    resp, err = await call(world, "GET", "/v1/brokers", who=None)
    assert resp.status == 401 and err["error"] == "AuthenticationError"
    resp, err = await call(world, "GET", "/v1/brokers", who=None, headers={"Authorization": "Bearer t5_nope"})
    assert resp.status == 401
    store = world.daemon.gw.tokens
    tokens = await world.daemon.gw.storage.run(store.list)
    user1 = next(t for t in tokens if t.user_id == 1)
    await world.daemon.gw.storage.run(store.revoke, user1.id)
    resp, err = await call(world, "GET", "/v1/brokers")
    assert resp.status == 401 and "revoked" in err["message"]
    stored = await world.daemon.gw.storage.run(lambda: [r.token_hash for r in world.daemon.gw.storage.m.ApiToken.select()])
    assert world.tokens["user2"] not in stored and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in stored)


# --- errors ------------------------------------------------------------------------------------------------
async def test_error_mapping(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    b = world.brokers["one"]
    # a JSON number is read as an exact Decimal (never through float)
    raw = jsonutil.dumps(order_body(b, "e0")).replace('"quantity":"0.001"', '"quantity":0.00100000000000000002')
    json_headers = {**world.auth("user1"), "Content-Type": "application/json"}
    resp = await world.client.post("/v1/orders", data=raw, headers=json_headers)
    assert resp.status == 400 and (await resp.json())["field"] == "quantity"  # not a step multiple: exact check
    resp, err = await call(world, "POST", "/v1/orders", body={**order_body(b, "e1"), "quantity": "abc"})
    assert resp.status == 400 and err["error"] == "InvalidOrderRequest" and err["field"] == "quantity"
    resp, err = await call(world, "POST", "/v1/orders", body=None, headers={"Content-Type": "application/json"})
    assert resp.status == 400 and err["error"] == "InvalidOrderRequest"
    resp = await world.client.post("/v1/orders", data="{nope", headers=json_headers)
    assert resp.status == 400 and (await resp.json())["field"] == "request"
    resp, err = await call(world, "POST", "/v1/orders", body=order_body(b, "e2", reduce_only=True))
    assert resp.status == 422 and err["error"] == "UnsupportedParameterError"
    resp, err = await call(world, "POST", "/v1/orders", body=order_body(b, "e3", quantity="100000", price="43000"))
    assert resp.status == 422 and err["error"] == "InsufficientFunds" and err["code"] == "INSUFFICIENT_FUNDS"
    await call(world, "POST", "/v1/orders", body=order_body(b, "e4"))
    resp, err = await call(world, "POST", "/v1/orders", body=order_body(b, "e4", quantity="0.002"))
    assert resp.status == 409 and err["error"] == "DuplicateOrder"
    resp, err = await call(world, "POST", "/v1/orders", body=order_body(b, "e5", symbol="DOGE/USDT"))
    assert resp.status == 400 and err["error"] == "BadSymbol"
    resp, err = await call(world, "PATCH", f"/v1/brokers/{b}/orders/e4", body={"price": "43001"})
    assert resp.status == 422 and err["error"] == "UnsupportedParameterError"
    resp, err = await call(world, "POST", f"/v1/brokers/{b}/dead-man-switch", body={"timeout": 60})
    assert resp.status == 422 and "dead-man" in err["message"]
    resp, err = await call(world, "GET", "/v1/brokers/abc")
    assert resp.status == 400 and err["field"] == "broker_id"
    resp, err = await call(world, "GET", "/v1/nothing-here")
    assert resp.status == 404 and err["error"] == "NotFound"

    world.exchange.inject(Fault(kind="error_before_accept", path="/api/balances", method="GET", status=503))
    resp, err = await call(world, "GET", f"/v1/brokers/{b}/balances")
    assert resp.status == 503 and err["error"] == "ExchangeNotAvailable" and err["exchange"] == "loopback"

    async def limited(*a, **k):
        raise RateLimitExceeded("slow down", exchange="loopback", code="RATE_LIMIT", retry_after=2.5)

    monkeypatch.setattr(world.daemon.api, "balances", limited)
    resp, err = await call(world, "GET", f"/v1/brokers/{b}/balances")
    assert resp.status == 429 and resp.headers["Retry-After"] == "3" and err["retry_after"] == Decimal("2.5")

    async def broken(*a, **k):
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr(world.daemon.api, "positions", broken)
    resp, err = await call(world, "GET", f"/v1/brokers/{b}/positions", headers={"X-Request-ID": "req-500"})
    assert resp.status == 500 and err == {
        "error": "InternalError", "message": "internal error, see logs (request_id req-500)", "request_id": "req-500"}


async def test_timeout_is_504_and_looked_up(world: World) -> None:
    b = world.brokers["one"]
    world.exchange.inject(Fault(kind="timeout_after_accept", delay=2.5))
    resp, order = await call(world, "POST", "/v1/orders", body=order_body(b, "slow-1"))
    # the gateway looks the order up by client id instead of failing: it exists, so the answer is the order
    assert resp.status in (200, 504), order
    assert world.exchange.placements("slow-1") == 1


async def test_request_id_travels_to_the_database(world: World) -> None:
    b = world.brokers["one"]
    resp, order = await call(world, "POST", "/v1/orders", body=order_body(b, "rid-1"),
                             headers={"X-Request-ID": "trace-abc-123"})
    assert resp.headers["X-Request-ID"] == "trace-abc-123" and order["request_id"] == "trace-abc-123"
    await world.daemon.gw.flush()
    m = world.daemon.gw.storage.m
    calls = await world.daemon.gw.storage.run(
        lambda: [c.endpoint for c in m.AuditRecord.select().where(m.AuditRecord.request_id == "trace-abc-123")])
    assert "order.place" in calls


async def test_kill_switch_and_enable(world: World) -> None:
    b = world.brokers["one"]
    await call(world, "POST", "/v1/orders", body=order_body(b, "k1"))
    await call(world, "POST", "/v1/orders", body=order_body(b, "k2", side="sell", price="50000"))
    resp, result = await call(world, "POST", f"/v1/brokers/{b}/kill", body={"reason": "drill"})
    assert resp.status == 200 and len(result["cancelled"]) == 2 and result["failed"] == []
    assert result["broker"]["enabled"] is False and result["broker"]["disabled_reason"] == "drill"
    assert all(o["status"] == "CANCELED" for o in world.exchange.orders.values())
    resp, err = await call(world, "POST", "/v1/orders", body=order_body(b, "k3"))
    assert resp.status == 423 and err["error"] == "BrokerDisabled"
    assert world.exchange.placements("k3") == 0
    resp, _ = await call(world, "POST", f"/v1/brokers/{b}/enable")
    assert resp.status == 200
    resp, order = await call(world, "POST", "/v1/orders", body=order_body(b, "k3"))
    assert resp.status == 200 and order["status"] == "open"
    # a user's kill switch covers each of its brokers
    resp, result = await call(world, "POST", "/v1/users/1/kill", body={})
    assert resp.status == 200 and result["user_id"] == 1 and len(result["brokers"]) == 1
    assert result["brokers"][0]["cancelled"] == [order["id"]]
    resp, result = await call(world, "POST", "/v1/users/1/enable")
    assert resp.status == 200 and result["brokers"][0]["enabled"] is True


async def test_graceful_shutdown_finishes_in_flight_orders(world: World) -> None:
    b = world.brokers["one"]
    world.exchange.inject(Fault(kind="timeout_after_accept", delay=0.5))
    in_flight = asyncio.ensure_future(call(world, "POST", "/v1/orders", body=order_body(b, "inflight-1")))
    for _ in range(100):
        if world.exchange.placements("inflight-1"):
            break
        await asyncio.sleep(0.01)
    world.daemon.request_stop("SIGTERM")
    resp, _ = await call(world, "POST", "/v1/orders", body=order_body(b, "late-1"))
    assert resp.status == 503 and world.exchange.placements("late-1") == 0
    assert await world.daemon.api.drain(5) == 1
    resp, order = await in_flight
    assert resp.status == 200 and order["status"] == "open"


# --- the document ------------------------------------------------------------------------------------------
async def test_openapi_matches_the_handlers(world: World) -> None:
    resp, doc = await call(world, "GET", "/v1/openapi.json", who=None)
    assert resp.status == 200 and doc == jsonutil.loads(jsonutil.dumps(build_document()))
    served = {(r.method, r.resource.canonical) for r in world.client.app.router.routes()}
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for path, ops in doc["paths"].items():
        for op in ops.values():
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert declared == set(path_params(path))
            for ref in re.findall(r'"\$ref":"#/components/schemas/(\w+)"', jsonutil.dumps(op)):
                assert ref in doc["components"]["schemas"]
    # a handler reading an undeclared query parameter fails loudly (so the doc cannot drift)
    from terminal5.daemon import http

    source = Path(http.__file__).read_text()  # noqa: ASYNC240
    for route in ROUTES:
        for name in re.findall(rf"async def {route.operation}\(.*?(?=\n    async def |\ndef )", source, re.S):
            for q in re.findall(r'query\(request, "(\w+)"\)', name):
                assert q in {p.name for p in route.query}, (route.operation, q)

"""Who may do what: every route against every role (anonymous, the owner, another user, an admin), and the
kill-switch rule: a kill set by an admin is lifted only by an admin."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from terminal5 import jsonutil
from terminal5.daemon.routes import ROUTES

from .conftest import World, order_body

ROLES = ("anonymous", "other", "owner", "admin")
TOKEN_OF = {"other": "user2", "owner": "user1", "admin": "admin"}
_ids = itertools.count(1)


async def call(world: World, role: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = dict(world.auth(TOKEN_OF[role])) if role != "anonymous" else {}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = jsonutil.dumps(body)
    resp = await world.client.request(method, path, data=data, headers=headers)
    text = await resp.text()
    return resp.status, (jsonutil.loads(text) if resp.content_type == "application/json" else text)


async def killed_by_admin(world: World) -> None:
    status, _ = await call(world, "admin", "POST", f"/v1/brokers/{world.brokers['one']}/kill", {"reason": "admin"})
    assert status == 200


async def fresh_order(world: World) -> str:
    await world.daemon.gw.storage.run(world.daemon.gw.brokers.set_enabled, world.brokers["one"], True)
    cid = f"auth-{next(_ids)}"
    status, order = await call(world, "owner", "POST", "/v1/orders", order_body(world.brokers["one"], cid))
    assert status == 200, order
    return cid


Setup = Callable[[World], Awaitable[Any]]


async def nothing(world: World) -> None:
    await world.daemon.gw.storage.run(world.daemon.gw.brokers.set_enabled, world.brokers["one"], True)


# (method, route) -> (setup, path with {b} and {cid}, body, {role: expected status})
OPEN = dict.fromkeys(ROLES, 200)
OWNED = {"anonymous": 401, "other": 404, "owner": 200, "admin": 200}
OWNED_422 = {"anonymous": 401, "other": 404, "owner": 422, "admin": 422}
USER_1 = {"anonymous": 401, "other": 403, "owner": 200, "admin": 200}
TABLE: dict[tuple[str, str], tuple[Setup, str, Any, dict[str, int]]] = {
    ("GET", "/health"): (nothing, "/health", None, OPEN),
    ("GET", "/metrics"): (nothing, "/metrics", None, OPEN),
    ("GET", "/v1/openapi.json"): (nothing, "/v1/openapi.json", None, OPEN),
    ("GET", "/v1/exchanges"): (nothing, "/v1/exchanges", None, OPEN),
    ("GET", "/v1/brokers"): (nothing, "/v1/brokers", None, {**OPEN, "anonymous": 401}),
    ("GET", "/v1/brokers/{broker_id}"): (nothing, "/v1/brokers/{b}", None, OWNED),
    ("POST", "/v1/brokers/{broker_id}/test"): (nothing, "/v1/brokers/{b}/test", None, OWNED),
    ("GET", "/v1/brokers/{broker_id}/open-orders"): (nothing, "/v1/brokers/{b}/open-orders", None, OWNED),
    ("GET", "/v1/brokers/{broker_id}/balances"): (nothing, "/v1/brokers/{b}/balances", None, OWNED),
    ("GET", "/v1/brokers/{broker_id}/positions"): (nothing, "/v1/brokers/{b}/positions", None, OWNED),
    ("POST", "/v1/brokers/{broker_id}/reconcile"): (nothing, "/v1/brokers/{b}/reconcile", None, OWNED),
    ("POST", "/v1/brokers/{broker_id}/kill"): (nothing, "/v1/brokers/{b}/kill", {"reason": "drill"}, OWNED),
    # the kill was an admin's: the owner may not lift it
    ("POST", "/v1/brokers/{broker_id}/enable"): (
        killed_by_admin, "/v1/brokers/{b}/enable", None, {**OWNED, "owner": 403}),
    ("POST", "/v1/brokers/{broker_id}/dead-man-switch"): (
        nothing, "/v1/brokers/{b}/dead-man-switch", {"timeout": 60}, OWNED_422),
    ("POST", "/v1/users/{user_id}/kill"): (nothing, "/v1/users/1/kill", {}, USER_1),
    ("POST", "/v1/users/{user_id}/enable"): (killed_by_admin, "/v1/users/1/enable", None, {**USER_1, "owner": 403}),
    ("POST", "/v1/orders"): (nothing, "/v1/orders", "order", OWNED),
    ("GET", "/v1/orders"): (nothing, "/v1/orders?user_id=1", None, USER_1),
    ("GET", "/v1/brokers/{broker_id}/orders/{key}"): (fresh_order, "/v1/brokers/{b}/orders/{cid}", None, OWNED),
    ("DELETE", "/v1/brokers/{broker_id}/orders/{key}"): (fresh_order, "/v1/brokers/{b}/orders/{cid}", None, OWNED),
    ("PATCH", "/v1/brokers/{broker_id}/orders/{key}"): (
        fresh_order, "/v1/brokers/{b}/orders/{cid}", {"price": "43001"}, OWNED_422),
}


async def test_every_route_against_every_role(world: World) -> None:
    assert set(TABLE) == {(r.method, r.path) for r in ROUTES}, "every route needs a row"
    broker = world.brokers["one"]
    failures = []
    for (method, template), (setup, path, body, expected) in TABLE.items():
        for role in ROLES:
            made = await setup(world)
            concrete = path.replace("{b}", str(broker)).replace("{cid}", str(made))
            payload = order_body(broker, f"route-{next(_ids)}") if body == "order" else body
            status, answer = await call(world, role, method, concrete, payload)
            if status != expected[role]:
                failures.append(f"{role} {method} {template}: {status}, expected {expected[role]}: {answer}")
            elif status >= 400 and not isinstance(answer, dict):
                failures.append(f"{role} {method} {template}: untyped error {answer!r}")
    assert not failures, "\n".join(failures)


async def test_a_kill_set_by_an_admin_is_lifted_only_by_an_admin(world: World) -> None:
    b = world.brokers["one"]
    await killed_by_admin(world)
    status, err = await call(world, "owner", "POST", f"/v1/brokers/{b}/enable")
    assert status == 403 and err["error"] == "PermissionDenied" and "admin" in err["message"]
    info = await world.daemon.gw.get_broker(b)
    assert not info.enabled and info.disabled_by == "admin"
    status, err = await call(world, "owner", "POST", "/v1/orders", order_body(b, "after-admin-kill"))
    assert status == 423 and world.exchange.placements("after-admin-kill") == 0
    # the owner killing it again does not lower it to a user's kill
    status, _ = await call(world, "owner", "POST", f"/v1/brokers/{b}/kill", {"reason": "me too"})
    assert status == 200 and (await world.daemon.gw.get_broker(b)).disabled_by == "admin"
    assert (await call(world, "owner", "POST", f"/v1/brokers/{b}/enable"))[0] == 403
    status, lifted = await call(world, "admin", "POST", f"/v1/brokers/{b}/enable")
    assert status == 200 and lifted["enabled"] is True and lifted["disabled_by"] is None


async def test_a_users_own_kill_is_lifted_by_that_user(world: World) -> None:
    b = world.brokers["one"]
    status, result = await call(world, "owner", "POST", f"/v1/brokers/{b}/kill", {"reason": "mine"})
    assert status == 200 and result["broker"]["disabled_by"] == "user"
    status, lifted = await call(world, "owner", "POST", f"/v1/brokers/{b}/enable")
    assert status == 200 and lifted["enabled"] is True


async def test_a_users_enable_is_all_or_nothing(world: World) -> None:
    gw = world.daemon.gw
    extra = await gw.add_broker(user_id=1, exchange="loopback", label="extra", api_key="key-user-one",
                                api_secret="secret-one", base_url=world.exchange.url)
    assert (await call(world, "owner", "POST", f"/v1/brokers/{extra.id}/kill", {}))[0] == 200
    await killed_by_admin(world)
    status, err = await call(world, "owner", "POST", "/v1/users/1/enable")
    assert status == 403 and err["details"] == {"brokers": [world.brokers["one"]]}
    assert not (await gw.get_broker(extra.id)).enabled  # nothing was half lifted
    status, _ = await call(world, "admin", "POST", "/v1/users/1/enable")
    assert status == 200 and all(b.enabled for b in await gw.list_brokers(1))

"""The OpenAPI document says exactly what the server does: ids, nullable answers, closed bodies, the
statuses each route can answer, and the amount pattern the server itself applies."""

from __future__ import annotations

import re
import typing

import attrs
import pytest

from terminal5.daemon.api import money_wire_error
from terminal5.daemon.openapi import ERROR_STATUSES, MONEY, SCHEMAS, build_document
from terminal5.daemon.routes import ROUTES
from terminal5.models import Order

from .conftest import World

DOC = build_document()


def operations() -> list[tuple[str, str, dict]]:
    return [(path, method, op) for path, ops in DOC["paths"].items() for method, op in ops.items()]


def allows_null(schema: dict) -> bool:
    if "$ref" in schema:
        return False
    kinds = schema.get("type")
    return (isinstance(kinds, list) and "null" in kinds) or None in schema.get("enum", [])


def test_ids_are_positive_and_fit_their_columns() -> None:
    for path, method, op in operations():
        for param in op["parameters"]:
            if param["name"].endswith("_id"):
                assert param["schema"]["minimum"] == 1 and param["schema"]["maximum"] == 2**31 - 1, (path, method)
    for name in ("broker_id", "user_id"):
        assert SCHEMAS["OrderRequest"]["properties"][name]["minimum"] == 1


def test_every_optional_order_field_is_declared_nullable() -> None:
    properties = SCHEMAS["Order"]["properties"]
    hints = typing.get_type_hints(Order)
    assert set(properties) == {f.name for f in attrs.fields(Order)}
    for field in attrs.fields(Order):
        optional = type(None) in typing.get_args(hints[field.name])
        assert allows_null(properties[field.name]) == optional, field.name


def test_bodies_are_closed() -> None:
    for name in ("OrderRequest", "EditRequest", "KillRequest", "DeadManRequest"):
        assert SCHEMAS[name]["additionalProperties"] is False, name


def test_every_route_lists_its_error_statuses() -> None:
    from terminal5.daemon.routes import ERRORS

    assert {r.operation for r in ROUTES} == set(ERRORS)


def test_each_route_declares_only_what_it_can_answer() -> None:
    assert {str(s) for s in ERROR_STATUSES} | {"200"} == set(DOC["paths"]["/v1/orders"]["post"]["responses"])
    assert set(DOC["paths"]["/v1/brokers/{broker_id}"]["get"]["responses"]) == {"200", "400", "401", "404", "503"}
    assert set(DOC["paths"]["/health"]["get"]["responses"]) == {"200", "400", "503"}
    for path, method, op in operations():
        declared = set(op["responses"])
        route = next(r for r in ROUTES if r.path == path and r.method.lower() == method)
        if route.body:
            assert {"413", "415"} <= declared, (path, method)
        else:
            assert not {"413", "415"} & declared, (path, method)
        if not route.auth:
            assert "401" not in declared, (path, method)
        assert ("423" in declared) == (route.operation == "place_order")
    assert DOC["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"]["required"] is True


@pytest.mark.parametrize(
    "text",
    ["0.001", "43000", "43000.10", "00.5", "0", "1e5", "1E-8", "-1", "+1", " 1", "1 ", "1.", ".5", "1_000",
     "1" * 20, "1" * 21, "0." + "1" * 18, "0." + "1" * 19, "\u0661", "0x10", "NaN", ""],
)
def test_the_amount_pattern_is_the_servers(text: str) -> None:
    documented = re.fullmatch(MONEY["pattern"].strip("^$"), text, re.ASCII) is not None
    assert documented == (money_wire_error(text) is None), text


async def test_405_names_the_allowed_methods(world: World) -> None:
    resp = await world.client.put("/v1/orders", headers=world.auth("user1"))
    body = await resp.json()
    assert resp.status == 405 and set(resp.headers["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert body["error"] == "MethodNotAllowed" and body["field"] == "method"

"""The HTTP route table: the single source for the aiohttp router and the OpenAPI document.

Handlers may only read query parameters declared here (``query()`` in ``http.py`` refuses others), so
the published document and the handlers cannot drift apart; a test compares the two.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Param:
    name: str
    type: str = "string"  # OpenAPI scalar type
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] = ()


@attrs.frozen
class Route:
    method: str
    path: str
    operation: str  # the handler name in http.py, and the OpenAPI operationId
    summary: str
    auth: bool = True
    query: tuple[Param, ...] = ()
    body: str | None = None  # a schema name in openapi.SCHEMAS
    response: str = "object"  # a schema name, or "object"/"array"/"text"
    statuses: tuple[int, ...] = (200,)
    errors: tuple[int, ...] = ()  # every error status the route can answer (the document declares exactly these)


#: 400 for every route: an undeclared or repeated query parameter
OPEN = (400,)
#: authenticated: bad input, bad token, the database unreachable (or the gateway shutting down)
AUTHED = (400, 401, 503)
#: one of the caller's brokers (a foreign one is a 404, like a missing one)
OWNED = (*AUTHED, 404)
#: and the exchange is asked: its errors, mapped onto the taxonomy
EXCHANGE = (*OWNED, 403, 422, 429, 502, 504)
#: a JSON body
BODY = (413, 415)

BY = Param("by", description="what {key} is", enum=("client_order_id", "order_id"))
SYMBOL = Param("symbol", description="unified symbol (BTC/USDT, BTC/USDT:USDT)")

_ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "health", "Heartbeat table (UP/STALE/DOWN), database and Redis reachability", auth=False),
    Route("GET", "/metrics", "metrics", "Prometheus text exposition", auth=False, response="text"),
    Route("GET", "/v1/openapi.json", "openapi", "This document", auth=False),
    Route("GET", "/v1/exchanges", "exchanges", "Exchanges of the installed plugins", auth=False, response="array"),
    Route(
        "GET",
        "/v1/brokers",
        "list_brokers",
        "The caller's brokers (an admin: every broker, or ?user_id=)",
        query=(Param("user_id", "integer"),),
        response="array",
    ),
    Route("GET", "/v1/brokers/{broker_id}", "get_broker", "One broker (never a secret)", response="Broker"),
    Route(
        "POST",
        "/v1/brokers/{broker_id}/test",
        "test_broker",
        "Check the keys with an authenticated read; futures position and margin modes",
    ),
    Route(
        "GET",
        "/v1/brokers/{broker_id}/open-orders",
        "open_orders",
        "Open orders, live from the exchange",
        query=(SYMBOL,),
        response="array",
    ),
    Route("GET", "/v1/brokers/{broker_id}/balances", "balances", "Balances, live", response="array"),
    Route("GET", "/v1/brokers/{broker_id}/positions", "positions", "Positions (futures), live", response="array"),
    Route(
        "POST",
        "/v1/brokers/{broker_id}/reconcile",
        "reconcile",
        "Exchange open orders vs database, then the format validator",
    ),
    Route(
        "POST",
        "/v1/brokers/{broker_id}/kill",
        "kill_broker",
        "Kill switch: refuse new orders and cancel every open order of the broker",
        body="KillRequest",
    ),
    Route("POST", "/v1/brokers/{broker_id}/enable", "enable_broker", "Lift the kill switch of a broker"),
    Route(
        "POST",
        "/v1/brokers/{broker_id}/dead-man-switch",
        "dead_man_switch",
        "The exchange's cancel-all-after timer (e.g. Kraken CancelAllOrdersAfter); 0 disables",
        body="DeadManRequest",
    ),
    Route(
        "POST", "/v1/users/{user_id}/kill", "kill_user", "Kill switch for every broker of a user", body="KillRequest"
    ),
    Route("POST", "/v1/users/{user_id}/enable", "enable_user", "Lift the kill switch of every broker of a user"),
    Route(
        "POST",
        "/v1/orders",
        "place_order",
        "Place an order; idempotent on client_order_id (a replay answers the stored order)",
        body="OrderRequest",
        response="Order",
    ),
    Route(
        "GET",
        "/v1/orders",
        "list_orders",
        "Stored orders with filters and paging",
        response="OrderPage",
        query=(
            Param("broker_id", "integer"),
            Param("user_id", "integer", "admin only (a user sees its own)"),
            Param("status", enum=("open", "closed", "cancelled", "UNKNOWN", "pending_submit", "rejected")),
            SYMBOL,
            Param("since", description="ISO-8601 with timezone, created_at >= since"),
            Param("until", description="ISO-8601 with timezone, created_at < until"),
            Param("limit", "integer", "1..500, default 100"),
            Param("offset", "integer"),
        ),
    ),
    Route(
        "GET",
        "/v1/brokers/{broker_id}/orders/{key}",
        "get_order",
        "One order by client id (default) or exchange id; refresh=true asks the exchange",
        query=(BY, Param("refresh", "boolean"), SYMBOL),
        response="Order",
    ),
    Route(
        "DELETE",
        "/v1/brokers/{broker_id}/orders/{key}",
        "cancel_order",
        "Cancel an order",
        query=(BY, SYMBOL),
        response="Order",
    ),
    Route(
        "PATCH",
        "/v1/brokers/{broker_id}/orders/{key}",
        "edit_order",
        "Amend quantity and/or price where the exchange supports it (422 otherwise)",
        query=(BY,),
        body="EditRequest",
        response="Order",
    ),
)

#: the error statuses of each operation (what its handler, the front door and the exchange can answer)
ERRORS: dict[str, tuple[int, ...]] = {
    "health": (*OPEN, 503),
    "metrics": OPEN,
    "openapi": OPEN,
    "exchanges": OPEN,
    "list_brokers": (*AUTHED, 403),
    "get_broker": OWNED,
    "test_broker": OWNED,
    "open_orders": EXCHANGE,
    "balances": EXCHANGE,
    "positions": EXCHANGE,
    "reconcile": EXCHANGE,
    "kill_broker": (*OWNED, *BODY),
    "enable_broker": (*OWNED, 403),
    "dead_man_switch": (*EXCHANGE, *BODY),
    "kill_user": (*AUTHED, 403, *BODY),
    "enable_user": (*AUTHED, 403),
    "place_order": (*EXCHANGE, 409, 423, *BODY),
    "list_orders": (*AUTHED, 403),
    "get_order": EXCHANGE,
    "cancel_order": EXCHANGE,
    "edit_order": (*EXCHANGE, *BODY),
}


def _errors(route: Route) -> tuple[int, ...]:
    # A route missing from ERRORS gets the widest set (a test fails until it is listed).
    listed = ERRORS.get(route.operation, (*EXCHANGE, 409, 423, *BODY))
    return tuple(sorted(set(listed)))


ROUTES: tuple[Route, ...] = tuple(attrs.evolve(r, errors=_errors(r)) for r in _ROUTES)

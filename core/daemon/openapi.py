"""The OpenAPI 3.1 document, generated from ``routes.ROUTES``."""

from __future__ import annotations

import re
from typing import Any

from terminal5.daemon.routes import ROUTES, Param, Route

MAX_ID = 2**31 - 1  # the INTEGER id columns (terminal5.wire.MAX_ID)
#: an amount in a request: what the server accepts, exactly (api.MONEY_WIRE_RE)
MONEY = {
    "type": "string",
    "pattern": r"^\d{1,20}(\.\d{1,18})?$",
    "description": "a positive decimal written plainly: up to 20 digits, optionally a point and up to 18 decimals",
}
#: an amount in an answer (fees and PnL may be negative)
MONEY_OUT = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "decimal as a string"}
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
DATE_TIME = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$",
    "description": "RFC 3339 with a timezone, e.g. 2026-01-21T14:32:15Z",
}
SYMBOL = {
    "type": "string",
    "pattern": r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20}(-\d{6})?)?$",
    "description": "unified symbol: BASE/QUOTE (spot), BASE/QUOTE:SETTLE (swap), BASE/QUOTE:SETTLE-YYMMDD",
}
ORDER_TYPES = ["market", "limit", "limit_maker", "stop_loss", "stop_loss_limit", "take_profit", "take_profit_limit"]
STATUSES = ["open", "closed", "cancelled", "UNKNOWN", "pending_submit", "rejected"]


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    return {**schema, "type": [schema["type"], "null"]}


def _obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    if required:
        out["required"] = required
    return out


STR = {"type": "string"}
STR_OR_NULL = {"type": ["string", "null"]}
TRADE = _obj(
    {
        "id": STR,
        "order_id": STR_OR_NULL,
        "symbol": STR,
        "side": {"enum": ["buy", "sell", None]},
        "price": MONEY_OUT,
        "quantity": MONEY_OUT,
        "fee": nullable(MONEY_OUT),
        "fee_currency": STR_OR_NULL,
        "timestamp": STR_OR_NULL,
        "maker": {"type": ["boolean", "null"]},
    },
    ["id", "symbol", "price", "quantity"],
)
ORDER_FIELDS: dict[str, Any] = {
    "exchange": STR,
    "symbol": STR,
    "side": {"enum": ["buy", "sell"]},
    "type": {"enum": ORDER_TYPES},
    "quantity": MONEY_OUT,
    "status": {"enum": STATUSES},
    "id": STR_OR_NULL,
    "client_order_id": STR_OR_NULL,
    "native_client_id": STR_OR_NULL,
    "price": nullable(MONEY_OUT),
    "stop_price": nullable(MONEY_OUT),
    "filled": MONEY_OUT,
    "remaining": nullable(MONEY_OUT),
    "average": nullable(MONEY_OUT),
    "native_status": STR_OR_NULL,
    "fee": nullable(MONEY_OUT),
    "fee_currency": STR_OR_NULL,
    "trades": {"type": "array", "items": {"$ref": "#/components/schemas/Trade"}},
    "time_in_force": {"enum": ["GTC", "IOC", "FOK", "GTD", None]},
    "reduce_only": {"type": "boolean"},
    "position_side": {"enum": ["LONG", "SHORT", None]},
    "user_id": {"type": ["integer", "null"]},
    "broker_id": {"type": ["integer", "null"]},
    "source": {"enum": ["manual", "strategy", "webhook", "external", None]},
    "request_id": STR_OR_NULL,
    "created_at": STR_OR_NULL,
    "updated_at": STR_OR_NULL,
    "ignored_params": {"type": "array", "items": STR},
    "parent_client_order_id": STR_OR_NULL,
    "raw": {"type": ["object", "null"], "description": "the native payload as received"},
}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {
            "error": {"type": "string", "description": "taxonomy class name, e.g. InsufficientFunds"},
            "message": STR,
            "field": {"type": "string", "description": "the field (or header, or query parameter) at fault"},
            "exchange": STR,
            "code": {"type": ["string", "integer"], "description": "the exchange's native error code"},
            "details": {"type": ["array", "object"]},
            "retry_after": {"type": "number"},
            "request_id": STR,
        },
        ["error", "message"],
    ),
    "OrderRequest": _obj(
        {
            "broker_id": ID,
            "user_id": {**ID, "description": "defaults to the token's user (403 if different)"},
            "symbol": SYMBOL,
            "side": {"enum": ["buy", "sell"]},
            "type": {"enum": ORDER_TYPES},
            "quantity": MONEY,
            "price": nullable(MONEY),
            "client_order_id": nullable({"type": "string", "pattern": r"^[A-Za-z0-9._:/-]{1,64}$"}),
            "source": {"enum": ["manual", "strategy", "webhook"]},
            "time_in_force": {"enum": ["GTC", "IOC", "FOK", "GTD", None]},
            "expire_at": nullable(DATE_TIME),
            "reduce_only": {"type": "boolean"},
            "stop_price": nullable(MONEY),
            "position_side": {"enum": ["LONG", "SHORT", None]},
            "margin_mode": {"enum": ["isolated", "cross", None]},
            "stop_loss_price": nullable(MONEY),
            "take_profit_price": nullable(MONEY),
            "trailing_delta": nullable(MONEY),
            "iceberg_qty": nullable(MONEY),
            "extra_params": {
                "type": "object",
                "description": "Level 3: sent verbatim (no floats: numbers with a fraction go as strings)",
                "maxProperties": 50,
                "propertyNames": {"minLength": 1},
                "additionalProperties": {
                    "anyOf": [
                        {"type": "string", "maxLength": 500},
                        {"type": "integer", "minimum": -(2**63) + 1, "maximum": 2**63 - 1},
                        {"type": "boolean"},
                    ]
                },
            },
        },
        ["broker_id", "symbol", "side", "type", "quantity"],
        additionalProperties=False,
    ),
    "Trade": TRADE,
    "Order": _obj(ORDER_FIELDS, ["exchange", "symbol", "side", "type", "quantity", "status"]),
    "OrderPage": _obj(
        {
            "orders": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "next_offset": {"type": ["integer", "null"]},
        },
        ["orders", "limit", "offset", "next_offset"],
    ),
    "Broker": _obj(
        {
            "id": ID,
            "user_id": {"type": "integer"},
            "exchange": STR,
            "label": STR,
            "testnet": {"type": "boolean"},
            "base_url": STR_OR_NULL,
            "key_hint": STR,
            "base_urls": {"type": "object", "additionalProperties": {"type": "string"}},
            "options": {"type": "object"},
            "enabled": {"type": "boolean"},
            "disabled_reason": STR_OR_NULL,
            "disabled_by": {"enum": ["admin", "user", None], "description": "who set the kill switch"},
        },
        ["id", "user_id", "exchange", "label", "enabled"],
    ),
    "EditRequest": _obj(
        {"quantity": nullable(MONEY), "price": nullable(MONEY), "symbol": nullable(SYMBOL)},
        additionalProperties=False,
        anyOf=[{"required": ["quantity"]}, {"required": ["price"]}],
    ),
    "KillRequest": _obj({"reason": nullable({"type": "string", "maxLength": 500})}, additionalProperties=False),
    "DeadManRequest": _obj(
        {"timeout": {"type": "integer", "minimum": 0, "maximum": 86_400, "description": "whole seconds; 0 disables"}},
        ["timeout"],
        additionalProperties=False,
    ),
}

ERROR_STATUSES = {
    400: "invalid request (InvalidOrderRequest naming the field, InvalidOrder, BadSymbol)",
    401: "missing/invalid token, or the exchange refused the keys",
    403: "PermissionDenied",
    404: "BrokerNotFound / OrderNotFound / ExchangeNotFound",
    409: "DuplicateOrder",
    413: "the body is larger than 64 KiB",
    415: "the body is not application/json",
    422: "UnsupportedParameterError / InsufficientFunds",
    423: "BrokerDisabled (kill switch)",
    429: "RateLimitExceeded (Retry-After header)",
    502: "ExchangeError / NetworkError",
    503: "ExchangeNotAvailable, the database is unreachable, or this gateway is shutting down",
    504: "RequestTimeout (the order's outcome is looked up, never re-sent)",
}
#: what a 405 (a method the path does not serve) answers, for every path
METHOD_NOT_ALLOWED = {
    "description": "the path does not serve this method; Allow lists those it does",
    "headers": {"Allow": {"required": True, "schema": {"type": "string"}}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


#: one example per path parameter and body (the explicit cases of the schemathesis test use them)
EXAMPLES: dict[str, Any] = {
    "broker_id": 1,
    "user_id": 1,
    "key": "example-1",
    "OrderRequest": {"broker_id": 1, "symbol": "BTC/USDT", "side": "buy", "type": "market", "quantity": "0.001",
                     "client_order_id": "example-1"},
    "EditRequest": {"price": "43001"},
    "KillRequest": {"reason": "drill"},
    "DeadManRequest": {"timeout": 60},
}


def path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def _schema(name: str) -> dict[str, Any]:
    if name in SCHEMAS:
        return {"$ref": f"#/components/schemas/{name}"}
    return {"type": name}


def _query_schema(q: Param) -> dict[str, Any]:
    if q.enum:
        return {"type": "string", "enum": list(q.enum)}
    if q.name in ("user_id", "broker_id"):
        return dict(ID)
    if q.name == "limit":
        return {"type": "integer", "minimum": 1, "maximum": 500}
    if q.name == "offset":
        return {"type": "integer", "minimum": 0, "maximum": 10_000_000}
    if q.name == "symbol":
        return dict(SYMBOL)
    if q.name in ("since", "until"):
        return dict(DATE_TIME)
    return {"type": q.type}


def _path_schema(name: str) -> dict[str, Any]:
    if name.endswith("_id"):
        return dict(ID)
    return {"type": "string", "minLength": 1, "maxLength": 128}


def _operation(route: Route) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": _path_schema(n), "example": EXAMPLES.get(n, 1 if n.endswith("_id") else "x")}
        for n in path_params(route.path)
    ]
    for q in route.query:
        params.append(
            {"name": q.name, "in": "query", "required": q.required, "schema": _query_schema(q),
             "description": q.description}
        )
    if route.auth:
        params.append({"name": "X-Request-ID", "in": "header", "required": False, "schema": {"type": "string"},
                       "description": "your request id (1-64 of A-Z a-z 0-9 . _ : -), echoed; else a new one"})
    content_type = "text/plain" if route.response == "text" else "application/json"
    responses: dict[str, Any] = {
        str(s): {
            "description": "OK" if s < 400 else ERROR_STATUSES.get(s, "unavailable"),
            "content": {
                content_type: {"schema": _schema(route.response) if route.response != "text" else {"type": "string"}}
            },
        }
        for s in route.statuses
    }
    for status in route.errors:
        responses[str(status)] = {
            "description": ERROR_STATUSES[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if status == 429:
            responses[str(status)]["headers"] = {"Retry-After": {"schema": {"type": "string"}}}
    op: dict[str, Any] = {
        "operationId": route.operation,
        "summary": route.summary,
        "parameters": params,
        "responses": dict(sorted(responses.items())),
    }
    if route.body:
        op["requestBody"] = {
            "required": route.body in ("OrderRequest", "EditRequest", "DeadManRequest"),
            "content": {"application/json": {"schema": _schema(route.body), "example": EXAMPLES.get(route.body, {})}},
        }
    op["security"] = [{"bearer": []}] if route.auth else []
    return op


def build_document(version: str = "0.1.0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Terminal 5 gateway",
            "version": version,
            "description": "Unified orders over exchange plugins. Money is sent and answered as decimal strings.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": {"MethodNotAllowed": METHOD_NOT_ALLOWED},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "terminal5 token create --user N"}
            },
        },
    }

"""The OpenAPI 3.1 document, generated from ``routes.ROUTES``."""

from __future__ import annotations

import re
from typing import Any

from terminal5.daemon.routes import ROUTES, Route

MONEY = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "decimal as a string"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "taxonomy class name, e.g. InsufficientFunds"},
            "message": {"type": "string"},
            "field": {"type": "string"},
            "exchange": {"type": "string"},
            "code": {"description": "the exchange's native error code"},
            "details": {},
            "retry_after": {"type": "number"},
            "request_id": {"type": "string"},
        },
    },
    "OrderRequest": {
        "type": "object",
        "required": ["broker_id", "symbol", "side", "type", "quantity"],
        "additionalProperties": False,
        "properties": {
            "broker_id": {"type": "integer"},
            "user_id": {"type": "integer", "description": "defaults to the token's user (403 if different)"},
            "symbol": {"type": "string"},
            "side": {"enum": ["buy", "sell"]},
            "type": {
                "enum": [
                    "market",
                    "limit",
                    "limit_maker",
                    "stop_loss",
                    "stop_loss_limit",
                    "take_profit",
                    "take_profit_limit",
                ]
            },
            "quantity": MONEY,
            "price": MONEY,
            "client_order_id": {"type": "string", "maxLength": 64},
            "source": {"enum": ["manual", "strategy", "webhook"]},
            "time_in_force": {"enum": ["GTC", "IOC", "FOK", "GTD"]},
            "expire_at": {"type": "string", "format": "date-time"},
            "reduce_only": {"type": "boolean"},
            "stop_price": MONEY,
            "position_side": {"enum": ["LONG", "SHORT"]},
            "margin_mode": {"enum": ["isolated", "cross"]},
            "stop_loss_price": MONEY,
            "take_profit_price": MONEY,
            "trailing_delta": MONEY,
            "iceberg_qty": MONEY,
            "extra_params": {"type": "object", "description": "Level 3: sent verbatim"},
        },
    },
    "Order": {
        "type": "object",
        "properties": {
            "exchange": {"type": "string"},
            "id": {"type": ["string", "null"]},
            "client_order_id": {"type": "string"},
            "symbol": {"type": "string"},
            "side": {"type": "string"},
            "type": {"type": "string"},
            "quantity": MONEY,
            "price": MONEY,
            "filled": MONEY,
            "remaining": MONEY,
            "status": {"enum": ["open", "closed", "cancelled", "UNKNOWN", "pending_submit", "rejected"]},
            "native_status": {"type": ["string", "null"]},
            "raw": {"type": ["object", "null"], "description": "the native payload as received"},
        },
    },
    "OrderPage": {
        "type": "object",
        "properties": {
            "orders": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "next_offset": {"type": ["integer", "null"]},
        },
    },
    "Broker": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "user_id": {"type": "integer"},
            "exchange": {"type": "string"},
            "label": {"type": "string"},
            "testnet": {"type": "boolean"},
            "base_url": {"type": ["string", "null"]},
            "base_urls": {"type": "object", "additionalProperties": {"type": "string"}},
            "key_hint": {"type": "string"},
            "options": {"type": "object"},
            "enabled": {"type": "boolean"},
            "disabled_reason": {"type": ["string", "null"]},
        },
    },
    "EditRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"quantity": MONEY, "price": MONEY, "symbol": {"type": "string"}},
    },
    "KillRequest": {"type": "object", "properties": {"reason": {"type": "string"}}},
    "DeadManRequest": {"type": "object", "required": ["timeout"], "properties": {"timeout": {"type": "integer"}}},
}

ERROR_STATUSES = {
    "400": "invalid request (InvalidOrderRequest, InvalidOrder, BadSymbol)",
    "401": "missing/invalid token, or the exchange refused the keys",
    "403": "PermissionDenied",
    "404": "BrokerNotFound / OrderNotFound / ExchangeNotFound",
    "409": "DuplicateOrder",
    "422": "UnsupportedParameterError / InsufficientFunds",
    "423": "BrokerDisabled (kill switch)",
    "429": "RateLimitExceeded (Retry-After header)",
    "500": "InternalError (no stack trace; see the logs for request_id)",
    "502": "ExchangeError / NetworkError",
    "503": "ExchangeNotAvailable, or this gateway is shutting down",
    "504": "RequestTimeout (the order's outcome is looked up, never re-sent)",
}


def path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def _schema(name: str) -> dict[str, Any]:
    if name in SCHEMAS:
        return {"$ref": f"#/components/schemas/{name}"}
    return {"type": name}


def _operation(route: Route) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "integer" if n.endswith("_id") else "string"}}
        for n in path_params(route.path)
    ]
    for q in route.query:
        schema: dict[str, Any] = {"type": q.type}
        if q.enum:
            schema["enum"] = list(q.enum)
        params.append(
            {"name": q.name, "in": "query", "required": q.required, "schema": schema, "description": q.description}
        )
    if route.auth:
        params.append({"name": "X-Request-ID", "in": "header", "required": False, "schema": {"type": "string"}})
    content_type = "text/plain" if route.response == "text" else "application/json"
    responses: dict[str, Any] = {
        str(s): {
            "description": "OK",
            "content": {
                content_type: {"schema": _schema(route.response) if route.response != "text" else {"type": "string"}}
            },
        }
        for s in route.statuses
    }
    if route.auth:
        for status, text in ERROR_STATUSES.items():
            responses[status] = {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
    op: dict[str, Any] = {
        "operationId": route.operation,
        "summary": route.summary,
        "parameters": params,
        "responses": responses,
    }
    if route.body:
        op["requestBody"] = {
            "required": route.body in ("OrderRequest", "EditRequest", "DeadManRequest"),
            "content": {"application/json": {"schema": _schema(route.body)}},
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
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "terminal5 token create --user N"}
            },
        },
    }

"""What the front doors check in a request before anything else runs: ids, pages, keys, symbols, times,
booleans, and money written exactly as the OpenAPI document publishes it. Each refusal is an
``InvalidOrderRequest`` naming the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from terminal5.errors import InvalidOrderRequest
from terminal5.models import SYMBOL_RE
from terminal5.wire import MAX_ID, MONEY_FIELDS, converter, id_range_error

MAX_PAGE = 500
MAX_EXTRA_PARAMS = 50
MAX_TEXT = 500  # a kill reason, one extra_params value
MAX_KEY = 128  # an order key in a path: the stored id columns are 128 characters
MAX_DEAD_MAN_SECONDS = 86_400
MAX_OFFSET = 10_000_000
#: an amount on the wire, exactly as the OpenAPI document publishes it: plain digits, no sign or exponent,
#: at most 20 before the point and 18 after (NUMERIC(38,18)); zero passes here and fails "greater than zero"
MONEY_WIRE_RE = re.compile(r"[0-9]{1,20}(\.[0-9]{1,18})?")
#: RFC 3339 with a timezone (Python's fromisoformat alone accepts more)
TIME_WIRE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2})")



def bad(field: str, reason: str) -> InvalidOrderRequest:
    return InvalidOrderRequest([(field, reason)])


def parse_int(
    value: Any, field: str, *, minimum: int | None = None, default: int | None = None, maximum: int = MAX_ID
) -> int | None:
    """An integer from a query string (digits only) or a JSON body (an integer, never 1.5 or "1")."""
    if value is None:
        return default
    if isinstance(value, str):
        if not value.isascii() or not value.lstrip("-").isdigit() or len(value) > 12:
            raise bad(field, f"{value[:40]!r} is not an integer")
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise bad(field, f"must be an integer, got {json_type(value)}")
    if minimum is not None and number < minimum:
        raise bad(field, f"must be at least {minimum}")
    if number > maximum:
        raise bad(field, f"must be at most {maximum}")
    return number


def check_id(value: Any, field: str) -> int:
    """An id (broker, user) as the database holds it: an integer 1..2^31-1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(field, f"must be an integer, got {json_type(value)}")
    problem = id_range_error(value)
    if problem:
        raise bad(field, problem)
    return value


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Decimal):
        return "a number with a fraction"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return type(value).__name__


def check_wire_order(data: Mapping[str, Any]) -> None:
    """What the front doors refuse beyond the converter: money written as a JSON number (amounts are
    decimal strings on the wire) and a number with a fraction inside ``extra_params`` (JSON has no
    decimal type; such a value is a float to every other client, so it is refused as one)."""
    errors: list[tuple[str, str]] = []
    for name in MONEY_FIELDS:
        problem = money_wire_error(data.get(name))
        if problem:
            errors.append((name, problem))
    expire_at = data.get("expire_at")
    if isinstance(expire_at, str) and not TIME_WIRE_RE.fullmatch(expire_at):
        errors.append(("expire_at", f"{expire_at[:40]!r} is not RFC 3339 with a timezone (2026-01-21T14:32:15Z)"))
    extra = data.get("extra_params")
    if isinstance(extra, Mapping):
        if len(extra) > MAX_EXTRA_PARAMS:
            errors.append(("extra_params", f"at most {MAX_EXTRA_PARAMS} parameters"))
        for key, value in extra.items():
            if isinstance(value, (Decimal, float)):
                errors.append((f"extra_params.{key}", "a number with a fraction is a float: send a decimal string"))
            elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63 - 1:
                errors.append((f"extra_params.{key}", "integer out of range (64 bits)"))
            elif isinstance(value, str) and len(value) > MAX_TEXT:
                errors.append((f"extra_params.{key}", f"at most {MAX_TEXT} characters"))
    if errors:
        raise InvalidOrderRequest(errors)


def money_wire_error(value: Any) -> str | None:
    """Why ``value`` is not an amount as the wire writes one (None when it is, or is absent)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f'must be a decimal string (e.g. "0.1"), not {json_type(value)}'
    if not MONEY_WIRE_RE.fullmatch(value):
        return (f"{value[:40]!r} is not a plain positive decimal: digits, optionally a point and decimals, "
                "no sign, spaces or exponent; at most 20 digits before the point and 18 after")
    return None


def check_reason(reason: Any) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise bad("reason", f"must be a string, got {json_type(reason)}")
    if len(reason) > MAX_TEXT:
        raise bad("reason", f"at most {MAX_TEXT} characters")
    return reason


def check_key(key: str) -> str:
    """An order key (client or exchange id) from a path: 1-128 printable characters (a NUL cannot even be
    stored in a PostgreSQL text column)."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise bad("key", f"must be 1 to {MAX_KEY} characters")
    if not key.isprintable():
        raise bad("key", "must be printable characters (no control characters)")
    return key


def check_symbol(symbol: Any) -> str | None:
    if symbol is None:
        return None
    if not isinstance(symbol, str) or not SYMBOL_RE.match(symbol):
        shown = symbol[:40] if isinstance(symbol, str) else symbol
        raise bad("symbol", f"{shown!r} is not BASE/QUOTE or BASE/QUOTE:SETTLE (upper case)")
    return symbol


def parse_time(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or not TIME_WIRE_RE.fullmatch(value):
        raise bad(field, f"{str(value)[:40]!r} is not RFC 3339 with a timezone (e.g. 2026-01-21T14:32:15Z)")
    try:
        return converter.structure(value, datetime)
    except (TypeError, ValueError) as exc:
        raise bad(field, str(exc)) from None


def parse_bool(value: Any, field: str) -> bool:
    if value is None or value is False or value == "false":
        return False
    if value is True or value == "true":
        return True
    raise bad(field, "must be true or false")



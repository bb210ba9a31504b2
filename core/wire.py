"""The one cattrs converter between the unified models and JSON-shaped data.

Structuring is strict: unknown keys, wrong types, floats for money, NaN/infinity, naive datetimes and
unknown enum values are refused, and every bad field becomes one ``(field, reason)`` line of an
``InvalidOrderRequest``. Business rules (positive quantity, a limit order has a price…) are checked after.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn

from terminal5.errors import InvalidOrderRequest
from terminal5.models import (
    SYMBOL_RE,
    Balance,
    MarginMode,
    Market,
    MarketType,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    Source,
    TimeInForce,
    Trade,
)

T = TypeVar("T")

_ENUMS = (Side, OrderType, TimeInForce, Source, PositionSide, MarginMode, MarketType, OrderStatus)

CLIENT_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")
MAX_DIGITS = 38  # NUMERIC(38, 18) in the database
MAX_INTEGER_DIGITS = 20  # NUMERIC(38, 18): 20 digits before the point
MAX_FRACTION_DIGITS = 18  # ... and 18 after
MAX_ID = 2**31 - 1  # ids are INTEGER columns (32-bit on PostgreSQL)
MONEY_FIELDS = ("quantity", "price", "stop_price", "stop_loss_price", "take_profit_price", "trailing_delta",
                "iceberg_qty")


class _FieldError(ValueError):
    """A structuring failure whose message is already the human reason."""


def to_decimal(value: Any) -> Decimal:
    """Decimal from str/int/Decimal only: a float has already lost the exact amount."""
    if isinstance(value, bool):
        raise _FieldError("must be a decimal number, not a boolean")
    if isinstance(value, float):
        raise _FieldError('must be a decimal string (e.g. "0.1"), not a float: floats lose precision')
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        if value != value.strip() or "_" in value:
            # Decimal() would quietly accept " 0.001 " and "1_000"; a wire amount is written plainly.
            raise _FieldError(f"{value!r} is not a decimal number (no spaces or underscores)")
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise _FieldError(f"{value!r} is not a decimal number") from None
    else:
        raise _FieldError(f"must be a decimal number, got {type(value).__name__}")
    if not result.is_finite():
        raise _FieldError("must be a finite number (NaN and infinity are refused)")
    if len(result.as_tuple().digits) > MAX_DIGITS:
        raise _FieldError(f"has more than {MAX_DIGITS} significant digits")
    return result


def money_range_error(value: Decimal) -> str | None:
    """Why ``value`` cannot be stored exactly in a NUMERIC(38,18) column, or None when it can."""
    if not value.is_finite():
        return "must be a finite number (NaN and infinity are refused)"
    if value == 0:
        return None
    _, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    if len(digits) + exponent > MAX_INTEGER_DIGITS:
        return f"is out of range: at most {MAX_INTEGER_DIGITS} digits before the decimal point"
    if -exponent > MAX_FRACTION_DIGITS:
        return f"has more than {MAX_FRACTION_DIGITS} decimal places (the most an amount can be stored with)"
    return None


def id_range_error(value: int) -> str | None:
    """Why ``value`` is not a valid id (1..2^31-1, the INTEGER columns), or None."""
    if value < 1:
        return "must be a positive integer"
    if value > MAX_ID:
        return f"is out of range (at most {MAX_ID})"
    return None


def _to_int(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldError(f"must be an integer, got {type(value).__name__}")
    return value


def _to_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise _FieldError(f"must be true or false, got {type(value).__name__}")
    return value


def _to_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise _FieldError(f"must be a string, got {type(value).__name__}")
    return value


def _to_datetime(value: Any, _: type) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _FieldError(f"{value!r} is not an ISO-8601 datetime") from None
    else:
        raise _FieldError(f"must be an ISO-8601 datetime string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        raise _FieldError("must carry a timezone (e.g. 2026-01-21T14:32:15Z)")
    return parsed.astimezone(UTC)


def _to_enum(value: Any, cls: type[enum.Enum]) -> enum.Enum:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)  # type: ignore[attr-defined]
        raise _FieldError(f"{value!r} is not one of: {allowed}") from None


def _extra_params(value: Any, _: type) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _FieldError(f"must be an object, got {type(value).__name__}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise _FieldError("keys must be non-empty strings")
        if isinstance(item, float):
            raise _FieldError(f"{key}: floats are refused, send a decimal string")
        if not isinstance(item, (str, int, bool, Decimal)):
            raise _FieldError(f"{key}: must be a string, integer, boolean or decimal")
        out[key] = item
    return out


def _unstructure_decimal(value: Decimal) -> str:
    # Plain notation for the wire: 1E-8 -> "0.00000001".
    return format(value, "f")


def make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(Decimal, lambda v, _: to_decimal(v))
    # cattrs' defaults would happily turn "1" into 1 and 0 into False; be strict instead.
    conv.register_structure_hook(int, _to_int)
    conv.register_structure_hook(bool, _to_bool)
    conv.register_structure_hook(str, _to_str)
    conv.register_structure_hook(datetime, _to_datetime)
    for enum_cls in _ENUMS:
        conv.register_structure_hook(enum_cls, _to_enum)
        conv.register_unstructure_hook(enum_cls, lambda e: e.value)
    conv.register_structure_hook_func(lambda t: t == Mapping[str, Any], _extra_params)
    conv.register_unstructure_hook(Decimal, _unstructure_decimal)
    conv.register_unstructure_hook(datetime, lambda d: d.astimezone(UTC).isoformat().replace("+00:00", "Z"))
    conv.register_structure_hook(
        OrderRequest, make_dict_structure_fn(OrderRequest, conv, _cattrs_forbid_extra_keys=True)
    )
    return conv


converter = make_converter()


def _flatten(exc: BaseException, prefix: str = "") -> list[tuple[str, str]]:
    """cattrs' exception group -> [(field path, reason)]."""
    out: list[tuple[str, str]] = []
    if isinstance(exc, ForbiddenExtraKeysError):
        for key in sorted(exc.extra_fields):
            out.append((f"{prefix}{key}", "unknown field"))
        return out
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        with_notes, without = exc.group_exceptions()
        for inner, note in with_notes:
            name = getattr(note, "name", None)
            if name is None:
                name = getattr(note, "index", "?")
            path = f"{prefix}{name}"
            if isinstance(inner, (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError)):
                out.extend(_flatten(inner, f"{path}."))
            elif isinstance(inner, KeyError):
                out.append((path, "is required"))
            else:
                out.append((path, _reason(inner)))
        for inner in without:
            out.extend(_flatten(inner, prefix))
        return out
    return [(prefix.rstrip(".") or "request", _reason(exc))]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, _FieldError):
        return str(exc)
    if isinstance(exc, TypeError):
        return "has the wrong type"
    return str(exc) or type(exc).__name__


def structure_request(data: Any) -> OrderRequest:
    """JSON-shaped data -> a valid ``OrderRequest``, or ``InvalidOrderRequest`` listing every bad field."""
    if not isinstance(data, Mapping):
        raise InvalidOrderRequest([("request", f"must be a JSON object, got {type(data).__name__}")])
    try:
        request = converter.structure(dict(data), OrderRequest)
    except (ClassValidationError, ForbiddenExtraKeysError) as exc:
        raise InvalidOrderRequest(_flatten(exc)) from None
    errors = check_request(request)
    if errors:
        raise InvalidOrderRequest(errors)
    return request


def check_request(request: OrderRequest) -> list[tuple[str, str]]:
    """The business rules of a unified request, independent of any exchange."""
    errors: list[tuple[str, str]] = []
    if not SYMBOL_RE.match(request.symbol):
        errors.append(("symbol", f"{request.symbol!r} is not BASE/QUOTE or BASE/QUOTE:SETTLE (upper case)"))
    for name in MONEY_FIELDS:
        value = getattr(request, name)
        if value is None:
            continue
        problem = "must be greater than zero" if value <= 0 else money_range_error(value)
        if problem:
            errors.append((name, problem))
    if request.type.needs_price and request.price is None:
        errors.append(("price", f"is required for a {request.type.value} order"))
    if request.type is OrderType.MARKET and request.price is not None:
        errors.append(("price", "must be empty for a market order"))
    if request.type.needs_stop_price and request.stop_price is None:
        errors.append(("stop_price", f"is required for a {request.type.value} order"))
    if not request.type.needs_stop_price and request.stop_price is not None:
        errors.append(("stop_price", f"is only for stop/take-profit types, not {request.type.value}"))
    if request.time_in_force is TimeInForce.GTD and request.expire_at is None:
        errors.append(("expire_at", "is required with time_in_force GTD"))
    if request.expire_at is not None and request.time_in_force is not TimeInForce.GTD:
        errors.append(("expire_at", "is only allowed with time_in_force GTD"))
    if request.client_order_id is not None and not CLIENT_ORDER_ID_RE.match(request.client_order_id):
        errors.append(("client_order_id", "must be 1-64 characters of A-Z a-z 0-9 . _ : / -"))
    if request.source is Source.EXTERNAL:
        errors.append(("source", "'external' is reserved for orders found by reconciliation"))
    for name in ("user_id", "broker_id"):
        problem = id_range_error(getattr(request, name))
        if problem:
            errors.append((name, problem))
    if request.iceberg_qty is not None and request.iceberg_qty >= request.quantity and not any(
        f in ("iceberg_qty", "quantity") for f, _ in errors
    ):
        errors.append(("iceberg_qty", "must be smaller than quantity"))
    return errors


def unstructure(obj: Any) -> Any:
    """Model -> JSON-shaped data (Decimals as plain strings, datetimes as ISO UTC)."""
    return converter.unstructure(obj)


def structure(data: Any, cls: type[T]) -> T:
    return converter.structure(data, cls)


__all__ = [
    "Balance",
    "Market",
    "Order",
    "OrderRequest",
    "Position",
    "Trade",
    "check_request",
    "converter",
    "structure",
    "structure_request",
    "to_decimal",
    "unstructure",
]

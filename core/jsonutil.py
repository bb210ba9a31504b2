"""JSON with exact numbers: every number read becomes a Decimal (or int), and Decimals are written back
as JSON numbers, not strings, so a raw native payload round-trips unchanged.

Both directions run in msgspec's C encoder/decoder; the pure-Python reference (``reference_dumps``,
``reference_loads``) defines the output and takes over whenever msgspec would differ from it:

- ``dumps`` first checks the value's shape (``_native``: exact builtin containers holding ``str``/``int``/
  ``bool``/``None``/``Decimal``/plain enums, ``str``/``int`` keys), checking only the types, mostly in C
  (``set(map(type, ...))``). Anything else (a float, a subclass, a datetime, an enum key, a set, bytes...)
  goes to the reference encoder, which refuses floats (money is never written as a float) and writes the
  rest as it always did. msgspec itself would write floats, sets, bytes, dataclasses, UUIDs and ``Z``
  datetimes, so it only ever sees values this check let through.
- ``loads`` decodes floats with ``Decimal`` (from the number's text: exact); any input msgspec rejects is
  re-read by ``json`` so that what was accepted stays accepted (a UTF-8 BOM in bytes, a lone surrogate
  escape, an integer of 4300 digits) and an error stays a ``ValueError``. The non-JSON constants
  ``NaN``/``Infinity`` are refused (``ValueError``): they are no numbers, and would be floats.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from json.encoder import encode_basestring as _quote  # json.dumps(s, ensure_ascii=False)
from typing import Any

import msgspec

# --- reading -----------------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def reference_loads(text: str | bytes) -> Any:
    """The pure-Python reader (``json`` with Decimal floats): what ``loads`` falls back to."""
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


_decode = msgspec.json.Decoder(float_hook=Decimal).decode


def loads(text: str | bytes) -> Any:
    try:
        return _decode(text)
    except (msgspec.DecodeError, UnicodeError):
        return reference_loads(text)


# --- writing -----------------------------------------------------------------------------------------


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot encode {value} in JSON")
    return format(value, "f") if value == value.to_integral_value() or abs(value.adjusted()) < 20 else str(value)


def _encode(value: Any, out: list[str]) -> None:
    """The common exact types first, by identity of type (no ``json.dumps`` per scalar: ~5x faster on
    the stored payloads); anything else (subclasses, enums, datetimes) goes through ``_encode_other``."""
    kind = type(value)
    if kind is str:
        out.append(_quote(value))
    elif kind is dict:
        out.append("{")
        first = True
        for key, item in value.items():
            if first:
                first = False
            else:
                out.append(",")
            out.append(_quote(key) if type(key) is str else _quote(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif kind is list or kind is tuple:
        out.append("[")
        first = True
        for item in value:
            if first:
                first = False
            else:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif kind is int:
        out.append(int.__repr__(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    else:
        _encode_other(value, out)


def _encode_other(value: Any, out: list[str]) -> None:
    if isinstance(value, bool) or value is None or (isinstance(value, (int, str)) and not isinstance(value, Enum)):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        out.append(_decimal_text(value))
    elif isinstance(value, Enum):
        _encode(value.value, out)
    elif isinstance(value, float):
        raise TypeError("refusing to encode a float: money must be Decimal")
    elif isinstance(value, datetime):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} in JSON")


def reference_dumps(value: Any) -> str:
    """The pure-Python writer: defines ``dumps``'s output, and writes what msgspec is not trusted with."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


#: exact types msgspec writes byte for byte as the reference does (Decimal through ``_decimal_raw``)
_SCALARS = frozenset({str, int, bool, type(None), Decimal})
_CONTAINERS = frozenset({dict, list, tuple})
#: key types msgspec writes as the reference does (``str(key)``; an enum key would be written by value)
_KEYS = frozenset({str, int})


def _native(value: Any) -> bool:
    """True when msgspec's output for ``value`` is the reference's: only exact builtin types (no float,
    no subclass but a plain enum), checked by type without formatting anything."""
    kind = type(value)
    if kind is dict:
        if not _KEYS.issuperset(map(type, value)):
            return False
        items: Any = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return kind in _SCALARS or _native_enum(value)
    kinds = set(map(type, items))
    if kinds <= _SCALARS:
        return True
    for item in items:
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind in _CONTAINERS:
            if not _native(item):
                return False
        elif not _native_enum(item):
            return False
    return True


def _native_enum(value: Any) -> bool:
    """An enum msgspec writes as the reference does (its value): msgspec writes an int or str enum's own
    int/str content and any other enum's ``_value_``, so the value must be an exact str or int (and equal
    to the content: a custom ``__new__`` may make them differ)."""
    if not isinstance(value, Enum):
        return False
    inner = value._value_
    kind = type(inner)
    if isinstance(value, int):
        return kind is int and int.__eq__(value, inner) is True
    if isinstance(value, str):
        return kind is str and str.__eq__(value, inner) is True
    return kind is str or kind is int


def _decimal_raw(value: Decimal) -> msgspec.Raw:
    text = str(value)
    # str() has no exponent (so is format(value, "f")) unless the exponent is > 0 or adjusted() < -6;
    # "n"/"N": NaN, Infinity (refused by _decimal_text)
    if "E" in text or "n" in text or "N" in text:
        text = _decimal_text(value)
    return msgspec.Raw(text)


_encode_native = msgspec.json.Encoder(decimal_format=_decimal_raw).encode


def dumps(value: Any) -> str:
    kind = type(value)
    if (kind is list or kind is dict or kind is tuple) and not value:  # frequent (no fills, no params)
        return "{}" if kind is dict else "[]"
    if _native(value):
        try:
            return _encode_native(value).decode()
        except UnicodeEncodeError:  # a lone surrogate: the reference writes it as json does
            pass
    return reference_dumps(value)

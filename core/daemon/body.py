"""Reading a request's JSON body, strictly, before any handler sees it.

What the standard ``json`` module lets through and this refuses, each as an ``InvalidOrderRequest``
naming the field: a body that is not ``application/json``; nesting deeper than ``MAX_DEPTH`` (checked on
the bytes, before parsing, so 100,000 nested arrays never reach the recursive parser); a key given twice
in one object (``json`` keeps the last one silently); the non-JSON constants ``NaN``/``Infinity``;
strings holding NUL or lone surrogates, which no database column can store. Numbers are exact: a
fraction is a ``Decimal``, never a float.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from terminal5.errors import InvalidOrderRequest

MAX_DEPTH = 16
JSON_TYPES = ("application/json",)
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")


class UnsupportedMediaType(InvalidOrderRequest):
    """The body is not JSON (``Content-Type`` other than ``application/json``)."""

    http_status = 415


def check_content_type(content_type: str, raw: bytes) -> None:
    if raw.strip() and content_type.lower() not in JSON_TYPES:
        raise UnsupportedMediaType([("Content-Type", f"must be application/json, not {content_type or 'absent'!r}")])


def depth_of(raw: bytes) -> int:
    """The deepest nesting of arrays/objects in a JSON text, brackets inside strings not counted."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b'""', raw)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # a key given twice: name the first one repeated
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InvalidOrderRequest([(key, "is given more than once in one JSON object")])
            seen.add(key)
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_strings(value: Any, path: str) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidOrderRequest([(path or "request", "contains a NUL character")])
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidOrderRequest([(path or "request", "contains an unpaired surrogate")]) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, path or "request")
            _check_strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{path}[{index}]" if path else f"request[{index}]")


def parse(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``raw`` (UTF-8), or ``InvalidOrderRequest``."""
    # no deeper than its opening brackets: only a body with more of them than allowed is scanned
    if raw.count(b"[") + raw.count(b"{") > max_depth and depth_of(raw) > max_depth:
        raise InvalidOrderRequest([("request", f"JSON nested deeper than {max_depth} levels")])
    try:
        value = json.loads(
            raw.decode("utf-8"),
            parse_float=Decimal,
            parse_constant=_no_constant,
            object_pairs_hook=_no_duplicates,
        )
    except InvalidOrderRequest:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidOrderRequest([("request", f"invalid JSON: {exc}")]) from None
    if b"\\u" in raw:  # a NUL or a lone surrogate can only come from a \\u escape (raw ones are invalid)
        _check_strings(value, "")
    return value

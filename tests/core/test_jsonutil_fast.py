"""``jsonutil.dumps`` takes a fast path for exact builtin types: its output is the same JSON as before
(what ``json.dumps`` writes, compact, non-ASCII kept), Decimals exact, enums by value, floats refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum

import pytest

from terminal5 import jsonutil


class Colour(str, Enum):  # noqa: UP042 (an enum that is also a str: the encoder must see the enum)
    RED = "red"


class Level(Enum):
    HIGH = 3


class Tagged(str):
    pass


PLAIN = {
    "s": 'quote " backslash \\ newline \n tab \t control \x01 unicode é ✓ 🚀',
    "i": -(2**70),
    "b": [True, False, None],
    "nested": {"list": [1, "2", [3, {"4": ()}]], "tuple": (1, 2)},
    "": "",
    "ünï": "x",
}


def test_builtin_types_encode_as_json_does() -> None:
    assert jsonutil.dumps(PLAIN) == json.dumps(PLAIN, separators=(",", ":"), ensure_ascii=False)
    for value in ("", "é", 0, -1, True, False, None, [], {}, ()):
        assert jsonutil.dumps(value) == json.dumps(value, ensure_ascii=False)


def test_other_types_keep_their_encoding() -> None:
    value = {
        "money": [Decimal("0.10000000"), Decimal("1E-8"), Decimal("12345678901234567890.5"), Decimal("-0")],
        "enum": [Colour.RED, Level.HIGH],
        Colour.RED: Tagged("t"),
        1: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    }
    text = jsonutil.dumps(value)
    assert text == (
        '{"money":[0.10000000,0.00000001,12345678901234567890.5,-0],"enum":["red",3],'
        '"Colour.RED":"t","1":"2026-01-02T03:04:05+00:00"}'
    )
    assert jsonutil.loads(text)["money"][1] == Decimal("1E-8")
    with pytest.raises(TypeError):
        jsonutil.dumps({"price": [0.1]})
    with pytest.raises(ValueError):
        jsonutil.dumps(Decimal("NaN"))

"""The strict JSON reader's shortcuts (``terminal5.daemon.body``) refuse exactly what the full checks refuse:
a repeated key (the first one repeated is named), NUL and lone surrogates (only ever from a ``\\u``
escape), nesting past the limit (brackets inside strings never count)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from terminal5.daemon.body import MAX_DEPTH, parse
from terminal5.errors import InvalidOrderRequest


def refused(raw: bytes) -> InvalidOrderRequest:
    with pytest.raises(InvalidOrderRequest) as caught:
        parse(raw)
    return caught.value


def test_a_repeated_key_is_named_at_any_depth() -> None:
    assert refused(b'{"a": 1, "b": 2, "a": 3}').field == "a"
    assert refused(b'{"x": {"b": 1, "c": 2, "c": 3, "b": 4}}').field == "c"
    assert refused(b'[{"k": 1}, {"k": 1, "k": 1}]').field == "k"
    assert parse(b'{"a": {"a": 1}, "b": [{"a": 2}]}') == {"a": {"a": 1}, "b": [{"a": 2}]}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"symbol": "BTC\\u0000/USDT"}', "symbol"),
        (b'{"client_order_id": "\\ud800"}', "client_order_id"),
        (b'{"extra_params": {"k\\u0000": "v"}}', "extra_params"),
        (b'{"a": ["ok", "\\udfff"]}', "a[1]"),
        (b'"\\u0000"', "request"),
    ],
)
def test_nul_and_lone_surrogates_from_escapes_are_refused(raw: bytes, field: str) -> None:
    assert refused(raw).field == field


def test_raw_control_characters_and_encoded_surrogates_never_parse() -> None:
    assert refused(b'{"a": "x\x00y"}').field == "request"  # a raw NUL in a string is invalid JSON
    assert refused(b'{"a": "\xed\xa0\x80"}').field == "request"  # a surrogate in UTF-8 is invalid UTF-8


def test_depth_with_brackets_in_strings() -> None:
    shallow = b'{"a": "' + b"[" * 100 + b'", "b": [1, 2]}'
    assert parse(shallow) == {"a": "[" * 100, "b": [1, 2]}
    at_limit = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert parse(at_limit) is not None
    assert "deeper" in refused(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)).message


def test_numbers_stay_exact() -> None:
    assert parse(b'{"p": 0.1, "q": 1e-18, "n": 3}') == {"p": Decimal("0.1"), "q": Decimal("1e-18"), "n": 3}
    assert refused(b'{"p": NaN}').field == "request"

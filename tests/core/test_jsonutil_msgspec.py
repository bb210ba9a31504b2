"""``jsonutil`` on msgspec writes and reads exactly what the pure-Python implementation did.

``_old_dumps``/``_old_loads`` below are that implementation, frozen as it was before msgspec (issue 12):
every generated value must give the same text or the same error (floats refused, NaN refused), and every
generated text the same value (Decimal with its exponent, int as int) or a ``ValueError``."""

from __future__ import annotations

import json
from collections import OrderedDict, namedtuple
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum, IntEnum
from json.encoder import encode_basestring as _quote
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminal5 import jsonutil

# --- the implementation before msgspec, verbatim -----------------------------------------------------


def _old_loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


def _old_encode(value: Any, out: list[str]) -> None:
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
            _old_encode(item, out)
        out.append("}")
    elif kind is list or kind is tuple:
        out.append("[")
        first = True
        for item in value:
            if first:
                first = False
            else:
                out.append(",")
            _old_encode(item, out)
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
        _old_encode_other(value, out)


def _old_encode_other(value: Any, out: list[str]) -> None:
    if isinstance(value, bool) or value is None or (isinstance(value, (int, str)) and not isinstance(value, Enum)):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot encode {value} in JSON")
        out.append(
            format(value, "f") if value == value.to_integral_value() or abs(value.adjusted()) < 20 else str(value)
        )
    elif isinstance(value, Enum):
        _old_encode(value.value, out)
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
            _old_encode(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _old_encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} in JSON")


def _old_dumps(value: Any) -> str:
    out: list[str] = []
    _old_encode(value, out)
    return "".join(out)


# --- values of every kind the encoder meets ----------------------------------------------------------


class Colour(str, Enum):  # noqa: UP042 (an enum that is also a str)
    RED = "red"
    BLUE = "blue"


class Level(Enum):
    HIGH = 3
    LOW = "low"


class Rank(IntEnum):
    ONE = 1


class FloatEnum(Enum):
    HALF = 0.5


class DecimalEnum(Enum):
    TICK = Decimal("0.01")


class Labelled(str, Enum):  # noqa: UP042 (str content "Label A", value "a")
    def __new__(cls, value: str, label: str) -> Labelled:
        member = str.__new__(cls, label)
        member._value_ = value
        return member

    A = ("a", "Label A")


class Counted(int, Enum):  # int content 7, value 1
    def __new__(cls, value: int, content: int) -> Counted:
        member = int.__new__(cls, content)
        member._value_ = value
        return member

    A = (1, 7)


class Tagged(str):
    pass


class Number(int):
    pass


class Price(float):
    pass


class Amount(Decimal):
    pass


class Doc(dict):  # type: ignore[type-arg]
    pass


class Items(list):  # type: ignore[type-arg]
    pass


class Frozen(Mapping):  # type: ignore[type-arg]
    def __init__(self, data: dict[Any, Any]) -> None:
        self._data = data

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


Pair = namedtuple("Pair", "a b")

ENUMS = [*Colour, *Level, Rank.ONE, FloatEnum.HALF, DecimalEnum.TICK, Labelled.A, Counted.A]

any_text = st.text(st.characters(codec=None, categories=None), max_size=12)  # surrogates and controls too
decimals = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.builds(
        lambda sign, digits, exp: Decimal((sign, tuple(int(d) for d in digits), exp)),
        st.integers(0, 1),
        st.text("0123456789", min_size=1, max_size=30),
        st.integers(-40, 40),
    ),
    st.sampled_from([Decimal("-0"), Decimal("-0E+3"), Decimal("0E-30"), Decimal("sNaN"), Decimal("-Infinity")]),
)
scalars = st.one_of(
    any_text,
    st.integers(),
    st.integers(min_value=-(2**64) * 4, max_value=2**64 * 4),
    st.booleans(),
    st.none(),
    decimals,
    st.floats(),
    st.sampled_from(ENUMS),
    any_text.map(Tagged),
    st.integers().map(Number),
    st.floats(allow_nan=False).map(Price),
    decimals.filter(lambda d: d.is_finite()).map(Amount),
    st.datetimes(timezones=st.sampled_from([None, UTC])),
    st.sampled_from(
        [date(2026, 1, 2), timedelta(1), UUID(int=1), b"ab", bytearray(b"x"), frozenset(), set(), object()]
    ),
)
keys = st.one_of(
    any_text,
    st.integers(),
    st.booleans(),
    st.none(),
    decimals.filter(lambda d: not d.is_nan()),
    st.sampled_from(ENUMS),
    any_text.map(Tagged),
    st.integers().map(Number),
    st.floats(allow_nan=False),
    st.datetimes(timezones=st.just(UTC)),
    st.tuples(st.integers()),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.lists(inner, max_size=5).map(Items),
        st.tuples(inner, inner).map(lambda t: Pair(*t)),
        st.dictionaries(keys, inner, max_size=5),
        st.dictionaries(any_text, inner, max_size=5),
        st.dictionaries(any_text, inner, max_size=5).map(Doc),
        st.dictionaries(keys, inner, max_size=5).map(OrderedDict),
        st.dictionaries(keys, inner, max_size=5).map(Frozen),
    ),
    max_leaves=25,
)
# the shapes the gateway stores most: exact builtins, money as Decimal, no floats
plain_values = st.recursive(
    st.one_of(any_text, st.integers(), st.booleans(), st.none(), decimals.filter(lambda d: d.is_finite())),
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.lists(inner, max_size=6).map(tuple),
        st.dictionaries(st.one_of(any_text, st.integers()), inner, max_size=6),
    ),
    max_leaves=30,
)


def _outcome(encode: Any, value: Any) -> tuple[str, str]:
    try:
        return "ok", encode(value)
    except (TypeError, ValueError) as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=1500, deadline=None)
@given(values)
def test_dumps_matches_the_old_encoder_on_anything(value: Any) -> None:
    assert _outcome(jsonutil.dumps, value) == _outcome(_old_dumps, value)


@settings(max_examples=800, deadline=None)
@given(plain_values)
def test_dumps_matches_the_old_encoder_on_plain_payloads(value: Any) -> None:
    assert _outcome(jsonutil.dumps, value) == _outcome(_old_dumps, value)


@settings(max_examples=300, deadline=None)
@given(plain_values, st.sampled_from([0.1, -0.0, float("nan"), float("inf"), Price(2.5), FloatEnum.HALF]))
def test_a_float_anywhere_is_refused(value: Any, money: Any) -> None:
    for holder in ([value, money], {"a": value, "b": [money]}, (money,), {"k": {"kk": (value, money)}}):
        with pytest.raises(TypeError, match="float"):
            jsonutil.dumps(holder)


def test_edges_msgspec_would_write_differently() -> None:
    """msgspec writes each of these natively, and differently (or where the old encoder refused)."""
    cases = [
        {Colour.RED: 1},  # an enum key: str(key), not its value
        {Rank.ONE: 1},
        {True: 1, None: 2},  # str(key)
        {Decimal("1E+1"): 1},
        {0.5: 1},  # a float key: str(key) (as before)
        {Tagged("k"): Tagged("v")},
        datetime(2026, 1, 2, tzinfo=UTC),  # +00:00, not Z
        {"when": datetime(2026, 1, 2, 3, 4, 5, 6)},
        [Labelled.A],  # the enum's value, not its str/int content
        {"n": Counted.A},
        [DecimalEnum.TICK],
        Number(5),
        [Decimal("1E+2"), Decimal("1E-7"), Decimal("123E-30"), Decimal("1E+25"), Decimal("-0E-2")],
        "lone \ud800 surrogate",
        {"\udfff": "x"},
        "\x00\x1f\x7f\u2028\u2029\ufeff",
        2**200,
        -(2**64),
    ]
    for value in cases:
        assert jsonutil.dumps(value) == _old_dumps(value), value
    for refused in ([0.1], {"a": {1, 2}}, [b"x"], [UUID(int=1)], [date(2026, 1, 1)], [timedelta(1)], FloatEnum.HALF):
        with pytest.raises(TypeError):
            jsonutil.dumps(refused)
    for bad in (Decimal("NaN"), [Decimal("sNaN")], {"a": Decimal("-Infinity")}):
        with pytest.raises(ValueError, match="cannot encode"):
            jsonutil.dumps(bad)


def test_typical_payloads_take_the_msgspec_path() -> None:
    answer = jsonutil.loads(
        '{"symbol":"BTCUSDT","orderId":28,"price":"0.1","isWorking":true,"fills":[{"qty":"1.0","tradeId":56}]}'
    )
    request = {"symbol": "BTC/USDT", "side": Colour.RED, "quantity": Decimal("0.001"), "extra_params": {}}
    for value in (answer, request, [Decimal("1.5"), None, (1, "x")]):
        assert jsonutil._native(value)
    for value in ({Colour.RED: 1}, [0.1], [Tagged("x")], {"a": [{"b": datetime(2026, 1, 1)}]}):
        assert not jsonutil._native(value)


# --- reading -------------------------------------------------------------------------------------------


def _typed(value: Any) -> Any:
    """``value`` with every number's exact form: Decimal("1.0") and Decimal("1.00") differ, 1 and 1.0 too."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    return (type(value).__name__, value)


def _read(loads: Any, text: str | bytes) -> tuple[str, Any]:
    try:
        return "ok", _typed(loads(text))
    except ValueError:
        return "error", None


json_texts = st.one_of(
    plain_values.map(_old_dumps),
    plain_values.map(lambda v: _old_dumps(v).encode("utf-8", "surrogatepass")),
    plain_values.map(lambda v: f" \n{_old_dumps(v)}\t\r "),
    st.text(st.sampled_from('{}[]",:0123456789.eE+- \t\nntrufalsNIy\\u"x\x01é'), max_size=30),
    st.binary(max_size=20),
    st.from_regex(r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,4})?", fullmatch=True),
)


@settings(max_examples=1500, deadline=None)
@given(json_texts)
def test_loads_matches_the_old_reader(text: str | bytes) -> None:
    old = _read(_old_loads, text)
    new = _read(jsonutil.loads, text)
    if old[0] == "ok" and "('float'," in repr(old[1]):
        assert new == ("error", None)  # the non-JSON constants were floats: refused now
    else:
        assert new == old


def test_loads_edges() -> None:
    for text in (
        "1.0e5",
        "-0",
        "-0.0",
        "1E400",
        "1" * 4300,
        "-" + "9" * 4300,  # msgspec refuses it, json reads it: read as before
        "18446744073709551616",
        '{"a":1,"a":2}',  # the last one wins, as with json
        '"\\ud800"',  # a lone surrogate escape
        '"lone \ud800"',
        b"\xef\xbb\xbf{}",  # a UTF-8 BOM in bytes
        '"\\ud83d\\ude80"',
        "123456789012345678901234567890.123456789012345678901234567890",
    ):
        assert _read(jsonutil.loads, text) == _read(_old_loads, text) != ("error", None), text
    assert jsonutil.loads(b'{"p":0.10}') == {"p": Decimal("0.10")} and str(jsonutil.loads("0.10")) == "0.10"
    for bad in ("", "{", "[1,]", '{"a":1}x', "01", "\ufeff{}", b'"\xff"', "1" * 4301, '"a\nb"', "NaN", "-Infinity"):
        with pytest.raises(ValueError):
            jsonutil.loads(bad)

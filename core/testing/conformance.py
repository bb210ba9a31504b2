"""The conformance kit: checks every exchange plugin must pass.

Each check takes the plugin's hooks (``terminal5.plugins.Hooks``) and data the plugin declares (its
documented statuses, error cases, sample ids), and raises ``AssertionError`` with a readable message.
Use them from your plugin's tests; ``terminal5.testing.checklist`` adds the seed's per-exchange
validation checklist as end-to-end tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from terminal5.contract import CallContext, ExchangeSpec, HttpResponse, NativeClientId
from terminal5.errors import ExchangeError
from terminal5.models import (
    EXCHANGE_STATUSES,
    LEVEL1_PARAMS,
    LEVEL2_PARAMS,
    Market,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from terminal5.plugins import Hooks

UNLIKELY_STATUS = "__terminal5_status_nobody_documents__"


def check_spec(spec: ExchangeSpec) -> None:
    """The registered spec is coherent: names lower-case, every market type has params and order types."""
    assert re.fullmatch(r"[a-z0-9_]+", spec.name), f"exchange name {spec.name!r} must be lower-case [a-z0-9_]"
    assert spec.market_types, "declare at least one market type"
    known = set(LEVEL1_PARAMS) | set(LEVEL2_PARAMS)
    for market_type in spec.market_types:
        params = spec.supported_params.get(market_type)
        assert params is not None, f"supported_params lacks {market_type.value}"
        assert not set(params) - known, f"unknown parameters declared: {sorted(set(params) - known)}"
        types = spec.order_types.get(market_type)
        assert types, f"order_types lacks {market_type.value}"
        assert not set(types) - {t.value for t in OrderType}, f"unknown order types in {sorted(types)}"
        assert spec.urls.for_(market_type, testnet=False), f"no production URL for {market_type.value}"
    assert spec.client_id.kind in ("str", "int32"), "client_id.kind is 'str' or 'int32'"


def check_status_table(hooks: Hooks, exchange: str, documented: Iterable[str]) -> None:
    """Every documented native status maps to open/closed/cancelled; an undocumented one to None."""
    missing = []
    for native in documented:
        status = hooks.normalize_status(exchange, native)
        if status not in EXCHANGE_STATUSES:
            missing.append(native)
    assert not missing, f"{exchange}: documented statuses without a mapping: {missing}"
    assert hooks.normalize_status(exchange, UNLIKELY_STATUS) is None, "unknown statuses must give None (-> UNKNOWN)"


ErrorCase = tuple[HttpResponse, type[ExchangeError]] | tuple[HttpResponse, type[ExchangeError], str | int]


def check_error_map(
    hooks: Hooks,
    exchange: str,
    cases: Sequence[ErrorCase],
    ctx: CallContext | None = None,
) -> None:
    """The plugin's ``map_error`` gives, for each case, exactly the expected taxonomy class carrying the
    native code: the case's code when it names one (``(response, InsufficientFunds, -2010)``), else any.

    Judged by the error's type and ``code``, never by message text; a failure is labelled with the HTTP
    status and the native code."""
    ctx = ctx or CallContext(exchange=exchange, base_url="http://127.0.0.1")
    wrong = []
    for case in cases:
        response, expected = case[0], case[1]
        code = case[2] if len(case) > 2 else None  # type: ignore[misc]
        error = hooks.map_error(exchange, response, ctx)
        label = f"HTTP {response.status} code {code if code is not None else getattr(error, 'code', None)!r}"
        if type(error) is not expected:
            wrong.append((label, expected.__name__, type(error).__name__))
        elif error is not None and error.code is None:
            wrong.append((label, "a native code", "None"))
        elif error is not None and code is not None and str(error.code) != str(code):
            wrong.append((label, f"code {code!r}", f"code {error.code!r}"))
    assert not wrong, f"{exchange}: error mapping wrong for (case, expected, got): {wrong}"


def check_success_is_not_an_error(hooks: Hooks, exchange: str, responses: Sequence[HttpResponse]) -> None:
    ctx = CallContext(exchange=exchange, base_url="http://127.0.0.1")
    for response in responses:
        assert hooks.map_error(exchange, response, ctx) is None, f"success mapped to an error: {response.text[:80]}"


def check_client_id_mapping(hooks: Hooks, spec: ExchangeSpec, samples: Iterable[str]) -> None:
    """Deterministic, within the exchange's rule, and a different value on the next probe."""
    pattern = re.compile(spec.client_id.pattern)
    for cid in samples:
        first = hooks.map_client_id(spec.name, cid, 0)
        assert first == hooks.map_client_id(spec.name, cid, 0), f"{cid!r}: mapping is not deterministic"
        probe = hooks.map_client_id(spec.name, cid, 1)
        assert probe != first, f"{cid!r}: attempt 1 must give another candidate"
        for value in (first, probe):
            if spec.client_id.kind == "int32":
                assert isinstance(value, int) and 0 < value < 2**31, f"{cid!r} -> {value!r} is not a positive int32"
            else:
                assert isinstance(value, str), f"{cid!r} -> {value!r} is not a string"
                assert len(value) <= spec.client_id.max_length, f"{cid!r} -> {value!r} is too long"
                assert pattern.match(value), f"{cid!r} -> {value!r} breaks {spec.client_id.pattern}"


PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def check_amount_format(
    format_fn: Callable[[Decimal, Market], str], market: Market, values: Iterable[Decimal]
) -> None:
    """A formatting helper of the plugin gives plain decimal strings (no exponent) on the market's step."""
    for value in values:
        text = format_fn(value, market)
        assert PLAIN_NUMBER.fullmatch(text), f"{value} formatted as {text!r}"
        step = market.step_size
        if step:
            assert Decimal(text) % step == 0, f"{text} is not a multiple of {step}"


def check_decimal_format(
    hooks: Hooks,
    exchange: str,
    market: Market,
    quantities: Iterable[Decimal],
    *,
    price: Decimal,
    options: Mapping[str, Any] | None = None,
    native_client_id: NativeClientId = "t5fmt1",
) -> None:
    """The plugin's ``to_native`` writes amounts exactly: for a limit buy of each quantity (a multiple of
    the market's step, in any notation: ``1E+2``, ``0.00100``) at ``price`` (on the tick), the call carries
    the quantity and the price as plain decimal strings (no exponent, no float) equal to what was asked,
    and every other numeric parameter in plain notation too."""
    for quantity in quantities:
        request = OrderRequest(
            symbol=market.symbol,
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=quantity,
            price=price,
            user_id=1,
            broker_id=1,
            time_in_force=TimeInForce.GTC,
        )
        call = hooks.to_native(exchange, request, market, native_client_id, options)
        numbers = {}
        for name, text in call.params.items():
            try:
                value = Decimal(text)
            except (ArithmeticError, ValueError, TypeError):
                continue  # not a number (a symbol, a side…)
            if value.is_finite():
                assert PLAIN_NUMBER.fullmatch(text), f"{exchange}: {name}={text!r} is not plain notation"
                numbers[name] = value
        assert quantity in numbers.values(), f"{exchange}: quantity {quantity} not sent as such: {dict(call.params)}"
        assert price in numbers.values(), f"{exchange}: price {price} not sent as such: {dict(call.params)}"


def check_symbol_roundtrip(
    markets: Sequence[Market], to_native: Callable[[str], str], to_unified: Callable[[str], str]
) -> None:
    for market in markets:
        assert to_native(market.symbol) == market.native_symbol, f"{market.symbol} -> {to_native(market.symbol)}"
        assert to_unified(market.native_symbol) == market.symbol, (
            f"{market.native_symbol} -> {to_unified(market.native_symbol)}"
        )


def assert_unified_order(order: Any, *, raw_required: bool = True) -> None:
    """The seed's Terminal 7 format validator, as an assertion: required fields, vocabulary, raw present."""
    for field in ("exchange", "symbol", "side", "type", "status", "client_order_id"):
        assert getattr(order, field) is not None, f"order field {field} is missing"
    assert isinstance(order.status, OrderStatus), f"status {order.status!r} outside the vocabulary"
    for field in ("quantity", "filled", "price", "average", "fee", "remaining"):
        value = getattr(order, field)
        assert value is None or isinstance(value, Decimal), f"{field} is {type(value).__name__}, not Decimal"
    if raw_required and order.status is not OrderStatus.PENDING_SUBMIT:
        assert order.raw, "raw native payload missing"


def documented_statuses(table: Mapping[str, Any]) -> list[str]:
    return list(table)

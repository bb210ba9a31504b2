"""Decimal helpers for exchange formatting: exact, no exponent, never through float."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal


def plain(value: Decimal) -> str:
    """``Decimal("1E-8")`` -> ``"0.00000001"``; ``Decimal("43000.00")`` -> ``"43000"``.

    Trailing zeros are dropped (exchanges accept ``"0.1"`` for a step of ``0.001``), and the result never
    uses exponent notation.
    """
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {value}")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def is_multiple(value: Decimal, step: Decimal | None, origin: Decimal = Decimal(0)) -> bool:
    """True when ``value - origin`` is an exact multiple of ``step`` (a zero/absent step allows all)."""
    if step is None or step == 0:
        return True
    return (value - origin) % step == 0


def floor_to_step(value: Decimal, step: Decimal | None) -> Decimal:
    """The largest multiple of ``step`` not above ``value``."""
    if step is None or step == 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def decimals_of(step: Decimal) -> int:
    """Number of decimal places a step implies: 0.001 -> 3, 1 -> 0, 0.00010000 -> 4."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -int(exponent))

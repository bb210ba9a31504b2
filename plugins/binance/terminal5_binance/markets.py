"""``exchangeInfo`` -> ``Market`` (spot and USDⓈ-M futures), and the filter checks/formatting used
before an order is sent (reference §3 "Instrument metadata and filters").

Binance publishes every number as a string; they are read as ``Decimal`` and a value of ``0`` means
"rule disabled" (PRICE_FILTER), so it becomes ``None`` on the unified ``Market``. The raw symbol entry,
filters included, is kept in ``Market.info`` for the checks below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from terminal5.decimals import is_multiple, plain
from terminal5.errors import InvalidOrder
from terminal5.models import Market, MarketType
from terminal5_binance.constants import (
    EXCHANGE,
    ICEBERG_PARTS,
    LOT_SIZE,
    MARKET_LOT_SIZE,
    MIN_NOTIONAL,
    NOTIONAL,
    PRICE_FILTER,
)
from terminal5_binance.symbols import unified_symbol

TRADING = "TRADING"


def dec(value: Any) -> Decimal | None:
    """A Decimal from a Binance number/string; ``None`` for missing/empty. Never goes through float."""
    if value is None or value == "":
        return None
    if isinstance(value, float):  # the transport parses with Decimal: a float here is a bug upstream
        raise TypeError("float in a Binance payload: parse JSON with terminal5.jsonutil")
    return Decimal(str(value)) if not isinstance(value, Decimal) else value


def _positive(value: Any) -> Decimal | None:
    """``0`` disables a Binance filter bound: map it to ``None``."""
    number = dec(value)
    return number if number is not None and number > 0 else None


def filters_of(info: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f["filterType"]: f for f in info.get("filters", ()) if isinstance(f, Mapping) and "filterType" in f}


def parse_symbol(entry: Mapping[str, Any], *, futures: bool) -> Market | None:
    """One ``exchangeInfo.symbols[]`` entry -> ``Market`` (``None`` for contract types we do not model)."""
    base, quote = entry["baseAsset"], entry["quoteAsset"]
    native = entry["symbol"]
    if not futures:
        market_type, settle, symbol = MarketType.SPOT, None, unified_symbol(base, quote, MarketType.SPOT)
        active = entry.get("status") == TRADING and entry.get("isSpotTradingAllowed", True) is not False
    else:
        settle = entry.get("marginAsset") or quote
        contract = entry.get("contractType", "PERPETUAL")
        if contract == "PERPETUAL":
            market_type, expiry = MarketType.SWAP, None
        elif contract in ("CURRENT_QUARTER", "NEXT_QUARTER", "CURRENT_MONTH", "NEXT_MONTH"):
            market_type = MarketType.FUTURE
            _, _, expiry = native.partition("_")
            if not (expiry.isdigit() and len(expiry) == 6):
                return None
        else:  # e.g. TRADIFI_PERPETUAL or an empty contract type while settling: not tradable as modelled
            return None
        symbol = unified_symbol(base, quote, market_type, settle=settle, expiry=expiry)
        active = entry.get("status") == TRADING
    filters = filters_of(entry)
    price = filters.get(PRICE_FILTER, {})
    lot = filters.get(LOT_SIZE, {})
    market_lot = filters.get(MARKET_LOT_SIZE, {})
    notional = filters.get(NOTIONAL) or filters.get(MIN_NOTIONAL) or {}
    return Market(
        exchange=EXCHANGE,
        symbol=symbol,
        native_symbol=native,
        type=market_type,
        base=base,
        quote=quote,
        settle=settle,
        tick_size=_positive(price.get("tickSize")),
        step_size=_positive(lot.get("stepSize")),
        min_quantity=_positive(lot.get("minQty")),
        max_quantity=_positive(lot.get("maxQty")),
        # spot NOTIONAL/MIN_NOTIONAL use ``minNotional``; futures MIN_NOTIONAL uses ``notional``
        min_notional=_positive(notional.get("minNotional", notional.get("notional"))),
        market_step_size=_positive(market_lot.get("stepSize")),
        market_min_quantity=_positive(market_lot.get("minQty")),
        market_max_quantity=_positive(market_lot.get("maxQty")),
        active=active,
        info=dict(entry),
    )


def parse_exchange_info(data: Mapping[str, Any], *, futures: bool) -> list[Market]:
    markets = []
    for entry in data.get("symbols", ()):
        market = parse_symbol(entry, futures=futures)
        if market is not None:
            markets.append(market)
    return markets


# --- filter checks -------------------------------------------------------------------------------------


def _fail(field: str, message: str) -> InvalidOrder:
    return InvalidOrder(message, exchange=EXCHANGE, field=field)


def check_lot(
    market: Market,
    quantity: Decimal,
    *,
    is_market: bool,
    field: str = "quantity",
    filters: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """LOT_SIZE (and MARKET_LOT_SIZE for market orders): bounds and step.

    Spot checks ``quantity % stepSize == 0`` (since 2023), futures ``(quantity - minQty) % stepSize == 0``.
    """
    futures = market.type is not MarketType.SPOT
    if filters is None:
        filters = filters_of(market.info)
    names = [LOT_SIZE, MARKET_LOT_SIZE] if is_market else [LOT_SIZE]
    for name in names:
        rule = filters.get(name)
        if rule is None:
            continue
        _check_filter(field, name, quantity, rule, ("minQty", "maxQty", "stepSize"), step_from_min=futures)


def _check_filter(
    field: str, name: str, value: Decimal, rule: Mapping[str, Any], keys: tuple[str, str, str], *, step_from_min: bool
) -> None:
    """One filter's ``keys`` (min, max, step): ``min <= value <= max`` and ``value`` on the step's grid,
    counted from ``min`` when ``step_from_min``, else from zero. Refused, never rounded."""
    low, high, step = (_positive(rule.get(key)) for key in keys)
    if low is not None and value < low:
        raise _fail(field, f"{name}: {field} {plain(value)} below {keys[0]} {plain(low)}")
    if high is not None and value > high:
        raise _fail(field, f"{name}: {field} {plain(value)} above {keys[1]} {plain(high)}")
    origin = low if step_from_min and low is not None else Decimal(0)
    if not is_multiple(value, step, origin):
        raise _fail(field, f"{name}: {field} {plain(value)} is not a multiple of {keys[2]} {plain(step)}")  # type: ignore[arg-type]


def check_price(
    market: Market, price: Decimal, field: str = "price", *, filters: Mapping[str, Mapping[str, Any]] | None = None
) -> None:
    """PRICE_FILTER: ``minPrice <= price <= maxPrice`` and ``(price - minPrice) % tickSize == 0``."""
    rule = (filters_of(market.info) if filters is None else filters).get(PRICE_FILTER)
    if rule is None:
        return
    _check_filter(field, PRICE_FILTER, price, rule, ("minPrice", "maxPrice", "tickSize"), step_from_min=True)


def check_notional(
    market: Market,
    quantity: Decimal,
    price: Decimal | None,
    *,
    filters: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """NOTIONAL / MIN_NOTIONAL for orders that carry a price.

    Market orders are not checked here: Binance values them at the average price (spot, when
    ``applyMinToMarket``) or the mark price (futures), neither of which a pure conversion knows. Binance
    then answers -1013 (spot) or -4164 (futures), mapped to ``InvalidOrder``.
    """
    if price is None:
        return
    if filters is None:
        filters = filters_of(market.info)
    notional = quantity * price
    rule = filters.get(NOTIONAL)
    if rule is not None:
        low, high = _positive(rule.get("minNotional")), _positive(rule.get("maxNotional"))
        if low is not None and notional < low:
            raise _fail("quantity", f"NOTIONAL: notional {plain(notional)} below minNotional {plain(low)}")
        if high is not None and notional > high:
            raise _fail("quantity", f"NOTIONAL: notional {plain(notional)} above maxNotional {plain(high)}")
    rule = filters.get(MIN_NOTIONAL)
    if rule is not None:
        low = _positive(rule.get("minNotional", rule.get("notional")))
        if low is not None and notional < low:
            raise _fail("quantity", f"MIN_NOTIONAL: notional {plain(notional)} below minimum {plain(low)}")


def check_iceberg(market: Market, quantity: Decimal, iceberg_qty: Decimal) -> None:
    """ICEBERG_PARTS: ``ceil(quantity / icebergQty) <= limit``; the visible part obeys LOT_SIZE too."""
    check_lot(market, iceberg_qty, is_market=False, field="iceberg_qty")
    rule = filters_of(market.info).get(ICEBERG_PARTS)
    if rule is None or not rule.get("limit"):
        return
    limit = int(rule["limit"])
    parts = -(-quantity // iceberg_qty)
    if parts > limit:
        raise _fail("iceberg_qty", f"ICEBERG_PARTS: {int(parts)} parts above limit {limit}")


def format_quantity(market: Market, quantity: Decimal) -> str:
    """Exactly as Binance expects: plain notation, no exponent, never more decimals than the step.

    The value has already passed ``check_lot`` so it is an exact multiple of the step: formatting drops
    trailing zeros only (``1.100`` -> ``1.1``).
    """
    return plain(quantity)


def format_price(market: Market, price: Decimal) -> str:
    return plain(price)


def rate_limits_of(data: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    return list(data.get("rateLimits", ()))

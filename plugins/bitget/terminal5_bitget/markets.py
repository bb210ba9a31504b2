"""Spot ``symbols`` and mix ``contracts`` -> ``Market`` (reference §3 "Instrument metadata"), and the checks
run before an order is sent.

Bitget publishes precisions as decimal places (spot ``pricePrecision``/``quantityPrecision``/
``quotePrecision``; mix ``pricePlace``/``volumePlace``) plus, on mix, a price step in units of the last
decimal (``priceEndStep``) and a size multiple (``sizeMultiplier``). They become ``tick_size`` and
``step_size``; the raw entry stays in ``Market.info``. Amounts off the grid are **refused, never rounded**:
the error names the bound (e.g. ``minTradeNum: quantity 0.0001 below 0.001``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from terminal5.decimals import decimals_of, is_multiple, plain
from terminal5.errors import InvalidOrder
from terminal5.models import Market, MarketType
from terminal5_bitget.constants import COIN_FUTURES, EXCHANGE, USDT_FUTURES
from terminal5_bitget.symbols import unified_symbol

SPOT_ONLINE = "online"
MIX_NORMAL = "normal"
PERPETUAL = "perpetual"


def dec(value: Any) -> Decimal | None:
    """A Decimal from a Bitget string/number; ``None`` for missing/empty. Never goes through float."""
    if value is None or value == "":
        return None
    if isinstance(value, float):  # the transport parses with Decimal: a float here is a bug upstream
        raise TypeError("float in a Bitget payload: parse JSON with terminal5.jsonutil")
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _positive(value: Any) -> Decimal | None:
    number = dec(value)
    return number if number is not None and number > 0 else None


def _places(value: Any) -> Decimal | None:
    """Decimal places -> the step they allow (``2`` -> ``0.01``)."""
    if value in (None, ""):
        return None
    return Decimal(1).scaleb(-int(value))


def parse_spot_symbol(entry: Mapping[str, Any]) -> Market:
    base, quote = str(entry["baseCoin"]).upper(), str(entry["quoteCoin"]).upper()
    return Market(
        exchange=EXCHANGE,
        symbol=unified_symbol(base, quote, MarketType.SPOT),
        native_symbol=str(entry["symbol"]).upper(),
        type=MarketType.SPOT,
        base=base,
        quote=quote,
        tick_size=_places(entry.get("pricePrecision")),
        step_size=_places(entry.get("quantityPrecision")),
        min_quantity=_positive(entry.get("minTradeAmount")),
        max_quantity=_positive(entry.get("maxTradeAmount")),
        # minTradeUSDT is a value in USDT: a notional bound only where the quote coin is USDT
        min_notional=_positive(entry.get("minTradeUSDT")) if quote == "USDT" else None,
        active=entry.get("status") == SPOT_ONLINE,
        info=dict(entry),
    )


def parse_contract(entry: Mapping[str, Any], product_type: str) -> Market | None:
    """One mix contract (``None`` for delivery contracts: only perpetuals are modelled)."""
    if str(entry.get("symbolType", PERPETUAL)).lower() != PERPETUAL:
        return None
    base, quote = str(entry["baseCoin"]).upper(), str(entry["quoteCoin"]).upper()
    settle = base if product_type == COIN_FUTURES else quote
    place = _places(entry.get("pricePlace"))
    end_step = dec(entry.get("priceEndStep")) or Decimal(1)
    multiplier = _positive(entry.get("sizeMultiplier")) or _places(entry.get("volumePlace"))
    return Market(
        exchange=EXCHANGE,
        symbol=unified_symbol(base, quote, MarketType.SWAP, settle=settle),
        native_symbol=str(entry["symbol"]).upper(),
        type=MarketType.SWAP,
        base=base,
        quote=quote,
        settle=settle,
        tick_size=(end_step * place) if place is not None else None,
        step_size=multiplier,
        min_quantity=_positive(entry.get("minTradeNum")),
        max_quantity=_positive(entry.get("maxOrderQty")),
        min_notional=_positive(entry.get("minTradeUSDT")) if product_type != COIN_FUTURES else None,
        active=str(entry.get("symbolStatus", MIX_NORMAL)) == MIX_NORMAL,
        info={**entry, "productType": product_type},
    )


def parse_symbols(items: Any) -> list[Market]:
    return [parse_spot_symbol(e) for e in items or ()]


def parse_contracts(items: Any, product_type: str = USDT_FUTURES) -> list[Market]:
    return [m for m in (parse_contract(e, product_type) for e in items or ()) if m is not None]


# --- checks -------------------------------------------------------------------------------------------------


def _fail(field: str, message: str) -> InvalidOrder:
    return InvalidOrder(message, exchange=EXCHANGE, field=field)


def _spot(market: Market) -> bool:
    return market.type is MarketType.SPOT


def check_quantity(market: Market, quantity: Decimal, field: str = "quantity") -> None:
    """Size precision, size multiple, minimum and maximum trade amount."""
    if quantity <= 0:
        raise _fail(field, f"{field} must be positive, got {plain(quantity)}")
    info = market.info
    places_name = "quantityPrecision" if _spot(market) else "volumePlace"
    places = info.get(places_name)
    if places not in (None, "") and decimals_of(quantity) > int(places):
        raise _fail(field, f"{places_name}: {field} {plain(quantity)} has more than {int(places)} decimals")
    if not _spot(market) and not is_multiple(quantity, market.step_size):
        raise _fail(field, f"sizeMultiplier: {field} {plain(quantity)} is not a multiple of "
                           f"{plain(market.step_size)}")  # type: ignore[arg-type]
    low_name = "minTradeAmount" if _spot(market) else "minTradeNum"
    if market.min_quantity is not None and quantity < market.min_quantity:
        raise _fail(field, f"{low_name}: {field} {plain(quantity)} below {plain(market.min_quantity)}")
    high_name = "maxTradeAmount" if _spot(market) else "maxOrderQty"
    if market.max_quantity is not None and quantity > market.max_quantity:
        raise _fail(field, f"{high_name}: {field} {plain(quantity)} above {plain(market.max_quantity)}")


def check_price(market: Market, price: Decimal, field: str = "price") -> None:
    """Price precision (spot) or price step (mix: ``priceEndStep`` units of ``pricePlace``)."""
    if price <= 0:
        raise _fail(field, f"{field} must be positive, got {plain(price)}")
    if market.tick_size is None or is_multiple(price, market.tick_size):
        return
    if _spot(market):
        places = int(market.info["pricePrecision"])
        raise _fail(field, f"pricePrecision: {field} {plain(price)} has more than {places} decimals")
    raise _fail(field, f"priceEndStep: {field} {plain(price)} is not a multiple of the tick {plain(market.tick_size)}")


def check_notional(market: Market, quantity: Decimal, price: Decimal | None) -> None:
    """``minTradeUSDT`` for orders whose value is known before sending (a price, or a quote size)."""
    if price is None or market.min_notional is None:
        return
    notional = quantity * price
    if notional < market.min_notional:
        raise _fail("quantity", f"minTradeUSDT: order value {plain(notional)} below {plain(market.min_notional)}")


def check_quote_size(market: Market, size: Decimal, field: str = "extra_params.size") -> None:
    """A spot market BUY's ``size`` is an amount of the quote coin: ``quotePrecision`` and ``minTradeUSDT``."""
    if size <= 0:
        raise _fail(field, f"{field} must be positive, got {plain(size)}")
    places = market.info.get("quotePrecision")
    if places not in (None, "") and decimals_of(size) > int(places):
        raise _fail(field, f"quotePrecision: {field} {plain(size)} has more than {int(places)} decimals")
    if market.min_notional is not None and size < market.min_notional:
        raise _fail(field, f"minTradeUSDT: {field} {plain(size)} below {plain(market.min_notional)}")


def fmt(value: Decimal) -> str:
    """Plain notation, no exponent; the value already passed the checks so it is on the grid."""
    return plain(value)

"""Unified domain models: frozen attrs classes, no wire names, no I/O.

Every amount and price is a ``Decimal``; every datetime is timezone-aware UTC. Wire formats (the HTTP
front door, the database, the exchanges) are converted at the edges by ``terminal5.wire`` and by the
exchange plugins.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    LIMIT_MAKER = "limit_maker"  # post-only limit
    STOP_LOSS = "stop_loss"  # market order triggered at stop_price
    STOP_LOSS_LIMIT = "stop_loss_limit"
    TAKE_PROFIT = "take_profit"
    TAKE_PROFIT_LIMIT = "take_profit_limit"

    @property
    def needs_price(self) -> bool:
        return self in _PRICED

    @property
    def needs_stop_price(self) -> bool:
        return self in _TRIGGERED


_PRICED = {OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT}
_TRIGGERED = {OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT}


class TimeInForce(enum.StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTD = "GTD"


class Source(enum.StrEnum):
    MANUAL = "manual"
    STRATEGY = "strategy"
    WEBHOOK = "webhook"
    EXTERNAL = "external"  # found on the exchange by reconciliation, never sent by a client


class PositionSide(enum.StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"


class MarginMode(enum.StrEnum):
    ISOLATED = "isolated"
    CROSS = "cross"


class MarketType(enum.StrEnum):
    SPOT = "spot"
    SWAP = "swap"  # perpetual futures, symbol BASE/QUOTE:SETTLE
    FUTURE = "future"  # dated futures, symbol BASE/QUOTE:SETTLE-YYMMDD


class OrderStatus(enum.StrEnum):
    """The unified status vocabulary.

    ``open``/``closed``/``cancelled`` come from the exchange through ``normalize_status``; ``UNKNOWN``
    is an exchange status no plugin maps. ``pending_submit`` is the gateway's own state between
    persisting the intent and knowing the exchange's answer (it stays when the outcome is unknown);
    ``rejected`` means the exchange refused the order, so it never existed there.
    """

    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    UNKNOWN = "UNKNOWN"
    PENDING_SUBMIT = "pending_submit"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        return self in (OrderStatus.CLOSED, OrderStatus.CANCELLED, OrderStatus.REJECTED)


EXCHANGE_STATUSES = frozenset({OrderStatus.OPEN, OrderStatus.CLOSED, OrderStatus.CANCELLED})

#: Level 1: used but unsupported by the target exchange/market -> UnsupportedParameterError.
LEVEL1_PARAMS = (
    "client_order_id",
    "symbol",
    "side",
    "type",
    "quantity",
    "price",
    "time_in_force",
    "reduce_only",
    "stop_price",
    "position_side",
    "margin_mode",
)
#: Level 2: mapped where supported, otherwise listed in ``Order.ignored_params``.
LEVEL2_PARAMS = ("stop_loss_price", "take_profit_price", "trailing_delta", "iceberg_qty")

SYMBOL_RE = re.compile(
    r"^(?P<base>[A-Z0-9]{1,20})/(?P<quote>[A-Z0-9]{1,20})(?::(?P<settle>[A-Z0-9]{1,20})(?:-(?P<expiry>\d{6}))?)?$"
)


def market_type_of(symbol: str) -> MarketType:
    """``BTC/USDT`` is spot, ``BTC/USDT:USDT`` a perpetual swap, ``BTC/USDT:USDT-261225`` a dated future."""
    match = SYMBOL_RE.match(symbol)
    if match is None or match["settle"] is None:
        return MarketType.SPOT
    return MarketType.FUTURE if match["expiry"] else MarketType.SWAP


@attrs.frozen(kw_only=True)
class OrderRequest:
    """A unified order request: every level of parameters (see ``terminal5.params``)."""

    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    user_id: int
    broker_id: int
    price: Decimal | None = None
    source: Source = Source.MANUAL
    client_order_id: str | None = None
    time_in_force: TimeInForce | None = None
    expire_at: datetime | None = None  # with time_in_force GTD
    reduce_only: bool = False
    stop_price: Decimal | None = None
    position_side: PositionSide | None = None
    margin_mode: MarginMode | None = None
    stop_loss_price: Decimal | None = None
    take_profit_price: Decimal | None = None
    trailing_delta: Decimal | None = None
    iceberg_qty: Decimal | None = None
    extra_params: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def market_type(self) -> MarketType:
        return market_type_of(self.symbol)

    def used_params(self) -> list[str]:
        """Level 1 and 2 parameters this request actually uses (a default value is not a use)."""
        used = ["symbol", "side", "type", "quantity"]
        for name in (*LEVEL1_PARAMS, *LEVEL2_PARAMS):
            if name in used:
                continue
            value = getattr(self, name)
            if value is not None and value is not False:
                used.append(name)
        return used


@attrs.frozen(kw_only=True)
class Trade:
    """One execution (fill) of an order."""

    id: str
    order_id: str | None
    symbol: str
    side: Side | None
    price: Decimal
    quantity: Decimal
    fee: Decimal | None = None
    fee_currency: str | None = None
    timestamp: datetime | None = None
    maker: bool | None = None


@attrs.frozen(kw_only=True)
class Order:
    """A unified order, as answered and as stored (typed columns + ``raw``)."""

    exchange: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    status: OrderStatus
    #: the exchange's order id; a string or nothing (a list or a number is refused, never str()-ed into an id)
    id: str | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str)))
    client_order_id: str | None = None  # the unified client id (the idempotency key)
    native_client_id: str | None = None  # what the exchange knows (Kraken userref, a shortened id…)
    price: Decimal | None = None
    stop_price: Decimal | None = None
    filled: Decimal = Decimal(0)
    remaining: Decimal | None = None
    average: Decimal | None = None
    native_status: str | None = None
    fee: Decimal | None = None
    fee_currency: str | None = None
    trades: tuple[Trade, ...] = ()
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False
    position_side: PositionSide | None = None
    user_id: int | None = None
    broker_id: int | None = None
    source: Source | None = None
    request_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    ignored_params: tuple[str, ...] = ()
    parent_client_order_id: str | None = None
    raw: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@attrs.frozen(kw_only=True)
class Position:
    symbol: str
    side: str  # "long" | "short" | "both" (one-way mode, sign in contracts)
    contracts: Decimal
    entry_price: Decimal | None = None
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    liquidation_price: Decimal | None = None
    leverage: Decimal | None = None
    margin_mode: MarginMode | None = None
    raw: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class Market:
    """One tradable instrument, as the exchange publishes it (never hard-coded)."""

    exchange: str
    symbol: str  # unified: BTC/USDT, BTC/USDT:USDT
    native_symbol: str  # BTCUSDT, XXBTZUSD …
    type: MarketType
    base: str
    quote: str
    settle: str | None = None
    tick_size: Decimal | None = None
    step_size: Decimal | None = None
    min_quantity: Decimal | None = None
    max_quantity: Decimal | None = None
    min_notional: Decimal | None = None
    market_step_size: Decimal | None = None
    market_min_quantity: Decimal | None = None
    market_max_quantity: Decimal | None = None
    active: bool = True
    info: Mapping[str, Any] = attrs.field(factory=dict)  # raw exchange metadata, for the plugin's own use

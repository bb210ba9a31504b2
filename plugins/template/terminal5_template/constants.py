"""Everything exchange-specific that is data: names, URLs, tables."""

from __future__ import annotations

import re

from terminal5.errors import (
    AuthenticationError,
    BadSymbol,
    DuplicateOrder,
    ExchangeError,
    ExchangeNotAvailable,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimitExceeded,
)
from terminal5.models import MarketType, OrderStatus, OrderType

#: the exchange's name: the key brokers use and every hook receives as ``exchange``
NAME = "loopback"
DISPLAY_NAME = "Loopback exchange (plugin template)"
# Production URLs of a real exchange go here; brokers override them (tests and `terminal5 simulator` serve the
# loopback exchange on 127.0.0.1 and give its URL as the broker's base_url).
PRODUCTION_URLS = {MarketType.SPOT: "https://api.example.invalid", MarketType.SWAP: "https://api.example.invalid"}
TESTNET_URLS = {MarketType.SPOT: "https://testnet.example.invalid"}

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
CLIENT_ID_MAX = 36

#: every documented native status
STATUSES: dict[str, OrderStatus] = {
    "NEW": OrderStatus.OPEN,
    "PARTIALLY_FILLED": OrderStatus.OPEN,
    "FILLED": OrderStatus.CLOSED,
    "CANCELED": OrderStatus.CANCELLED,
    "EXPIRED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.CANCELLED,
}

#: every documented error code
ERRORS: dict[str, type[ExchangeError]] = {
    "INVALID_KEY": AuthenticationError,
    "BAD_SIGNATURE": AuthenticationError,
    "DUPLICATE": DuplicateOrder,
    "NOT_FOUND": OrderNotFound,
    "BAD_SYMBOL": BadSymbol,
    "INSUFFICIENT_FUNDS": InsufficientFunds,
    "MISSING_PARAM": InvalidOrder,
    "NOT_OPEN": InvalidOrder,
    "RATE_LIMIT": RateLimitExceeded,
    "OVERLOAD": ExchangeNotAvailable,
}

#: seconds to wait after RATE_LIMIT when the answer has no Retry-After header
RETRY_AFTER_DEFAULT = 1.0

ORDER_TYPES: dict[OrderType, str] = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_LOSS: "STOP_MARKET",
    OrderType.TAKE_PROFIT: "TAKE_PROFIT_MARKET",
}
ORDER_TYPES_BACK = {native: unified for unified, native in ORDER_TYPES.items()}

KEY_HEADER = "X-LB-KEY"
TS_HEADER = "X-LB-TS"
SIGN_HEADER = "X-LB-SIGN"
PERPETUAL_SUFFIX = "_PERP"

"""Kraken tables, as data (source: shared/reference/kraken.md).

Code looks these up; nothing here is computed. Changing a mapping means editing one dict.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from terminal5.errors import (
    AuthenticationError,
    BadSymbol,
    ExchangeError,
    ExchangeNotAvailable,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    PermissionDenied,
    RateLimitExceeded,
)
from terminal5.models import OrderStatus, OrderType, TimeInForce

EXCHANGE: Final = "kraken"
DISPLAY_NAME: Final = "Kraken"
PRODUCTION_URL: Final = "https://api.kraken.com"

# --- paths (reference §3) -------------------------------------------------------------------------

PUBLIC = "/0/public/"
PRIVATE = "/0/private/"
PATH_TIME = PUBLIC + "Time"
PATH_ASSET_PAIRS = PUBLIC + "AssetPairs"
PATH_ADD_ORDER = PRIVATE + "AddOrder"
PATH_AMEND_ORDER = PRIVATE + "AmendOrder"
PATH_CANCEL_ORDER = PRIVATE + "CancelOrder"
PATH_CANCEL_ALL_AFTER = PRIVATE + "CancelAllOrdersAfter"
PATH_QUERY_ORDERS = PRIVATE + "QueryOrders"
PATH_OPEN_ORDERS = PRIVATE + "OpenOrders"
PATH_CLOSED_ORDERS = PRIVATE + "ClosedOrders"
PATH_TRADES_HISTORY = PRIVATE + "TradesHistory"
PATH_BALANCE = PRIVATE + "Balance"
PATH_BALANCE_EX = PRIVATE + "BalanceEx"

#: QueryOrders takes at most 50 txids per call; ClosedOrders/TradesHistory return 50 per page.
QUERY_ORDERS_MAX_IDS: Final = 50
PAGE_SIZE: Final = 50

# --- statuses (reference §6) ----------------------------------------------------------------------

#: every documented order status. ``pending`` is "pending book entry": the order exists on Kraken and is
#: not final, so it is open; ``expired`` (GTD, or ``expiretm``) ends the order like a cancel.
STATUS: Final[dict[str, OrderStatus]] = {
    "pending": OrderStatus.OPEN,
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.CLOSED,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.CANCELLED,
}

# --- order types (reference §4) -------------------------------------------------------------------

#: unified type -> (Kraken ordertype, extra oflag)
ORDER_TYPE_TO_NATIVE: Final[dict[OrderType, tuple[str, str | None]]] = {
    OrderType.MARKET: ("market", None),
    OrderType.LIMIT: ("limit", None),
    OrderType.LIMIT_MAKER: ("limit", "post"),
    OrderType.STOP_LOSS: ("stop-loss", None),
    OrderType.TAKE_PROFIT: ("take-profit", None),
    OrderType.STOP_LOSS_LIMIT: ("stop-loss-limit", None),
    OrderType.TAKE_PROFIT_LIMIT: ("take-profit-limit", None),
}

#: Kraken ordertype -> unified type, for every documented ordertype. Types the unified vocabulary lacks
#: get their closest relative (``raw`` keeps the truth): an iceberg is a limit order, a trailing stop a
#: stop, ``settle-position`` a market close.
ORDER_TYPE_FROM_NATIVE: Final[dict[str, OrderType]] = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "iceberg": OrderType.LIMIT,
    "stop-loss": OrderType.STOP_LOSS,
    "take-profit": OrderType.TAKE_PROFIT,
    "stop-loss-limit": OrderType.STOP_LOSS_LIMIT,
    "take-profit-limit": OrderType.TAKE_PROFIT_LIMIT,
    "trailing-stop": OrderType.STOP_LOSS,
    "trailing-stop-limit": OrderType.STOP_LOSS_LIMIT,
    "settle-position": OrderType.MARKET,
}

#: time in force Kraken REST documents (FOK is WebSocket-only / unsure on REST: refused, not guessed).
TIME_IN_FORCE: Final[dict[TimeInForce, str]] = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.GTD: "GTD",
}

# --- assets and symbols (reference §4 ``pair``) ---------------------------------------------------

#: Kraken's own asset codes that differ from the common ones.
ASSET_ALIASES: Final[dict[str, str]] = {"XBT": "BTC", "XDG": "DOGE"}
ASSET_ALIASES_REVERSE: Final[dict[str, str]] = {v: k for k, v in ASSET_ALIASES.items()}

#: Legacy X/Z-prefixed asset codes (older assets; newer ones such as SOL carry no prefix). Listed, not
#: stripped by rule: ``ZEUS`` or ``XTZ`` must not lose a letter.
LEGACY_ASSETS: Final[dict[str, str]] = {
    "XXBT": "XBT",
    "XXDG": "XDG",
    "XETH": "ETH",
    "XETC": "ETC",
    "XLTC": "LTC",
    "XXLM": "XLM",
    "XXMR": "XMR",
    "XXRP": "XRP",
    "XZEC": "ZEC",
    "XREP": "REP",
    "XMLN": "MLN",
    "XICN": "ICN",
    "XNMC": "NMC",
    "XXVN": "XVN",
    "ZUSD": "USD",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
    "ZCAD": "CAD",
    "ZJPY": "JPY",
    "ZAUD": "AUD",
    "ZCHF": "CHF",
    "ZKRW": "KRW",
}

#: AssetPairs ``status`` values under which new orders are accepted (with restrictions for some).
TRADABLE_PAIR_STATUSES: Final = frozenset({"online", "post_only", "limit_only", "reduce_only"})

# --- errors (reference §7) ------------------------------------------------------------------------

#: refused before processing: another call of the key reached Kraken with a higher nonce first; a fresh nonce
#: succeeds (``terminal5_kraken.client`` signs the call again)
INVALID_NONCE: Final = "EAPI:Invalid nonce"

#: Kraken's error strings are its codes. Exact strings first, then the longest matching prefix (for the
#: ones carrying a suffix: ``EGeneral:Invalid arguments:volume``, ``EService: Throttled: 1700000000``).
ERRORS: Final[dict[str, type[ExchangeError]]] = {
    "EAPI:Invalid key": AuthenticationError,
    "EAPI:Invalid signature": AuthenticationError,
    INVALID_NONCE: AuthenticationError,  # the taxonomy has no nonce class
    "EAPI:Bad request": InvalidOrder,
    "EGeneral:Permission denied": PermissionDenied,
    "EGeneral:Invalid arguments": InvalidOrder,
    "EGeneral:Temporary lockout": RateLimitExceeded,
    # "unknown outcome — reconcile": an outcome-unknown class, never a plain rejection.
    "EGeneral:Internal error": ExchangeNotAvailable,
    "EAPI:Rate limit exceeded": RateLimitExceeded,
    "EService: Throttled": RateLimitExceeded,
    "EService:Throttled": RateLimitExceeded,
    "EOrder:Rate limit exceeded": RateLimitExceeded,
    "EOrder:Orders limit exceeded": InvalidOrder,
    "EOrder:Insufficient funds": InsufficientFunds,
    "EOrder:Unknown order": OrderNotFound,
    "EOrder:Invalid order": InvalidOrder,
    "EOrder:Order minimum not met": InvalidOrder,
    "EOrder:Cost minimum not met": InvalidOrder,
    "EOrder:Invalid price": InvalidOrder,
    "EOrder:Tick size check failed": InvalidOrder,
    "EOrder:Post only order": InvalidOrder,
    "EQuery:Unknown asset pair": BadSymbol,
    "EService:Unavailable": ExchangeNotAvailable,
    "EService:Busy": ExchangeNotAvailable,
    "EService:Internal error": ExchangeNotAvailable,
    "EService:Market in cancel_only mode": InvalidOrder,
    "EService:Market in post_only mode": InvalidOrder,
    "EService:Market in limit_only mode": InvalidOrder,
    # The engine did not match before the deadline; treated as outcome-unknown so the core reconciles
    # (the exact semantics are only [likely] in the reference).
    "EService:Deadline elapsed": ExchangeNotAvailable,
}

#: when a string is in no table row: by category. ``EService`` is outcome-unknown (safe side); an
#: unknown ``EOrder`` is a rejection of the order.
ERROR_CATEGORIES: Final[dict[str, type[ExchangeError]]] = {
    "EOrder": InvalidOrder,
    "EService": ExchangeNotAvailable,
    "EAPI": ExchangeError,
    "EGeneral": ExchangeError,
    "EQuery": ExchangeError,
    "ETrade": ExchangeError,
    "EFunding": ExchangeError,
}

#: ``EGeneral:Temporary lockout`` lasts about 15 minutes (reference §2, [likely]).
LOCKOUT_SECONDS: Final = 900.0

# --- rate limits (reference §8) -------------------------------------------------------------------

#: REST call counter per API key: (maximum, decay per second). Starter from the older docs.
REST_COUNTER: Final[dict[str, tuple[Decimal, Decimal]]] = {
    "starter": (Decimal(15), Decimal("0.33")),
    "intermediate": (Decimal(20), Decimal("0.5")),
    "pro": (Decimal(20), Decimal(1)),
}
#: ledger/trade-history calls cost 4 in the 2026 docs (2 in older ones): take the larger.
REST_COST: Final[dict[str, int]] = {PATH_TRADES_HISTORY: 4}
#: AddOrder/CancelOrder/AmendOrder are counted by the trading engine, not by the REST counter.
REST_EXEMPT: Final = frozenset({PATH_ADD_ORDER, PATH_CANCEL_ORDER, PATH_AMEND_ORDER})

#: Trading-engine counter per pair: (threshold, decay per second).
TRADING_COUNTER: Final[dict[str, tuple[Decimal, Decimal]]] = {
    "starter": (Decimal(60), Decimal(1)),
    "intermediate": (Decimal(125), Decimal("2.34")),
    "pro": (Decimal(180), Decimal("3.75")),
}
#: extra cost of a cancel by order age: (age below, seconds -> penalty); 0 when older.
CANCEL_PENALTY: Final[tuple[tuple[int, int], ...]] = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))
#: extra cost of an amend by order age.
AMEND_PENALTY: Final[tuple[tuple[int, int], ...]] = ((5, 3), (10, 2), (15, 1))

DEFAULT_TIER: Final = "starter"
TIERS: Final = frozenset(REST_COUNTER)

# --- broker options ----------------------------------------------------------------------------

CLIENT_ID_MODES: Final = frozenset({"userref", "cl_ord_id"})
BROKER_OPTIONS: Final[dict[str, str]] = {
    "client_id_mode": "'userref' (default): the claimed int32 userref is sent; 'cl_ord_id': a Kraken-"
    "compliant string id is sent instead (the userref mapping is still recorded)",
    "tier": "verification tier for the client-side rate limits: starter (default), intermediate, pro",
    "nonce_window": "the nonce window set on the API key in Kraken's UI (default 0: this process sends one "
    "private call per key at a time, so nonces arrive in order; > 0: calls of one key run concurrently)",
    "read_back": "'immediate' (default): after AddOrder, only orders decided at once (market, IOC, FOK) are "
    "read back with QueryOrders; a resting order is completed from the request and its txid, status pending "
    "(one signed call per order); 'always': every order is read back (the exchange's status and fills with "
    "the answer, two signed calls per order)",
    "nonce_dir": "directory holding the per-key nonce high-water marks (default $TERMINAL5_DATA_DIR/"
    "kraken-nonce, else a per-user temp directory)",
}

"""Bitget facts as data: URLs, headers, paths, product types, the status and error tables, rate limits.

Everything comes from ``shared/reference/bitget.md`` (section numbers in the comments). Facts the reference
marks **[unsure]** are each defined once here, tagged ``[unsure]``, so re-checking one against the live
API means changing one line. Code looks these tables up; it never branches on a literal status or code.
"""

from __future__ import annotations

from typing import Final

from terminal5 import errors as t5
from terminal5.models import MarketType, OrderStatus

EXCHANGE: Final = "bitget"

# --- §1 base URLs, demo trading -------------------------------------------------------------------------

BASE_URL: Final = "https://api.bitget.com"
PRODUCTION_URLS: Final = {MarketType.SPOT: BASE_URL, MarketType.SWAP: BASE_URL}
#: demo trading is the same host plus a header on every REST call (§1 [verified]), outside the signature:
#: declared as the spec's ``ExchangeUrls.testnet_headers``, the core transport adds it to testnet calls
DEMO_HEADER: Final = "paptrading"
DEMO_HEADER_VALUE: Final = "1"
DEMO_HEADERS: Final = {DEMO_HEADER: DEMO_HEADER_VALUE}

# --- §2 signing -------------------------------------------------------------------------------------------

KEY_HEADER: Final = "ACCESS-KEY"
SIGN_HEADER: Final = "ACCESS-SIGN"
TIMESTAMP_HEADER: Final = "ACCESS-TIMESTAMP"
PASSPHRASE_HEADER: Final = "ACCESS-PASSPHRASE"  # noqa: S105 - a header name
#: headers the audit trail and cassettes never keep
SECRET_HEADERS: Final = frozenset({KEY_HEADER, SIGN_HEADER, PASSPHRASE_HEADER, TIMESTAMP_HEADER})
LOCALE: Final = "en-US"
#: distance to server time Bitget tolerates before "Request timestamp expired" (≈30 s [unsure]); the
#: client only resyncs when told, so this is documentation for the simulator
TIMESTAMP_TOLERANCE_MS: Final = 30_000
#: optional validity window sent as ``receiveWindow`` by nobody by default (§2: ≤ 60000 ms)
MAX_RECEIVE_WINDOW: Final = 60_000

# --- §3 endpoints ------------------------------------------------------------------------------------------

SERVER_TIME: Final = "/api/v2/public/time"


class Spot:
    symbols = "/api/v2/spot/public/symbols"
    place = "/api/v2/spot/trade/place-order"
    cancel = "/api/v2/spot/trade/cancel-order"
    order_info = "/api/v2/spot/trade/orderInfo"
    unfilled = "/api/v2/spot/trade/unfilled-orders"
    history = "/api/v2/spot/trade/history-orders"
    fills = "/api/v2/spot/trade/fills"
    place_plan = "/api/v2/spot/trade/place-plan-order"
    #: plan-order listing and cancel: not in the reference, names from Bitget's V2 spot trigger pages [unsure]
    current_plan = "/api/v2/spot/trade/current-plan-order"
    history_plan = "/api/v2/spot/trade/history-plan-order"
    cancel_plan = "/api/v2/spot/trade/cancel-plan-order"
    assets = "/api/v2/spot/account/assets"
    #: whether current-plan-order insists on a symbol; when it does, listing every open order skips spot plan
    #: orders (with a warning) unless a symbol is given [unsure]
    plan_list_needs_symbol = True


class Mix:
    contracts = "/api/v2/mix/market/contracts"
    place = "/api/v2/mix/order/place-order"
    modify = "/api/v2/mix/order/modify-order"
    cancel = "/api/v2/mix/order/cancel-order"
    detail = "/api/v2/mix/order/detail"
    pending = "/api/v2/mix/order/orders-pending"
    history = "/api/v2/mix/order/orders-history"
    fills = "/api/v2/mix/order/fills"
    place_plan = "/api/v2/mix/order/place-plan-order"
    #: plan-order listing and cancel: not in the reference, names from Bitget's V2 mix trigger pages [unsure]
    pending_plan = "/api/v2/mix/order/orders-plan-pending"
    history_plan = "/api/v2/mix/order/orders-plan-history"
    cancel_plan = "/api/v2/mix/order/cancel-plan-order"
    accounts = "/api/v2/mix/account/accounts"
    account = "/api/v2/mix/account/account"
    positions = "/api/v2/mix/position/all-position"


#: the mix product types this plugin trades, by settle coin; coin-M contracts settle in their base coin
USDT_FUTURES: Final = "USDT-FUTURES"
USDC_FUTURES: Final = "USDC-FUTURES"
COIN_FUTURES: Final = "COIN-FUTURES"
PRODUCT_TYPES: Final = (USDT_FUTURES, USDC_FUTURES, COIN_FUTURES)
#: what demo trading expects as productType: the plain names with ``paptrading: 1`` first, the historical
#: S-prefixed demo product types (``SUSDT-FUTURES``…) as the alternative (§1 [unsure]). One place to switch.
DEMO_PRODUCT_TYPES: Final = {USDT_FUTURES: USDT_FUTURES, USDC_FUTURES: USDC_FUTURES, COIN_FUTURES: COIN_FUTURES}
#: the single-account endpoint wants a symbol; the position mode is account-wide, any listed one does [unsure]
ACCOUNT_PROBE_SYMBOL: Final = {USDT_FUTURES: "BTCUSDT", USDC_FUTURES: "BTCPERP", COIN_FUTURES: "BTCUSD"}
#: field names of the single-account answer carrying the account's modes [unsure]
POS_MODE_FIELD: Final = "posMode"
MARGIN_MODE_FIELD: Final = "marginMode"

# --- §4 order parameters -------------------------------------------------------------------------------------

FORCE: Final = {"GTC": "gtc", "IOC": "ioc", "FOK": "fok"}
POST_ONLY: Final = "post_only"
MARGIN_MODES: Final = {"isolated": "isolated", "cross": "crossed"}
NATIVE_MARGIN_MODES: Final = {"isolated": "isolated", "crossed": "cross", "cross": "cross"}
ONE_WAY: Final = "one_way_mode"
HEDGE: Final = "hedge_mode"
YES: Final = "YES"
#: spot attached TP/SL on a limit order ([likely]: seen in open-order answers)
SPOT_PRESET_TP: Final = "presetTakeProfitPrice"
SPOT_PRESET_SL: Final = "presetStopLossPrice"
#: mix attached TP/SL ([verified])
MIX_PRESET_TP: Final = "presetStopSurplusPrice"
MIX_PRESET_SL: Final = "presetStopLossPrice"
#: spot plan orders: ``amount`` sizes in the base coin, ``total`` in the quote coin (market buys)
PLAN_BASE: Final = "amount"
PLAN_QUOTE: Final = "total"
MIX_PLAN_TYPE: Final = "normal_plan"
#: what a trigger compares with; broker option ``trigger_type`` overrides
DEFAULT_TRIGGER_TYPE: Final = "fill_price"
TRIGGER_TYPES: Final = frozenset({"fill_price", "mark_price"})
#: the id prefix marking plan (trigger) orders, whose ids live in their own namespace
PLAN_PREFIX: Final = "plan:"
#: marks a place answer completed from the request because the read-back failed
COMPLETED_MARK: Final = "_t5_completed_from_request"
#: marks every order payload built from the request rather than read from Bitget (as Kraken's plugin does):
#: a resting order not read back (broker option ``read_back``), or one whose read-back failed
SYNTHETIC_MARK: Final = "t5_synthetic"
#: the status a just-accepted order is described at when it is not read back (reference §6): spot ``init``
#: ("initialised", the first spot status, [verified]); mix ``live`` ("new, resting in book", [verified]; mix
#: ``init`` is only [unsure]); plan orders ``live``, the only open plan status the reference lists [unsure].
#: Each maps to OPEN in ``STATUSES``.
INITIAL_STATUS_SPOT: Final = "init"
INITIAL_STATUS_MIX: Final = "live"
INITIAL_STATUS_PLAN: Final = "live"
#: ``force`` values whose outcome is decided as soon as the place call returns (never rest on the book)
DECIDED_AT_ONCE_FORCES: Final = frozenset({"ioc", "fok"})
READ_BACK_MODES: Final = frozenset({"immediate", "always"})
DEFAULT_READ_BACK: Final = "immediate"

# --- client ids (§4) ---------------------------------------------------------------------------------------------

#: length and charset are not stated in the pages read; SDKs use ≤ 40-50 alphanumerics [unsure]
CLIENT_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,40}$"
CLIENT_ID_MAX_LENGTH: Final = 40

# --- §6 statuses ------------------------------------------------------------------------------------------------

STATUSES: Final = {
    # spot ``status`` and mix ``state`` (V2, [verified])
    "init": OrderStatus.OPEN,
    "live": OrderStatus.OPEN,
    "new": OrderStatus.OPEN,
    "partially_filled": OrderStatus.OPEN,
    "filled": OrderStatus.CLOSED,
    "cancelled": OrderStatus.CANCELLED,  # spot, double "l"
    "canceled": OrderStatus.CANCELLED,  # mix, single "l"
    # older/history spellings and the V1 names of the design note
    "partially_fill": OrderStatus.OPEN,
    "full_fill": OrderStatus.CLOSED,
    "partial-fill": OrderStatus.OPEN,
    "full-fill": OrderStatus.CLOSED,
    "expired": OrderStatus.CANCELLED,
    # plan (trigger) orders [unsure]: executed = triggered and turned into a regular order
    "not_trigger": OrderStatus.OPEN,
    "executing": OrderStatus.OPEN,
    "executed": OrderStatus.CLOSED,
    "fail_execute": OrderStatus.CANCELLED,
    "fail_trigger": OrderStatus.CANCELLED,
}

# --- §7 errors -----------------------------------------------------------------------------------------------------

SUCCESS: Final = "00000"
#: "Request timestamp expired": 40008 per most copies, 40004 per others [unsure]; both resync and retry once
TIMESTAMP_EXPIRED: Final = frozenset({"40008", "40004"})
DUPLICATE_CLIENT_OID: Final = frozenset({"40786", "43118"})
ORDER_NOT_FOUND: Final = frozenset({"40768", "43001", "43025"})

ERROR_CODES: Final[dict[str, type[t5.ExchangeError]]] = {
    "40001": t5.AuthenticationError,  # ACCESS_KEY cannot be empty
    "40002": t5.AuthenticationError,  # SECRET_KEY cannot be empty
    "40003": t5.AuthenticationError,  # signature cannot be empty
    "40004": t5.ExchangeError,  # request timestamp expired [unsure]: the client resyncs and retries once
    "40005": t5.AuthenticationError,  # invalid ACCESS_TIMESTAMP
    "40006": t5.AuthenticationError,  # invalid ACCESS_KEY
    "40007": t5.InvalidOrder,  # invalid Content-Type: a request-building bug, the order never existed
    "40008": t5.ExchangeError,  # request timestamp expired: the client resyncs and retries once
    "40009": t5.AuthenticationError,  # sign signature error
    "40011": t5.AuthenticationError,  # ACCESS_PASSPHRASE cannot be empty
    "40012": t5.AuthenticationError,  # apikey/password is incorrect
    "40013": t5.PermissionDenied,  # user has been frozen
    "40014": t5.PermissionDenied,  # incorrect permissions
    "40017": t5.InvalidOrder,  # parameter verification failed
    "40018": t5.PermissionDenied,  # IP not whitelisted
    "40019": t5.InvalidOrder,  # parameter empty
    "40020": t5.InvalidOrder,  # parameter error
    "40037": t5.AuthenticationError,  # API key does not exist
    "40762": t5.InsufficientFunds,  # the order amount exceeds the balance (mix)
    "40768": t5.OrderNotFound,  # order does not exist (mix)
    "40774": t5.InvalidOrder,  # order type does not match the account's position mode
    "40786": t5.DuplicateOrder,  # duplicate clientOid
    "40808": t5.InvalidOrder,  # size precision
    "41103": t5.InvalidOrder,  # price precision
    "41114": t5.ExchangeNotAvailable,  # symbol under maintenance
    "43001": t5.OrderNotFound,  # order does not exist (spot)
    "43011": t5.InvalidOrder,  # parameter does not meet the specification
    "43012": t5.InsufficientFunds,  # insufficient balance
    "43025": t5.OrderNotFound,  # plan order does not exist
    "43118": t5.DuplicateOrder,  # clientOrderId duplicate (spot)
    "45110": t5.InvalidOrder,  # below the minimum order value
    "22001": t5.OrderNotFound,  # no order to cancel
    "22002": t5.InvalidOrder,  # no position to close
    "429": t5.RateLimitExceeded,  # too many requests
}
#: codes the reference does not list but Bitget is known to answer for an unknown symbol [unsure]
BAD_SYMBOL_CODES: Final = frozenset({"40034", "40309"})

# --- §8 rate limits --------------------------------------------------------------------------------------------------

#: (endpoint label, requests per second, scope). Trading limits are per UID: one UID per API key is assumed
#: (sub-accounts have their own UID and keys), so "account" scope = per key. Public ones are per IP.
#: Values [verified] in §8; the ones §8 does not print use the common 10/s/UID [unsure].
RATE_LIMITS: Final = (
    ("spot.order.place", 10, "account"),
    ("spot.order.fetch", 20, "account"),
    ("spot.plan.place", 20, "account"),
    ("spot.order.cancel", 10, "account"),
    ("spot.orders.open", 10, "account"),  # [unsure]
    ("spot.orders.history", 10, "account"),  # [unsure]
    ("spot.fills", 10, "account"),  # [unsure]
    ("spot.plan.list", 10, "account"),  # [unsure]
    ("spot.plan.cancel", 10, "account"),  # [unsure]
    ("spot.assets", 10, "account"),  # [unsure]
    ("spot.symbols", 20, "ip"),
    ("mix.order.place", 10, "account"),
    ("mix.order.fetch", 10, "account"),
    ("mix.fills", 10, "account"),
    ("mix.order.modify", 10, "account"),  # [unsure]
    ("mix.order.cancel", 10, "account"),  # [unsure]
    ("mix.orders.open", 10, "account"),  # [unsure]
    ("mix.orders.history", 10, "account"),  # [unsure]
    ("mix.plan.place", 10, "account"),  # [unsure]
    ("mix.plan.list", 10, "account"),  # [unsure]
    ("mix.plan.cancel", 10, "account"),  # [unsure]
    ("mix.accounts", 10, "account"),  # [unsure]
    ("mix.positions", 10, "account"),  # [unsure]
    ("mix.contracts", 20, "ip"),
    ("time", 20, "ip"),  # [unsure]
)
#: the overall ceiling of public endpoints, per IP (6000/min [unsure])
PUBLIC_ENDPOINTS: Final = frozenset({"spot.symbols", "mix.contracts", "time"})
PUBLIC_IP_LIMIT: Final = (6000, 60.0)

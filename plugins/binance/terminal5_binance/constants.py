"""Binance facts as data: URLs, paths, the status table, the error-code table, filter names.

Everything here comes from ``shared/reference/binance.md`` (section numbers in the comments). Code looks
these tables up; it never branches on a literal status or code elsewhere.
"""

from __future__ import annotations

from typing import Final

from terminal5 import errors as t5
from terminal5.models import MarketType, OrderStatus, OrderType

EXCHANGE: Final = "binance"

# --- §1 base URLs -------------------------------------------------------------------------------------

SPOT_URL: Final = "https://api.binance.com"
SPOT_TESTNET_URL: Final = "https://testnet.binance.vision"
FUTURES_URL: Final = "https://fapi.binance.com"
#: the 2026 general-info page names demo-fapi; testnet.binancefuture.com is the historical host [unsure]
FUTURES_TESTNET_URL: Final = "https://demo-fapi.binance.com"

PRODUCTION_URLS: Final = {
    MarketType.SPOT: SPOT_URL,
    MarketType.SWAP: FUTURES_URL,
    MarketType.FUTURE: FUTURES_URL,
}
TESTNET_URLS: Final = {
    MarketType.SPOT: SPOT_TESTNET_URL,
    MarketType.SWAP: FUTURES_TESTNET_URL,
    MarketType.FUTURE: FUTURES_TESTNET_URL,
}

# --- §2 signing ---------------------------------------------------------------------------------------

API_KEY_HEADER: Final = "X-MBX-APIKEY"
DEFAULT_RECV_WINDOW: Final = 5000
MAX_RECV_WINDOW: Final = 60000
#: parameters the signer adds; ignored when matching recorded requests
SIGNING_PARAMS: Final = frozenset({"timestamp", "signature", "recvWindow"})

# --- §3 endpoints: (method, path, weight) per market family ------------------------------------------


class Api:
    """The paths of one product. ``futures`` covers SWAP and FUTURE (both live under ``/fapi``)."""

    def __init__(self, *, futures: bool) -> None:
        self.futures = futures
        if futures:
            self.time = "/fapi/v1/time"
            self.exchange_info = "/fapi/v1/exchangeInfo"
            self.order = "/fapi/v1/order"
            self.open_orders = "/fapi/v1/openOrders"
            self.all_orders = "/fapi/v1/allOrders"
            self.my_trades = "/fapi/v1/userTrades"
            self.balances = "/fapi/v3/balance"
            self.positions = "/fapi/v3/positionRisk"
            self.margin_type = "/fapi/v1/marginType"
            self.position_mode = "/fapi/v1/positionSide/dual"
            self.algo_order = "/fapi/v1/algoOrder"
            self.open_algo_orders = "/fapi/v1/openAlgoOrders"
            self.all_algo_orders = "/fapi/v1/allAlgoOrders"
        else:
            self.time = "/api/v3/time"
            self.exchange_info = "/api/v3/exchangeInfo"
            self.order = "/api/v3/order"
            self.open_orders = "/api/v3/openOrders"
            self.all_orders = "/api/v3/allOrders"
            self.my_trades = "/api/v3/myTrades"
            self.balances = "/api/v3/account"
            self.positions = ""
            self.margin_type = ""
            self.position_mode = ""
            self.algo_order = ""
            self.open_algo_orders = ""
            self.all_algo_orders = ""


SPOT_API: Final = Api(futures=False)
FUTURES_API: Final = Api(futures=True)


def api_for(market_type: MarketType) -> Api:
    return SPOT_API if market_type is MarketType.SPOT else FUTURES_API


#: request weights (§3); futures order placement costs 0 IP weight but counts against ORDERS
SPOT_WEIGHTS: Final = {
    "time": 1,
    "exchange_info": 20,
    "order.place": 1,
    "order.cancel": 1,
    "order.fetch": 4,
    "orders.open.symbol": 6,
    "orders.open.all": 80,
    "orders.all": 20,
    "trades": 20,
    "trades.order": 5,
    "account": 20,
}
FUTURES_WEIGHTS: Final = {
    "time": 1,
    "exchange_info": 1,
    "order.place": 0,
    "order.cancel": 1,
    "order.fetch": 1,
    "orders.open.symbol": 1,
    "orders.open.all": 40,
    "orders.all": 5,
    "trades": 5,
    "trades.order": 5,
    "account": 5,
    "positions": 5,
    "margin_type": 1,
    "order.modify": 1,
    "position_mode": 30,  # GET positionSide/dual: the reference lists the endpoint, not its weight [unsure]
    "algo.place": 0,
    "algo.cancel": 1,
    "algo.fetch": 1,
    "algo.open": 1,
    "algo.all": 5,
}


def weight(market_type: MarketType, endpoint: str) -> int:
    table = SPOT_WEIGHTS if market_type is MarketType.SPOT else FUTURES_WEIGHTS
    return table.get(endpoint, 1)


# --- §4 order types -------------------------------------------------------------------------------------

SPOT_ORDER_TYPES: Final = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.LIMIT_MAKER: "LIMIT_MAKER",
    OrderType.STOP_LOSS: "STOP_LOSS",
    OrderType.STOP_LOSS_LIMIT: "STOP_LOSS_LIMIT",
    OrderType.TAKE_PROFIT: "TAKE_PROFIT",
    OrderType.TAKE_PROFIT_LIMIT: "TAKE_PROFIT_LIMIT",
}
#: futures conditional types go to the algo endpoint since 2025-12-09 (-4120 STOP_ORDER_SWITCH_ALGO)
FUTURES_ALGO_TYPES: Final = {
    OrderType.STOP_LOSS: "STOP_MARKET",
    OrderType.STOP_LOSS_LIMIT: "STOP",
    OrderType.TAKE_PROFIT: "TAKE_PROFIT_MARKET",
    OrderType.TAKE_PROFIT_LIMIT: "TAKE_PROFIT",
}
#: native type -> unified type, for reading payloads back (futures LIMIT+GTX is read as limit_maker)
NATIVE_ORDER_TYPES: Final = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT_MAKER,
    "STOP_LOSS": OrderType.STOP_LOSS,
    "STOP_LOSS_LIMIT": OrderType.STOP_LOSS_LIMIT,
    "TAKE_PROFIT_LIMIT": OrderType.TAKE_PROFIT_LIMIT,
    "STOP_MARKET": OrderType.STOP_LOSS,
    "STOP": OrderType.STOP_LOSS_LIMIT,
    "TAKE_PROFIT_MARKET": OrderType.TAKE_PROFIT,
    # a trailing stop is a market stop whose trigger follows the price
    "TRAILING_STOP_MARKET": OrderType.STOP_LOSS,
}
#: ``TAKE_PROFIT`` means a market take-profit on spot but a *limit* take-profit on futures
SPOT_ONLY_NATIVE_TYPES: Final = {"TAKE_PROFIT": OrderType.TAKE_PROFIT}
FUTURES_ONLY_NATIVE_TYPES: Final = {"TAKE_PROFIT": OrderType.TAKE_PROFIT_LIMIT}

SPOT_TIME_IN_FORCE: Final = frozenset({"GTC", "IOC", "FOK"})
FUTURES_TIME_IN_FORCE: Final = frozenset({"GTC", "IOC", "FOK", "GTD"})
#: futures post-only is LIMIT + timeInForce GTX
FUTURES_POST_ONLY_TIF: Final = "GTX"

MARGIN_TYPES: Final = {"isolated": "ISOLATED", "cross": "CROSSED"}

# --- client ids (§4) --------------------------------------------------------------------------------------

#: spot's server-reported pattern; the futures one also allows ``.:/`` so spot's is the common rule
CLIENT_ID_PATTERN: Final = r"^[a-zA-Z0-9_-]{1,36}$"
CLIENT_ID_MAX_LENGTH: Final = 36

# --- §6 statuses --------------------------------------------------------------------------------------------

STATUSES: Final = {
    # spot and futures (§6)
    "NEW": OrderStatus.OPEN,
    "PENDING_NEW": OrderStatus.OPEN,  # order-list leg waiting for its working order
    "PARTIALLY_FILLED": OrderStatus.OPEN,
    "PENDING_CANCEL": OrderStatus.OPEN,  # "currently unused": still on the book until confirmed
    "FILLED": OrderStatus.CLOSED,
    "CANCELED": OrderStatus.CANCELLED,
    # the hook contract maps onto open/closed/cancelled; REJECTED orders never rested on the book
    "REJECTED": OrderStatus.CANCELLED,
    "EXPIRED": OrderStatus.CANCELLED,  # may carry executedQty > 0: ``filled`` says how much
    "EXPIRED_IN_MATCH": OrderStatus.CANCELLED,  # self-trade prevention
    # futures algo orders (``algoStatus``); not in the reference, names from Binance's algo-order page
    # [unsure]. TRIGGERED/FINISHED: the conditional order has done its job and spawned a regular order
    # (``actualOrderId``), tracked separately.
    "TRIGGERING": OrderStatus.OPEN,
    "TRIGGERED": OrderStatus.CLOSED,
    "FINISHED": OrderStatus.CLOSED,
}

# --- §7 errors ---------------------------------------------------------------------------------------------

#: native code -> taxonomy class, shared by spot and futures
ERROR_CODES: Final[dict[int, type[t5.ExchangeError]]] = {
    -1003: t5.RateLimitExceeded,  # TOO_MANY_REQUESTS / IP banned
    -1007: t5.RequestTimeout,  # backend timeout: execution status unknown
    -1008: t5.ExchangeNotAvailable,  # server overloaded
    -1013: t5.InvalidOrder,  # filter failure (msg names the filter)
    -1015: t5.RateLimitExceeded,  # TOO_MANY_ORDERS
    -1021: t5.ExchangeError,  # INVALID_TIMESTAMP: the client resyncs the clock and retries once
    -1022: t5.AuthenticationError,  # INVALID_SIGNATURE
    -1100: t5.InvalidOrder,  # ILLEGAL_CHARS (also a too-long client id)
    -1102: t5.InvalidOrder,  # mandatory parameter missing/malformed
    -1111: t5.InvalidOrder,  # BAD_PRECISION
    -1121: t5.BadSymbol,
    -2010: t5.InvalidOrder,  # NEW_ORDER_REJECTED, refined by message below
    -2011: t5.InvalidOrder,  # CANCEL_REJECTED, refined by message below
    -2013: t5.OrderNotFound,  # NO_SUCH_ORDER
    -2014: t5.AuthenticationError,  # API key format invalid
    -2015: t5.AuthenticationError,  # invalid key, IP or permissions
    -2026: t5.OrderNotFound,  # ORDER_ARCHIVED (spot)
    # futures-only codes (their numbers do not collide with spot ones, except -2021/-2022 below)
    -2018: t5.InsufficientFunds,  # balance insufficient
    -2019: t5.InsufficientFunds,  # margin insufficient
    -2020: t5.InvalidOrder,  # unable to fill
    -2025: t5.InvalidOrder,  # max open orders reached
    -4003: t5.InvalidOrder,  # quantity <= 0
    -4014: t5.InvalidOrder,  # price not a multiple of tick
    -4015: t5.InvalidOrder,  # client order id invalid / too long
    -4061: t5.InvalidOrder,  # position side does not match the account's mode
    -4116: t5.DuplicateOrder,  # ClientOrderId is duplicated
    -4120: t5.InvalidOrder,  # STOP_ORDER_SWITCH_ALGO: a conditional order sent to /fapi/v1/order
    -4131: t5.InvalidOrder,  # counterparty best price outside PERCENT_PRICE
    -4164: t5.InvalidOrder,  # notional below minimum
    -5022: t5.InvalidOrder,  # post-only (GTX) would take
}
#: the codes whose meaning differs between the products
SPOT_ERROR_CODES: Final[dict[int, type[t5.ExchangeError]]] = {
    -2021: t5.ExchangeError,  # cancelReplace: one half failed (HTTP 409)
    -2022: t5.ExchangeError,  # cancelReplace: both halves failed
}
FUTURES_ERROR_CODES: Final[dict[int, type[t5.ExchangeError]]] = {
    -2021: t5.InvalidOrder,  # order would immediately trigger
    -2022: t5.InvalidOrder,  # ReduceOnly order rejected
}
#: -2010/-2011 only say "rejected": Binance documents the reason in the message, its only discriminator
ERROR_MESSAGES: Final[dict[int, tuple[tuple[str, type[t5.ExchangeError]], ...]]] = {
    -2010: (
        ("duplicate order sent", t5.DuplicateOrder),
        ("insufficient balance", t5.InsufficientFunds),
    ),
    -2011: (("unknown order sent", t5.OrderNotFound),),
}
#: not in the reference: "No need to change margin type." on POST marginType; the client treats it as done
NO_NEED_TO_CHANGE_MARGIN_TYPE: Final = -4046
INVALID_TIMESTAMP: Final = -1021

# --- §3 filters ------------------------------------------------------------------------------------------

PRICE_FILTER: Final = "PRICE_FILTER"
LOT_SIZE: Final = "LOT_SIZE"
MARKET_LOT_SIZE: Final = "MARKET_LOT_SIZE"
NOTIONAL: Final = "NOTIONAL"
MIN_NOTIONAL: Final = "MIN_NOTIONAL"
ICEBERG_PARTS: Final = "ICEBERG_PARTS"
TRAILING_DELTA: Final = "TRAILING_DELTA"

# --- §8 rate limits ----------------------------------------------------------------------------------------

USED_WEIGHT_PREFIX: Final = "x-mbx-used-weight-"
ORDER_COUNT_PREFIX: Final = "x-mbx-order-count-"
INTERVAL_MS: Final = {"SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}
#: header suffix letter -> interval name
INTERVAL_LETTERS: Final = {"S": "SECOND", "M": "MINUTE", "H": "HOUR", "D": "DAY"}
#: used until exchangeInfo has been read (§8 typical production values)
DEFAULT_RATE_LIMITS: Final = {
    "spot": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    ],
    "futures": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
    ],
}

#: common quote assets, longest first, to split a native symbol no loaded market describes
KNOWN_QUOTES: Final = (
    "FDUSD",
    "USDT",
    "USDC",
    "TUSD",
    "BUSD",
    "EURI",
    "TRY",
    "EUR",
    "BRL",
    "JPY",
    "BTC",
    "ETH",
    "BNB",
    "DAI",
)

"""The pluggy hooks of the Binance plugin (entry point ``binance`` in group ``terminal5``).

Every per-exchange hook answers ``None`` when ``exchange`` is not ``"binance"``. Conversions are pure and
live in ``convert``; this module only dispatches and declares the ``ExchangeSpec``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from terminal5.contract import (
    CallContext,
    ClientIdRule,
    ExchangeSpec,
    ExchangeUrls,
    HttpResponse,
    NativeCall,
    NativeClientId,
    NativeContext,
    NativePayload,
    RateLimitRule,
)
from terminal5.errors import ExchangeError
from terminal5.hookspecs import hookimpl
from terminal5.models import Market, MarketType, Order, OrderRequest, OrderStatus
from terminal5_binance import clientids, constants, convert, errors
from terminal5_binance.client import BinanceClient

EXCHANGE = constants.EXCHANGE

_SPOT_PARAMS = frozenset({"client_order_id", "price", "time_in_force", "stop_price", "trailing_delta", "iceberg_qty"})
_FUTURES_PARAMS = frozenset(
    {
        "client_order_id",
        "price",
        "time_in_force",
        "stop_price",
        "reduce_only",
        "position_side",
        "margin_mode",
        "stop_loss_price",
        "take_profit_price",
    }
)
_ALL_TYPES = frozenset(t.value for t in constants.SPOT_ORDER_TYPES)


def _shared_rate_limits() -> tuple[RateLimitRule, ...]:
    """The published limits as rules the core enforces across every gateway process (through Redis).

    Request weight is per IP, order counts per account. The client's own limiter still follows the
    live ``exchangeInfo`` values and the X-MBX headers within one process; these rules are the shared
    guard, at the reference's production values (§8).
    """
    rules = []
    for family, market_types in (("spot", _SPOT_ONLY), ("futures", _FUTURES_ONLY)):
        for item in constants.DEFAULT_RATE_LIMITS[family]:
            window = constants.INTERVAL_MS[item["interval"]] * item["intervalNum"] / 1000
            if window > 3600:
                continue  # daily order counts: not worth a shared window; the client tracks them
            orders = item["rateLimitType"] == "ORDERS"
            rules.append(
                RateLimitRule(
                    name=f"{family}-{item['rateLimitType'].lower()}-{item['intervalNum']}{item['interval'][0].lower()}",
                    limit=item["limit"],
                    window=window,
                    scope="account" if orders else "ip",
                    weighted=not orders,
                    endpoints=_ORDER_ENDPOINTS if orders else None,
                    market_types=market_types,
                )
            )
    return tuple(rules)


_SPOT_ONLY = frozenset({MarketType.SPOT})
_FUTURES_ONLY = frozenset({MarketType.SWAP, MarketType.FUTURE})
_ORDER_ENDPOINTS = frozenset({"order.place", "algo.place"})

SPEC = ExchangeSpec(
    name=EXCHANGE,
    display_name="Binance",
    market_types=frozenset({MarketType.SPOT, MarketType.SWAP, MarketType.FUTURE}),
    supported_params={
        MarketType.SPOT: _SPOT_PARAMS,
        MarketType.SWAP: _FUTURES_PARAMS,
        MarketType.FUTURE: _FUTURES_PARAMS,
    },
    order_types={MarketType.SPOT: _ALL_TYPES, MarketType.SWAP: _ALL_TYPES, MarketType.FUTURE: _ALL_TYPES},
    client_id=ClientIdRule(kind="str", max_length=constants.CLIENT_ID_MAX_LENGTH, pattern=constants.CLIENT_ID_PATTERN),
    urls=ExchangeUrls(production=constants.PRODUCTION_URLS, testnet=constants.TESTNET_URLS),
    client_factory=BinanceClient,
    raw_index_fields=("clientOrderId",),  # the client id echoed in every order answer
    rate_limits=_shared_rate_limits(),
    broker_options={
        "recv_window": "recvWindow in ms for signed requests (default 5000, max 60000)",
        "working_type": "futures trigger price source for conditional orders: MARK_PRICE or CONTRACT_PRICE",
        "refresh_markets": "true to ignore the cached exchangeInfo when markets are loaded",
    },
)


@hookimpl
def register_exchanges(register: Callable[[ExchangeSpec], None]) -> None:
    register(SPEC)


@hookimpl
def map_client_id(exchange: str, client_order_id: str, attempt: int) -> NativeClientId | None:
    if exchange != EXCHANGE:
        return None
    return clientids.map_client_id(client_order_id, attempt)


@hookimpl
def to_native(
    exchange: str, request: OrderRequest, market: Market, native_client_id: NativeClientId, options: Mapping[str, Any]
) -> NativeCall | None:
    if exchange != EXCHANGE:
        return None
    return convert.to_native(request, market, native_client_id, options)


@hookimpl
def map_error(exchange: str, response: HttpResponse, ctx: CallContext) -> ExchangeError | None:
    if exchange != EXCHANGE:
        return None
    return errors.map_error(response, ctx)


@hookimpl
def from_native(exchange: str, native: NativePayload, context: NativeContext) -> Order | None:
    if exchange != EXCHANGE:
        return None
    return convert.from_native(native, context)


@hookimpl
def normalize_status(exchange: str, native_status: str) -> OrderStatus | None:
    if exchange != EXCHANGE:
        return None
    return constants.STATUSES.get(native_status)


@hookimpl
def register_simulators(register: Callable[..., None]) -> None:
    def factory(**options: Any) -> Any:
        from terminal5_binance.simulator import BinanceSimulator  # the test server loads only when asked for

        return BinanceSimulator(**options)

    register(EXCHANGE, factory)

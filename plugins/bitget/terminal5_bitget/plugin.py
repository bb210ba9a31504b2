"""The pluggy hooks of the Bitget plugin (entry point ``bitget`` in group ``terminal5``).

Every per-exchange hook answers ``None`` when ``exchange`` is not ``"bitget"``. Conversions are pure and
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
from terminal5.models import Market, MarketType, Order, OrderRequest, OrderStatus, OrderType
from terminal5_bitget import clientids, constants, convert, errors
from terminal5_bitget.client import BitgetClient

EXCHANGE = constants.EXCHANGE

_SPOT_PARAMS = frozenset(
    {"client_order_id", "price", "time_in_force", "stop_price", "stop_loss_price", "take_profit_price"}
)
_MIX_PARAMS = frozenset(
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
_ALL_TYPES = frozenset(t.value for t in OrderType)
_SPOT_ONLY = frozenset({MarketType.SPOT})
_MIX_ONLY = frozenset({MarketType.SWAP})


def shared_rate_limits() -> tuple[RateLimitRule, ...]:
    """The per-endpoint limits of the reference (§8) as rules the core enforces across every gateway
    process (through Redis): one 1-second window per endpoint, per API key for trading (Bitget counts per
    UID) and per IP for public data, plus the overall public ceiling per IP."""
    rules = []
    for endpoint, per_second, scope in constants.RATE_LIMITS:
        family = endpoint.split(".")[0]
        market_types = _SPOT_ONLY if family == "spot" else _MIX_ONLY if family == "mix" else None
        rules.append(
            RateLimitRule(
                name=f"{endpoint}-1s",
                limit=per_second,
                window=1.0,
                scope=scope,
                weighted=False,
                endpoints=frozenset({endpoint}),
                market_types=market_types,
            )
        )
    limit, window = constants.PUBLIC_IP_LIMIT
    rules.append(RateLimitRule(name="public-1m", limit=limit, window=window, scope="ip", weighted=False,
                               endpoints=constants.PUBLIC_ENDPOINTS))
    return tuple(rules)


SPEC = ExchangeSpec(
    name=EXCHANGE,
    display_name="Bitget",
    market_types=frozenset({MarketType.SPOT, MarketType.SWAP}),
    supported_params={MarketType.SPOT: _SPOT_PARAMS, MarketType.SWAP: _MIX_PARAMS},
    order_types={MarketType.SPOT: _ALL_TYPES, MarketType.SWAP: _ALL_TYPES},
    client_id=ClientIdRule(kind="str", max_length=constants.CLIENT_ID_MAX_LENGTH, pattern=constants.CLIENT_ID_PATTERN),
    urls=ExchangeUrls(production=constants.PRODUCTION_URLS, testnet_headers=constants.DEMO_HEADERS),
    client_factory=BitgetClient,
    raw_index_fields=("clientOid",),  # the client id echoed in every order answer
    rate_limits=shared_rate_limits(),
    requires_passphrase=True,
    broker_options={
        "position_mode": "one_way (default) or hedge: the futures account's position mode, deciding "
        "tradeSide/reduceOnly (`broker test` reports the account's real mode)",
        "margin_mode": "cross (default) or isolated: marginMode of futures orders without a margin_mode",
        "trigger_type": "fill_price (default) or mark_price: what trigger (plan) orders compare with",
        "refresh_markets": "true to ignore the cached symbols/contracts when markets are loaded",
        "read_back": "'immediate' (default): after the place call, only orders decided at once (market, IOC, "
        "FOK) are read back; a resting order (limit GTC, post-only, trigger/plan) is completed from the request "
        "and Bitget's orderId at the documented initial status (spot init, mix and plan live), t5_synthetic, "
        "fills from the first lookup or reconciliation (one signed call per order); 'always': every order is "
        "read back (two signed calls per order)",
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
        from terminal5_bitget.simulator import BitgetSimulator  # the test server loads only when asked for

        return BitgetSimulator(**options)

    register(EXCHANGE, factory)

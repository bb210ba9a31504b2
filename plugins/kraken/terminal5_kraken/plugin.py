"""The Kraken plugin's hook implementations (entry point ``kraken = terminal5_kraken.plugin``).

Every hook answers only for ``exchange == "kraken"`` and returns ``None`` otherwise. The hooks live on
``KrakenPlugin`` so a test can register an instance with an injected hash function
(``load_hooks(plugins=[KrakenPlugin(hash_fn=...)], load_entry_points=False)``); the module-level names
below delegate to the default instance and are what the entry point registers. Register one or the
other, never both (two registrations of "kraken" are refused by the core).
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
from terminal5_kraken import convert, errors, userref
from terminal5_kraken.client import KrakenClient
from terminal5_kraken.constants import (
    BROKER_OPTIONS,
    DEFAULT_TIER,
    DISPLAY_NAME,
    EXCHANGE,
    ORDER_TYPE_TO_NATIVE,
    PRODUCTION_URL,
    REST_COUNTER,
    STATUS,
)

#: Level 1/2 parameters honoured on spot (symbol/side/type/quantity are implied). Not listed, so refused
#: by the core before sending: reduce_only, position_side, margin_mode. Not listed, so reported as
#: ignored: stop_loss_price, take_profit_price, trailing_delta, iceberg_qty.
SUPPORTED_PARAMS = frozenset({"client_order_id", "price", "time_in_force", "stop_price"})


#: private calls that count on the REST call counter (orders go to the trading engine's counter instead)
REST_COUNTED_ENDPOINTS = frozenset(
    {"order.query", "orders.open", "orders.closed", "trades", "balances", "orders.cancel_all_after"}
)


def shared_rest_counter() -> RateLimitRule:
    """The REST call counter per API key as a decaying budget the core shares across gateway processes
    through Redis (tier from the broker option ``tier``). The client's own model still covers the
    trading-engine counter per pair, which depends on order ages."""
    tiers = {tier: (int(limit), float(decay)) for tier, (limit, decay) in REST_COUNTER.items()}  # rates, not money
    limit, decay = tiers[DEFAULT_TIER]
    return RateLimitRule(
        name="rest-counter",
        limit=limit,
        decay=decay,
        scope="account",
        weighted=True,
        endpoints=REST_COUNTED_ENDPOINTS,
        tiers=tiers,
        tier_option="tier",
        default_tier=DEFAULT_TIER,
    )


def exchange_spec() -> ExchangeSpec:
    return ExchangeSpec(
        name=EXCHANGE,
        display_name=DISPLAY_NAME,
        market_types=frozenset({MarketType.SPOT}),
        supported_params={MarketType.SPOT: SUPPORTED_PARAMS},
        order_types={MarketType.SPOT: frozenset(t.value for t in ORDER_TYPE_TO_NATIVE)},
        client_id=ClientIdRule(kind="int32", max_length=10, pattern=r"^[1-9][0-9]{0,9}$"),
        urls=ExchangeUrls(production={MarketType.SPOT: PRODUCTION_URL}),  # no spot testnet exists
        client_factory=KrakenClient,
        raw_index_fields=("userref",),  # the int32 client id every order answer carries
        broker_options=BROKER_OPTIONS,
        rate_limits=(shared_rest_counter(),),
    )


class KrakenPlugin:
    """The hooks, parameterised by the userref hash function (SHA-256 unless a test injects one)."""

    def __init__(self, hash_fn: userref.HashFn = userref.sha256) -> None:
        self.hash_fn = hash_fn

    @hookimpl
    def register_exchanges(self, register: Callable[[ExchangeSpec], None]) -> None:
        register(exchange_spec())

    @hookimpl
    def map_client_id(self, exchange: str, client_order_id: str, attempt: int) -> NativeClientId | None:
        if exchange != EXCHANGE:
            return None
        return userref.userref_for(client_order_id, attempt, self.hash_fn)

    @hookimpl
    def to_native(
        self,
        exchange: str,
        request: OrderRequest,
        market: Market,
        native_client_id: NativeClientId,
        options: Mapping[str, Any],
    ) -> NativeCall | None:
        if exchange != EXCHANGE:
            return None
        return convert.to_native(request, market, native_client_id, options)

    @hookimpl
    def from_native(self, exchange: str, native: NativePayload, context: NativeContext) -> Order | None:
        if exchange != EXCHANGE:
            return None
        return convert.order_from_native(native, context, self.hash_fn)

    @hookimpl
    def normalize_status(self, exchange: str, native_status: str) -> OrderStatus | None:
        if exchange != EXCHANGE:
            return None
        return STATUS.get(native_status)

    @hookimpl
    def map_error(self, exchange: str, response: HttpResponse, ctx: CallContext) -> ExchangeError | None:
        if exchange != EXCHANGE:
            return None
        return errors.map_error(response, ctx)


_default = KrakenPlugin()

# What the entry point registers: bound methods keep their hookimpl markers.
register_exchanges = _default.register_exchanges
map_client_id = _default.map_client_id
to_native = _default.to_native
from_native = _default.from_native
normalize_status = _default.normalize_status
map_error = _default.map_error


@hookimpl
def register_simulators(register: Callable[..., None]) -> None:
    def factory(**options: Any) -> Any:
        from terminal5_kraken.simulator import KrakenSimulator  # the test server loads only when asked for

        return KrakenSimulator(**options)

    register("kraken", factory)

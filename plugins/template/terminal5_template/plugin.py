"""Hook implementations. Each answers only for its own exchange and returns None otherwise."""

from __future__ import annotations

from collections.abc import Callable

from terminal5.contract import (
    ClientIdRule,
    ExchangeSpec,
    ExchangeUrls,
    HttpResponse,
    NativeCall,
    NativeClientId,
    NativeContext,
    NativePayload,
)
from terminal5.errors import ExchangeError, RateLimitExceeded
from terminal5.hookspecs import hookimpl
from terminal5.models import Market, MarketType, Order, OrderRequest, OrderStatus
from terminal5_template import convert
from terminal5_template.client import ExampleClient
from terminal5_template.constants import (
    CLIENT_ID_MAX,
    CLIENT_ID_RE,
    DISPLAY_NAME,
    ERRORS,
    NAME,
    ORDER_TYPES,
    PRODUCTION_URLS,
    STATUSES,
    TESTNET_URLS,
)

SPOT_PARAMS = frozenset({"client_order_id", "time_in_force", "stop_price"})


@hookimpl
def register_exchanges(register: Callable[[ExchangeSpec], None]) -> None:
    types = frozenset(t.value for t in ORDER_TYPES)
    register(
        ExchangeSpec(
            name=NAME,
            display_name=DISPLAY_NAME,
            market_types=frozenset({MarketType.SPOT, MarketType.SWAP}),
            supported_params={
                MarketType.SPOT: SPOT_PARAMS,
                MarketType.SWAP: SPOT_PARAMS | {"reduce_only", "position_side"},
            },
            order_types={MarketType.SPOT: types, MarketType.SWAP: types},
            client_id=ClientIdRule(kind="str", max_length=CLIENT_ID_MAX, pattern=CLIENT_ID_RE.pattern),
            urls=ExchangeUrls(production=PRODUCTION_URLS, testnet=TESTNET_URLS),
            client_factory=ExampleClient,
        )
    )


@hookimpl
def map_client_id(exchange: str, client_order_id: str, attempt: int) -> NativeClientId | None:
    return convert.client_id(client_order_id, attempt) if exchange == NAME else None


@hookimpl
def to_native(
    exchange: str, request: OrderRequest, market: Market, native_client_id: NativeClientId
) -> NativeCall | None:
    return convert.to_native(request, market, native_client_id) if exchange == NAME else None


@hookimpl
def from_native(exchange: str, native: NativePayload, context: NativeContext) -> Order | None:
    return convert.order_from_native(native, context) if exchange == NAME else None


@hookimpl
def normalize_status(exchange: str, native_status: str) -> OrderStatus | None:
    return STATUSES.get(native_status) if exchange == NAME else None


@hookimpl
def map_error(exchange: str, response: HttpResponse) -> ExchangeError | None:
    if exchange != NAME or response.status < 400:
        return None
    data = response.data if isinstance(response.data, dict) else {}
    code = data.get("code")
    cls = ERRORS.get(code or "")
    if cls is None:
        return None  # the core turns unmapped 4xx/5xx into ExchangeError/ExchangeNotAvailable
    if cls is RateLimitExceeded:
        retry = response.headers.get("Retry-After")
        return RateLimitExceeded(
            data.get("msg", code),
            exchange=NAME,
            code=code,
            retry_after=int(retry) if retry and retry.isdigit() else None,
        )
    return cls(data.get("msg", code), exchange=NAME, code=code)

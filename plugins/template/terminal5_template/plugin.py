"""Hook implementations (entry point ``loopback = terminal5_template.plugin`` in group ``terminal5``).

The core calls each per-exchange hook only for the exchange this module registers, so no hook checks
``exchange`` (a plugin registering several exchanges would take the ``exchange`` argument to tell them apart).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from terminal5_template.client import LoopbackClient
from terminal5_template.constants import (
    CLIENT_ID_MAX,
    CLIENT_ID_RE,
    DISPLAY_NAME,
    ERRORS,
    NAME,
    ORDER_TYPES,
    PRODUCTION_URLS,
    RETRY_AFTER_DEFAULT,
    STATUSES,
    TESTNET_URLS,
)

SPOT_PARAMS = frozenset({"client_order_id", "time_in_force", "stop_price"})
SWAP_PARAMS = SPOT_PARAMS | {"reduce_only", "position_side", "stop_loss_price"}
ALL_TYPES = frozenset(t.value for t in ORDER_TYPES)

SPEC = ExchangeSpec(
    name=NAME,
    display_name=DISPLAY_NAME,
    market_types=frozenset({MarketType.SPOT, MarketType.SWAP}),
    supported_params={MarketType.SPOT: SPOT_PARAMS, MarketType.SWAP: SWAP_PARAMS},
    order_types={MarketType.SPOT: ALL_TYPES, MarketType.SWAP: ALL_TYPES},
    client_id=ClientIdRule(kind="str", max_length=CLIENT_ID_MAX, pattern=CLIENT_ID_RE.pattern),
    urls=ExchangeUrls(production=PRODUCTION_URLS, testnet=TESTNET_URLS),
    client_factory=LoopbackClient,  # the class: the core derives the client's capabilities from it
)


@hookimpl
def register_exchanges(register: Callable[[ExchangeSpec], None]) -> None:
    register(SPEC)


@hookimpl
def map_client_id(client_order_id: str, attempt: int) -> NativeClientId:
    return convert.client_id(client_order_id, attempt)


@hookimpl
def to_native(request: OrderRequest, market: Market, native_client_id: NativeClientId) -> NativeCall:
    return convert.to_native(request, market, native_client_id)


@hookimpl
def from_native(native: NativePayload, context: NativeContext) -> Order:
    return convert.order_from_native(native, context)


@hookimpl
def normalize_status(native_status: str) -> OrderStatus | None:
    return STATUSES.get(native_status)


@hookimpl
def map_error(response: HttpResponse) -> ExchangeError | None:
    if response.status < 400:
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
            retry_after=float(retry) if retry and retry.isdigit() else RETRY_AFTER_DEFAULT,
        )
    return cls(data.get("msg", code), exchange=NAME, code=code)


@hookimpl
def register_simulators(register: Callable[..., None]) -> None:
    def factory(**options: Any) -> Any:
        # the loopback exchange is the core testing kit's own simulator; this plugin speaks its protocol
        from terminal5.testing.loopback_server import LoopbackExchange

        return LoopbackExchange(**options)

    register(NAME, factory)

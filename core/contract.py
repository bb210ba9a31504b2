"""The small surface an exchange plugin depends on (besides models, errors and the hook markers).

Everything here is immutable. Credentials never live on a shared object: they travel with each call
inside a ``CallContext``, so two accounts' requests can interleave on one client without ever mixing keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from terminal5.models import Balance, Market, MarketType, OrderRequest, Position, Trade

NativeClientId = str | int
NativePayload = Mapping[str, Any]


@attrs.frozen(repr=False)
class Credentials:
    """One account's API keys. Immutable; its repr and str never show a secret."""

    api_key: str
    api_secret: str
    api_password: str | None = None

    @property
    def fingerprint(self) -> str:
        """A short, non-reversible id of the key, safe for logs and cache keys."""
        return hashlib.sha256(self.api_key.encode()).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"Credentials(key#{self.fingerprint}, secret=***)"

    __str__ = __repr__

    def secrets(self) -> tuple[str, ...]:
        """The strings a scrubber must remove from anything recorded."""
        return tuple(s for s in (self.api_key, self.api_secret, self.api_password) if s)


@attrs.frozen(kw_only=True)
class CallContext:
    """Everything one native call needs to know about *who* is calling. Built per call, never shared."""

    exchange: str
    base_url: str
    market_type: MarketType = MarketType.SPOT
    credentials: Credentials | None = None  # None for public endpoints
    broker_id: int | None = None
    user_id: int | None = None
    request_id: str | None = None
    testnet: bool = False
    options: Mapping[str, Any] = attrs.field(factory=dict)  # per-broker plugin options
    order_key: str | None = None  # the unified client id of the order this call serves (audit link)

    def for_market(self, market_type: MarketType, base_url: str) -> CallContext:
        return attrs.evolve(self, market_type=market_type, base_url=base_url)


@attrs.frozen(kw_only=True)
class NativeCall:
    """A native order call built by ``to_native``: what to send, before signing.

    ``params`` values are already exchange-formatted strings (Decimals formatted to tick/step).
    ``attached`` holds follow-up orders (e.g. separate stop-loss/take-profit orders) that the core
    places after the parent is accepted, each tracked as an order of its own.
    """

    method: str
    path: str
    params: Mapping[str, str]
    market_type: MarketType = MarketType.SPOT
    signed: bool = True
    endpoint: str = ""  # a stable label for metrics and rate limits, e.g. "order.place"
    cost: int = 1  # rate-limit weight
    native_client_id: NativeClientId | None = None
    attached: tuple[AttachedOrder, ...] = ()
    #: plugin-private hints for its own client, never sent as such (e.g. {"margin_mode": "ISOLATED"})
    meta: Mapping[str, str] = attrs.field(factory=dict)

    def with_params(self, extra: Mapping[str, Any]) -> NativeCall:
        """Level 3: ``extra_params`` verbatim, overriding mapped fields."""
        merged = dict(self.params)
        merged.update({k: format_param(v) for k, v in extra.items()})
        return attrs.evolve(self, params=merged)


@attrs.frozen(kw_only=True)
class AttachedOrder:
    """A child order linked to its parent's client id (a separate SL/TP order…)."""

    role: str  # "stop_loss" | "take_profit" | …
    client_order_id: str
    call: NativeCall
    #: the child's unified description; when None the core derives it from the parent for the
    #: "stop_loss"/"take_profit" roles (opposite side, reduce-only, trigger at the Level-2 price)
    request: OrderRequest | None = None


def format_param(value: Any) -> str:
    """Stringify a Level-3 value the way exchanges expect (booleans lower-case, no float repr)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        raise TypeError("float parameters are refused: send amounts as strings or Decimals")
    return str(value)


@attrs.frozen(kw_only=True)
class HttpRequest:
    """A signed request, exactly as it goes on the wire (the bytes that were signed are the bytes sent)."""

    method: str
    url: str  # full URL including the exact query string
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: str | None = None
    endpoint: str = ""
    cost: int = 1
    #: parameter names whose values are secrets or signatures, removed before anything is recorded
    redact: frozenset[str] = frozenset()


@attrs.frozen(kw_only=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    text: str
    latency_ms: float
    data: Any = None  # the body parsed as JSON with every number a Decimal (None when not JSON)


@attrs.frozen(kw_only=True)
class OrderRef:
    """How to find one order on the exchange: by its id, or by the client id it was sent with."""

    market: Market
    exchange_id: str | None = None
    native_client_id: NativeClientId | None = None
    client_order_id: str | None = None


@attrs.frozen(kw_only=True)
class NativeContext:
    """What ``from_native`` may need besides the payload."""

    exchange: str
    market_type: MarketType = MarketType.SPOT
    request: OrderRequest | None = None
    market: Market | None = None
    markets: Callable[[str], Market | None] = attrs.field(default=lambda native_symbol: None)
    #: maps a native client id back to the unified one (None when the gateway never issued it)
    client_id_of: Callable[[NativeClientId], str | None] = attrs.field(default=lambda native_id: None)


@attrs.frozen(kw_only=True)
class ClientIdRule:
    """What the exchange accepts as a client order id."""

    kind: str = "str"  # "str" or "int32"
    max_length: int = 36
    pattern: str = r"^[A-Za-z0-9_-]+$"


@attrs.frozen(kw_only=True)
class ExchangeUrls:
    production: Mapping[MarketType, str]
    testnet: Mapping[MarketType, str] = attrs.field(factory=dict)

    def for_(self, market_type: MarketType, *, testnet: bool) -> str | None:
        table = self.testnet if testnet else self.production
        return table.get(market_type)


@attrs.frozen(kw_only=True)
class RateLimitRule:
    """A limit the exchange publishes, enforced by the core before each call (shared through Redis by every
    gateway process when Redis is configured).

    ``scope`` "ip": one budget for every account of this machine; "account": one per API key.
    ``weighted``: each call costs its ``HttpRequest.cost`` (request weight), else 1.
    ``endpoints``: the endpoint labels it applies to (None: every call), e.g. {"order.place"}.
    ``decay``: when set, a decaying counter instead of a sliding window (Kraken): at most ``limit`` units,
    draining ``decay`` units per second (``window`` is then unused).
    ``tiers``/``tier_option``: (limit, decay) per account tier, chosen by that broker option.
    """

    name: str
    limit: int
    window: float = 0.0  # seconds
    scope: str = "ip"
    weighted: bool = True
    endpoints: frozenset[str] | None = None
    market_types: frozenset[MarketType] | None = None
    decay: float | None = None
    tiers: Mapping[str, tuple[int, float]] = attrs.field(factory=dict)
    tier_option: str | None = None
    default_tier: str | None = None

    def for_context(self, ctx: CallContext) -> tuple[int, float | None]:
        """(limit, decay) for this call's account tier."""
        if self.tier_option and self.tiers:
            tier = str(ctx.options.get(self.tier_option, self.default_tier or ""))
            if tier in self.tiers:
                return self.tiers[tier]
        return self.limit, self.decay

    def applies(self, endpoint: str, market_type: MarketType) -> bool:
        return (self.endpoints is None or endpoint in self.endpoints) and (
            self.market_types is None or market_type in self.market_types
        )


@attrs.frozen(kw_only=True)
class ExchangeSpec:
    """What a plugin declares through ``register_exchanges``."""

    name: str
    display_name: str
    market_types: frozenset[MarketType]
    #: Level 1 and Level 2 parameters honoured, per market type (symbol/side/type/quantity are implied)
    supported_params: Mapping[MarketType, frozenset[str]]
    order_types: Mapping[MarketType, frozenset[str]]
    client_id: ClientIdRule
    urls: ExchangeUrls
    client_factory: Callable[[Transport], ExchangeClient]
    #: operations beyond the mandatory ones, e.g. {"edit_order", "fetch_positions", "cancel_all_after"}
    features: frozenset[str] = frozenset()
    #: per-broker options the plugin understands (name -> description), validated at broker creation
    broker_options: Mapping[str, str] = attrs.field(factory=dict)
    #: published limits the core enforces before sending (see RateLimitRule)
    rate_limits: tuple[RateLimitRule, ...] = ()
    #: the exchange's API keys come with a passphrase (``Credentials.api_password``): ``broker add`` asks for it
    requires_passphrase: bool = False
    distribution: str | None = None  # filled in by the registry

    def supports(self, market_type: MarketType, param: str) -> bool:
        return param in self.supported_params.get(market_type, frozenset())


@runtime_checkable
class Transport(Protocol):
    """The core's HTTP side, one per exchange type: one aiohttp session, one rate limiter, the audit.

    ``send`` applies the exchange's rate limits, sends the request, records it (scrubbed), and raises the
    taxonomy error ``map_error`` gives for the response; it returns the response otherwise.
    """

    exchange: str

    async def send(self, ctx: CallContext, request: HttpRequest) -> HttpResponse: ...

    def now_ms(self) -> int:
        """The clock (injectable in tests)."""
        ...


@runtime_checkable
class ExchangeClient(Protocol):
    """The native client a plugin's ``client_factory`` returns. One per exchange type, stateless about
    accounts: every method takes the call's ``CallContext``. Order payloads are returned raw and the
    core turns them into ``Order`` through ``from_native``."""

    async def load_markets(self, ctx: CallContext) -> Sequence[Market]: ...

    async def place_order(self, ctx: CallContext, call: NativeCall) -> NativePayload: ...

    async def cancel_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload: ...

    async def fetch_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload | None: ...

    async def fetch_open_orders(self, ctx: CallContext, market: Market | None) -> Sequence[NativePayload]: ...

    async def fetch_closed_orders(
        self, ctx: CallContext, market: Market | None, since: datetime | None
    ) -> Sequence[NativePayload]: ...

    async def fetch_my_trades(self, ctx: CallContext, market: Market, since: datetime | None) -> Sequence[Trade]: ...

    async def fetch_balances(self, ctx: CallContext) -> Sequence[Balance]: ...

    async def fetch_positions(self, ctx: CallContext) -> Sequence[Position]: ...

    async def server_time(self, ctx: CallContext) -> datetime: ...

    async def close(self) -> None: ...


AsyncFactory = Callable[[Transport], Awaitable[ExchangeClient]]


@attrs.frozen(kw_only=True)
class Alert:
    """Something an operator should look at. ``key`` de-duplicates: one alert per key is enough."""

    kind: str  # "unknown_status" | "restart" | "reconciliation" | "exchange_errors" | …
    message: str
    key: str
    severity: str = "warning"  # "info" | "warning" | "critical"
    exchange: str | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict)

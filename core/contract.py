"""The small surface an exchange plugin depends on (besides models, errors and the hook markers).

Everything here is immutable. Credentials never live on a shared object: they travel with each call
inside a ``CallContext``, so two accounts' requests can interleave on one client without ever mixing keys.

Longer than ~400 lines on purpose: it is the whole contract a plugin author reads (the spec, the context,
the native call, the client protocol and its optional capabilities), each type next to the ones it names.
"""

from __future__ import annotations

import hashlib
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
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
    """Base URLs per market type. A broker's ``base_url`` overrides them; its ``testnet`` flag picks the
    testnet side.

    Two kinds of testnet exist. A separate host: list it in ``testnet``. The production host with a header
    marking demo trading (e.g. ``{"x-simulated-trading": "1"}``): put the header in ``testnet_headers``; a
    testnet broker then uses the production URL (unless ``testnet`` lists another) and the core transport
    adds these headers to every request of a testnet call, after your client signed it (when your exchange
    signs that header, add it in your client instead, from ``CallContext.testnet``).
    """

    production: Mapping[MarketType, str]
    testnet: Mapping[MarketType, str] = attrs.field(factory=dict)
    testnet_headers: Mapping[str, str] = attrs.field(factory=dict)

    def for_(self, market_type: MarketType, *, testnet: bool) -> str | None:
        if not testnet:
            return self.production.get(market_type)
        url = self.testnet.get(market_type)
        if url is None and self.testnet_headers:
            return self.production.get(market_type)  # a header-marked testnet lives on the production host
        return url


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


#: what a raw key may be to name an index (it is written into SQL: no quotes, no spaces)
RAW_INDEX_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def _raw_index_fields(spec: Any, attribute: Any, fields: tuple[str, ...]) -> None:
    bad = [f for f in fields if not isinstance(f, str) or not RAW_INDEX_FIELD.fullmatch(f)]
    if bad:
        raise ValueError(
            f"raw_index_fields {bad!r}: each must be a top-level key of letters, digits and '_' (at most 40)"
        )


@attrs.frozen(kw_only=True)
class ExchangeSpec:
    """What a plugin declares through ``register_exchanges``."""

    name: str
    display_name: str
    market_types: frozenset[MarketType]
    #: Level 1 and Level 2 parameters honoured, per market type; the ones every exchange takes
    #: (``terminal5.params.IMPLIED``: symbol, side, type, quantity, price, client_order_id) need no listing
    supported_params: Mapping[MarketType, frozenset[str]]
    order_types: Mapping[MarketType, frozenset[str]]
    client_id: ClientIdRule
    urls: ExchangeUrls
    #: builds the one native client of this exchange type: the client class itself (or a function whose
    #: return annotation names it), so ``features`` can be derived without building a client
    client_factory: Callable[[Transport], ExchangeClient]
    #: per-broker options the plugin understands (name -> description), validated at broker creation
    broker_options: Mapping[str, str] = attrs.field(factory=dict)
    #: published limits the core enforces before sending (see RateLimitRule)
    rate_limits: tuple[RateLimitRule, ...] = ()
    #: the exchange's API keys come with a passphrase (``Credentials.api_password``): ``broker add`` asks for it
    requires_passphrase: bool = False
    #: top-level keys of this exchange's raw order answers worth an index, typically its own client-id
    #: field (``("clientOid",)``): on PostgreSQL the core creates, at start-up and idempotently, an
    #: expression index on ``raw_response->>'<key>'`` of the ``orders`` table for each key an installed
    #: plugin declares, so operators' searches by that key stay fast. Letters, digits and ``_`` only.
    raw_index_fields: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=_raw_index_fields)
    distribution: str | None = None  # filled in by the registry

    def supports(self, market_type: MarketType, param: str) -> bool:
        return param in self.supported_params.get(market_type, frozenset())

    def can(self, capability: type) -> bool:
        """Whether the client implements an optional capability protocol, e.g. ``spec.can(SupportsEditOrder)``."""
        cls = client_class(self.client_factory)
        return cls is not None and isinstance(cls, capability)

    @property
    def features(self) -> frozenset[str]:
        """The optional capabilities (``CAPABILITIES``) the client implements: derived, never declared."""
        cls = client_class(self.client_factory)
        return capabilities(cls) if cls is not None else frozenset()


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
    """The native client a plugin's ``client_factory`` returns: the methods every client has.

    One per exchange type, stateless about accounts: every method takes the call's ``CallContext``.
    Order payloads are returned raw and the core turns them into ``Order`` through ``from_native``.
    What a client may offer beyond this is an optional capability below: implement the method and the
    core uses it (and ``terminal5 exchanges`` lists it); there is nothing to declare by hand.
    """

    async def load_markets(self, ctx: CallContext) -> Sequence[Market]: ...

    async def place_order(self, ctx: CallContext, call: NativeCall) -> NativePayload: ...

    async def cancel_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload: ...

    async def fetch_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload | None: ...

    async def fetch_open_orders(self, ctx: CallContext, market: Market | None) -> Sequence[NativePayload]: ...

    async def fetch_balances(self, ctx: CallContext) -> Sequence[Balance]: ...

    async def close(self) -> None: ...


# --- optional capabilities: the core asks ``isinstance(client, SupportsX)`` ---------------------------


@runtime_checkable
class SupportsEditOrder(Protocol):
    """Amend an open order's quantity and/or price in place (same order id). Returns the order payload,
    or ``None`` when the exchange answers a receipt (the core then reads the order back). Raise
    ``UnsupportedParameterError`` for the orders the exchange cannot amend."""

    async def edit_order(
        self, ctx: CallContext, ref: OrderRef, *, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> NativePayload | None: ...


@runtime_checkable
class SupportsCancelAllAfter(Protocol):
    """The exchange's dead-man's switch: cancel every open order unless called again within
    ``timeout_s`` seconds; 0 disables it."""

    async def cancel_all_after(self, ctx: CallContext, timeout_s: int) -> NativePayload: ...


@runtime_checkable
class SupportsPositions(Protocol):
    """Open derivative positions of the account (called for the non-spot market types)."""

    async def fetch_positions(self, ctx: CallContext) -> Sequence[Position]: ...


@runtime_checkable
class SupportsAccountConfig(Protocol):
    """Account settings a trader must know before the first order, e.g. ``{"position_mode": "hedge",
    "margin_mode": "isolated"}`` (``position_mode`` "hedge"/"one_way")."""

    async def fetch_account_config(self, ctx: CallContext) -> Mapping[str, str]: ...


@runtime_checkable
class SupportsClosedOrders(Protocol):
    """Orders no longer open (filled, cancelled, expired), newest history the exchange keeps."""

    async def fetch_closed_orders(
        self, ctx: CallContext, market: Market | None, since: datetime | None
    ) -> Sequence[NativePayload]: ...


@runtime_checkable
class SupportsMyTrades(Protocol):
    """The account's fills on one market."""

    async def fetch_my_trades(self, ctx: CallContext, market: Market, since: datetime | None) -> Sequence[Trade]: ...


@runtime_checkable
class SupportsServerTime(Protocol):
    """The exchange's clock."""

    async def server_time(self, ctx: CallContext) -> datetime: ...


#: every optional capability, by the name users see (``terminal5 exchanges``, ``/v1/exchanges``): the one
#: definition of these names
CAPABILITIES: Mapping[str, type] = {
    "edit_order": SupportsEditOrder,
    "cancel_all_after": SupportsCancelAllAfter,
    "fetch_positions": SupportsPositions,
    "fetch_account_config": SupportsAccountConfig,
    "fetch_closed_orders": SupportsClosedOrders,
    "fetch_my_trades": SupportsMyTrades,
    "server_time": SupportsServerTime,
}


def capabilities(client: object) -> frozenset[str]:
    """The optional capabilities a client (an instance, or its class) implements."""
    return frozenset(name for name, protocol in CAPABILITIES.items() if isinstance(client, protocol))


def missing_methods(client: object) -> list[str]:
    """The ``ExchangeClient`` methods a client (an instance, or its class) lacks."""
    required = [name for name in vars(ExchangeClient) if not name.startswith("_") and callable(vars(ExchangeClient)[name])]
    return [name for name in required if not callable(getattr(client, name, None))]


def client_class(factory: Callable[..., Any]) -> type | None:
    """The class a ``client_factory`` builds: the factory itself when it is a class, else its return
    annotation when that names a class (``def make(transport) -> MyClient``), else None."""
    if isinstance(factory, type):
        return factory
    try:
        returned = typing.get_type_hints(factory).get("return")
    except Exception:  # unresolvable annotations: nothing to derive from
        return None
    return returned if isinstance(returned, type) else None


@attrs.frozen(kw_only=True)
class Alert:
    """Something an operator should look at. ``key`` de-duplicates: one alert per key is enough."""

    kind: str  # "unknown_status" | "restart" | "reconciliation" | "exchange_errors" | …
    message: str
    key: str
    severity: str = "warning"  # "info" | "warning" | "critical"
    exchange: str | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict)

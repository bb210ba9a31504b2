"""The exchange plugin for the loopback exchange: a complete, minimal example of the contract.

It is registered only by tests (never through an entry point), so an installed gateway never offers it.
``make_plugin()`` builds a fresh plugin object; ``LoopbackClient`` keeps no account state: the keys
come with every call in the ``CallContext``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from terminal5 import jsonutil
from terminal5.contract import (
    AttachedOrder,
    CallContext,
    ClientIdRule,
    ExchangeSpec,
    ExchangeUrls,
    HttpRequest,
    HttpResponse,
    NativeCall,
    NativeClientId,
    NativeContext,
    NativePayload,
    OrderRef,
    Transport,
)
from terminal5.decimals import is_multiple, plain
from terminal5.errors import (
    AuthenticationError,
    BadSymbol,
    DuplicateOrder,
    ExchangeError,
    ExchangeNotAvailable,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimitExceeded,
)
from terminal5.hookspecs import hookimpl
from terminal5.models import (
    Balance,
    Market,
    MarketType,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Trade,
)
from terminal5.testing.loopback_server import KEY_HEADER, SIGN_HEADER, TS_HEADER, signature
from terminal5.timeutil import from_ms

NAME = "loopback"
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
STATUSES = {
    "NEW": OrderStatus.OPEN,
    "PARTIALLY_FILLED": OrderStatus.OPEN,
    "FILLED": OrderStatus.CLOSED,
    "CANCELED": OrderStatus.CANCELLED,
    "EXPIRED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.CANCELLED,
}
ERRORS: dict[str, type[ExchangeError]] = {
    "INVALID_KEY": AuthenticationError,
    "BAD_SIGNATURE": AuthenticationError,
    "DUPLICATE": DuplicateOrder,
    "NOT_FOUND": OrderNotFound,
    "BAD_SYMBOL": BadSymbol,
    "INSUFFICIENT_FUNDS": InsufficientFunds,
    "MISSING_PARAM": InvalidOrder,
    "NOT_OPEN": InvalidOrder,
    "RATE_LIMIT": RateLimitExceeded,
    "OVERLOAD": ExchangeNotAvailable,
}
TYPES = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_LOSS: "STOP_MARKET",
    OrderType.TAKE_PROFIT: "TAKE_PROFIT_MARKET",
}
TYPES_BACK = {v: k for k, v in TYPES.items()}


def _ms(value: Any) -> datetime | None:
    return from_ms(value)


class LoopbackClient:
    """One per gateway; every account's calls go through it concurrently."""

    def __init__(self, transport: Transport, *, sign_delay: float = 0.0) -> None:
        self.transport = transport
        self.sign_delay = sign_delay  # lets tests widen the window between building and signing

    async def _call(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        endpoint: str = "",
    ) -> HttpResponse:
        path_qs = path + ("?" + urlencode(query) if query else "")
        text = jsonutil.dumps(body) if body is not None else ""
        headers = {"Content-Type": "application/json"}
        if ctx.credentials is not None:
            if self.sign_delay:
                await asyncio.sleep(self.sign_delay)  # interleave accounts: credentials must still not mix
            ts = str(self.transport.now_ms())
            headers[KEY_HEADER] = ctx.credentials.api_key
            headers[TS_HEADER] = ts
            headers[SIGN_HEADER] = signature(ctx.credentials.api_secret, ts, method, path_qs, text)
        request = HttpRequest(
            method=method,
            url=ctx.base_url + path_qs,
            headers=headers,
            body=text or None,
            endpoint=endpoint or path,
            redact=frozenset({SIGN_HEADER, KEY_HEADER}),
        )
        return await self.transport.send(ctx, request)

    async def load_markets(self, ctx: CallContext) -> Sequence[Market]:
        response = await self._call(ctx, "GET", "/api/public/markets", endpoint="markets")
        markets = []
        for item in response.data:
            market_type = MarketType(item["type"])
            if market_type is not ctx.market_type:
                continue
            settle = item.get("settle")
            symbol = f"{item['base']}/{item['quote']}" + (f":{settle}" if settle else "")
            markets.append(
                Market(
                    exchange=NAME,
                    symbol=symbol,
                    native_symbol=item["symbol"],
                    type=market_type,
                    base=item["base"],
                    quote=item["quote"],
                    settle=settle,
                    tick_size=Decimal(item["tickSize"]),
                    step_size=Decimal(item["stepSize"]),
                    min_quantity=Decimal(item["minQty"]),
                    min_notional=Decimal(item["minNotional"]),
                    info=item,
                )
            )
        return markets

    async def place_order(self, ctx: CallContext, call: NativeCall) -> NativePayload:
        response = await self._call(ctx, call.method, call.path, body=dict(call.params), endpoint=call.endpoint)
        return response.data

    @staticmethod
    def _ref_query(ref: OrderRef) -> dict[str, str]:
        if ref.exchange_id:
            return {"orderId": ref.exchange_id}
        return {"clientId": str(ref.native_client_id or ref.client_order_id)}

    async def cancel_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload:
        return (await self._call(ctx, "DELETE", "/api/order", query=self._ref_query(ref), endpoint="order.cancel")).data

    async def fetch_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload | None:
        try:
            return (await self._call(ctx, "GET", "/api/order", query=self._ref_query(ref), endpoint="order.get")).data
        except OrderNotFound:
            return None

    async def fetch_open_orders(self, ctx: CallContext, market: Market | None) -> Sequence[NativePayload]:
        query = {"symbol": market.native_symbol} if market else None
        data = (await self._call(ctx, "GET", "/api/openOrders", query=query, endpoint="orders.open")).data
        perpetual = ctx.market_type is not MarketType.SPOT
        return [o for o in data if o["symbol"].endswith("_PERP") == perpetual]

    async def fetch_closed_orders(
        self, ctx: CallContext, market: Market | None, since: datetime | None
    ) -> Sequence[NativePayload]:
        return []

    async def fetch_my_trades(self, ctx: CallContext, market: Market, since: datetime | None) -> Sequence[Trade]:
        return []

    async def fetch_balances(self, ctx: CallContext) -> Sequence[Balance]:
        data = (await self._call(ctx, "GET", "/api/balances", endpoint="balances")).data
        return [Balance(asset=a, free=Decimal(v)) for a, v in data.items()]

    async def fetch_positions(self, ctx: CallContext) -> Sequence[Position]:
        return []

    async def server_time(self, ctx: CallContext) -> datetime:
        data = (await self._call(ctx, "GET", "/api/public/time", endpoint="time")).data
        return _ms(data["serverTime"]) or datetime.now(UTC)

    async def close(self) -> None:
        return None


def spec(client_factory: Any = LoopbackClient) -> ExchangeSpec:
    common = frozenset({"client_order_id", "time_in_force", "stop_price"})
    return ExchangeSpec(
        name=NAME,
        display_name="Loopback test exchange",
        market_types=frozenset({MarketType.SPOT, MarketType.SWAP}),
        supported_params={
            MarketType.SPOT: common,
            MarketType.SWAP: common | {"reduce_only", "position_side", "stop_loss_price"},
        },
        order_types={
            MarketType.SPOT: frozenset(t.value for t in TYPES),
            MarketType.SWAP: frozenset(t.value for t in TYPES),
        },
        client_id=ClientIdRule(kind="str", max_length=36, pattern=CLIENT_ID_RE.pattern),
        urls=ExchangeUrls(production={MarketType.SPOT: "http://127.0.0.1:9", MarketType.SWAP: "http://127.0.0.1:9"}),
        client_factory=client_factory,
        broker_options={"tier": "an example option"},
    )


def make_plugin(client_factory: Any = LoopbackClient) -> SimpleNamespace:
    """A fresh plugin object (hookimpls bound to ``client_factory``)."""

    @hookimpl
    def register_exchanges(register: Any) -> None:
        register(spec(client_factory))

    @hookimpl
    def map_client_id(exchange: str, client_order_id: str, attempt: int) -> NativeClientId | None:
        if exchange != NAME:
            return None
        if attempt == 0 and CLIENT_ID_RE.match(client_order_id):
            return client_order_id
        digest = hashlib.sha256(f"{client_order_id}:{attempt}".encode()).hexdigest()
        return f"h{digest[:31]}"

    @hookimpl
    def to_native(
        exchange: str, request: OrderRequest, market: Market, native_client_id: NativeClientId
    ) -> NativeCall | None:
        if exchange != NAME:
            return None
        if market.step_size and not is_multiple(request.quantity, market.step_size):
            raise InvalidOrder(
                f"LOT_SIZE: quantity {request.quantity} is not a multiple of {market.step_size}", field="quantity"
            )
        if market.min_quantity and request.quantity < market.min_quantity:
            raise InvalidOrder(f"LOT_SIZE: quantity {request.quantity} below {market.min_quantity}", field="quantity")
        if request.price is not None and market.tick_size and not is_multiple(request.price, market.tick_size):
            raise InvalidOrder(
                f"PRICE_FILTER: price {request.price} not a multiple of {market.tick_size}", field="price"
            )
        params = {
            "symbol": market.native_symbol,
            "side": request.side.value.upper(),
            "type": TYPES[request.type],
            "quantity": plain(request.quantity),
            "clientId": str(native_client_id),
        }
        if request.price is not None:
            params["price"] = plain(request.price)
        if request.stop_price is not None:
            params["stopPrice"] = plain(request.stop_price)
        if request.time_in_force is not None:
            params["timeInForce"] = request.time_in_force.value
        if request.reduce_only:
            params["reduceOnly"] = "true"
        attached = ()
        if request.stop_loss_price is not None:  # Level 2 as a separate reduce-only trigger order
            child_id = f"{str(native_client_id)[:32]}-sl"
            child = {
                "symbol": market.native_symbol,
                "side": "SELL" if request.side.value == "buy" else "BUY",
                "type": "STOP_MARKET",
                "quantity": plain(request.quantity),
                "stopPrice": plain(request.stop_loss_price),
                "reduceOnly": "true",
                "clientId": child_id,
            }
            attached = (
                AttachedOrder(
                    role="stop_loss",
                    client_order_id=child_id,
                    call=NativeCall(
                        method="POST",
                        path="/api/order",
                        params=child,
                        market_type=market.type,
                        endpoint="order.place",
                        native_client_id=child_id,
                    ),
                ),
            )
        return NativeCall(
            method="POST",
            path="/api/order",
            params=params,
            market_type=market.type,
            endpoint="order.place",
            native_client_id=native_client_id,
            attached=attached,
        )

    @hookimpl
    def from_native(exchange: str, native: NativePayload, context: NativeContext) -> Order | None:
        if exchange != NAME:
            return None
        market = context.market or context.markets(native["symbol"])
        symbol = market.symbol if market else native["symbol"]
        quantity = Decimal(native["origQty"])
        filled = Decimal(native["executedQty"])
        avg = native.get("avgPrice")
        fee = Decimal(native["fee"]) if native.get("fee") not in (None, "0") else None
        return Order(
            exchange=NAME,
            id=str(native["orderId"]),
            client_order_id=context.client_id_of(native["clientId"]),
            native_client_id=native["clientId"],
            symbol=symbol,
            side=Side(native["side"].lower()),
            type=TYPES_BACK.get(native["type"], OrderType.LIMIT),
            quantity=quantity,
            price=Decimal(native["price"]) if native.get("price") else None,
            stop_price=Decimal(native["stopPrice"]) if native.get("stopPrice") else None,
            filled=filled,
            remaining=quantity - filled,
            average=Decimal(avg) if avg else None,
            native_status=native["status"],
            status=OrderStatus.UNKNOWN,
            fee=fee,
            fee_currency=native.get("feeAsset") if fee else None,
            created_at=_ms(native.get("time")),
            updated_at=_ms(native.get("updateTime")),
            raw=native,
        )

    @hookimpl
    def normalize_status(exchange: str, native_status: str) -> OrderStatus | None:
        if exchange != NAME:
            return None
        return STATUSES.get(native_status)

    @hookimpl
    def map_error(exchange: str, response: HttpResponse) -> ExchangeError | None:
        if exchange != NAME or response.status < 400:
            return None
        data = response.data if isinstance(response.data, dict) else {}
        code = data.get("code", "")
        cls = ERRORS.get(code)
        if cls is None:
            return (
                ExchangeNotAvailable(f"HTTP {response.status}", exchange=NAME, code=code or response.status)
                if (response.status >= 500)
                else None
            )
        if cls is RateLimitExceeded:
            return RateLimitExceeded(data.get("msg", ""), exchange=NAME, code=code, retry_after=1.0)
        return cls(data.get("msg", code), exchange=NAME, code=code)

    return SimpleNamespace(
        __name__="terminal5.testing.loopback_plugin",
        register_exchanges=register_exchanges,
        map_client_id=map_client_id,
        to_native=to_native,
        from_native=from_native,
        normalize_status=normalize_status,
        map_error=map_error,
    )

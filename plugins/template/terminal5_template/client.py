"""The native client: one per exchange type, shared by every account.

It keeps no credentials: each method receives the call's ``CallContext`` and signs with its keys. It has
the methods of ``terminal5.contract.ExchangeClient`` and one optional capability, ``server_time``
(``SupportsServerTime``); add ``edit_order``, ``cancel_all_after``, ``fetch_positions``… when your exchange
offers them, and the core uses them (``terminal5 exchanges`` lists what your client implements).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from loguru import logger
from terminal5 import jsonutil
from terminal5.contract import CallContext, HttpRequest, HttpResponse, NativeCall, NativePayload, OrderRef, Transport
from terminal5.errors import OrderNotFound
from terminal5.models import Balance, Market, MarketType
from terminal5.timeutil import from_ms

from terminal5_template.auth import sign
from terminal5_template.constants import KEY_HEADER, NAME, PERPETUAL_SUFFIX, SIGN_HEADER
from terminal5_template.convert import market_from_native

log = logger.bind(exchange=NAME)


class LoopbackClient:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def _request(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        *,
        endpoint: str,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> HttpResponse:
        path_qs = path + ("?" + urlencode(query) if query else "")
        text = jsonutil.dumps(body) if body is not None else ""
        headers = {"Content-Type": "application/json"}
        if ctx.credentials is not None:
            headers.update(sign(ctx.credentials, self.transport.now_ms(), method, path_qs, text))
        return await self.transport.send(
            ctx,
            HttpRequest(
                method=method,
                url=ctx.base_url + path_qs,
                headers=headers,
                body=text or None,
                endpoint=endpoint,
                redact=frozenset({KEY_HEADER, SIGN_HEADER}),
            ),
        )

    async def load_markets(self, ctx: CallContext) -> Sequence[Market]:
        data = (await self._request(ctx, "GET", "/api/public/markets", endpoint="markets")).data
        return [m for m in (market_from_native(item) for item in data) if m.type is ctx.market_type]

    async def place_order(self, ctx: CallContext, call: NativeCall) -> NativePayload:
        return (await self._request(ctx, call.method, call.path, endpoint=call.endpoint, body=dict(call.params))).data

    @staticmethod
    def _query(ref: OrderRef) -> dict[str, str]:
        if ref.exchange_id:
            return {"orderId": ref.exchange_id}
        return {"clientId": str(ref.native_client_id or ref.client_order_id)}

    async def cancel_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload:
        return (await self._request(ctx, "DELETE", "/api/order", endpoint="order.cancel", query=self._query(ref))).data

    async def fetch_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload | None:
        try:
            return (await self._request(ctx, "GET", "/api/order", endpoint="order.get", query=self._query(ref))).data
        except OrderNotFound:
            return None

    async def fetch_open_orders(self, ctx: CallContext, market: Market | None) -> Sequence[NativePayload]:
        query = {"symbol": market.native_symbol} if market else None
        data = (await self._request(ctx, "GET", "/api/openOrders", endpoint="orders.open", query=query)).data
        perpetual = ctx.market_type is not MarketType.SPOT
        return [o for o in data if o["symbol"].endswith(PERPETUAL_SUFFIX) == perpetual]

    async def fetch_balances(self, ctx: CallContext) -> Sequence[Balance]:
        data = (await self._request(ctx, "GET", "/api/balances", endpoint="balances")).data
        return [Balance(asset=asset, free=Decimal(amount)) for asset, amount in data.items()]

    async def server_time(self, ctx: CallContext) -> datetime:
        data = (await self._request(ctx, "GET", "/api/public/time", endpoint="time")).data
        return from_ms(data["serverTime"]) or datetime.now(UTC)

    async def close(self) -> None:
        return None

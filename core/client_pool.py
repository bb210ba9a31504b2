"""The native clients, one per exchange type, and what each call needs: its context, its markets, its audit.

One native client per exchange type is shared by every broker; each call carries its own immutable
``CallContext`` (credentials included), so concurrent orders of different accounts never mix keys. Every
native call is written to the audit trail (``native_calls``, scrubbed by the transport) off the event loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict, Unpack

import attrs

from terminal5 import broker_endpoints
from terminal5.contract import CallContext, Credentials, ExchangeClient, ExchangeSpec, missing_methods
from terminal5.errors import BadSymbol, PluginError
from terminal5.keywords import check_keywords
from terminal5.logs import current_request_id
from terminal5.markets import MarketBook, MarketCache
from terminal5.models import Market, MarketType
from terminal5.plugins import Hooks
from terminal5.ratebudget import BudgetStore
from terminal5.settings import Settings
from terminal5.storage.audit import AuditRepo
from terminal5.storage.brokers import BrokerInfo
from terminal5.storage.database import Storage
from terminal5.transport import CallObserver, CallRecord, HttpTransport


class CallScope(TypedDict, total=False):
    """What ties a call to its request: the request id (else the current one, else a new one) and the
    order it concerns (its per-order rate-limit key)."""

    request_id: str | None
    order_key: str | None


@attrs.frozen
class ClientEntry:
    """An exchange type's spec, its transport and its one shared native client."""

    spec: ExchangeSpec
    transport: HttpTransport
    client: ExchangeClient


class ClientPool:
    def __init__(
        self,
        *,
        settings: Settings,
        hooks: Hooks,
        storage: Storage,
        budgets: BudgetStore,
        credentials_of: Callable[[int], Awaitable[Credentials]],
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.settings = settings
        self.hooks = hooks
        self.registry = hooks.registry
        self.storage = storage
        self.budgets = budgets
        self.markets = MarketCache(settings.data_dir / "markets" if settings.data_dir else None)
        #: observers of every native call, added before the first client of an exchange is created
        self.observers: list[CallObserver] = []
        self._credentials_of = credentials_of
        self._clock_ms = clock_ms
        self._clients: dict[str, ClientEntry] = {}
        self._audit_repo = AuditRepo(storage)
        self._audit_futures: set[Any] = set()

    def client_for(self, exchange: str) -> ClientEntry:
        """The one native client of this exchange type (created on first use)."""
        entry = self._clients.get(exchange)
        if entry is None:
            spec = self.registry.get(exchange)
            transport = HttpTransport(
                exchange,
                self.hooks.map_error,
                timeout=self.settings.http_timeout,
                clock_ms=self._clock_ms,
                observers=[self._audit, *self.observers],
                rate_limits=spec.rate_limits,
                budgets=self.budgets,
                testnet_headers=spec.urls.testnet_headers,
            )
            client = spec.client_factory(transport)
            if not isinstance(client, ExchangeClient):
                raise PluginError(
                    f"{spec.distribution}: the {exchange} client lacks {', '.join(missing_methods(client))}",
                    exchange=exchange,
                )
            entry = ClientEntry(spec=spec, transport=transport, client=client)
            self._clients[exchange] = entry
        return entry

    def base_url(self, spec: ExchangeSpec, broker: BrokerInfo, market_type: MarketType) -> str:
        url = broker_endpoints.endpoint(spec, broker.base_url, broker.base_urls, broker.testnet, market_type)
        if url is None:
            raise broker_endpoints.not_traded(spec, broker.id, broker.base_urls, broker.testnet, market_type)
        return url

    def traded_market_types(self, broker: BrokerInfo) -> list[MarketType]:
        """The market types this broker trades (its per-market-type URLs, else every one with an endpoint)."""
        spec = self.registry.get(broker.exchange)
        return broker_endpoints.traded(spec, broker.base_url, broker.base_urls, broker.testnet)

    async def context(self, broker: BrokerInfo, market_type: MarketType, **scope: Unpack[CallScope]) -> CallContext:
        check_keywords(scope, CallScope, "context")
        spec = self.registry.get(broker.exchange)
        return CallContext(
            exchange=broker.exchange,
            base_url=self.base_url(spec, broker, market_type),
            market_type=market_type,
            credentials=await self._credentials_of(broker.id),
            broker_id=broker.id,
            user_id=broker.user_id,
            # every native call names its request: the caller's, the one in progress, else its own
            request_id=scope.get("request_id") or current_request_id() or uuid.uuid4().hex,
            testnet=broker.testnet,
            options=broker.options,
            order_key=scope.get("order_key"),
        )

    async def market_book(self, broker: BrokerInfo, market_type: MarketType) -> MarketBook:
        entry = self.client_for(broker.exchange)
        base_url = self.base_url(entry.spec, broker, market_type)
        public = CallContext(
            exchange=broker.exchange,
            base_url=base_url,
            market_type=market_type,
            testnet=broker.testnet,
            options=broker.options,
        )

        async def load() -> list[Market]:
            return list(await entry.client.load_markets(public))

        return await self.markets.book(broker.exchange, base_url, market_type, load)

    async def market(self, broker: BrokerInfo, symbol: str, market_type: MarketType) -> Market:
        book = await self.market_book(broker, market_type)
        market = book.get(symbol)
        if market is None:
            raise BadSymbol(f"{broker.exchange} has no market {symbol}", exchange=broker.exchange, field="symbol")
        if not market.active:
            raise BadSymbol(f"{symbol} is not trading on {broker.exchange}", exchange=broker.exchange, field="symbol")
        return market

    def _audit(self, ctx: CallContext, record: CallRecord) -> None:
        future = self.storage.submit(self._audit_repo.write, record)
        self._audit_futures.add(future)
        future.add_done_callback(self._audit_futures.discard)

    async def close(self) -> None:
        for entry in self._clients.values():
            try:
                await entry.client.close()
            finally:
                await entry.transport.close()
        self._clients.clear()

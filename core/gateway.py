"""The order pipeline.

validate -> resolve broker -> check parameter levels -> idempotency -> persist intent -> native call
-> normalize -> persist result -> answer.

One native client per exchange type is shared by every broker; each call carries its own immutable
``CallContext`` (credentials included), so concurrent orders of different accounts never mix keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from terminal5 import broker_endpoints
from terminal5.absence import Lookup, lookup
from terminal5.alerts import AlertBus
from terminal5.contract import (
    Alert,
    AttachedOrder,
    CallContext,
    Credentials,
    ExchangeClient,
    ExchangeSpec,
    NativeCall,
    NativeClientId,
    NativeContext,
    NativePayload,
    OrderRef,
    SupportsCancelAllAfter,
    SupportsEditOrder,
    SupportsPositions,
    missing_methods,
)
from terminal5.convert import structure_request
from terminal5.errors import (
    OUTCOME_UNKNOWN,
    TAXONOMY,
    BadSymbol,
    BrokerDisabled,
    DatabaseUnavailable,
    DuplicateOrder,
    ExchangeError,
    OrderNotFound,
    PluginError,
    RateLimitExceeded,
    Terminal5Error,
    UnsupportedParameterError,
)
from terminal5.idempotency import same_request
from terminal5.kept_answers import KeptAnswers
from terminal5.logs import current_request_id, request_scope
from terminal5.markets import MarketBook, MarketCache
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
    market_type_of,
)
from terminal5.ownership import Expected, foreign_order_alert, foreign_order_error, mismatches
from terminal5.params import check_levels
from terminal5.plugins import Hooks, load_hooks
from terminal5.ratebudget import BudgetStore, budget_store
from terminal5.reconciliation import Reconciliation, rejected_by_reconciliation
from terminal5.secrets import SecretBox, load_or_create_key
from terminal5.settings import Settings
from terminal5.storage.brokers import BrokerInfo, BrokerRepo
from terminal5.storage.client_ids import ClientIdStore
from terminal5.storage.database import Storage
from terminal5.storage.orders import OrderRepo, request_fingerprint, row_to_order
from terminal5.transport import CallObserver, CallRecord, HttpTransport

#: waits before each lookup of an order whose submission outcome is unknown (seconds)
DEFAULT_LOOKUP_DELAYS = (0.25, 1.0, 2.0)
#: stored states the exchange will never change again (a cancel of such an order answers the stored state)
FINAL_ON_EXCHANGE = frozenset({OrderStatus.CLOSED.value, OrderStatus.CANCELLED.value})


def generate_client_order_id(user_id: int) -> str:
    """Short, unique, and inside every exchange's pattern (letters, digits, underscore)."""
    return f"T5_{user_id}_{int(time.time() * 1000):x}_{secrets.token_hex(4)}"


class KeyedLocks:
    """Locks by key, forgotten once nobody holds or waits for them (client ids are unbounded)."""

    def __init__(self) -> None:
        self._entries: dict[Any, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        lock, users = self._entries.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


@attrs.frozen
class _Client:
    spec: ExchangeSpec
    transport: HttpTransport
    client: ExchangeClient


@attrs.frozen
class Placement:
    """The answer to a placement: the order, and whether it is a replay (nothing new was sent)."""

    order: Order
    replayed: bool = True


@attrs.frozen
class _Located:
    broker: BrokerInfo
    entry: _Client
    row: Any | None
    ref: OrderRef
    ctx: CallContext


class Gateway:
    def __init__(
        self,
        *,
        settings: Settings,
        hooks: Hooks,
        storage: Storage,
        box: SecretBox,
        redis: Any = None,
        lookup_delays: Sequence[float] = DEFAULT_LOOKUP_DELAYS,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.settings = settings
        self.hooks = hooks
        self.registry = hooks.registry
        self.storage = storage
        self.redis = redis
        self.orders = OrderRepo(storage)
        self.brokers = BrokerRepo(storage, box)
        self.client_ids = ClientIdStore(storage, redis)
        self.markets = MarketCache(settings.data_dir / "markets" if settings.data_dir else None)
        self.alerts = AlertBus(hooks.alert)
        self.lookup_delays = tuple(lookup_delays)
        self.call_observers: list[CallObserver] = []
        self._clock_ms = clock_ms
        self._clients: dict[str, _Client] = {}
        self._credentials: dict[int, Credentials] = {}
        self._locks = KeyedLocks()
        self._audit_futures: set[Any] = set()
        #: exchange answers received while the database could not store them
        self.kept = KeptAnswers(storage)
        #: published rate limits, shared by every process through Redis when configured
        self.budgets: BudgetStore = budget_store(settings.redis_url)

    # --- construction --------------------------------------------------------------------------
    @classmethod
    async def open(
        cls,
        *,
        settings: Settings | None = None,
        database_url: str | None = None,
        hooks: Hooks | None = None,
        master_key: str | None = None,
        redis_url: str | None = None,
        data_dir: str | Path | None = None,
        lookup_delays: Sequence[float] = DEFAULT_LOOKUP_DELAYS,
        http_timeout: float | None = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> Gateway:
        settings = settings or Settings.from_env()
        changes: dict[str, Any] = {}
        if data_dir is not None:
            changes["data_dir"] = Path(data_dir)
        if database_url is not None:
            changes["database_url"] = database_url
        if redis_url is not None:
            changes["redis_url"] = redis_url
        if master_key is not None:
            changes["master_key"] = master_key
        if http_timeout is not None:
            changes["http_timeout"] = http_timeout
        settings = attrs.evolve(settings, **changes)
        if hooks is None:
            hooks = load_hooks(allow=settings.plugins_allow, block=settings.plugins_block)
        key = load_or_create_key(settings.master_key, settings.key_file)
        storage = await Storage.open(settings.database_url)
        redis = None
        if settings.redis_url:
            import redis as redis_lib
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            # A cache must answer fast or not at all: no retries, short timeouts.
            redis = redis_lib.Redis.from_url(
                settings.redis_url, socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
            )
        return cls(
            settings=settings,
            hooks=hooks,
            storage=storage,
            box=SecretBox(key),
            redis=redis,
            lookup_delays=lookup_delays,
            clock_ms=clock_ms,
        )

    @property
    def kept_answers(self) -> int:
        """How many exchange answers wait for the database."""
        return len(self.kept)

    async def store_kept_answers(self) -> int:
        """Store the answers kept during a database outage (if it is back). Returns how many were stored."""
        return await self.kept.store_all() if len(self.kept) else 0

    async def close(self) -> None:
        await self.kept.close()
        for entry in self._clients.values():
            try:
                await entry.client.close()
            finally:
                await entry.transport.close()
        self._clients.clear()
        await self.storage.close()
        if self.redis is not None:
            self.redis.close()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- brokers -------------------------------------------------------------------------------
    async def add_broker(
        self,
        *,
        user_id: int,
        exchange: str,
        label: str,
        api_key: str,
        api_secret: str,
        api_password: str | None = None,
        testnet: bool = False,
        base_url: str | Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> BrokerInfo:
        """``base_url``: one URL for every market type, or one per market type (``{"spot": url}`` or
        ``"spot=url,swap=url"``): the broker then trades those market types only."""
        spec = self.registry.get(exchange)
        stored_base_url = broker_endpoints.parse(base_url, spec)
        unknown = set(options or {}) - set(spec.broker_options)
        if unknown:
            raise Terminal5Error(
                f"{exchange} has no broker option(s) {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(spec.broker_options)) or 'none'})",
                field="options",
            )
        return await self.storage.run(
            self.brokers.add,
            user_id=user_id,
            exchange=exchange,
            label=label,
            api_key=api_key,
            api_secret=api_secret,
            api_password=api_password,
            testnet=testnet,
            base_url=stored_base_url,
            options=options,
        )

    async def get_broker(self, broker_id: int, user_id: int | None = None) -> BrokerInfo:
        return await self.storage.run(self.brokers.get, broker_id, user_id)

    async def list_brokers(self, user_id: int | None = None) -> list[BrokerInfo]:
        return await self.storage.run(self.brokers.list, user_id)

    async def remove_broker(self, broker_id: int, user_id: int | None = None) -> None:
        await self.storage.run(self.brokers.remove, broker_id, user_id)
        self._credentials.pop(broker_id, None)

    async def set_broker_enabled(self, broker_id: int, enabled: bool, reason: str | None = None) -> BrokerInfo:
        return await self.storage.run(self.brokers.set_enabled, broker_id, enabled, reason)

    async def _credentials_of(self, broker_id: int) -> Credentials:
        creds = self._credentials.get(broker_id)
        if creds is None:
            creds = await self.storage.run(self.brokers.credentials, broker_id)
            self._credentials[broker_id] = creds
        return creds

    # --- clients and contexts --------------------------------------------------------------------
    def client_for(self, exchange: str) -> _Client:
        """The one native client of this exchange type (created on first use)."""
        entry = self._clients.get(exchange)
        if entry is None:
            spec = self.registry.get(exchange)
            transport = HttpTransport(
                exchange,
                self.hooks.map_error,
                timeout=self.settings.http_timeout,
                clock_ms=self._clock_ms,
                observers=[self._audit, *self.call_observers],
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
            entry = _Client(spec=spec, transport=transport, client=client)
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

    async def context(
        self,
        broker: BrokerInfo,
        market_type: MarketType,
        *,
        request_id: str | None = None,
        order_key: str | None = None,
    ) -> CallContext:
        spec = self.registry.get(broker.exchange)
        return CallContext(
            exchange=broker.exchange,
            base_url=self.base_url(spec, broker, market_type),
            market_type=market_type,
            credentials=await self._credentials_of(broker.id),
            broker_id=broker.id,
            user_id=broker.user_id,
            # every native call names its request: the caller's, the one in progress, else its own
            request_id=request_id or current_request_id() or uuid.uuid4().hex,
            testnet=broker.testnet,
            options=broker.options,
            order_key=order_key,
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
        def write() -> None:
            self.storage.m.NativeCall.create(
                exchange=record.exchange,
                broker_id=record.broker_id,
                client_order_id=record.order_key,
                request_id=record.request_id,
                endpoint=record.endpoint or record.url[:100],
                method=record.method,
                url=record.url,
                request_headers=dict(record.request_headers),
                request_body=record.request_body,
                status=record.status,
                response_body=record.response_body,
                rate_headers=dict(record.rate_headers),
                latency_ms=record.latency_ms,
                error=record.error,
            )

        future = self.storage.submit(write)
        self._audit_futures.add(future)
        future.add_done_callback(self._audit_futures.discard)

    async def flush(self) -> None:
        """Wait until every queued audit write (and kept answer) is in the database; during a database
        outage, say what could not be written and return (the orders concerned stay pending_submit)."""
        try:
            await self.store_kept_answers()
            await self.storage.run(lambda: None)
        except DatabaseUnavailable:
            logger.warning(
                "database unavailable: {} kept answer(s) and queued audit records not written", len(self.kept)
            )

    # --- native -> unified ---------------------------------------------------------------------
    def _convert(
        self,
        exchange: str,
        payload: NativePayload,
        *,
        market_type: MarketType,
        request: OrderRequest | None = None,
        market: Market | None = None,
        book: MarketBook | None = None,
    ) -> tuple[Order, bool]:
        """Runs on the DB thread (the reverse client-id map may hit the database). Returns the order
        with its normalized status, and whether that status was unknown."""
        context = NativeContext(
            exchange=exchange,
            market_type=market_type,
            request=request,
            market=market,
            markets=(book.native if book else (lambda _s: market)),
            client_id_of=lambda native_id: self.client_ids.client_id_of(exchange, native_id),
        )
        order = self.hooks.from_native(exchange, payload, context)
        status = OrderStatus.UNKNOWN
        if order.native_status is not None:
            status = self.hooks.normalize_status(exchange, order.native_status) or OrderStatus.UNKNOWN
        order = attrs.evolve(order, status=status, raw=order.raw if order.raw is not None else payload)
        return order, status is OrderStatus.UNKNOWN

    def _convert_found(
        self, exchange: str, payload: NativePayload, market_type: MarketType, book: MarketBook
    ) -> Order | None:
        """An order found by client id, read without the request (so nothing is filled in from it);
        None when the plugin cannot read it alone. Runs on the DB thread."""
        try:
            return self._convert(exchange, payload, market_type=market_type, book=book)[0]
        except Exception as exc:
            logger.info("{} order found by client id cannot be read without its request: {}", exchange, exc)
            return None

    def _unknown_status_alert(self, order: Order, broker_id: int | None) -> None:
        if order.native_status is None:  # the plugin could not read the answer at all
            self.alerts.raise_(
                Alert(
                    kind="unconvertible_answer",
                    key=f"unconvertible:{order.exchange}:{order.client_order_id}",
                    exchange=order.exchange,
                    severity="critical",
                    message=f"{order.exchange} answer for order {order.client_order_id} (broker {broker_id}) could "
                    "not be converted: stored raw as UNKNOWN; see the log for the plugin's error",
                )
            )
            return
        self.alerts.raise_(
            Alert(
                kind="unknown_status",
                key=f"unknown_status:{order.exchange}:{order.native_status}",
                exchange=order.exchange,
                message=(
                    f"new {order.exchange} status {order.native_status!r} (order {order.id}, broker {broker_id}): "
                    "stored as UNKNOWN; add it to the plugin's status table"
                ),
                details={"native_status": order.native_status, "order_id": order.id},
            )
        )

    # --- placing -------------------------------------------------------------------------------
    async def place_order(self, data: Mapping[str, Any] | OrderRequest, *, request_id: str | None = None) -> Order:
        return (await self.place(data, request_id=request_id)).order

    async def place(self, data: Mapping[str, Any] | OrderRequest, *, request_id: str | None = None) -> Placement:
        """``place_order``, also telling whether the answer is a replay of an order placed before."""
        request_id = request_id or current_request_id() or uuid.uuid4().hex
        with request_scope(request_id):
            request = data if isinstance(data, OrderRequest) else structure_request(data)
            await self.store_kept_answers()  # older answers first (a no-op unless the database was away)
            try:
                broker = await self.get_broker(request.broker_id, request.user_id)
            except DatabaseUnavailable as exc:
                raise exc.for_order(sent=False, client_order_id=request.client_order_id) from exc
            if not broker.enabled:
                raise BrokerDisabled(
                    f"broker {broker.id} is disabled: {broker.disabled_reason or 'kill switch on'}", field="broker_id"
                )
            entry = self.client_for(broker.exchange)
            ignored = check_levels(entry.spec, request)
            market_type = request.market_type
            market = await self.market(broker, request.symbol, market_type)
            if request.client_order_id is None:
                request = attrs.evolve(request, client_order_id=generate_client_order_id(request.user_id))
            assert request.client_order_id is not None
            # one submission at a time per client id in this process (other processes: the unique row)
            try:
                async with self._locks.hold((broker.id, request.client_order_id)):
                    return await self._place_locked(entry, broker, request, market, ignored, request_id)
            except DatabaseUnavailable as exc:
                if exc.about_order:
                    raise
                raise exc.for_order(sent=False, client_order_id=request.client_order_id) from exc

    async def _place_locked(
        self,
        entry: _Client,
        broker: BrokerInfo,
        request: OrderRequest,
        market: Market,
        ignored: tuple[str, ...],
        request_id: str,
    ) -> Placement:
        exchange = broker.exchange
        cid = request.client_order_id
        assert cid is not None
        fingerprint = request_fingerprint(request)
        existing = await self.storage.run(self.orders.find, broker.id, cid)
        if existing is not None:
            return await self._replay(entry, broker, request, market, existing, request_id)

        native_id = await self.storage.run(
            self.client_ids.claim, exchange, cid, lambda attempt: self.hooks.map_client_id(exchange, cid, attempt)
        )
        typed_native_id = self._typed_native_id(entry.spec, native_id)
        call = self._native_call(broker, request, market, typed_native_id)
        row = await self.storage.run(
            self.orders.insert_intent,
            request=request,
            exchange=exchange,
            market_type=market.type.value,
            native_client_id=native_id,
            request_hash=fingerprint,
            ignored_params=ignored,
            request_id=request_id,
        )
        if row is None:  # another process stored this client id between our read and our insert
            existing = await self.storage.run(self.orders.find, broker.id, cid)
            return await self._replay(entry, broker, request, market, existing, request_id)

        ctx = await self.context(broker, market.type, request_id=request_id, order_key=cid)
        order = await self._submit(entry, ctx, broker, request, market, row, call, typed_native_id)
        if order.status is not OrderStatus.REJECTED and call.attached:
            await self._place_attached(entry, ctx, broker, request, market, call.attached, request_id)
        return Placement(order=order, replayed=False)

    def _native_call(
        self, broker: BrokerInfo, request: OrderRequest, market: Market, native_id: NativeClientId
    ) -> NativeCall:
        """The plugin's native call, with Level-3 ``extra_params`` applied verbatim on top."""
        call = self.hooks.to_native(broker.exchange, request, market, native_id, broker.options)
        return call.with_params(request.extra_params) if request.extra_params else call

    @staticmethod
    def _typed_native_id(spec: ExchangeSpec, native_id: str) -> NativeClientId:
        return int(native_id) if spec.client_id.kind == "int32" else native_id

    async def _submit(
        self,
        entry: _Client,
        ctx: CallContext,
        broker: BrokerInfo,
        request: OrderRequest,
        market: Market,
        row: Any,
        call: Any,
        native_id: NativeClientId,
    ) -> Order:
        """Send once. On an unknown outcome, look the order up by client id; never send again."""
        try:
            payload: NativePayload | None = await entry.client.place_order(ctx, call)
        except OUTCOME_UNKNOWN as exc:
            if isinstance(exc, ExchangeError) and isinstance(exc.details, dict) and exc.details.get("sent") is False:
                return await self._reject(row, exc)  # never left this machine: a definite failure
            logger.warning(
                "order {} outcome unknown after {}: looking it up by client id", row.client_order_id, exc.kind
            )
            payload = (await self._lookup(entry, ctx, market, native_id, row.client_order_id)).payload
            if payload is None:
                return await self._mark_unknown(row, exc)
            # found by client id: adopted only if it is the order requested
            return await self._store_answer(
                broker, request, market, row, payload, expected=Expected.of_request(request)
            )
        except DuplicateOrder as exc:
            # The exchange already has this client id: maybe our own earlier send. Adopt it if so.
            found = await self._lookup(entry, ctx, market, native_id, row.client_order_id, delays=(0,))
            if found.failure is not None:  # cannot tell whose it is: unresolved, never concluded
                return await self._mark_unknown(row, exc)
            payload = found.payload
            if payload is None:
                return await self._reject(row, exc)
            return await self._store_answer(
                broker, request, market, row, payload, expected=Expected.of_request(request)
            )
        except ExchangeError as exc:
            return await self._reject(row, exc)
        return await self._store_answer(broker, request, market, row, payload)

    async def _store_answer(
        self,
        broker: BrokerInfo,
        request: OrderRequest | None,
        market: Market,
        row: Any,
        payload: NativePayload,
        *,
        keep_raw_on_failure: bool = True,
        expected: Expected | None = None,
    ) -> Order:
        """Convert and store an answer. A payload the plugin cannot convert is still stored raw, as UNKNOWN
        (the order exists on the exchange: its answer must not be lost), unless ``keep_raw_on_failure`` is
        False and the caller has another way to read the order.

        ``expected``: the payload was found by client id, not answered to our send; it is stored only if it
        is the order requested, else the row is refused (nothing of the other order stored) and
        ``DuplicateOrder`` raised with an alert."""
        book = await self.market_book(broker, market.type) if expected is not None else None
        foreign: list[tuple[Order, list[str]]] = []

        def convert_and_save() -> tuple[Order, bool]:
            if expected is not None and book is not None:
                found = self._convert_found(broker.exchange, payload, market.type, book)
                wrong = mismatches(expected, found) if found is not None else []
                if wrong:
                    foreign.append((found, wrong))
                    error = foreign_order_error(row.client_order_id, found, wrong)
                    saved = self.orders.update(
                        row.id, status=OrderStatus.REJECTED.value, outcome_unknown=False, error=error.to_dict()
                    )
                    return row_to_order(saved), False
            try:
                order, unknown = self._convert(
                    broker.exchange, payload, market_type=market.type, request=request, market=market
                )
            except Exception as exc:
                if not keep_raw_on_failure:
                    raise
                logger.exception(
                    "{} answer for {} could not be converted; stored raw", broker.exchange, row.client_order_id
                )
                saved = self.orders.update(
                    row.id,
                    status=OrderStatus.UNKNOWN.value,
                    raw_response=payload,
                    outcome_unknown=False,
                    error={"error": "PluginError", "message": f"from_native failed: {type(exc).__name__}: {exc}"},
                )
                return row_to_order(saved), True
            order = attrs.evolve(
                order,
                client_order_id=row.client_order_id,
                native_client_id=row.native_client_id,
            )
            saved = self.orders.save_result(row.id, order)
            return row_to_order(saved), unknown

        def after(result: tuple[Order, bool] | None) -> None:
            if result is None:
                return  # a kept answer found the row resolved meanwhile
            if foreign:
                found, wrong = foreign[0]
                self.alerts.raise_(foreign_order_alert(broker.id, row.client_order_id, found, wrong))
                logger.warning("order {} not adopted: the order found differs in {}", row.client_order_id, wrong)
            elif result[1]:
                self._unknown_status_alert(result[0], broker.id)

        try:
            order, unknown = await self.storage.run(convert_and_save)
        except DatabaseUnavailable as exc:
            self._keep(f"{broker.exchange} answer for order {row.client_order_id}", row, convert_and_save, after)
            raise exc.for_order(
                sent=True,
                client_order_id=row.client_order_id,
                note=f" and {broker.exchange} answered; the answer is kept and stored when the database returns",
            ) from exc
        after((order, unknown))
        if foreign:
            found, wrong = foreign[0]
            raise foreign_order_error(row.client_order_id, found, wrong)
        logger.info(
            "order {} {} {} {} {} -> {} ({})",
            order.client_order_id,
            order.exchange,
            order.symbol,
            order.side.value,
            order.quantity,
            order.status.value,
            order.native_status,
        )
        return order

    async def _lookup(
        self,
        entry: _Client,
        ctx: CallContext,
        market: Market,
        native_id: NativeClientId | None,
        client_order_id: str,
        *,
        exchange_id: str | None = None,
        delays: Sequence[float] | None = None,
    ) -> Lookup:
        """Found, definitely absent, or failed (see ``terminal5.absence``): never resends."""
        ref = OrderRef(
            market=market, exchange_id=exchange_id, native_client_id=native_id, client_order_id=client_order_id
        )
        return await lookup(entry.client, ctx, ref, self.lookup_delays if delays is None else delays)

    def _keep(self, what: str, row: Any, write: Callable[[], Any], after: Callable[[Any], None] | None = None) -> None:
        """Keep a write about ``row`` until the database returns. It applies only if the row is still as it
        was: fresher news stored meanwhile (a fetch, a reconciliation) is never overwritten by older news."""

        def guarded() -> Any:
            current = self.storage.m.OrderRow.get_or_none(self.storage.m.OrderRow.id == row.id)
            if current is None or (current.status, current.exchange_order_id) != (row.status, row.exchange_order_id):
                logger.info("{}: the order was resolved meanwhile; the kept answer is dropped", what)
                return None
            return write()

        self.kept.keep(what, guarded, after)

    async def _reject(self, row: Any, exc: Terminal5Error) -> Order:
        def write() -> Any:
            return self.orders.update(
                row.id, status=OrderStatus.REJECTED.value, error=exc.to_dict(), outcome_unknown=False
            )

        try:
            await self.storage.run(write)
        except DatabaseUnavailable:
            self._keep(f"rejection of order {row.client_order_id}", row, write)
        logger.warning("order {} rejected: {}", row.client_order_id, exc)
        raise exc

    async def _mark_unknown(self, row: Any, exc: Terminal5Error) -> Order:
        def write() -> Any:
            return self.orders.update(
                row.id,
                outcome_unknown=True,
                error={**exc.to_dict(), "note": "outcome unknown: reconciliation will resolve it"},
            )

        try:
            saved = await self.storage.run(write)
        except DatabaseUnavailable as outage:
            self._keep(f"unknown outcome of order {row.client_order_id}", row, write)
            raise outage.for_order(
                sent=None,
                client_order_id=row.client_order_id,
                note=f" ({exc.kind} from the exchange); it stays pending_submit and is looked up",
            ) from outage
        self.alerts.raise_(
            Alert(
                kind="outcome_unknown",
                key=f"outcome_unknown:{row.exchange}:{row.client_order_id}",
                exchange=row.exchange,
                message=f"order {row.client_order_id} outcome unknown after {exc.kind}; left pending_submit",
            )
        )
        return row_to_order(saved)

    async def _replay(
        self,
        entry: _Client,
        broker: BrokerInfo,
        request: OrderRequest,
        market: Market,
        existing: Any,
        request_id: str,
    ) -> Placement:
        """Same client id again: the same request gets the stored order (resolving an unknown outcome by
        lookup, never by resending); a different request is a conflict."""
        if not same_request(existing.request, existing.request_hash, request):
            raise DuplicateOrder(
                f"client_order_id {existing.client_order_id!r} is already used by a different order",
                field="client_order_id",
            )
        status = OrderStatus(existing.status)
        if status is OrderStatus.PENDING_SUBMIT or (
            status is OrderStatus.REJECTED and rejected_by_reconciliation(existing)
        ):
            # unknown outcome, or "not found" concluded by reconciliation: look again, never resend
            ctx = await self.context(broker, market.type, request_id=request_id, order_key=existing.client_order_id)
            native_id = self._typed_native_id(entry.spec, existing.native_client_id)
            payload = (await self._lookup(entry, ctx, market, native_id, existing.client_order_id, delays=(0,))).payload
            if payload is not None:
                order = await self._store_answer(
                    broker, request, market, existing, payload, expected=Expected.of_request(request)
                )
                return Placement(order=order)
        if status is OrderStatus.REJECTED:
            error = existing.error or {}
            cls = TAXONOMY.get(error.get("error", ""), ExchangeError)
            if cls is RateLimitExceeded or (error.get("details") or {}) == {"sent": False}:
                # Refused before it could exist: sending it now is the first real submission.
                ctx = await self.context(broker, market.type, request_id=request_id, order_key=existing.client_order_id)
                native_id = self._typed_native_id(entry.spec, existing.native_client_id)
                call = self._native_call(broker, request, market, native_id)
                await self.storage.run(self.orders.update, existing.id, status=OrderStatus.PENDING_SUBMIT.value)
                order = await self._submit(entry, ctx, broker, request, market, existing, call, native_id)
                return Placement(order=order, replayed=False)
            raise cls(error.get("message", "rejected"), exchange=broker.exchange, code=error.get("code"))
        return Placement(order=row_to_order(existing))

    async def _place_attached(
        self,
        entry: _Client,
        ctx: CallContext,
        broker: BrokerInfo,
        parent: OrderRequest,
        market: Market,
        attached: Sequence[AttachedOrder],
        request_id: str,
    ) -> None:
        for child in attached:
            try:
                await self._place_child(entry, ctx, broker, parent, market, child, request_id)
            except DatabaseUnavailable as exc:  # the parent is placed and stored: report the child alone
                self.alerts.raise_(
                    Alert(
                        kind="attached_order_failed",
                        key=f"attached:{broker.exchange}:{child.client_order_id}",
                        exchange=broker.exchange,
                        severity="critical",
                        message=f"{child.role} order {child.client_order_id} of {parent.client_order_id}: {exc}",
                    )
                )

    async def _place_child(
        self,
        entry: _Client,
        ctx: CallContext,
        broker: BrokerInfo,
        parent: OrderRequest,
        market: Market,
        child: AttachedOrder,
        request_id: str,
    ) -> None:
        request = child.request or self._derive_child(parent, child)
        native_id = child.call.native_client_id or child.client_order_id
        await self.storage.run(self.client_ids.claim, broker.exchange, child.client_order_id, lambda _a, n=native_id: n)
        row = await self.storage.run(
            self.orders.insert_intent,
            request=request,
            exchange=broker.exchange,
            market_type=market.type.value,
            native_client_id=str(native_id),
            request_hash=request_fingerprint(request),
            ignored_params=(),
            request_id=request_id,
            parent_client_order_id=parent.client_order_id,
        )
        if row is None:
            return  # already placed by an earlier attempt of this parent
        child_ctx = attrs.evolve(ctx, order_key=child.client_order_id)
        try:
            await self._submit(entry, child_ctx, broker, request, market, row, child.call, native_id)
        except ExchangeError as exc:
            self.alerts.raise_(
                Alert(
                    kind="attached_order_failed",
                    key=f"attached:{broker.exchange}:{child.client_order_id}",
                    exchange=broker.exchange,
                    severity="critical",
                    message=f"{child.role} order {child.client_order_id} of {parent.client_order_id} failed: {exc}",
                )
            )

    @staticmethod
    def _derive_child(parent: OrderRequest, child: AttachedOrder) -> OrderRequest:
        trigger = parent.stop_loss_price if child.role == "stop_loss" else parent.take_profit_price
        return OrderRequest(
            symbol=parent.symbol,
            side=Side.SELL if parent.side is Side.BUY else Side.BUY,
            type=OrderType.STOP_LOSS if child.role == "stop_loss" else OrderType.TAKE_PROFIT,
            quantity=parent.quantity,
            user_id=parent.user_id,
            broker_id=parent.broker_id,
            source=parent.source,
            client_order_id=child.client_order_id,
            reduce_only=True,
            stop_price=trigger,
            position_side=parent.position_side,
        )

    # --- other order operations ------------------------------------------------------------------
    async def _order_target(
        self, user_id: int | None, broker_id: int, client_order_id: str | None, order_id: str | None
    ) -> tuple[BrokerInfo, _Client, Any | None]:
        if client_order_id is None and order_id is None:
            raise Terminal5Error("give client_order_id or order_id", field="client_order_id")
        broker = await self.get_broker(broker_id, user_id)
        entry = self.client_for(broker.exchange)
        row = None
        if client_order_id is not None:
            row = await self.storage.run(self.orders.find, broker.id, client_order_id)
        elif order_id is not None:
            row = await self.storage.run(self.orders.find_by_exchange_id, broker.id, order_id)
        return broker, entry, row

    async def _ref(
        self,
        broker: BrokerInfo,
        entry: _Client,
        row: Any | None,
        client_order_id: str | None,
        order_id: str | None,
        symbol: str | None,
    ) -> OrderRef:
        symbol = row.symbol if row is not None else symbol
        if symbol is None:
            raise OrderNotFound("unknown order: give its symbol to look it up on the exchange", field="symbol")
        market = await self.market(broker, symbol, market_type_of(symbol))
        native_id: NativeClientId | None = None
        if row is not None and row.native_client_id is not None:
            native_id = self._typed_native_id(entry.spec, row.native_client_id)
        elif client_order_id is not None:
            stored = await self.storage.run(self.client_ids.native_id_of, broker.exchange, client_order_id)
            native_id = self._typed_native_id(entry.spec, stored) if stored is not None else client_order_id
        return OrderRef(
            market=market,
            exchange_id=(row.exchange_order_id if row is not None else None) or order_id,
            native_client_id=native_id,
            client_order_id=(row.client_order_id if row is not None else client_order_id),
        )

    async def _locate(
        self,
        user_id: int | None,
        broker_id: int,
        client_order_id: str | None,
        order_id: str | None,
        symbol: str | None,
        request_id: str | None,
    ) -> _Located:
        """Everything an operation on one existing order needs: its broker, client, stored row (if any),
        how to find it on the exchange, and the call context."""
        broker, entry, row = await self._order_target(user_id, broker_id, client_order_id, order_id)
        ref = await self._ref(broker, entry, row, client_order_id, order_id, symbol)
        ctx = await self.context(broker, ref.market.type, request_id=request_id, order_key=ref.client_order_id)
        return _Located(broker=broker, entry=entry, row=row, ref=ref, ctx=ctx)

    async def get_order(
        self,
        *,
        broker_id: int,
        user_id: int | None = None,
        client_order_id: str | None = None,
        order_id: str | None = None,
    ) -> Order:
        """The stored order (no exchange call)."""
        _, _, row = await self._order_target(user_id, broker_id, client_order_id, order_id)
        if row is None:
            raise OrderNotFound("order not found", field="client_order_id" if client_order_id else "order_id")
        return row_to_order(row)

    async def fetch_order(
        self,
        *,
        broker_id: int,
        user_id: int | None = None,
        client_order_id: str | None = None,
        order_id: str | None = None,
        symbol: str | None = None,
        request_id: str | None = None,
    ) -> Order:
        """The order as the exchange sees it now; the stored copy is updated (or created as external)."""
        request_id = request_id or current_request_id() or uuid.uuid4().hex
        with request_scope(request_id):
            at = await self._locate(user_id, broker_id, client_order_id, order_id, symbol, request_id)
            payload = await at.entry.client.fetch_order(at.ctx, at.ref)
            if payload is None:
                raise OrderNotFound(
                    f"{at.broker.exchange} does not know order {at.ref.exchange_id or at.ref.client_order_id}",
                    exchange=at.broker.exchange,
                )
            return await self._save_fetched(at.broker, at.ref.market, at.row, payload)

    async def _save_fetched(self, broker: BrokerInfo, market: Market, row: Any | None, payload: NativePayload) -> Order:
        if row is not None:
            # a receipt that is not an order fails here: cancel_order then reads the order back.
            # A row never confirmed was found by client id: the order must be the one requested.
            expected = Expected.of_row(row) if not row.exchange_order_id else None
            return await self._store_answer(
                broker, None, market, row, payload, keep_raw_on_failure=False, expected=expected
            )

        def convert_and_upsert() -> tuple[Order, bool]:
            order, unknown = self._convert(broker.exchange, payload, market_type=market.type, market=market)
            saved, _ = self.orders.upsert_external(
                broker_id=broker.id, user_id=broker.user_id, order=order, market_type=market.type.value
            )
            return row_to_order(saved), unknown

        order, unknown = await self.storage.run(convert_and_upsert)
        if unknown:
            self._unknown_status_alert(order, broker.id)
        return order

    async def cancel_order(
        self,
        *,
        broker_id: int,
        user_id: int | None = None,
        client_order_id: str | None = None,
        order_id: str | None = None,
        symbol: str | None = None,
        request_id: str | None = None,
    ) -> Order:
        request_id = request_id or current_request_id() or uuid.uuid4().hex
        with request_scope(request_id):
            _, _, row = await self._order_target(user_id, broker_id, client_order_id, order_id)
            if row is not None and row.status in FINAL_ON_EXCHANGE:
                return row_to_order(row)  # already over on the exchange: nothing to cancel, no round trip
            at = await self._locate(user_id, broker_id, client_order_id, order_id, symbol, request_id)
            if at.row is not None and not at.row.exchange_order_id:
                # never confirmed: make sure the order behind this client id is ours before cancelling it
                found = await at.entry.client.fetch_order(at.ctx, at.ref)
                if found is None:
                    raise OrderNotFound(
                        f"{at.broker.exchange} does not know order {at.ref.client_order_id}",
                        exchange=at.broker.exchange,
                    )
                confirmed = await self._save_fetched(at.broker, at.ref.market, at.row, found)
                if confirmed.status.value in FINAL_ON_EXCHANGE:
                    return confirmed
                at = attrs.evolve(at, ref=attrs.evolve(at.ref, exchange_id=confirmed.id))
            payload = await at.entry.client.cancel_order(at.ctx, at.ref)
            try:
                return await self._save_fetched(at.broker, at.ref.market, at.row, payload)
            except (PluginError, KeyError, TypeError, ValueError):
                # Some exchanges answer a cancel with a receipt, not the order: read the order back.
                fetched = await at.entry.client.fetch_order(at.ctx, at.ref)
                if fetched is None:
                    raise
                return await self._save_fetched(at.broker, at.ref.market, at.row, fetched)

    async def edit_order(
        self,
        *,
        broker_id: int,
        user_id: int | None = None,
        client_order_id: str | None = None,
        order_id: str | None = None,
        symbol: str | None = None,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        request_id: str | None = None,
    ) -> Order:
        """Amend quantity and/or price in place, where the client can (``SupportsEditOrder``)."""
        request_id = request_id or current_request_id() or uuid.uuid4().hex
        with request_scope(request_id):
            broker = await self.get_broker(broker_id, user_id)
            entry = self.client_for(broker.exchange)
            client = entry.client
            if not isinstance(client, SupportsEditOrder):
                raise UnsupportedParameterError(
                    f"{broker.exchange} cannot edit an order: cancel it and place a new one", exchange=broker.exchange
                )
            at = await self._locate(user_id, broker_id, client_order_id, order_id, symbol, request_id)
            payload = await client.edit_order(at.ctx, at.ref, quantity=quantity, price=price)
            payload = payload or await entry.client.fetch_order(at.ctx, at.ref)
            if payload is None:
                raise OrderNotFound("order not found after the edit", exchange=broker.exchange)
            return await self._save_fetched(broker, at.ref.market, at.row, payload)

    async def cancel_all_after(self, *, broker_id: int, timeout: int, user_id: int | None = None) -> NativePayload:
        """The exchange's dead-man's switch (``SupportsCancelAllAfter``); ``timeout`` 0 disables it."""
        broker = await self.get_broker(broker_id, user_id)
        entry = self.client_for(broker.exchange)
        client = entry.client
        if not isinstance(client, SupportsCancelAllAfter):
            raise UnsupportedParameterError(f"{broker.exchange} offers no dead-man's switch", exchange=broker.exchange)
        market_type = (self.traded_market_types(broker) or sorted(entry.spec.market_types))[0]
        return await client.cancel_all_after(await self.context(broker, market_type), timeout)

    async def list_orders(self, **filters: Any) -> list[Order]:
        rows = await self.storage.run(lambda: self.orders.list(**filters))
        return [row_to_order(r) for r in rows]

    async def fetch_open_orders(
        self, *, broker_id: int, user_id: int | None = None, symbol: str | None = None
    ) -> list[Order]:
        broker = await self.get_broker(broker_id, user_id)
        entry = self.client_for(broker.exchange)
        out: list[Order] = []
        for market_type in self.traded_market_types(broker):
            book = await self.market_book(broker, market_type)
            market = book.get(symbol) if symbol else None
            if symbol and market is None:
                continue
            ctx = await self.context(broker, market_type)
            payloads = await entry.client.fetch_open_orders(ctx, market)

            def convert_all(
                payloads: Sequence[NativePayload] = payloads, book: MarketBook = book, mt: MarketType = market_type
            ) -> list[tuple[Order, bool]]:
                return [self._convert(broker.exchange, p, market_type=mt, book=book) for p in payloads]

            for order, unknown in await self.storage.run(convert_all):
                if unknown:
                    self._unknown_status_alert(order, broker.id)
                out.append(attrs.evolve(order, broker_id=broker.id, user_id=broker.user_id))
        return out

    async def fetch_balances(self, *, broker_id: int, user_id: int | None = None) -> list[Balance]:
        broker = await self.get_broker(broker_id, user_id)
        entry = self.client_for(broker.exchange)
        traded = self.traded_market_types(broker) or sorted(entry.spec.market_types)
        market_type = MarketType.SPOT if MarketType.SPOT in traded else traded[0]
        ctx = await self.context(broker, market_type)
        return list(await entry.client.fetch_balances(ctx))

    async def fetch_positions(self, *, broker_id: int, user_id: int | None = None) -> list[Position]:
        broker = await self.get_broker(broker_id, user_id)
        entry = self.client_for(broker.exchange)
        client = entry.client
        out: list[Position] = []
        if not isinstance(client, SupportsPositions):
            return out  # an exchange without positions (spot only) has none open
        for market_type in self.traded_market_types(broker):
            if market_type is MarketType.SPOT:
                continue
            ctx = await self.context(broker, market_type)
            out.extend(await client.fetch_positions(ctx))
        return out

    # --- reconciliation (the seed's Terminal 7) ---------------------------------------------------
    async def reconcile(self, broker_id: int) -> dict[str, int]:
        """Exchange orders vs the database, both ways (``terminal5.reconciliation``). Returns counts."""
        broker = await self.get_broker(broker_id)
        return await Reconciliation(self, broker).run()

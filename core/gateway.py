"""The gateway: one façade over the stages of the order path, each a module of its own name.

========================  ==========================================================================
stage                     module
========================  ==========================================================================
construction              ``terminal5.construction`` (settings, database, Redis)
brokers, tenancy          ``terminal5.brokers`` (``storage.brokers`` underneath)
clients, contexts,        ``terminal5.client_pool`` (one native client per exchange type; a
markets, audit            ``CallContext`` per call; market books; the audit trail)
native -> unified         ``terminal5.conversion``
placing an order          ``terminal5.placement`` -> ``terminal5.submission`` ->
                          ``terminal5.order_results`` -> ``terminal5.attached_orders``
other order operations    ``terminal5.order_operations`` (fetch / cancel / edit, one ``locate``)
account queries           ``terminal5.account_queries`` (open orders, balances, positions)
reconciliation            ``terminal5.reconciliation``
========================  ==========================================================================

``Gateway`` holds the shared parts (settings, hooks, storage, repositories, caches) and delegates; its
public methods are the API the daemon, the CLI, the tests and the testing kit call (the daemon reaches the
database only through them).

Longer than ~400 lines on purpose: one delegating method per public operation, each with its full keyword
signature and docstring, so the API is read in one place; no logic lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Unpack

from loguru import logger

from terminal5 import account_queries, order_operations, placement
from terminal5.alerts import AlertBus
from terminal5.brokers import Brokers, NewBroker
from terminal5.client_pool import CallScope, ClientEntry, ClientPool
from terminal5.construction import connect_redis, open_storage, resolve_settings
from terminal5.contract import CallContext, Credentials, ExchangeSpec, NativePayload
from terminal5.conversion import Conversion
from terminal5.errors import DatabaseUnavailable
from terminal5.kept_answers import KeptAnswers
from terminal5.markets import MarketBook
from terminal5.models import Balance, Market, MarketType, Order, OrderRequest, Position
from terminal5.order_operations import FINAL_ON_EXCHANGE, OrderAddress
from terminal5.placement import KeyedLocks, Placement, generate_client_order_id
from terminal5.plugins import Hooks, load_hooks
from terminal5.ratebudget import BudgetStore, budget_store
from terminal5.reconciliation import Reconciliation
from terminal5.secrets import SecretBox, load_or_create_key
from terminal5.settings import Settings
from terminal5.storage.brokers import BrokerInfo, BrokerRepo
from terminal5.storage.client_ids import ClientIdStore
from terminal5.storage.database import Storage
from terminal5.storage.fresh_reads import MISS
from terminal5.storage.heartbeats import HeartbeatTable
from terminal5.storage.orders import OrderRepo, row_to_order
from terminal5.storage.stored_order import StoredOrder
from terminal5.storage.tokens import TokenInfo, TokenRepo

__all__ = [
    "DEFAULT_LOOKUP_DELAYS",
    "FINAL_ON_EXCHANGE",
    "ClientEntry",
    "Gateway",
    "KeyedLocks",
    "Placement",
    "generate_client_order_id",
]

#: waits before each lookup of an order whose submission outcome is unknown (seconds)
DEFAULT_LOOKUP_DELAYS = (0.25, 1.0, 2.0)


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
        self.tokens = TokenRepo(storage)
        self.heartbeats = HeartbeatTable(storage)
        self.alerts = AlertBus(hooks.alert)
        self.lookup_delays = tuple(lookup_delays)
        #: published rate limits, shared by every process through Redis when configured
        self.budgets: BudgetStore = budget_store(settings.redis_url)
        self.broker_book = Brokers(self.registry, storage, self.brokers)
        self.pool = ClientPool(
            settings=settings,
            hooks=hooks,
            storage=storage,
            budgets=self.budgets,
            credentials_of=self.broker_book.credentials,
            clock_ms=clock_ms,
        )
        self.markets = self.pool.markets
        #: observers of every native call (add them before the first call to an exchange)
        self.call_observers = self.pool.observers
        self.conversion = Conversion(hooks, self.client_ids, self.alerts)
        #: one submission at a time per (broker, client id) in this process
        self.placement_locks = KeyedLocks()
        #: exchange answers received while the database could not store them
        self.kept = KeptAnswers(storage)

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
        settings = resolve_settings(
            settings,
            database_url=database_url,
            master_key=master_key,
            redis_url=redis_url,
            data_dir=data_dir,
            http_timeout=http_timeout,
        )
        if hooks is None:
            hooks = load_hooks(allow=settings.plugins_allow, block=settings.plugins_block)
        key = load_or_create_key(settings.master_key, settings.key_file)
        storage = await open_storage(settings.database_url, hooks.registry)
        return cls(
            settings=settings,
            hooks=hooks,
            storage=storage,
            box=SecretBox(key),
            redis=connect_redis(settings.redis_url),
            lookup_delays=lookup_delays,
            clock_ms=clock_ms,
        )

    async def close(self) -> None:
        await self.kept.close()
        await self.pool.close()
        await self.storage.close()
        if self.redis is not None:
            self.redis.close()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # what tests inspect: the locks held by placements, the cached credentials
    @property
    def _locks(self) -> KeyedLocks:
        return self.placement_locks

    @property
    def _credentials(self) -> dict[int, Credentials]:
        return self.broker_book.cached_credentials

    # --- answers kept during a database outage -------------------------------------------------
    @property
    def kept_answers(self) -> int:
        """How many exchange answers wait for the database."""
        return len(self.kept)

    async def store_kept_answers(self) -> int:
        """Store the answers kept during a database outage (if it is back). Returns how many were stored."""
        return await self.kept.store_all() if len(self.kept) else 0

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

    # --- brokers -------------------------------------------------------------------------------
    async def add_broker(self, **broker: Unpack[NewBroker]) -> BrokerInfo:
        """``user_id``, ``exchange``, ``label``, ``api_key``, ``api_secret``, optionally ``api_password``,
        ``testnet``, ``options`` and ``base_url``: one URL for every market type, or one per market type
        (``{"spot": url}`` or ``"spot=url,swap=url"``): the broker then trades those market types only."""
        return await self.broker_book.add(**broker)

    async def get_broker(self, broker_id: int, user_id: int | None = None) -> BrokerInfo:
        return await self.broker_book.get(broker_id, user_id)

    async def list_brokers(self, user_id: int | None = None) -> list[BrokerInfo]:
        return await self.broker_book.list(user_id)

    async def remove_broker(self, broker_id: int, user_id: int | None = None, *, force: bool = False) -> None:
        await self.broker_book.remove(broker_id, user_id, force=force)

    async def set_broker_enabled(
        self, broker_id: int, enabled: bool, reason: str | None = None, *, by: str | None = None
    ) -> BrokerInfo:
        return await self.broker_book.set_enabled(broker_id, enabled, reason, by=by)

    async def _credentials_of(self, broker_id: int) -> Credentials:
        return await self.broker_book.credentials(broker_id)

    # --- clients, contexts, markets --------------------------------------------------------------
    def client_for(self, exchange: str) -> ClientEntry:
        """The one native client of this exchange type (created on first use)."""
        return self.pool.client_for(exchange)

    def base_url(self, spec: ExchangeSpec, broker: BrokerInfo, market_type: MarketType) -> str:
        return self.pool.base_url(spec, broker, market_type)

    def traded_market_types(self, broker: BrokerInfo) -> list[MarketType]:
        """The market types this broker trades (its per-market-type URLs, else every one with an endpoint)."""
        return self.pool.traded_market_types(broker)

    async def context(self, broker: BrokerInfo, market_type: MarketType, **scope: Unpack[CallScope]) -> CallContext:
        return await self.pool.context(broker, market_type, **scope)

    async def market_book(self, broker: BrokerInfo, market_type: MarketType) -> MarketBook:
        return await self.pool.market_book(broker, market_type)

    async def market(self, broker: BrokerInfo, symbol: str, market_type: MarketType) -> Market:
        return await self.pool.market(broker, symbol, market_type)

    # --- placing -------------------------------------------------------------------------------
    async def place_order(self, data: Mapping[str, Any] | OrderRequest, *, request_id: str | None = None) -> Order:
        return (await self.place(data, request_id=request_id)).order

    async def place(self, data: Mapping[str, Any] | OrderRequest, *, request_id: str | None = None) -> Placement:
        """``place_order``, also telling whether the answer is a replay of an order placed before."""
        return await placement.place(self, data, request_id=request_id)

    # --- other order operations ------------------------------------------------------------------
    async def get_order(
        self,
        *,
        broker_id: int,
        user_id: int | None = None,
        client_order_id: str | None = None,
        order_id: str | None = None,
    ) -> Order:
        """The stored order (no exchange call)."""
        return await order_operations.get_order(
            self, broker_id=broker_id, user_id=user_id, client_order_id=client_order_id, order_id=order_id
        )

    async def fetch_order(self, **address: Unpack[OrderAddress]) -> Order:
        """The order as the exchange sees it now; the stored copy is updated (or created as external).
        ``address``: ``broker_id`` and ``client_order_id`` or ``order_id`` (plus ``symbol`` for an order
        not stored here), ``user_id`` (tenancy), ``request_id``."""
        return await order_operations.fetch_order(self, **address)

    async def cancel_order(self, **address: Unpack[OrderAddress]) -> Order:
        """Cancel the order ``address`` names (as for ``fetch_order``)."""
        return await order_operations.cancel_order(self, **address)

    async def edit_order(
        self, *, quantity: Decimal | None = None, price: Decimal | None = None, **address: Unpack[OrderAddress]
    ) -> Order:
        """Amend quantity and/or price in place, where the client can (``SupportsEditOrder``)."""
        return await order_operations.edit_order(self, quantity=quantity, price=price, **address)

    async def list_orders(self, **filters: Any) -> list[Order]:
        rows = await self.storage.run(lambda: self.orders.list(**filters))
        return [row_to_order(r) for r in rows]

    # --- account queries -------------------------------------------------------------------------
    async def cancel_all_after(self, *, broker_id: int, timeout: int, user_id: int | None = None) -> NativePayload:
        """The exchange's dead-man's switch (``SupportsCancelAllAfter``); ``timeout`` 0 disables it."""
        return await account_queries.cancel_all_after(self, broker_id=broker_id, timeout=timeout, user_id=user_id)

    async def fetch_open_orders(
        self, *, broker_id: int, user_id: int | None = None, symbol: str | None = None
    ) -> list[Order]:
        return await account_queries.fetch_open_orders(self, broker_id=broker_id, user_id=user_id, symbol=symbol)

    async def fetch_balances(self, *, broker_id: int, user_id: int | None = None) -> list[Balance]:
        return await account_queries.fetch_balances(self, broker_id=broker_id, user_id=user_id)

    async def fetch_positions(self, *, broker_id: int, user_id: int | None = None) -> list[Position]:
        return await account_queries.fetch_positions(self, broker_id=broker_id, user_id=user_id)

    # --- what the daemon and the CLI keep in the database -------------------------------------------
    async def create_token(self, *, user_id: int | None, admin: bool = False, label: str = "") -> tuple[TokenInfo, str]:
        """A new API token: its record, and the token itself (shown once, stored only as a digest)."""
        return await self.storage.run(self.tokens.create, user_id=user_id, admin=admin, label=label)

    async def find_token(self, token: str) -> TokenInfo | None:
        """The token's record, if it exists and is not revoked: read from the database now (a revocation from
        any process holds for the very next request), on this thread where the read can be made without
        waiting (SQLite, ``terminal5.storage.fresh_reads``), else on the DB thread."""
        info = self.tokens.active_here(token)
        if info is MISS:
            info = await self.storage.run(self.tokens.active, token)
        return info

    async def list_tokens(self, user_id: int | None = None) -> list[TokenInfo]:
        return await self.storage.run(self.tokens.list, user_id)

    async def revoke_token(self, token_id: int) -> TokenInfo:
        return await self.storage.run(self.tokens.revoke, token_id)

    async def write_heartbeat(self, name: str, epoch: int) -> None:
        """Record a terminal's heartbeat in the database (used when there is no Redis)."""
        await self.heartbeats.write_heartbeat(name, epoch)

    async def read_heartbeats(self) -> dict[str, int]:
        """Every terminal's last heartbeat kept in the database, as epoch seconds."""
        return await self.heartbeats.read_heartbeats()

    async def check_database(self) -> None:
        """One round trip to the database; raises when it does not answer."""
        await self.storage.run(lambda: self.storage.db.execute_sql("SELECT 1"))

    @property
    def database_url(self) -> str:
        return self.storage.url

    async def stored_order_counts(self) -> list[tuple[str, str, int]]:
        """How many orders are stored per (exchange, status)."""
        return await self.storage.run(self.orders.counts)

    async def recent_orders(self, *, broker_id: int | None = None, limit: int = 10_000) -> list[StoredOrder]:
        """The most recent ``limit`` stored orders as stored (typed columns and raw answer), newest first."""
        return await self.storage.run(lambda: self.orders.recent(broker_id=broker_id, limit=limit))

    # --- reconciliation --------------------------------------------------------------------------
    async def reconcile(self, broker_id: int) -> dict[str, int]:
        """Exchange orders vs the database, both ways (``terminal5.reconciliation``). Returns counts."""
        broker = await self.get_broker(broker_id)
        return await Reconciliation(self, broker).run()

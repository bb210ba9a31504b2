"""Brokers (exchange accounts) as the gateway sees them: added with their endpoints and options checked
against the plugin's ``ExchangeSpec``, owned by one user (tenancy), with their decrypted credentials cached
for the calls' contexts (forgotten when the broker is removed)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Required, TypedDict, Unpack

from terminal5 import broker_endpoints
from terminal5.contract import Credentials
from terminal5.errors import BrokerNotFound, Terminal5Error
from terminal5.plugins import Registry
from terminal5.storage.brokers import BrokerInfo, BrokerRepo
from terminal5.storage.database import Storage
from terminal5.storage.fresh_reads import MISS


class NewBroker(TypedDict, total=False):
    """A broker to add. ``base_url``: one URL for every market type, or one per market type
    (``{"spot": url}`` or ``"spot=url,swap=url"``): the broker then trades those market types only."""

    user_id: Required[int]
    exchange: Required[str]
    label: Required[str]
    api_key: Required[str]
    api_secret: Required[str]
    api_password: str | None
    testnet: bool
    base_url: str | Mapping[str, str] | None
    options: Mapping[str, Any] | None


#: a broker row the current request has just read, handed to its next ``Brokers.get`` (``handing_over``)
_just_read: ContextVar[BrokerInfo | None] = ContextVar("terminal5_broker_just_read", default=None)


@contextmanager
def handing_over(broker: BrokerInfo) -> Iterator[None]:
    """Within this block (and in the tasks created in it), the next ``Brokers.get`` of this broker answers
    ``broker``, read by this request moments ago, instead of reading the same row a second time. Taken once:
    every later ``get`` reads the database again."""
    token = _just_read.set(broker)
    try:
        yield
    finally:
        _just_read.reset(token)


class Brokers:
    def __init__(self, registry: Registry, storage: Storage, repo: BrokerRepo) -> None:
        self.registry = registry
        self.storage = storage
        self.repo = repo
        #: decrypted once per broker, dropped when the broker is removed
        self.cached_credentials: dict[int, Credentials] = {}

    async def add(self, **broker: Unpack[NewBroker]) -> BrokerInfo:
        exchange, options = broker["exchange"], broker.get("options")
        spec = self.registry.get(exchange)
        stored_base_url = broker_endpoints.parse(broker.get("base_url"), spec)
        unknown = set(options or {}) - set(spec.broker_options)
        if unknown:
            raise Terminal5Error(
                f"{exchange} has no broker option(s) {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(spec.broker_options)) or 'none'})",
                field="options",
            )
        return await self.storage.run(self.repo.add, **{**broker, "base_url": stored_base_url})

    async def get(self, broker_id: int, user_id: int | None = None) -> BrokerInfo:
        """Read from the database now (tenancy, kill switch): on this thread where it can be made without
        waiting (SQLite, ``terminal5.storage.fresh_reads``), else on the DB thread. Never a cached row, but
        the one this request has just read (``handing_over``), once."""
        held = _just_read.get()
        if held is not None:
            _just_read.set(None)
            if held.id == broker_id:
                if user_id is not None and held.user_id != user_id:
                    raise BrokerNotFound(f"broker {broker_id} not found", field="broker_id")
                return held
        broker = self.repo.get_here(broker_id, user_id)
        if broker is MISS:
            broker = await self.storage.run(self.repo.get, broker_id, user_id)
        return broker

    async def list(self, user_id: int | None = None) -> list[BrokerInfo]:
        return await self.storage.run(self.repo.list, user_id)

    async def remove(self, broker_id: int, user_id: int | None = None, *, force: bool = False) -> None:
        await self.storage.run(self.repo.remove, broker_id, user_id, force=force)
        self.cached_credentials.pop(broker_id, None)

    async def set_enabled(
        self, broker_id: int, enabled: bool, reason: str | None = None, *, by: str | None = None
    ) -> BrokerInfo:
        return await self.storage.run(self.repo.set_enabled, broker_id, enabled, reason, by=by)

    async def credentials(self, broker_id: int) -> Credentials:
        creds = self.cached_credentials.get(broker_id)
        if creds is None:
            creds = await self.storage.run(self.repo.credentials, broker_id)
            self.cached_credentials[broker_id] = creds
        return creds

"""The client-id claim store: unified client order id <-> native client id, per exchange.

The database is the source of truth: UNIQUE(exchange, native_id) and UNIQUE(exchange, client_order_id)
make a double claim impossible, whatever the number of gateway processes. A claim is one INSERT; on a
unique violation the winner is read back: the same client id means the claim is already ours, another
client id means the candidate is taken and the plugin's next probe is tried. There is no
check-then-write window (where two processes both see a candidate free and both take it).

Redis, when configured, is a shared cache in front (SET NX, 30-day TTL): it answers reverse lookups
without a database round trip and lets a process skip candidates already taken. Losing it loses
nothing: every answer falls back to the database.
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loguru import logger

from terminal5.contract import NativeClientId
from terminal5.errors import PluginError
from terminal5.storage.fields import now
from terminal5.storage.prepared import PreparedTable

if TYPE_CHECKING:
    from terminal5.storage.database import Storage

REDIS_TTL_SECONDS = 30 * 24 * 3600
MAX_PROBES = 1000
REDIS_RETRY_AFTER = 30.0  # after a Redis failure, skip it for this long instead of waiting on it


class ClientIdStore:
    """All methods are synchronous and run on the storage thread (``Storage.run``)."""

    def __init__(self, storage: Storage, redis: Any = None, cache_size: int = 100_000) -> None:
        self.storage = storage
        self._table: PreparedTable | None = None  # the claim's INSERT, built once
        self.redis = redis
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._cache_size = cache_size
        self._redis_down_until = 0.0

    # keys -----------------------------------------------------------------------------------------
    @staticmethod
    def _native_key(exchange: str, native_id: str) -> str:
        return f"terminal5:cid:native:{exchange}:{native_id}"

    @staticmethod
    def _client_key(exchange: str, client_order_id: str) -> str:
        return f"terminal5:cid:client:{exchange}:{client_order_id}"

    def _remember(self, exchange: str, native_id: str, client_order_id: str) -> None:
        self._cache[(exchange, native_id)] = client_order_id
        self._cache.move_to_end((exchange, native_id))
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _forget(self, exchange: str, native_id: str, client_order_id: str) -> None:
        if self._cache.get((exchange, native_id)) == client_order_id:
            del self._cache[(exchange, native_id)]

    def _redis_call(self, fn: Callable[[], Any]) -> Any:
        if self.redis is None or time.monotonic() < self._redis_down_until:
            return None
        try:
            return fn()
        except Exception as exc:  # Redis is a cache: its failure must never fail (or slow) an order
            self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER
            logger.warning(
                "redis unavailable for client ids ({}); database alone for {:.0f} s",
                type(exc).__name__,
                REDIS_RETRY_AFTER,
            )
            return None

    # the claim ------------------------------------------------------------------------------------
    def claim(self, exchange: str, client_order_id: str, candidate: Callable[[int], NativeClientId]) -> str:
        """The native id of ``client_order_id``, claiming ``candidate(0)``, ``candidate(1)``… until one
        is free. Idempotent: claiming again returns the same value.

        The fast path is one INSERT: the two unique constraints decide, so there is nothing to check first.
        """
        m = self.storage.m
        for attempt in range(MAX_PROBES):
            native_id = str(candidate(attempt))
            known = self._cache.get((exchange, native_id))
            if known == client_order_id:
                return native_id
            if known is not None:
                continue  # taken by another id: no database round trip
            if self._table is None:
                self._table = PreparedTable(m.ClientId)
            claimed = self._table.insert_unless_taken(
                {"exchange": exchange, "native_id": native_id, "client_order_id": client_order_id, "created_at": now()}
            )
            if claimed is None:
                mine = m.ClientId.get_or_none(
                    (m.ClientId.exchange == exchange) & (m.ClientId.client_order_id == client_order_id)
                )
                if mine is not None:  # claimed before (by us, or by another process just now)
                    self._remember(exchange, mine.native_id, client_order_id)
                    self._publish(exchange, mine.native_id, client_order_id)  # re-fills a flushed cache
                    return str(mine.native_id)
                holder = m.ClientId.get_or_none((m.ClientId.exchange == exchange) & (m.ClientId.native_id == native_id))
                if holder is not None:
                    self._remember(exchange, native_id, holder.client_order_id)
                if attempt and attempt % 100 == 0:
                    logger.warning("{}: {} probes for one client id", exchange, attempt)
                continue
            self._remember(exchange, native_id, client_order_id)
            # the claim commits with its job's group: forget it if that rolls back, share it once committed
            self.storage.on_rollback(functools.partial(self._forget, exchange, native_id, client_order_id))
            self.storage.after_commit(functools.partial(self._publish, exchange, native_id, client_order_id))
            if attempt:
                logger.info("{}: client id collision resolved after {} probe(s)", exchange, attempt)
            return native_id
        raise PluginError(f"{exchange}: no free native client id after {MAX_PROBES} probes", exchange=exchange)

    def _publish(self, exchange: str, native_id: str, client_order_id: str) -> None:
        def write() -> None:
            pipe = self.redis.pipeline()
            pipe.set(self._native_key(exchange, native_id), client_order_id, nx=True, ex=REDIS_TTL_SECONDS)
            pipe.set(self._client_key(exchange, client_order_id), native_id, nx=True, ex=REDIS_TTL_SECONDS)
            pipe.execute()

        self._redis_call(write)

    # reverse lookup -------------------------------------------------------------------------------
    def client_id_of(self, exchange: str, native_id: NativeClientId) -> str | None:
        """The unified client id the gateway issued for ``native_id``; None if it never did."""
        key = (exchange, str(native_id))
        if key in self._cache:
            return self._cache[key]
        cached = self._redis_call(lambda: self.redis.get(self._native_key(exchange, str(native_id))))
        if cached is not None:
            value = cached.decode() if isinstance(cached, bytes) else cached
            self._remember(exchange, str(native_id), value)
            return value
        m = self.storage.m
        row = m.ClientId.get_or_none((m.ClientId.exchange == exchange) & (m.ClientId.native_id == str(native_id)))
        if row is None:
            return None
        self._remember(exchange, row.native_id, row.client_order_id)
        self._publish(exchange, row.native_id, row.client_order_id)  # re-warm a flushed cache
        return str(row.client_order_id)

    def native_id_of(self, exchange: str, client_order_id: str) -> str | None:
        m = self.storage.m
        row = m.ClientId.get_or_none(
            (m.ClientId.exchange == exchange) & (m.ClientId.client_order_id == client_order_id)
        )
        return None if row is None else str(row.native_id)

"""Placing an order, stage by stage (the README's request path).

validate -> broker (tenancy, kill switch) -> parameter levels -> market filters -> idempotency on the
client id -> claim the native client id -> persist intent (``pending_submit``) -> send
(``terminal5.submission``) -> persist result (``terminal5.order_results``) -> attached orders
(``terminal5.attached_orders``).

The same client id again is a replay: the same request gets the stored order (an unknown outcome is
resolved by lookup, never by resending); a different request is ``DuplicateOrder``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from terminal5 import attached_orders, order_results
from terminal5.contract import NativeCall, NativeClientId
from terminal5.errors import (
    TAXONOMY,
    BrokerDisabled,
    DatabaseUnavailable,
    DuplicateOrder,
    ExchangeError,
    RateLimitExceeded,
)
from terminal5.idempotency import same_request
from terminal5.logs import current_request_id, request_scope
from terminal5.models import Market, Order, OrderRequest, OrderStatus
from terminal5.ownership import Expected
from terminal5.params import check_levels
from terminal5.reconciliation import rejected_by_reconciliation
from terminal5.storage.brokers import BrokerInfo
from terminal5.storage.orders import request_fingerprint, row_to_order
from terminal5.storage.stored_order import StoredOrder
from terminal5.submission import look_up, submit, typed_native_id
from terminal5.wire import structure_request

if TYPE_CHECKING:
    from terminal5.client_pool import ClientEntry
    from terminal5.gateway import Gateway


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
class Placement:
    """The answer to a placement: the order, and whether it is a replay (nothing new was sent)."""

    order: Order
    replayed: bool = True


async def place(gw: Gateway, data: Mapping[str, Any] | OrderRequest, *, request_id: str | None = None) -> Placement:
    request_id = request_id or current_request_id() or uuid.uuid4().hex
    with request_scope(request_id):
        request = data if isinstance(data, OrderRequest) else structure_request(data)
        await gw.store_kept_answers()  # older answers first (a no-op unless the database was away)
        try:
            broker = await gw.get_broker(request.broker_id, request.user_id)
        except DatabaseUnavailable as exc:
            raise exc.for_order(sent=False, client_order_id=request.client_order_id) from exc
        if not broker.enabled:
            raise BrokerDisabled(
                f"broker {broker.id} is disabled: {broker.disabled_reason or 'kill switch on'}", field="broker_id"
            )
        entry = gw.client_for(broker.exchange)
        ignored = check_levels(entry.spec, request)
        market = await gw.market(broker, request.symbol, request.market_type)
        if request.client_order_id is None:
            request = attrs.evolve(request, client_order_id=generate_client_order_id(request.user_id))
        assert request.client_order_id is not None
        # one submission at a time per client id in this process (other processes: the unique row)
        try:
            async with gw.placement_locks.hold((broker.id, request.client_order_id)):
                return await _place_locked(gw, entry, broker, request, market, ignored, request_id)
        except DatabaseUnavailable as exc:
            if exc.about_order:
                raise
            raise exc.for_order(sent=False, client_order_id=request.client_order_id) from exc


async def _place_locked(
    gw: Gateway,
    entry: ClientEntry,
    broker: BrokerInfo,
    request: OrderRequest,
    market: Market,
    ignored: tuple[str, ...],
    request_id: str,
) -> Placement:
    exchange = broker.exchange
    cid = request.client_order_id
    assert cid is not None
    def store_intent() -> tuple[StoredOrder, bool, NativeCall | None, NativeClientId | None]:
        """One job on the DB thread (one transaction: ``Storage``): claim the native id, INSERT the intent
        (the unique client id decides whether it is new: no lookup first), build the native call. The job
        commits before it answers, so before the send; if building the call fails, nothing of it stays.
        Answers (row, is it new, call, native id); a stored row (a replay) has no call."""
        native_id = gw.client_ids.claim(exchange, cid, lambda attempt: gw.hooks.map_client_id(exchange, cid, attempt))
        row = gw.orders.insert_intent(
            request=request,
            exchange=exchange,
            market_type=market.type.value,
            native_client_id=native_id,
            request_hash=request_fingerprint(request),
            ignored_params=ignored,
            request_id=request_id,
        )
        if row is None:  # this client id is stored already (a replay; or another process, just now)
            stored = gw.orders.find(broker.id, cid)
            assert stored is not None
            return stored, False, None, None
        native = typed_native_id(entry.spec, native_id)
        return row, True, native_call(gw, broker, request, market, native), native

    row, new, call, native = await gw.storage.run(store_intent)
    if not new:
        return await _replay(gw, entry, broker, request, market, row, request_id)
    assert call is not None and native is not None

    ctx = await gw.context(broker, market.type, request_id=request_id, order_key=cid)
    order = await submit(gw, entry, ctx, broker, request, market, row, call, native)
    if order.status is not OrderStatus.REJECTED and call.attached:
        await attached_orders.place_all(gw, entry, ctx, broker, request, market, call.attached, request_id)
    return Placement(order=order, replayed=False)


def native_call(
    gw: Gateway, broker: BrokerInfo, request: OrderRequest, market: Market, native_id: NativeClientId
) -> NativeCall:
    """The plugin's native call, with Level-3 ``extra_params`` applied verbatim on top."""
    call = gw.hooks.to_native(broker.exchange, request, market, native_id, broker.options)
    return call.with_params(request.extra_params) if request.extra_params else call


async def _replay(
    gw: Gateway,
    entry: ClientEntry,
    broker: BrokerInfo,
    request: OrderRequest,
    market: Market,
    existing: StoredOrder,
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
        ctx = await gw.context(broker, market.type, request_id=request_id, order_key=existing.client_order_id)
        native_id = typed_native_id(entry.spec, existing.native_client_id)
        payload = (await look_up(gw, entry, ctx, market, native_id, existing.client_order_id, delays=(0,))).payload
        if payload is not None:
            order = await order_results.store_answer(
                gw, broker, request, market, existing, payload, expected=Expected.of_request(request)
            )
            return Placement(order=order)
        if status is OrderStatus.REJECTED:
            # still absent after healthy lookups: the idempotent answer is the stored verdict (status
            # rejected, with why), not an error, so a retrying client learns to use a new client id
            return Placement(order=row_to_order(existing))
    if status is OrderStatus.REJECTED:
        error = existing.error or {}
        cls = TAXONOMY.get(error.get("error", ""), ExchangeError)
        if cls is RateLimitExceeded or (error.get("details") or {}) == {"sent": False}:
            # Refused before it could exist: sending it now is the first real submission.
            ctx = await gw.context(broker, market.type, request_id=request_id, order_key=existing.client_order_id)
            native_id = typed_native_id(entry.spec, existing.native_client_id)
            call = native_call(gw, broker, request, market, native_id)
            await gw.storage.run(gw.orders.update, existing.id, status=OrderStatus.PENDING_SUBMIT.value)
            order = await submit(gw, entry, ctx, broker, request, market, existing, call, native_id)
            return Placement(order=order, replayed=False)
        raise cls(error.get("message", "rejected"), exchange=broker.exchange, code=error.get("code"))
    return Placement(order=row_to_order(existing))

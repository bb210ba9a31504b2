"""Orders in the ``orders`` table: the unified order <-> its row. Synchronous; run on the DB thread."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

import peewee

from terminal5.idempotency import fingerprint
from terminal5.models import (
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    Source,
    TimeInForce,
    Trade,
)
from terminal5.storage.fields import now
from terminal5.storage.prepared import PreparedTable
from terminal5.storage.stored_order import StoredOrder
from terminal5.wire import converter, unstructure

if TYPE_CHECKING:
    from terminal5.storage.database import Storage

OPEN_STATES = (OrderStatus.OPEN.value, OrderStatus.PENDING_SUBMIT.value, OrderStatus.UNKNOWN.value)


def request_fingerprint(request: OrderRequest) -> str:
    """Identity of a request for idempotency: every field, normalized (see ``terminal5.idempotency``)."""
    return fingerprint(request)


def _enum(cls: Any, value: Any) -> Any:
    return None if value is None else cls(value)


def _record(row: Any | None) -> StoredOrder | None:
    return None if row is None else StoredOrder.of(row)


def row_to_order(row: StoredOrder | Any) -> Order:
    return Order(
        exchange=row.exchange,
        symbol=row.symbol,
        side=Side(row.side),
        type=OrderType(row.type),
        quantity=row.quantity,
        status=OrderStatus(row.status),
        id=row.exchange_order_id,
        client_order_id=row.client_order_id,
        native_client_id=row.native_client_id,
        price=row.price,
        stop_price=row.stop_price,
        filled=row.filled if row.filled is not None else 0,
        remaining=row.remaining,
        average=row.average,
        native_status=row.native_status,
        fee=row.fee,
        fee_currency=row.fee_currency,
        trades=tuple(converter.structure(t, Trade) for t in (row.trades or [])),
        time_in_force=_enum(TimeInForce, row.time_in_force),
        reduce_only=bool(row.reduce_only),
        position_side=_enum(PositionSide, row.position_side),
        user_id=row.user_id,
        broker_id=row.broker_id,
        source=_enum(Source, row.source),
        request_id=row.request_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        ignored_params=tuple(row.ignored_params or ()),
        parent_client_order_id=row.parent_client_order_id,
        raw=row.raw_response,
    )


def terms_columns(terms: OrderRequest | Order) -> dict[str, Any]:
    """The columns a request and the order it became describe alike: what is traded, how, and on what terms."""
    return {
        "symbol": terms.symbol,
        "side": terms.side.value,
        "type": terms.type.value,
        "quantity": terms.quantity,
        "stop_price": terms.stop_price,
        "time_in_force": terms.time_in_force.value if terms.time_in_force else None,
        "reduce_only": terms.reduce_only,
        "position_side": terms.position_side.value if terms.position_side else None,
    }


def result_fields(order: Order) -> dict[str, Any]:
    """The columns an exchange answer updates."""
    return {
        "exchange_order_id": order.id,
        "status": order.status.value,
        "native_status": order.native_status,
        "filled": order.filled,
        "remaining": order.remaining,
        "average": order.average,
        "fee": order.fee,
        "fee_currency": order.fee_currency,
        "trades": [unstructure(t) for t in order.trades],
        "raw_response": order.raw,
        "price": order.price,
        "quantity": order.quantity,  # an amended order changes size
        "stop_price": order.stop_price,
        "updated_at": now(),
    }


class OrderRepo:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.m = storage.m
        #: the hot path (find, insert the intent, store the answer) through statements built once
        self.table = PreparedTable(self.m.OrderRow)

    def _one(self, where: tuple[str, ...], values: tuple[Any, ...]) -> StoredOrder | None:
        row = self.table.select_one(where, values)
        return None if row is None else StoredOrder(**row)

    def get(self, row_id: int) -> StoredOrder | None:
        return self._one(("id",), (row_id,))

    def find(self, broker_id: int, client_order_id: str) -> StoredOrder | None:
        return self._one(("broker_id", "client_order_id"), (broker_id, client_order_id))

    def find_by_exchange_id(self, broker_id: int, exchange_order_id: str) -> StoredOrder | None:
        R = self.m.OrderRow
        return _record(R.get_or_none((R.broker_id == broker_id) & (R.exchange_order_id == exchange_order_id)))

    def insert_intent(
        self,
        *,
        request: OrderRequest,
        exchange: str,
        market_type: str,
        native_client_id: str | None,
        request_hash: str,
        ignored_params: tuple[str, ...],
        request_id: str,
        parent_client_order_id: str | None = None,
    ) -> StoredOrder | None:
        """The order before it is sent (status pending_submit). None if the client id is already stored."""
        created = now()
        values: dict[str, Any] = {
            **terms_columns(request),
            "user_id": request.user_id,
            "broker_id": request.broker_id,
            "exchange": exchange,
            "source": request.source.value,
            "market_type": market_type,
            "price": request.price,
            "filled": None,
            "remaining": None,
            "average": None,
            "fee": None,
            "fee_currency": None,
            "status": OrderStatus.PENDING_SUBMIT.value,
            "native_status": None,
            "client_order_id": request.client_order_id,
            "native_client_id": native_client_id,
            "exchange_order_id": None,
            "parent_client_order_id": parent_client_order_id,
            "ignored_params": list(ignored_params),
            "request": unstructure(request),
            "request_hash": request_hash,
            "trades": [],
            "raw_response": None,
            "error": None,
            "outcome_unknown": False,
            "request_id": request_id,
            "created_at": created,
            "updated_at": created,
        }
        row_id = self.table.insert_unless_taken(values)
        if row_id is None:
            return None
        return StoredOrder(id=row_id, **values)

    def update(self, row_id: int, **fields: Any) -> StoredOrder:
        fields.setdefault("updated_at", now())
        saved = self.table.update_returning(row_id, fields)
        if saved is None:
            raise self.m.OrderRow.DoesNotExist(f"no order row {row_id}")
        return StoredOrder(**saved)

    def save_result(self, row_id: int, order: Order) -> StoredOrder:
        return self.update(row_id, **result_fields(order), outcome_unknown=False, error=None)

    def upsert_external(
        self, *, broker_id: int, user_id: int, order: Order, market_type: str
    ) -> tuple[StoredOrder, str | None]:
        """An order found on the exchange. Returns (row, previous stored status or None when created)."""
        existing = None
        if order.client_order_id:
            existing = self.find(broker_id, order.client_order_id)
        if existing is None and order.id:
            existing = self.find_by_exchange_id(broker_id, order.id)
        if existing is not None:
            return self.save_result(existing.id, order), existing.status
        fields = result_fields(order)
        fields.update(
            terms_columns(order),
            user_id=user_id,
            broker_id=broker_id,
            exchange=order.exchange,
            source=Source.EXTERNAL.value,
            market_type=market_type,
            client_order_id=order.client_order_id or f"EXT_{order.id}",
            native_client_id=order.native_client_id,
        )
        return StoredOrder.of(self.m.OrderRow.create(**fields)), None

    def list(
        self,
        *,
        user_id: int | None = None,
        broker_id: int | None = None,
        status: str | None = None,
        symbol: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[StoredOrder]:
        R = self.m.OrderRow
        query = R.select()
        if user_id is not None:
            query = query.where(R.user_id == user_id)
        if broker_id is not None:
            query = query.where(R.broker_id == broker_id)
        if status is not None:
            query = query.where(R.status == status)
        if symbol is not None:
            query = query.where(R.symbol == symbol)
        if since is not None:
            query = query.where(R.created_at >= since)
        if until is not None:
            query = query.where(R.created_at < until)
        return [StoredOrder.of(r) for r in query.order_by(R.id.desc()).limit(limit).offset(offset)]

    def recent(self, *, broker_id: int | None = None, limit: int = 10_000) -> list[StoredOrder]:
        """The most recent ``limit`` stored orders (of one broker, or of all), newest first."""
        R = self.m.OrderRow
        query = R.select().order_by(R.id.desc()).limit(limit)
        if broker_id is not None:
            query = query.where(R.broker_id == broker_id)
        return [StoredOrder.of(r) for r in query]

    def counts(self) -> list[tuple[str, str, int]]:
        """How many orders are stored per (exchange, status)."""
        R = self.m.OrderRow
        query = R.select(R.exchange, R.status, peewee.fn.COUNT(R.id).alias("n")).group_by(R.exchange, R.status)
        return [(r.exchange, r.status, r.n) for r in query]

    def unresolved(self, broker_id: int) -> list[StoredOrder]:
        R = self.m.OrderRow
        query = R.select().where((R.broker_id == broker_id) & (R.status.in_(OPEN_STATES)))
        return [StoredOrder.of(r) for r in query]

    def rejected_since(self, broker_id: int, since: datetime) -> list[StoredOrder]:
        R = self.m.OrderRow
        query = R.select().where(
            (R.broker_id == broker_id) & (R.status == OrderStatus.REJECTED.value) & (R.updated_at >= since)
        )
        return [StoredOrder.of(r) for r in query]

    def known_exchange_ids(self, broker_id: int, exchange_order_ids: Collection[str]) -> set[str]:
        """The ids among ``exchange_order_ids`` that name an order stored for this broker."""
        if not exchange_order_ids:
            return set()
        R = self.m.OrderRow
        query = R.select(R.exchange_order_id).where(
            (R.broker_id == broker_id) & (R.exchange_order_id.in_(list(exchange_order_ids)))
        )
        return {r.exchange_order_id for r in query}

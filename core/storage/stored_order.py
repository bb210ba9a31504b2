"""``StoredOrder``: one order as the order store keeps it, the typed record that leaves the storage package.

It carries every column of the ``orders`` table: the unified fields, the request as it was received and its
fingerprint (idempotency), the native payload as received (``raw_response``), the error of a refusal and
whether the outcome is still unknown. Frozen: a change goes through ``OrderRepo.update``, which answers a
new record. ``terminal5.storage.orders.row_to_order`` turns one into the unified ``Order``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class StoredOrder:
    id: int
    user_id: int
    broker_id: int
    exchange: str
    source: str
    symbol: str
    market_type: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    filled: Decimal | None
    remaining: Decimal | None
    average: Decimal | None
    fee: Decimal | None
    fee_currency: str | None
    status: str
    native_status: str | None
    client_order_id: str
    native_client_id: str | None
    exchange_order_id: str | None
    time_in_force: str | None
    reduce_only: bool
    position_side: str | None
    parent_client_order_id: str | None
    ignored_params: list[str]
    #: the unified request as received (None for an order found on the exchange)
    request: dict[str, Any] | None
    request_hash: str | None
    #: the fills, as stored (``terminal5.models.Trade`` unstructured)
    trades: list[dict[str, Any]]
    #: the native payload, as received
    raw_response: Any
    error: dict[str, Any] | None
    outcome_unknown: bool
    request_id: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> StoredOrder:
        """The record of a database row (every column, by name)."""
        return cls(**{field.name: getattr(row, field.name) for field in attrs.fields(cls)})

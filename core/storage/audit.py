"""The audit trail: one row per native call (already scrubbed by the transport). Run on the DB thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

from terminal5.storage.fields import now
from terminal5.storage.prepared import PreparedTable
from terminal5.transport import CallRecord

if TYPE_CHECKING:
    from terminal5.storage.database import Storage


class AuditRepo:
    def __init__(self, storage: Storage) -> None:
        self.m = storage.m
        self.table = PreparedTable(self.m.AuditRecord)  # one row per native call: a statement built once

    def write(self, record: CallRecord) -> None:
        self.table.insert(
            {
                "exchange": record.exchange,
                "broker_id": record.broker_id,
                "client_order_id": record.order_key,
                "request_id": record.request_id,
                "endpoint": record.endpoint or record.url[:100],
                "method": record.method,
                "url": record.url,
                "request_headers": dict(record.request_headers),
                "request_body": record.request_body,
                "status": record.status,
                "response_body": record.response_body,
                "rate_headers": dict(record.rate_headers),
                "latency_ms": record.latency_ms,
                "error": record.error,
                "created_at": now(),
            }
        )

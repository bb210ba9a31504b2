"""Exchange timestamps -> timezone-aware UTC datetimes, exactly (no float on the way)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_ms(value: Any) -> datetime | None:
    """Milliseconds since the epoch (int, str or Decimal)."""
    if value in (None, "", 0, "0"):
        return None
    return EPOCH + timedelta(microseconds=int(Decimal(str(value)) * 1000))


def from_seconds(value: Any) -> datetime | None:
    """Seconds since the epoch, possibly fractional (Kraken's ``opentm``)."""
    if value in (None, "", 0, "0"):
        return None
    return EPOCH + timedelta(microseconds=int(Decimal(str(value)) * 1_000_000))

"""Exchange timestamps -> timezone-aware UTC datetimes, exactly (no float on the way)."""

from __future__ import annotations

import math
from collections.abc import Mapping
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


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """An HTTP ``Retry-After`` in seconds (the header's name in any case), or None when absent or not a
    finite, non-negative number: a failing exchange's ``nan``, ``inf`` or ``-5`` must not become a wait."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                seconds = float(value)
            except ValueError:
                return None
            return seconds if math.isfinite(seconds) and seconds >= 0 else None
    return None

"""An order row as a test stores it directly (no gateway): the columns every row needs, plain values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def order_row(**columns: Any) -> dict[str, Any]:
    """The columns of an open limit buy of 1 BTC/USDT (user 1, broker 1, exchange "x"), ``columns`` on top."""
    return {
        "user_id": 1,
        "broker_id": 1,
        "exchange": "x",
        "source": "manual",
        "symbol": "BTC/USDT",
        "market_type": "spot",
        "side": "buy",
        "type": "limit",
        "quantity": Decimal("1"),
        "status": "open",
        **columns,
    }

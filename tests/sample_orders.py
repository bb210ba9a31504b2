"""Sample orders for tests: a request to place, and a row stored directly (no gateway)."""

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


def limit_buy(broker_id: int, user_id: int = 1, **extra: Any) -> dict[str, Any]:
    """A request to buy 0.001 BTC/USDT at 43000 through ``broker_id``, ``extra`` fields on top."""
    return {
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "quantity": "0.001",
        "price": "43000",
        "user_id": user_id,
        "broker_id": broker_id,
        **extra,
    }

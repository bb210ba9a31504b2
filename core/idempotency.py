"""Idempotency on the client order id: is a replayed request the same order as the stored one?

Requests are compared by value, not by text: ``"0.0010"`` and ``"0.001"`` are one quantity, a price
written as the API answered it (``"43000.1"`` for ``"43000.10"``) is one price, and a limit order's
time in force written out as the default (GTC) is the order sent without one. ``extra_params`` are
compared as given: they travel to the exchange verbatim, so their text is what the exchange sees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from terminal5 import jsonutil
from terminal5.decimals import plain
from terminal5.models import OrderRequest, OrderType, TimeInForce
from terminal5.wire import converter, unstructure

#: order types that rest on the book, where no time in force means GTC
_RESTING = frozenset({OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
#: unified fields holding amounts (compared as numbers)
_AMOUNTS = ("quantity", "price", "stop_price", "stop_loss_price", "take_profit_price", "trailing_delta", "iceberg_qty")


def normalized_request(request: OrderRequest) -> dict[str, Any]:
    """The request's canonical form: amounts in plain notation without trailing zeros, defaults written out."""
    data = unstructure(request)
    for name in _AMOUNTS:
        value = getattr(request, name)
        data[name] = None if value is None else plain(Decimal(value))
    if request.time_in_force is None and request.type in _RESTING:
        data["time_in_force"] = TimeInForce.GTC.value
    return dict(sorted(data.items()))


def fingerprint(request: OrderRequest) -> str:
    """A hash of the normalized request (stored with the order's intent)."""
    return hashlib.sha256(jsonutil.dumps(normalized_request(request)).encode()).hexdigest()


def same_request(stored_request: Mapping[str, Any] | None, stored_hash: str | None, request: OrderRequest) -> bool:
    """True when ``request`` is the order stored with ``stored_request``/``stored_hash``.

    The stored request itself is compared when there is one, so rows hashed by an older rule (the text)
    still compare by value."""
    if stored_hash is not None and stored_hash == fingerprint(request):
        return True
    if stored_request is None:
        return False
    try:
        stored = converter.structure(dict(stored_request), OrderRequest)
    except Exception:  # a stored request this version cannot read: only the hash can decide
        return False
    return normalized_request(stored) == normalized_request(request)

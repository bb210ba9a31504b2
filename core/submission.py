"""Send once; on an unknown outcome, look the order up by client id. Never send it again.

A timeout, a 5xx or a dropped connection leaves the outcome unknown: the order is looked up by client id
(``terminal5.absence``) and, found, adopted only if it is the order requested; still unknown, it stays
``pending_submit`` for reconciliation. An exchange that says the client id is taken may be answering our
own earlier send: the order behind it is looked up and adopted if it is ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from loguru import logger

from terminal5 import order_results
from terminal5.absence import Lookup, lookup
from terminal5.contract import CallContext, ExchangeSpec, NativeCall, NativeClientId, NativePayload, OrderRef
from terminal5.errors import OUTCOME_UNKNOWN, DuplicateOrder, ExchangeError
from terminal5.models import Market, Order, OrderRequest
from terminal5.ownership import Expected
from terminal5.storage.brokers import BrokerInfo
from terminal5.storage.stored_order import StoredOrder

if TYPE_CHECKING:
    from terminal5.client_pool import ClientEntry
    from terminal5.gateway import Gateway


def typed_native_id(spec: ExchangeSpec, native_id: str) -> NativeClientId:
    """The stored native client id in the exchange's own type (an int32 for some exchanges)."""
    return int(native_id) if spec.client_id.kind == "int32" else native_id


async def submit(
    gw: Gateway,
    entry: ClientEntry,
    ctx: CallContext,
    broker: BrokerInfo,
    request: OrderRequest,
    market: Market,
    row: StoredOrder,
    call: NativeCall,
    native_id: NativeClientId,
) -> Order:
    """Send once. On an unknown outcome, look the order up by client id; never send again."""
    try:
        payload: NativePayload | None = await entry.client.place_order(ctx, call)
    except OUTCOME_UNKNOWN as exc:
        if isinstance(exc, ExchangeError) and isinstance(exc.details, dict) and exc.details.get("sent") is False:
            return await order_results.reject(gw, row, exc)  # never left this machine: a definite failure
        logger.warning("order {} outcome unknown after {}: looking it up by client id", row.client_order_id, exc.kind)
        payload = (await look_up(gw, entry, ctx, market, native_id, row.client_order_id)).payload
        if payload is None:
            return await order_results.mark_unknown(gw, row, exc)
        # found by client id: adopted only if it is the order requested
        return await order_results.store_answer(
            gw, broker, request, market, row, payload, expected=Expected.of_request(request)
        )
    except DuplicateOrder as exc:
        # The exchange already has this client id: maybe our own earlier send. Adopt it if so.
        found = await look_up(gw, entry, ctx, market, native_id, row.client_order_id, delays=(0,))
        if found.failure is not None:  # cannot tell whose it is: unresolved, never concluded
            return await order_results.mark_unknown(gw, row, exc)
        if found.payload is None:
            return await order_results.reject(gw, row, exc)
        return await order_results.store_answer(
            gw, broker, request, market, row, found.payload, expected=Expected.of_request(request)
        )
    except ExchangeError as exc:
        return await order_results.reject(gw, row, exc)
    return await order_results.store_answer(gw, broker, request, market, row, payload)


async def look_up(
    gw: Gateway,
    entry: ClientEntry,
    ctx: CallContext,
    market: Market,
    native_id: NativeClientId | None,
    client_order_id: str,
    *,
    exchange_id: str | None = None,
    delays: Sequence[float] | None = None,
) -> Lookup:
    """Found, definitely absent, or failed (see ``terminal5.absence``): never resends."""
    ref = OrderRef(market=market, exchange_id=exchange_id, native_client_id=native_id, client_order_id=client_order_id)
    return await lookup(entry.client, ctx, ref, gw.lookup_delays if delays is None else delays)

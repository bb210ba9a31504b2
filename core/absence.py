"""Looking an order up on the exchange, and deciding when it may be declared never placed.

A lookup has three outcomes, not two: found, definitely absent (a healthy exchange answered "not
found"), or failed (5xx, 429, a dropped connection: nothing is known). Only definite answers may count
as absence, and only after the exchange's past orders and fills were searched as well: an order filled
and archived is not in the "query order" endpoint of every exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime

import attrs
from loguru import logger

from terminal5.contract import (
    CallContext,
    ExchangeClient,
    NativePayload,
    OrderRef,
    SupportsClosedOrders,
    SupportsMyTrades,
)
from terminal5.errors import ExchangeError, OrderNotFound, PluginError
from terminal5.models import Order, Side


@attrs.frozen
class Lookup:
    """What the exchange said about one order."""

    payload: NativePayload | None = None
    #: why no definite answer was obtained (None: the answer is definite)
    failure: str | None = None

    @property
    def found(self) -> bool:
        return self.payload is not None

    @property
    def absent(self) -> bool:
        """Definitely not there: a healthy exchange answered "not found"."""
        return self.payload is None and self.failure is None


async def lookup(client: ExchangeClient, ctx: CallContext, ref: OrderRef, delays: Sequence[float]) -> Lookup:
    """Query the order after each delay until found. Absent only if no attempt failed."""
    failure: str | None = None
    for delay in delays:
        if delay:
            await asyncio.sleep(delay)
        try:
            found = await client.fetch_order(ctx, ref)
        except OrderNotFound:
            found = None
        except ExchangeError as exc:  # 5xx, 429, network, auth…: the exchange did not answer the question
            failure = f"{exc.kind}: {exc.message}"
            logger.warning("lookup of {} failed ({}); will retry", ref.client_order_id, exc.kind)
            continue
        if found is not None:
            return Lookup(payload=found)
    return Lookup(failure=failure)


ConvertAll = Callable[[Sequence[NativePayload]], Awaitable[list[Order | None]]]


async def search_history(
    client: ExchangeClient,
    ctx: CallContext,
    ref: OrderRef,
    *,
    side: Side,
    since: datetime,
    convert: ConvertAll,
    known_order_ids: Callable[[Collection[str]], Awaitable[set[str]]],
) -> Lookup:
    """The exchange's past orders and fills since ``since``, searched for the order ``ref`` names.

    Found in past orders: that payload. A fill of an order the database does not know, on the order's
    side: not provably absent (a failure). Either search failing: a failure. A client without the
    capability (``SupportsClosedOrders``, ``SupportsMyTrades``) or raising ``NotImplementedError`` for
    that market only skips that search."""
    market = ref.market
    try:
        payloads = (
            await client.fetch_closed_orders(ctx, market, since) if isinstance(client, SupportsClosedOrders) else []
        )
    except NotImplementedError:
        payloads = []
    except (ExchangeError, PluginError) as exc:
        return Lookup(failure=f"past orders: {exc.kind}: {exc.message}")
    for payload, order in zip(payloads, await convert(payloads), strict=True):
        if order is None:
            continue
        if (ref.exchange_id and order.id == ref.exchange_id) or (
            ref.native_client_id is not None and order.native_client_id == str(ref.native_client_id)
        ):
            return Lookup(payload=payload)
    try:
        fills = await client.fetch_my_trades(ctx, market, since) if isinstance(client, SupportsMyTrades) else []
    except NotImplementedError:
        fills = []
    except (ExchangeError, PluginError) as exc:
        return Lookup(failure=f"fills: {exc.kind}: {exc.message}")
    candidates = {f.order_id for f in fills if f.order_id and f.side in (None, side)}
    unexplained = candidates - await known_order_ids(candidates)
    if unexplained:
        return Lookup(failure=f"fills of order(s) the database does not know: {', '.join(sorted(unexplained))}")
    return Lookup()

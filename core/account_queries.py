"""What a broker's account holds on the exchange now: open orders, balances, positions; and its
dead-man's switch. Nothing here is stored (reconciliation stores what the open orders reveal)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from terminal5.contract import NativePayload, SupportsCancelAllAfter, SupportsPositions
from terminal5.errors import UnsupportedParameterError
from terminal5.markets import MarketBook
from terminal5.models import Balance, MarketType, Order, Position

if TYPE_CHECKING:
    from terminal5.gateway import Gateway


async def fetch_open_orders(gw: Gateway, *, broker_id: int, user_id: int | None, symbol: str | None) -> list[Order]:
    broker = await gw.get_broker(broker_id, user_id)
    entry = gw.client_for(broker.exchange)
    out: list[Order] = []
    for market_type in gw.traded_market_types(broker):
        book = await gw.market_book(broker, market_type)
        market = book.get(symbol) if symbol else None
        if symbol and market is None:
            continue
        ctx = await gw.context(broker, market_type)
        payloads = await entry.client.fetch_open_orders(ctx, market)

        def convert_all(
            payloads: Sequence[NativePayload] = payloads, book: MarketBook = book, mt: MarketType = market_type
        ) -> list[tuple[Order, bool]]:
            return [gw.conversion.convert(broker.exchange, p, market_type=mt, book=book) for p in payloads]

        for order, unknown in await gw.storage.run(convert_all):
            if unknown:
                gw.conversion.unknown_status_alert(order, broker.id)
            out.append(attrs.evolve(order, broker_id=broker.id, user_id=broker.user_id))
    return out


async def fetch_balances(gw: Gateway, *, broker_id: int, user_id: int | None) -> list[Balance]:
    broker = await gw.get_broker(broker_id, user_id)
    entry = gw.client_for(broker.exchange)
    traded = gw.traded_market_types(broker) or sorted(entry.spec.market_types)
    market_type = MarketType.SPOT if MarketType.SPOT in traded else traded[0]
    ctx = await gw.context(broker, market_type)
    return list(await entry.client.fetch_balances(ctx))


async def fetch_positions(gw: Gateway, *, broker_id: int, user_id: int | None) -> list[Position]:
    broker = await gw.get_broker(broker_id, user_id)
    client = gw.client_for(broker.exchange).client
    out: list[Position] = []
    if not isinstance(client, SupportsPositions):
        return out  # an exchange without positions (spot only) has none open
    for market_type in gw.traded_market_types(broker):
        if market_type is MarketType.SPOT:
            continue
        ctx = await gw.context(broker, market_type)
        out.extend(await client.fetch_positions(ctx))
    return out


async def cancel_all_after(gw: Gateway, *, broker_id: int, timeout: int, user_id: int | None) -> NativePayload:
    """The exchange's dead-man's switch (``SupportsCancelAllAfter``); ``timeout`` 0 disables it."""
    broker = await gw.get_broker(broker_id, user_id)
    entry = gw.client_for(broker.exchange)
    client = entry.client
    if not isinstance(client, SupportsCancelAllAfter):
        raise UnsupportedParameterError(f"{broker.exchange} offers no dead-man's switch", exchange=broker.exchange)
    market_type = (gw.traded_market_types(broker) or sorted(entry.spec.market_types))[0]
    return await client.cancel_all_after(await gw.context(broker, market_type), timeout)

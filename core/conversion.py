"""Native -> unified: the plugin's ``from_native`` and ``normalize_status``, and the alerts they call for.

An unknown native status becomes ``UNKNOWN`` (stored with the raw answer) and raises one alert per
(exchange, status); an answer the plugin cannot read at all raises a critical alert. Conversion runs on
the DB thread, because the reverse client-id map may read the database.
"""

from __future__ import annotations

import attrs
from loguru import logger

from terminal5.alerts import AlertBus
from terminal5.contract import Alert, NativeContext, NativePayload
from terminal5.markets import MarketBook
from terminal5.models import Market, MarketType, Order, OrderRequest, OrderStatus
from terminal5.plugins import Hooks
from terminal5.storage.client_ids import ClientIdStore


class Conversion:
    def __init__(self, hooks: Hooks, client_ids: ClientIdStore, alerts: AlertBus) -> None:
        self.hooks = hooks
        self.client_ids = client_ids
        self.alerts = alerts

    def convert(
        self,
        exchange: str,
        payload: NativePayload,
        *,
        market_type: MarketType,
        request: OrderRequest | None = None,
        market: Market | None = None,
        book: MarketBook | None = None,
    ) -> tuple[Order, bool]:
        """The order with its normalized status, and whether that status was unknown. DB thread."""
        context = NativeContext(
            exchange=exchange,
            market_type=market_type,
            request=request,
            market=market,
            markets=(book.native if book else (lambda _s: market)),
            client_id_of=lambda native_id: self.client_ids.client_id_of(exchange, native_id),
        )
        order = self.hooks.from_native(exchange, payload, context)
        status = OrderStatus.UNKNOWN
        if order.native_status is not None:
            status = self.hooks.normalize_status(exchange, order.native_status) or OrderStatus.UNKNOWN
        order = attrs.evolve(order, status=status, raw=order.raw if order.raw is not None else payload)
        return order, status is OrderStatus.UNKNOWN

    def convert_found(
        self, exchange: str, payload: NativePayload, market_type: MarketType, book: MarketBook
    ) -> Order | None:
        """An order found by client id, read without the request (so nothing is filled in from it);
        None when the plugin cannot read it alone. DB thread."""
        try:
            return self.convert(exchange, payload, market_type=market_type, book=book)[0]
        except Exception as exc:
            logger.info("{} order found by client id cannot be read without its request: {}", exchange, exc)
            return None

    def unknown_status_alert(self, order: Order, broker_id: int | None) -> None:
        if order.native_status is None:  # the plugin could not read the answer at all
            self.alerts.critical(
                "unconvertible_answer",
                key=f"unconvertible:{order.exchange}:{order.client_order_id}",
                exchange=order.exchange,
                message=f"{order.exchange} answer for order {order.client_order_id} (broker {broker_id}) could "
                "not be converted: stored raw as UNKNOWN; see the log for the plugin's error",
            )
            return
        self.alerts.raise_(
            Alert(
                kind="unknown_status",
                key=f"unknown_status:{order.exchange}:{order.native_status}",
                exchange=order.exchange,
                message=(
                    f"new {order.exchange} status {order.native_status!r} (order {order.id}, broker {broker_id}): "
                    "stored as UNKNOWN; add it to the plugin's status table"
                ),
                details={"native_status": order.native_status, "order_id": order.id},
            )
        )

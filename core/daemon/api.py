"""The operations the front doors expose, with tenancy, in one place.

Both the HTTP server and the Redis Streams consumer call ``Api``; each method takes the caller's
``Principal`` and answers JSON-shaped data (money as strings, through ``terminal5.wire.unstructure``).
Request checks live in ``terminal5.daemon.request_checks``, the operations beyond one gateway call in
``terminal5.daemon.operations``. A user only ever sees its own brokers and orders: every broker-scoped call resolves the broker with the
principal's user id (a foreign broker looks exactly like a missing one: 404 ``BrokerNotFound``).

Body ``user_id`` rule: a user token may omit ``user_id`` (the token's is used); a different one is
refused with 403 ``PermissionDenied``. An admin token must name the broker; ``user_id`` defaults to the
broker's owner.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from loguru import logger

from terminal5.brokers import handing_over
from terminal5.daemon.operations import dead_man_switch, edit_order, kill_broker, test_broker
from terminal5.daemon.request_checks import (
    MAX_DEAD_MAN_SECONDS,
    MAX_OFFSET,
    MAX_PAGE,
    bad,
    check_id,
    check_key,
    check_reason,
    check_symbol,
    check_wire_order,
    json_type,
    money_wire_error,
    parse_bool,
    parse_int,
    parse_time,
)
from terminal5.daemon.tokens import Principal
from terminal5.errors import (
    ExchangeNotAvailable,
    InvalidOrderRequest,
    PermissionDenied,
)
from terminal5.gateway import Gateway
from terminal5.models import Order, OrderStatus
from terminal5.storage.brokers import BrokerInfo
from terminal5.wire import (
    money_range_error,
    structure_request,
    to_decimal,
    unstructure,
)

# the front doors and tests import these from here
__all__ = [
    "Api",
    "check_id",
    "check_reason",
    "dead_man_switch",
    "exchange_json",
    "kill_broker",
    "money_wire_error",
    "order_json",
    "parse_bool",
    "parse_int",
    "test_broker",
]


def order_json(order: Order) -> dict[str, Any]:
    return unstructure(order)


def exchange_json(spec: Any) -> dict[str, Any]:
    """An ``ExchangeSpec`` for people and APIs (no client factory)."""
    return {
        "name": spec.name,
        "display_name": spec.display_name,
        "market_types": sorted(m.value for m in spec.market_types),
        "order_types": {m.value: sorted(v) for m, v in sorted(spec.order_types.items())},
        "supported_params": {m.value: sorted(v) for m, v in sorted(spec.supported_params.items())},
        "features": sorted(spec.features),
        "broker_options": dict(spec.broker_options),
        "distribution": spec.distribution,
    }


class Api:
    def __init__(self, gateway: Gateway, *, metrics: Any = None) -> None:
        self.gw = gateway
        self.metrics = metrics
        self.accepting = True
        self.inflight: set[asyncio.Task[Any]] = set()

    # --- lifecycle -------------------------------------------------------------------------------
    def stop_accepting(self) -> None:
        self.accepting = False

    async def drain(self, wait_seconds: float = 30.0) -> int:
        """Wait for in-flight order placements (never cancels them). Returns how many were waited for."""
        tasks = list(self.inflight)
        if tasks:
            logger.info("waiting for {} in-flight order(s)", len(tasks))
            await asyncio.wait(tasks, timeout=wait_seconds)
        return len(tasks)

    def _check_accepting(self) -> None:
        if not self.accepting:
            raise ExchangeNotAvailable("the gateway is shutting down; retry on another instance")

    def _count(self, order: Order, operation: str) -> None:
        if self.metrics is not None:
            self.metrics.order(order, operation)

    # --- exchanges and brokers ---------------------------------------------------------------------
    def exchanges(self) -> list[dict[str, Any]]:
        return [exchange_json(self.gw.registry.specs[n]) for n in self.gw.registry.names()]

    async def list_brokers(self, p: Principal, user_id: int | None = None) -> list[dict[str, Any]]:
        return [b.to_dict() for b in await self.gw.list_brokers(p.scope(user_id))]

    async def broker(self, p: Principal, broker_id: int) -> BrokerInfo:
        return await self.gw.get_broker(check_id(broker_id, "broker_id"), p.scope())

    async def get_broker(self, p: Principal, broker_id: int) -> dict[str, Any]:
        return (await self.broker(p, broker_id)).to_dict()

    # --- orders ------------------------------------------------------------------------------------
    async def place_order(self, p: Principal, body: Any, *, request_id: str | None = None) -> dict[str, Any]:
        """Idempotent on ``client_order_id``: a replay answers the stored order. The placement runs in
        its own task, so a client that disconnects never cancels an order half-way."""
        self._check_accepting()
        if not isinstance(body, Mapping):
            raise bad("request", "must be a JSON object")
        data = dict(body)
        if "broker_id" not in data:
            raise bad("broker_id", "is required (an integer)")
        broker_id = check_id(data.get("broker_id"), "broker_id")
        if "user_id" in data:
            check_id(data["user_id"], "user_id")
        check_wire_order(data)
        # every field is checked before the broker is looked up: a bad body is a 400 whoever owns the broker
        checked_as = data.get("user_id", p.user_id or 1)
        request = structure_request({**data, "user_id": checked_as})
        read: BrokerInfo | None = None
        if p.admin:
            if "user_id" not in data:
                read = await self.gw.get_broker(broker_id)
                data["user_id"] = read.user_id
        else:
            # a foreign broker is a 404 from the placement's own broker read (before anything is stored or sent)
            data["user_id"] = p.scope(data.get("user_id") if isinstance(data.get("user_id"), int) else None)
        if data["user_id"] != checked_as:  # an admin's order for the broker's owner: structured as placed
            request = structure_request(data)
        request_id = request_id or uuid.uuid4().hex
        if read is None:
            task = asyncio.ensure_future(self.gw.place(request, request_id=request_id))
        else:
            with handing_over(read):  # the placement takes the row just read instead of reading it again
                task = asyncio.ensure_future(self.gw.place(request, request_id=request_id))
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)
        placed = await asyncio.shield(task)
        self._count(placed.order, "replay" if placed.replayed else "place")  # a replay sent nothing
        return order_json(placed.order)

    async def get_order(
        self,
        p: Principal,
        broker_id: int,
        key: str,
        *,
        by: str = "client_order_id",
        refresh: bool = False,
        symbol: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        ids = self._ids(key, by)
        check_id(broker_id, "broker_id")
        symbol = check_symbol(symbol)
        if refresh:
            order = await self.gw.fetch_order(
                broker_id=broker_id, user_id=p.scope(), symbol=symbol, request_id=request_id, **ids
            )
            self._count(order, "fetch")
        else:
            order = await self.gw.get_order(broker_id=broker_id, user_id=p.scope(), **ids)
        return order_json(order)

    async def cancel_order(
        self,
        p: Principal,
        broker_id: int,
        key: str,
        *,
        by: str = "client_order_id",
        symbol: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        self._check_accepting()
        check_id(broker_id, "broker_id")
        symbol = check_symbol(symbol)
        order = await self.gw.cancel_order(
            broker_id=broker_id, user_id=p.scope(), symbol=symbol, request_id=request_id, **self._ids(key, by)
        )
        self._count(order, "cancel")
        return order_json(order)

    async def edit_order(
        self,
        p: Principal,
        broker_id: int,
        key: str,
        changes: Any,
        *,
        by: str = "client_order_id",
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Amend quantity and/or price in place, where the exchange's client can (capability
        ``edit_order``). Otherwise 422."""
        self._check_accepting()
        check_id(broker_id, "broker_id")
        if not isinstance(changes, Mapping):
            raise bad("request", "must be a JSON object")
        unknown = set(changes) - {"quantity", "price", "symbol"}
        if unknown:
            raise InvalidOrderRequest([(k, "unknown field") for k in sorted(unknown)])
        values: dict[str, Decimal | None] = {}
        for name in ("quantity", "price"):
            if changes.get(name) is not None:
                problem = money_wire_error(changes[name])
                if problem:
                    raise bad(name, problem)
                try:
                    values[name] = to_decimal(changes[name])
                except ValueError as exc:
                    raise bad(name, str(exc)) from None
                if values[name] <= 0:  # type: ignore[operator]
                    raise bad(name, "must be greater than zero")
                problem = money_range_error(values[name])  # type: ignore[arg-type]
                if problem:
                    raise bad(name, problem)
        check_symbol(changes.get("symbol"))
        if not values:
            raise bad("quantity", "give a new quantity and/or price")
        order = await edit_order(
            self.gw,
            broker_id=broker_id,
            user_id=p.scope(),
            request_id=request_id,
            symbol=changes.get("symbol"),
            **self._ids(key, by),
            **values,
        )
        self._count(order, "edit")
        return order_json(order)

    @staticmethod
    def _ids(key: str, by: str) -> dict[str, str]:
        if by not in ("client_order_id", "order_id"):
            raise bad("by", "must be client_order_id or order_id")
        return {by: check_key(key)}

    async def list_orders(self, p: Principal, query: Mapping[str, Any]) -> dict[str, Any]:
        allowed = {"user_id", "broker_id", "status", "symbol", "since", "until", "limit", "offset"}
        unknown = set(query) - allowed
        if unknown:
            raise InvalidOrderRequest([(k, "unknown filter") for k in sorted(unknown)])
        status = query.get("status")
        if status is not None:
            try:
                status = OrderStatus(status).value
            except ValueError:
                raise bad("status", f"{status!r} is not one of: {', '.join(s.value for s in OrderStatus)}") from None
        limit = parse_int(query.get("limit"), "limit", minimum=1, default=100, maximum=MAX_PAGE) or 100
        filters = {
            "user_id": p.scope(parse_int(query.get("user_id"), "user_id", minimum=1)),
            "broker_id": parse_int(query.get("broker_id"), "broker_id", minimum=1),
            "status": status,
            "symbol": check_symbol(query.get("symbol")),
            "since": parse_time(query.get("since"), "since"),
            "until": parse_time(query.get("until"), "until"),
            "limit": min(limit, MAX_PAGE),
            "offset": parse_int(query.get("offset"), "offset", minimum=0, default=0, maximum=MAX_OFFSET),
        }
        orders = await self.gw.list_orders(**filters)
        return {
            "orders": [order_json(o) for o in orders],
            "limit": filters["limit"],
            "offset": filters["offset"],
            "next_offset": filters["offset"] + len(orders) if len(orders) == filters["limit"] else None,
        }

    # --- live reads ----------------------------------------------------------------------------------
    async def open_orders(self, p: Principal, broker_id: int, symbol: str | None = None) -> list[dict[str, Any]]:
        check_id(broker_id, "broker_id")
        symbol = check_symbol(symbol)
        orders = await self.gw.fetch_open_orders(broker_id=broker_id, user_id=p.scope(), symbol=symbol)
        return [order_json(o) for o in orders]

    async def balances(self, p: Principal, broker_id: int) -> list[dict[str, Any]]:
        check_id(broker_id, "broker_id")
        return [unstructure(b) for b in await self.gw.fetch_balances(broker_id=broker_id, user_id=p.scope())]

    async def positions(self, p: Principal, broker_id: int) -> list[dict[str, Any]]:
        check_id(broker_id, "broker_id")
        return [unstructure(x) for x in await self.gw.fetch_positions(broker_id=broker_id, user_id=p.scope())]

    async def reconcile(self, p: Principal, broker_id: int, reconciler: Any = None) -> dict[str, Any]:
        await self.broker(p, broker_id)
        if reconciler is not None:
            return await reconciler.reconcile_broker(broker_id)
        return dict(await self.gw.reconcile(broker_id))

    async def test_broker(self, p: Principal, broker_id: int) -> dict[str, Any]:
        return await test_broker(self.gw, await self.broker(p, broker_id))

    # --- safety switches ----------------------------------------------------------------------------
    # The rule (``Principal.may_lift``): whoever may see a broker may kill it; a kill set by an admin is
    # lifted only by an admin, a user's own kill by that user too.
    async def kill_broker(self, p: Principal, broker_id: int, reason: Any = None) -> dict[str, Any]:
        reason = check_reason(reason)
        broker = await self.broker(p, broker_id)
        return await kill_broker(self.gw, broker, reason or "kill switch", by=p.role)

    async def enable_broker(self, p: Principal, broker_id: int) -> dict[str, Any]:
        broker = await self.broker(p, broker_id)
        self._check_may_lift(p, [broker])
        return (await self.gw.set_broker_enabled(broker.id, True, by=p.role)).to_dict()

    async def kill_user(self, p: Principal, user_id: int, reason: Any = None) -> dict[str, Any]:
        reason = check_reason(reason)
        user = p.scope(check_id(user_id, "user_id"))
        results = [
            await kill_broker(self.gw, b, reason or f"kill switch of user {user}", by=p.role)
            for b in await self.gw.list_brokers(user)
        ]
        return {"user_id": user, "brokers": results}

    async def enable_user(self, p: Principal, user_id: int) -> dict[str, Any]:
        user = p.scope(check_id(user_id, "user_id"))
        owned = await self.gw.list_brokers(user)
        self._check_may_lift(p, owned)  # all or nothing: never half a user's kill lifted
        brokers = [
            (await self.gw.set_broker_enabled(b.id, True, by=p.role)).to_dict() for b in owned
        ]
        return {"user_id": user, "brokers": brokers}

    @staticmethod
    def _check_may_lift(p: Principal, brokers: list[BrokerInfo]) -> None:
        held = [b.id for b in brokers if not b.enabled and not p.may_lift(b.disabled_by)]
        if held:
            raise PermissionDenied(
                f"the kill switch of broker(s) {', '.join(map(str, held))} was set by an admin: only an admin "
                "can lift it",
                field="broker_id",
                details={"brokers": held},
            )

    async def dead_man(self, p: Principal, broker_id: int, body: Any) -> dict[str, Any]:
        check_id(broker_id, "broker_id")
        if not isinstance(body, Mapping):
            raise bad("request", f"must be a JSON object, got {json_type(body)}")
        unknown = set(body) - {"timeout"}
        if unknown:
            raise InvalidOrderRequest([(str(k), "unknown field") for k in sorted(unknown)])
        if body.get("timeout") is None:
            raise bad("timeout", "is required (whole seconds; 0 disables)")
        if isinstance(body["timeout"], str):
            raise bad("timeout", "must be an integer (whole seconds), got a string")
        timeout = parse_int(body["timeout"], "timeout", minimum=0, maximum=MAX_DEAD_MAN_SECONDS)
        assert timeout is not None
        broker = await self.broker(p, broker_id)  # after the body: a request invalid as written is a 400
        return await dead_man_switch(self.gw, broker, timeout)

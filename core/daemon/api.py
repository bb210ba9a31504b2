"""The operations the front doors expose, with tenancy, in one place.

Both the HTTP server and the Redis Streams consumer call ``Api``; each method takes the caller's
``Principal`` and answers JSON-shaped data (money as strings, through ``terminal5.convert.unstructure``).
A user only ever sees its own brokers and orders: every broker-scoped call resolves the broker with the
principal's user id (a foreign broker looks exactly like a missing one: 404 ``BrokerNotFound``).

Body ``user_id`` rule: a user token may omit ``user_id`` (the token's is used); a different one is
refused with 403 ``PermissionDenied``. An admin token must name the broker; ``user_id`` defaults to the
broker's owner.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from loguru import logger

from terminal5.contract import Alert
from terminal5.convert import converter, to_decimal, unstructure
from terminal5.daemon.tokens import Principal
from terminal5.errors import (
    ExchangeError,
    ExchangeNotAvailable,
    InvalidOrderRequest,
    Terminal5Error,
)
from terminal5.gateway import Gateway
from terminal5.models import MarketType, Order, OrderStatus
from terminal5.ratebudget import urgent_call
from terminal5.storage.brokers import BrokerInfo

MAX_PAGE = 500
EDIT_FEATURES = ("amend_order", "edit_order")


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


def _bad(field: str, reason: str) -> InvalidOrderRequest:
    return InvalidOrderRequest([(field, reason)])


def parse_int(value: Any, field: str, *, minimum: int | None = None, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise _bad(field, "must be an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _bad(field, f"{value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise _bad(field, f"must be at least {minimum}")
    return number


def parse_time(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return converter.structure(value, datetime)
    except (TypeError, ValueError) as exc:
        raise _bad(field, str(exc)) from None


def parse_bool(value: Any, field: str) -> bool:
    if value in (None, "", False, "0", "false", "no"):
        return False
    if value in (True, "1", "true", "yes"):
        return True
    raise _bad(field, "must be true or false")


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
        return await self.gw.get_broker(broker_id, p.scope())

    async def get_broker(self, p: Principal, broker_id: int) -> dict[str, Any]:
        return (await self.broker(p, broker_id)).to_dict()

    # --- orders ------------------------------------------------------------------------------------
    async def place_order(self, p: Principal, body: Any, *, request_id: str | None = None) -> dict[str, Any]:
        """Idempotent on ``client_order_id``: a replay answers the stored order. The placement runs in
        its own task, so a client that disconnects never cancels an order half-way."""
        self._check_accepting()
        if not isinstance(body, Mapping):
            raise _bad("request", "must be a JSON object")
        data = dict(body)
        broker_id = data.get("broker_id")
        if not isinstance(broker_id, int) or isinstance(broker_id, bool):
            raise _bad("broker_id", "is required (an integer)")
        if p.admin:
            if "user_id" not in data:
                data["user_id"] = (await self.gw.get_broker(broker_id)).user_id
        else:
            data["user_id"] = p.scope(data.get("user_id") if isinstance(data.get("user_id"), int) else None)
            await self.gw.get_broker(broker_id, p.user_id)  # 404 for a foreign broker, before anything else
        request_id = request_id or uuid.uuid4().hex
        task = asyncio.ensure_future(self.gw.place_order(data, request_id=request_id))
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)
        order = await asyncio.shield(task)
        self._count(order, "place")
        return order_json(order)

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
        """Amend quantity and/or price in place, where the exchange offers it (feature ``amend_order``
        or ``edit_order`` with a client method of that name). Otherwise 422."""
        self._check_accepting()
        if not isinstance(changes, Mapping):
            raise _bad("request", "must be a JSON object")
        unknown = set(changes) - {"quantity", "price", "symbol"}
        if unknown:
            raise InvalidOrderRequest([(k, "unknown field") for k in sorted(unknown)])
        values: dict[str, Decimal | None] = {}
        for name in ("quantity", "price"):
            if changes.get(name) is not None:
                try:
                    values[name] = to_decimal(changes[name])
                except ValueError as exc:
                    raise _bad(name, str(exc)) from None
                if values[name] <= 0:  # type: ignore[operator]
                    raise _bad(name, "must be greater than zero")
        if not values:
            raise _bad("quantity", "give a new quantity and/or price")
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
            raise _bad("by", "must be client_order_id or order_id")
        return {by: key}

    async def list_orders(self, p: Principal, query: Mapping[str, Any]) -> dict[str, Any]:
        allowed = {"user_id", "broker_id", "status", "symbol", "since", "until", "limit", "offset"}
        unknown = set(query) - allowed
        if unknown:
            raise InvalidOrderRequest([(k, "unknown filter") for k in sorted(unknown)])
        status = query.get("status") or None
        if status is not None:
            try:
                status = OrderStatus(status).value
            except ValueError:
                raise _bad("status", f"{status!r} is not one of: {', '.join(s.value for s in OrderStatus)}") from None
        limit = parse_int(query.get("limit"), "limit", minimum=1, default=100) or 100
        filters = {
            "user_id": p.scope(parse_int(query.get("user_id"), "user_id", minimum=1)),
            "broker_id": parse_int(query.get("broker_id"), "broker_id", minimum=1),
            "status": status,
            "symbol": query.get("symbol") or None,
            "since": parse_time(query.get("since"), "since"),
            "until": parse_time(query.get("until"), "until"),
            "limit": min(limit, MAX_PAGE),
            "offset": parse_int(query.get("offset"), "offset", minimum=0, default=0),
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
        orders = await self.gw.fetch_open_orders(broker_id=broker_id, user_id=p.scope(), symbol=symbol)
        return [order_json(o) for o in orders]

    async def balances(self, p: Principal, broker_id: int) -> list[dict[str, Any]]:
        return [unstructure(b) for b in await self.gw.fetch_balances(broker_id=broker_id, user_id=p.scope())]

    async def positions(self, p: Principal, broker_id: int) -> list[dict[str, Any]]:
        return [unstructure(x) for x in await self.gw.fetch_positions(broker_id=broker_id, user_id=p.scope())]

    async def reconcile(self, p: Principal, broker_id: int, reconciler: Any = None) -> dict[str, Any]:
        await self.broker(p, broker_id)
        if reconciler is not None:
            return await reconciler.reconcile_broker(broker_id)
        return dict(await self.gw.reconcile(broker_id))

    async def test_broker(self, p: Principal, broker_id: int) -> dict[str, Any]:
        return await test_broker(self.gw, await self.broker(p, broker_id))

    # --- safety switches ----------------------------------------------------------------------------
    async def kill_broker(self, p: Principal, broker_id: int, reason: str | None = None) -> dict[str, Any]:
        broker = await self.broker(p, broker_id)
        return await kill_broker(self.gw, broker, reason or "kill switch")

    async def enable_broker(self, p: Principal, broker_id: int) -> dict[str, Any]:
        broker = await self.broker(p, broker_id)
        return (await self.gw.set_broker_enabled(broker.id, True)).to_dict()

    async def kill_user(self, p: Principal, user_id: int, reason: str | None = None) -> dict[str, Any]:
        user = p.scope(user_id)
        results = [
            await kill_broker(self.gw, b, reason or f"kill switch of user {user}")
            for b in await self.gw.list_brokers(user)
        ]
        return {"user_id": user, "brokers": results}

    async def enable_user(self, p: Principal, user_id: int) -> dict[str, Any]:
        user = p.scope(user_id)
        brokers = [(await self.gw.set_broker_enabled(b.id, True)).to_dict() for b in await self.gw.list_brokers(user)]
        return {"user_id": user, "brokers": brokers}

    async def dead_man(self, p: Principal, broker_id: int, body: Any) -> dict[str, Any]:
        broker = await self.broker(p, broker_id)
        timeout = parse_int((body or {}).get("timeout") if isinstance(body, Mapping) else None, "timeout", minimum=0)
        if timeout is None:
            raise _bad("timeout", "is required (seconds; 0 disables)")
        return await dead_man_switch(self.gw, broker, timeout)


# --- operations built on Gateway public methods -------------------------------------------------------


async def edit_order(gw: Gateway, **kwargs: Any) -> Order:
    return await gw.edit_order(**kwargs)


@urgent_call("kill switch")  # its cancels go ahead of queued work in the rate budgets
async def kill_broker(gw: Gateway, broker: BrokerInfo, reason: str) -> dict[str, Any]:
    """Refuse new orders first, then cancel every open order (exchange and database)."""
    await gw.set_broker_enabled(broker.id, False, reason)
    cancelled: list[str] = []
    failed: list[dict[str, Any]] = []
    targets: dict[str, tuple[str | None, str | None, str]] = {}
    try:
        for order in await gw.fetch_open_orders(broker_id=broker.id):
            key = order.id or order.client_order_id or ""
            targets[key] = (order.client_order_id, order.id, order.symbol)
    except Terminal5Error as exc:
        failed.append({"order": None, **exc.to_dict()})
    for order in await gw.list_orders(broker_id=broker.id, status=OrderStatus.OPEN.value, limit=10_000):
        key = order.id or order.client_order_id or ""
        targets.setdefault(key, (order.client_order_id, order.id, order.symbol))
    for key, (cid, oid, symbol) in targets.items():
        try:
            ids = {"order_id": oid} if oid else {"client_order_id": cid}
            await gw.cancel_order(broker_id=broker.id, symbol=symbol, **ids)
            cancelled.append(key)
        except Terminal5Error as exc:
            failed.append({"order": key, **exc.to_dict()})
    gw.alerts.raise_(
        Alert(
            kind="kill_switch",
            key=f"kill:{broker.id}:{uuid.uuid4().hex}",
            exchange=broker.exchange,
            severity="critical",
            message=f"kill switch on broker {broker.id} ({reason}): {len(cancelled)} cancelled, {len(failed)} failed",
        )
    )
    info = await gw.get_broker(broker.id)
    return {"broker": info.to_dict(), "cancelled": cancelled, "failed": failed}


async def dead_man_switch(gw: Gateway, broker: BrokerInfo, timeout: int) -> dict[str, Any]:
    result = await gw.cancel_all_after(broker_id=broker.id, timeout=timeout)
    return {"broker_id": broker.id, "timeout": timeout, "exchange_answer": dict(result or {})}


async def test_broker(gw: Gateway, broker: BrokerInfo) -> dict[str, Any]:
    """Check the keys with an authenticated read; on futures, report position mode and margin mode.

    The position mode comes from the client's optional ``fetch_account_config(ctx)`` (a mapping with
    ``position_mode`` "hedge"/"one_way" and ``margin_mode``) when the plugin has one, otherwise it is
    inferred from open positions (long/short sides mean hedge, "both" one-way), else "unknown".
    """
    entry = gw.client_for(broker.exchange)
    out: dict[str, Any] = {"broker_id": broker.id, "exchange": broker.exchange, "ok": False, "market_types": {}}
    try:
        balances = await gw.fetch_balances(broker_id=broker.id)
    except ExchangeError as exc:
        out["error"] = exc.to_dict()
        return out
    out["ok"] = True
    out["assets"] = len(balances)
    for market_type in sorted(entry.spec.market_types):
        if market_type is MarketType.SPOT:
            continue
        info: dict[str, Any] = {"position_mode": "unknown", "margin_mode": "unknown"}
        try:
            ctx = await gw.context(broker, market_type)
            config = getattr(entry.client, "fetch_account_config", None)
            if config is not None:
                data = dict(await config(ctx) or {})
                info.update({k: str(v) for k, v in data.items() if k in ("position_mode", "margin_mode")})
            else:
                positions = await entry.client.fetch_positions(ctx)
                sides = {p.side for p in positions}
                if sides & {"long", "short"}:
                    info["position_mode"] = "hedge"
                elif "both" in sides:
                    info["position_mode"] = "one_way"
                modes = {p.margin_mode.value for p in positions if p.margin_mode is not None}
                if len(modes) == 1:
                    info["margin_mode"] = modes.pop()
                elif modes:
                    info["margin_mode"] = "mixed"
        except Terminal5Error as exc:
            info["error"] = exc.to_dict()
        out["market_types"][market_type.value] = info
    return out

"""The operations the front doors expose, with tenancy, in one place.

Both the HTTP server and the Redis Streams consumer call ``Api``; each method takes the caller's
``Principal`` and answers JSON-shaped data (money as strings, through ``terminal5.wire.unstructure``).
A user only ever sees its own brokers and orders: every broker-scoped call resolves the broker with the
principal's user id (a foreign broker looks exactly like a missing one: 404 ``BrokerNotFound``).

Body ``user_id`` rule: a user token may omit ``user_id`` (the token's is used); a different one is
refused with 403 ``PermissionDenied``. An admin token must name the broker; ``user_id`` defaults to the
broker's owner.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from loguru import logger

from terminal5.contract import Alert, SupportsAccountConfig, SupportsPositions
from terminal5.daemon.tokens import Principal
from terminal5.errors import (
    ExchangeError,
    ExchangeNotAvailable,
    InvalidOrderRequest,
    PermissionDenied,
    Terminal5Error,
)
from terminal5.gateway import Gateway
from terminal5.models import SYMBOL_RE, MarketType, Order, OrderStatus
from terminal5.storage.brokers import BrokerInfo
from terminal5.wire import (
    MAX_ID,
    MONEY_FIELDS,
    converter,
    id_range_error,
    money_range_error,
    to_decimal,
    unstructure,
)

MAX_PAGE = 500
MAX_EXTRA_PARAMS = 50
MAX_TEXT = 500  # a kill reason, one extra_params value
MAX_KEY = 128  # an order key in a path: the stored id columns are 128 characters
MAX_DEAD_MAN_SECONDS = 86_400
MAX_OFFSET = 10_000_000
#: an amount on the wire, exactly as the OpenAPI document publishes it: plain digits, no sign or exponent,
#: at most 20 before the point and 18 after (NUMERIC(38,18)); zero passes here and fails "greater than zero"
MONEY_WIRE_RE = re.compile(r"[0-9]{1,20}(\.[0-9]{1,18})?")
#: RFC 3339 with a timezone (Python's fromisoformat alone accepts more)
TIME_WIRE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2})")


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


def parse_int(
    value: Any, field: str, *, minimum: int | None = None, default: int | None = None, maximum: int = MAX_ID
) -> int | None:
    """An integer from a query string (digits only) or a JSON body (an integer, never 1.5 or "1")."""
    if value is None:
        return default
    if isinstance(value, str):
        if not value.isascii() or not value.lstrip("-").isdigit() or len(value) > 12:
            raise _bad(field, f"{value[:40]!r} is not an integer")
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise _bad(field, f"must be an integer, got {_json_type(value)}")
    if minimum is not None and number < minimum:
        raise _bad(field, f"must be at least {minimum}")
    if number > maximum:
        raise _bad(field, f"must be at most {maximum}")
    return number


def check_id(value: Any, field: str) -> int:
    """An id (broker, user) as the database holds it: an integer 1..2^31-1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(field, f"must be an integer, got {_json_type(value)}")
    problem = id_range_error(value)
    if problem:
        raise _bad(field, problem)
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Decimal):
        return "a number with a fraction"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return type(value).__name__


def check_wire_order(data: Mapping[str, Any]) -> None:
    """What the front doors refuse beyond the converter: money written as a JSON number (amounts are
    decimal strings on the wire) and a number with a fraction inside ``extra_params`` (JSON has no
    decimal type; such a value is a float to every other client, so it is refused as one)."""
    errors: list[tuple[str, str]] = []
    for name in MONEY_FIELDS:
        problem = money_wire_error(data.get(name))
        if problem:
            errors.append((name, problem))
    expire_at = data.get("expire_at")
    if isinstance(expire_at, str) and not TIME_WIRE_RE.fullmatch(expire_at):
        errors.append(("expire_at", f"{expire_at[:40]!r} is not RFC 3339 with a timezone (2026-01-21T14:32:15Z)"))
    extra = data.get("extra_params")
    if isinstance(extra, Mapping):
        if len(extra) > MAX_EXTRA_PARAMS:
            errors.append(("extra_params", f"at most {MAX_EXTRA_PARAMS} parameters"))
        for key, value in extra.items():
            if isinstance(value, (Decimal, float)):
                errors.append((f"extra_params.{key}", "a number with a fraction is a float: send a decimal string"))
            elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63 - 1:
                errors.append((f"extra_params.{key}", "integer out of range (64 bits)"))
            elif isinstance(value, str) and len(value) > MAX_TEXT:
                errors.append((f"extra_params.{key}", f"at most {MAX_TEXT} characters"))
    if errors:
        raise InvalidOrderRequest(errors)


def money_wire_error(value: Any) -> str | None:
    """Why ``value`` is not an amount as the wire writes one (None when it is, or is absent)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f'must be a decimal string (e.g. "0.1"), not {_json_type(value)}'
    if not MONEY_WIRE_RE.fullmatch(value):
        return (f"{value[:40]!r} is not a plain positive decimal: digits, optionally a point and decimals, "
                "no sign, spaces or exponent; at most 20 digits before the point and 18 after")
    return None


def check_reason(reason: Any) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise _bad("reason", f"must be a string, got {_json_type(reason)}")
    if len(reason) > MAX_TEXT:
        raise _bad("reason", f"at most {MAX_TEXT} characters")
    return reason


def check_key(key: str) -> str:
    """An order key (client or exchange id) from a path: 1-128 printable characters (a NUL cannot even be
    stored in a PostgreSQL text column)."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise _bad("key", f"must be 1 to {MAX_KEY} characters")
    if not key.isprintable():
        raise _bad("key", "must be printable characters (no control characters)")
    return key


def check_symbol(symbol: Any) -> str | None:
    if symbol is None:
        return None
    if not isinstance(symbol, str) or not SYMBOL_RE.match(symbol):
        shown = symbol[:40] if isinstance(symbol, str) else symbol
        raise _bad("symbol", f"{shown!r} is not BASE/QUOTE or BASE/QUOTE:SETTLE (upper case)")
    return symbol


def parse_time(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or not TIME_WIRE_RE.fullmatch(value):
        raise _bad(field, f"{str(value)[:40]!r} is not RFC 3339 with a timezone (e.g. 2026-01-21T14:32:15Z)")
    try:
        return converter.structure(value, datetime)
    except (TypeError, ValueError) as exc:
        raise _bad(field, str(exc)) from None


def parse_bool(value: Any, field: str) -> bool:
    if value is None or value is False or value == "false":
        return False
    if value is True or value == "true":
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
        return await self.gw.get_broker(check_id(broker_id, "broker_id"), p.scope())

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
        if "broker_id" not in data:
            raise _bad("broker_id", "is required (an integer)")
        broker_id = check_id(data.get("broker_id"), "broker_id")
        if "user_id" in data:
            check_id(data["user_id"], "user_id")
        check_wire_order(data)
        if p.admin:
            if "user_id" not in data:
                data["user_id"] = (await self.gw.get_broker(broker_id)).user_id
        else:
            data["user_id"] = p.scope(data.get("user_id") if isinstance(data.get("user_id"), int) else None)
            await self.gw.get_broker(broker_id, p.user_id)  # 404 for a foreign broker, before anything else
        request_id = request_id or uuid.uuid4().hex
        task = asyncio.ensure_future(self.gw.place(data, request_id=request_id))
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
            raise _bad("request", "must be a JSON object")
        unknown = set(changes) - {"quantity", "price", "symbol"}
        if unknown:
            raise InvalidOrderRequest([(k, "unknown field") for k in sorted(unknown)])
        values: dict[str, Decimal | None] = {}
        for name in ("quantity", "price"):
            if changes.get(name) is not None:
                problem = money_wire_error(changes[name])
                if problem:
                    raise _bad(name, problem)
                try:
                    values[name] = to_decimal(changes[name])
                except ValueError as exc:
                    raise _bad(name, str(exc)) from None
                if values[name] <= 0:  # type: ignore[operator]
                    raise _bad(name, "must be greater than zero")
                problem = money_range_error(values[name])  # type: ignore[arg-type]
                if problem:
                    raise _bad(name, problem)
        check_symbol(changes.get("symbol"))
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
                raise _bad("status", f"{status!r} is not one of: {', '.join(s.value for s in OrderStatus)}") from None
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
            raise _bad("request", f"must be a JSON object, got {_json_type(body)}")
        unknown = set(body) - {"timeout"}
        if unknown:
            raise InvalidOrderRequest([(str(k), "unknown field") for k in sorted(unknown)])
        if body.get("timeout") is None:
            raise _bad("timeout", "is required (whole seconds; 0 disables)")
        if isinstance(body["timeout"], str):
            raise _bad("timeout", "must be an integer (whole seconds), got a string")
        timeout = parse_int(body["timeout"], "timeout", minimum=0, maximum=MAX_DEAD_MAN_SECONDS)
        assert timeout is not None
        broker = await self.broker(p, broker_id)  # after the body: a request invalid as written is a 400
        return await dead_man_switch(self.gw, broker, timeout)


# --- operations built on Gateway public methods -------------------------------------------------------


async def edit_order(gw: Gateway, **kwargs: Any) -> Order:
    return await gw.edit_order(**kwargs)


async def kill_broker(gw: Gateway, broker: BrokerInfo, reason: str, *, by: str = "admin") -> dict[str, Any]:
    """Refuse new orders first, then cancel every open order (exchange and database). ``by`` ("admin" or
    "user") is who may lift it afterwards."""
    await gw.set_broker_enabled(broker.id, False, reason, by=by)
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

    The position mode comes from the client's ``fetch_account_config(ctx)`` (``SupportsAccountConfig``:
    a mapping with ``position_mode`` "hedge"/"one_way" and ``margin_mode``) when it has one, otherwise it
    is inferred from open positions (``SupportsPositions``: long/short sides mean hedge, "both" one-way),
    else "unknown".
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
            client = entry.client
            if isinstance(client, SupportsAccountConfig):
                data = dict(await client.fetch_account_config(ctx) or {})
                info.update({k: str(v) for k, v in data.items() if k in ("position_mode", "margin_mode")})
            elif isinstance(client, SupportsPositions):
                positions = await client.fetch_positions(ctx)
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

"""Operations the front doors offer beyond one call of the gateway: the kill switch (refuse, then cancel
everything open), the exchange's dead-man's switch, and a broker's key test with its futures account
modes. Built on ``Gateway`` public methods only."""

from __future__ import annotations

import uuid
from typing import Any

from terminal5.contract import SupportsAccountConfig, SupportsPositions
from terminal5.errors import ExchangeError, Terminal5Error
from terminal5.gateway import Gateway
from terminal5.models import MarketType, Order, OrderStatus
from terminal5.ratebudget import urgent_call
from terminal5.storage.brokers import BrokerInfo


async def edit_order(gw: Gateway, **kwargs: Any) -> Order:
    return await gw.edit_order(**kwargs)


@urgent_call("kill switch")  # its cancels go ahead of queued work in the rate budgets
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
    gw.alerts.critical(
        "kill_switch",
        key=f"kill:{broker.id}:{uuid.uuid4().hex}",
        exchange=broker.exchange,
        message=f"kill switch on broker {broker.id} ({reason}): {len(cancelled)} cancelled, {len(failed)} failed",
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

"""Verbs about orders: ``order`` (place through the running daemon when there is one), ``reconcile``,
``kill`` / ``enable``."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from terminal5 import jsonutil
from terminal5.cli.context import admin, load_settings, with_api
from terminal5.cli.output import CliError, Out, table
from terminal5.errors import Terminal5Error

ORDER_COLUMNS = ("broker_id", "client_order_id", "id", "symbol", "side", "type", "quantity", "price", "filled",
                 "status", "source")


def order_line(o: dict[str, Any]) -> str:
    price = f" @ {o['price']}" if o.get("price") else ""
    return (f"{o['client_order_id']}  {o['exchange']} {o['symbol']} {o['side']} {o['quantity']}{price} "
            f"-> {o['status']} ({o.get('native_status') or '-'}) filled {o.get('filled')}  id {o.get('id') or '-'}")


class RemoteError(Terminal5Error):
    """An error the daemon answered, under its own taxonomy name."""

    def __init__(self, data: dict[str, Any], status: int) -> None:
        super().__init__(str(data.get("message", f"HTTP {status}")), exchange=data.get("exchange"),
                         code=data.get("code"), field=data.get("field"), details=data.get("details"))
        self.name = str(data.get("error", "HttpError"))
        self.http_status = status

    @property
    def kind(self) -> str:
        return self.name


def running_daemon() -> dict[str, Any] | None:
    from terminal5.daemon.localdoor import find

    return find(load_settings().data_dir, os.environ.get("TERMINAL5_HEARTBEAT_NAME", "terminal5"))


async def place_through(daemon: dict[str, Any], body: dict[str, Any]) -> Any:
    """POST the order to the running daemon. Only a connection that never opened falls back to a local
    gateway: once the request may have left, the answer (or its absence) is the daemon's."""
    import aiohttp

    headers = {"Authorization": f"Bearer {daemon['token']}", "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(f"{daemon['url']}/v1/orders", data=jsonutil.dumps(body), headers=headers) as resp:
            text = await resp.text()
            try:
                data = jsonutil.loads(text)
            except ValueError:
                data = {"error": "HttpError", "message": text[:200]}
            if resp.status >= 400:
                raise RemoteError(data if isinstance(data, dict) else {}, resp.status)
            return data


def cmd_order(args: argparse.Namespace, out: Out) -> int:
    if args.order_cmd == "place":
        if args.data:
            try:
                body = jsonutil.loads(args.stdin.read() if args.data == "-" else args.data)
            except ValueError as exc:
                raise CliError(f"--data is not JSON: {exc}") from None
        else:
            missing = [n for n in ("broker", "symbol", "side", "type", "quantity") if getattr(args, n) is None]
            if missing:
                raise CliError(f"order place needs --{', --'.join(missing)} (or --data JSON)")
            body = {"broker_id": args.broker, "symbol": args.symbol, "side": args.side, "type": args.type,
                    "quantity": args.quantity}
            for name in ("price", "client_order_id", "stop_price", "time_in_force", "source"):
                if getattr(args, name) is not None:
                    body[name] = getattr(args, name)
            if args.reduce_only:
                body["reduce_only"] = True
        daemon = None if args.no_daemon else running_daemon()
        if daemon is not None:
            import aiohttp

            try:
                data = asyncio.run(place_through(daemon, body))
            except aiohttp.ClientConnectorError:
                pass  # never connected, so nothing was sent: the local gateway places it
            else:
                out.emit(data, lambda d: order_line(d) + f"\n(through the daemon at {daemon['url']})")
                return 0
        data = asyncio.run(with_api(args, lambda gw, api: api.place_order(admin(), body)))
        out.emit(data, order_line)
        return 0
    if args.order_cmd in ("get", "cancel"):
        if (args.client_order_id is None) == (args.order_id is None):
            raise CliError("give exactly one of --client-order-id or --order-id")
        key, by = (args.client_order_id, "client_order_id") if args.client_order_id else (args.order_id, "order_id")
        if args.order_cmd == "get":
            data = asyncio.run(with_api(args, lambda gw, api: api.get_order(
                admin(), args.broker, key, by=by, refresh=args.refresh, symbol=args.symbol)))
        else:
            data = asyncio.run(with_api(args, lambda gw, api: api.cancel_order(
                admin(), args.broker, key, by=by, symbol=args.symbol)))
        out.emit(data, order_line)
        return 0
    if args.order_cmd == "list":
        filters = {k: v for k, v in {
            "broker_id": args.broker, "user_id": args.user, "status": args.status, "symbol": args.symbol,
            "since": args.since, "until": args.until, "limit": args.limit, "offset": args.offset,
        }.items() if v is not None}
        data = asyncio.run(with_api(args, lambda gw, api: api.list_orders(admin(), filters)))
        out.emit(data, lambda d: table(d["orders"], ORDER_COLUMNS))
        return 0
    raise CliError("order needs a sub-command: place, get, cancel, list")


def cmd_reconcile(args: argparse.Namespace, out: Out) -> int:
    from terminal5.daemon.reconcile import Reconciler

    async def run(gw: Any, api: Any) -> Any:
        reconciler = Reconciler(gw)
        if args.broker is not None:
            return [await reconciler.reconcile_broker(args.broker)]
        return await reconciler.reconcile_all()

    data = asyncio.run(with_api(args, run))

    def human(results: list[dict[str, Any]]) -> str:
        if not results:
            return "no enabled broker"
        lines = []
        for r in results:
            if "error" in r:
                lines.append(f"broker {r['broker_id']}: FAILED {r['error']}: {r['message']}")
                continue
            lines.append(f"broker {r['broker_id']}: external {r['external']}, updated {r['updated']}, "
                         f"resolved {r['resolved_unknown']}, not found {r['not_found']}, "
                         f"format problems {r['format_problems']}")
            lines += [f"  {p['client_order_id']}: {'; '.join(p['problems'])}" for p in r["problems"]]
        return "\n".join(lines)

    out.emit(data, human)
    return 1 if any("error" in r for r in data) else 0


def cmd_kill(args: argparse.Namespace, out: Out) -> int:
    if (args.broker is None) == (args.user is None):
        raise CliError("give exactly one of --broker N or --user N")

    async def run(gw: Any, api: Any) -> Any:
        if args.command == "kill":
            if args.broker is not None:
                return await api.kill_broker(admin(), args.broker, args.reason)
            return await api.kill_user(admin(), args.user, args.reason)
        if args.broker is not None:
            return await api.enable_broker(admin(), args.broker)
        return await api.enable_user(admin(), args.user)

    data = asyncio.run(with_api(args, run))

    def human(d: dict[str, Any]) -> str:
        if args.command == "enable":
            brokers = d.get("brokers") or [d]
            return "\n".join(f"broker {b['id']} enabled" for b in brokers) or "no broker"
        results = d.get("brokers") if "brokers" in d else [d]
        return "\n".join(
            f"broker {r['broker']['id']} disabled: {len(r['cancelled'])} order(s) cancelled, {len(r['failed'])} failed"
            for r in results
        ) or "no broker"

    out.emit(data, human)
    return 0

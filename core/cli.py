"""The ``terminal5`` command.

Every verb has ``--help``, prints for humans by default and JSON with ``--json``. Verbs other than
``run``, ``watchdog`` and ``simulator`` work directly on the database named by the environment (the
daemon need not run). Secrets (exchange keys) are read from a prompt or from stdin, never from argv.

Exit status: 0 success, 1 an error (printed as ``error: <Type>: message``, or as JSON), 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from terminal5 import jsonutil
from terminal5.errors import Terminal5Error

EPILOG = "Configuration comes from TERMINAL5_* environment variables (see README, 'Configuration')."
NO_PLUGIN_HELP = (
    "no exchange plugin installed.\n"
    "Install one, e.g.  pip install -e plugins/binance   (or plugins/kraken; plugins/template is the loopback\n"
    "exchange that `terminal5 simulator` serves), or load one by import path:\n"
    "  export TERMINAL5_PLUGINS_EXTRA=my_package.plugin"
)


class CliError(Exception):
    """A usage problem found after parsing (exit status 2)."""


class Out:
    def __init__(self, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.as_json = as_json
        self.stdout = stdout
        self.stderr = stderr

    def emit(self, data: Any, human: Callable[[Any], str] | str | None = None) -> None:
        if self.as_json:
            self.stdout.write(jsonutil.dumps(_no_floats(data)) + "\n")
        else:
            text = human(data) if callable(human) else (human if human is not None else _pretty(data))
            self.stdout.write(text.rstrip("\n") + "\n")

    def note(self, text: str) -> None:
        if not self.as_json:
            self.stdout.write(text + "\n")


def _no_floats(data: Any) -> Any:
    """Durations and the like may be floats; JSON output carries them as exact decimals."""
    if isinstance(data, float):
        return Decimal(repr(data))
    if isinstance(data, dict):
        return {k: _no_floats(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_no_floats(v) for v in data]
    return data


def _pretty(data: Any, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(data, dict):
        lines = []
        for key, value in data.items():
            if isinstance(value, (dict, list)) and value:
                lines.append(f"{pad}{key}:")
                lines.append(_pretty(value, indent + 1))
            else:
                lines.append(f"{pad}{key}: {_scalar(value)}")
        return "\n".join(lines)
    if isinstance(data, list):
        if not data:
            return f"{pad}(none)"
        return "\n".join(
            (f"{pad}-\n{_pretty(v, indent + 1)}" if isinstance(v, (dict, list)) else f"{pad}- {_scalar(v)}") for v in data
        )
    return pad + _scalar(data)


def _scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return jsonutil.dumps(value)
    return str(value)


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[_scalar(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


# --- shared set-up -------------------------------------------------------------------------------------
def _settings() -> Any:
    from terminal5.settings import Settings

    return Settings.from_env()


def _configure_logs(level: str = "WARNING", *, log_dir: Path | None = None, json_lines: bool = False) -> None:
    from terminal5.logs import configure

    configure(log_dir=log_dir, level=level, json_lines=json_lines, console=True)


async def _gateway(args: argparse.Namespace) -> Any:
    from terminal5.daemon.extra import build_hooks
    from terminal5.gateway import Gateway

    settings = _settings()
    hooks = build_hooks(settings, extra=getattr(args, "plugin", None) or ())
    return await Gateway.open(settings=settings, hooks=hooks)


async def _with_api(args: argparse.Namespace, fn: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    from terminal5.daemon.api import Api

    gw = await _gateway(args)
    try:
        return await fn(gw, Api(gw))
    finally:
        await gw.flush()
        await gw.close()


def _admin() -> Any:
    from terminal5.daemon.tokens import ADMIN

    return ADMIN


# --- verbs ---------------------------------------------------------------------------------------------
def cmd_exchanges(args: argparse.Namespace, out: Out) -> int:
    from terminal5.daemon.api import exchange_json
    from terminal5.daemon.extra import build_hooks

    hooks = build_hooks(_settings(), extra=args.plugin or ())
    data = [exchange_json(hooks.registry.specs[n]) for n in hooks.registry.names()]
    if not data:
        out.emit([], NO_PLUGIN_HELP)
        return 0

    def human(items: list[dict[str, Any]]) -> str:
        blocks = []
        for e in items:
            lines = [f"{e['name']}  ({e['display_name']}, from {e['distribution']})"]
            for market_type in e["market_types"]:
                lines.append(f"  {market_type}:")
                lines.append(f"    order types: {', '.join(e['order_types'].get(market_type, []))}")
                lines.append(f"    parameters:  {', '.join(e['supported_params'].get(market_type, []))}")
            if e["features"]:
                lines.append(f"  capabilities: {', '.join(e['features'])}")
            if e["broker_options"]:
                lines.append(f"  broker options: {', '.join(e['broker_options'])}")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    out.emit(data, human)
    return 0


def _read_secret(prompt: str, stdin: TextIO, *, required: bool = True) -> str | None:
    """A secret from the terminal (no echo) or one line of stdin."""
    if stdin.isatty():
        value = getpass.getpass(prompt)
    else:
        line = stdin.readline()
        value = line.rstrip("\r\n")
    value = value.strip()
    if not value and required:
        raise CliError(f"{prompt.rstrip(': ')} is required (a prompt, or one line on stdin)")
    return value or None


def _options(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CliError(f"--option takes NAME=VALUE, got {item!r}")
        out[name] = value
    return out


def _broker_id(args: argparse.Namespace) -> int:
    """``broker remove ID`` or ``broker remove --broker ID``: one form for every verb, the other accepted."""
    given = {v for v in (args.broker_id, args.broker) if v is not None}
    if len(given) != 1:
        raise CliError("give the broker id: terminal5 broker " + args.broker_cmd + " ID")
    return given.pop()


def _requires_passphrase(args: argparse.Namespace) -> bool:
    """Exchanges whose keys come with a passphrase (Bitget, OKX…) declare it in their ExchangeSpec."""
    from terminal5.daemon.extra import build_hooks

    spec = build_hooks(_settings(), extra=getattr(args, "plugin", None) or ()).registry.specs.get(args.exchange)
    return bool(spec is not None and spec.requires_passphrase)


def cmd_broker(args: argparse.Namespace, out: Out) -> int:
    columns = ("id", "user_id", "exchange", "label", "testnet", "key_hint", "enabled", "base_url")
    if args.broker_cmd == "add":
        options = _options(args.option or [])
        api_key = _read_secret("API key: ", args.stdin)
        api_secret = _read_secret("API secret: ", args.stdin)
        needs_passphrase = _requires_passphrase(args)
        password = (_read_secret("API passphrase: ", args.stdin, required=needs_passphrase)
                    if args.passphrase or needs_passphrase else None)

        async def add(gw: Any, api: Any) -> Any:
            info = await gw.add_broker(
                user_id=args.user, exchange=args.exchange, label=args.label, api_key=api_key, api_secret=api_secret,
                api_password=password, testnet=args.testnet, base_url=args.base_url, options=options,
            )
            result = info.to_dict()
            if args.test:
                result["test"] = await api.test_broker(_admin(), info.id)
                if not result["test"].get("ok"):
                    # Keys that fail their check are not kept: a broker that cannot trade is not "added".
                    await gw.storage.run(gw.brokers.remove, info.id, None, force=True)
                    result["added"] = False
            return result

        data = asyncio.run(_with_api(args, add))
        if data.get("added") is False:
            error = data["test"].get("error") or {}
            reason = f"{error.get('error', 'check failed')}: {error.get('message', '')}".rstrip(": ")
            if out.as_json:
                out.emit(data)
            else:
                args.stderr.write(f"error: the key check failed ({reason}); the broker was not added\n")
            return 1
        out.emit(data, lambda d: f"broker {d['id']} added: {d['exchange']}/{d['label']} for user {d['user_id']} "
                                 f"(key {d['key_hint']})" + (f"\n{_pretty(d['test'])}" if "test" in d else ""))
        return 0
    if args.broker_cmd == "list":
        data = asyncio.run(_with_api(args, lambda gw, api: api.list_brokers(_admin(), args.user)))
        out.emit(data, lambda d: _table(d, columns))
        return 0
    if args.broker_cmd == "remove":
        broker_id = _broker_id(args)

        async def remove(gw: Any, api: Any) -> Any:
            info = await gw.get_broker(broker_id)
            await gw.storage.run(gw.brokers.remove, broker_id, None, force=args.force)
            return {"removed": info.to_dict()}

        data = asyncio.run(_with_api(args, remove))
        out.emit(data, lambda d: f"broker {d['removed']['id']} removed")
        return 0
    if args.broker_cmd == "test":
        broker_id = _broker_id(args)
        data = asyncio.run(_with_api(args, lambda gw, api: api.test_broker(_admin(), broker_id)))
        out.emit(data, _pretty)
        return 0 if data.get("ok") else 1
    raise CliError("broker needs a sub-command: add, list, remove, test")


def cmd_token(args: argparse.Namespace, out: Out) -> int:
    from terminal5.daemon.tokens import TokenStore

    async def run(gw: Any, api: Any) -> Any:
        store = TokenStore(gw.storage)
        if args.tok_cmd == "create":
            if args.admin == (args.user is not None):
                raise CliError("give exactly one of --user N or --admin")
            info, token = await gw.storage.run(store.create, user_id=args.user, admin=args.admin, label=args.label)
            return {**info.to_dict(), "token": token}
        if args.tok_cmd == "list":
            return [t.to_dict() for t in await gw.storage.run(store.list, args.user)]
        if args.tok_cmd == "revoke":
            return (await gw.storage.run(store.revoke, args.token_id)).to_dict()
        raise CliError("token needs a sub-command: create, list, revoke")

    data = asyncio.run(_with_api(args, run))
    if args.tok_cmd == "create":
        out.emit(data, lambda d: f"{d['token']}\n(token {d['id']} for "
                                 f"{'admin' if d['admin'] else 'user ' + str(d['user_id'])}: shown once, store it now)")
    elif args.tok_cmd == "list":
        out.emit(data, lambda d: _table(d, ("id", "user_id", "admin", "label", "revoked", "created_at")))
    else:
        out.emit(data, lambda d: f"token {d['id']} revoked")
    return 0


ORDER_COLUMNS = ("broker_id", "client_order_id", "id", "symbol", "side", "type", "quantity", "price", "filled",
                 "status", "source")


def _order_line(o: dict[str, Any]) -> str:
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


def _running_daemon() -> dict[str, Any] | None:
    from terminal5.daemon.localdoor import find

    return find(_settings().data_dir, os.environ.get("TERMINAL5_HEARTBEAT_NAME", "terminal5"))


async def _place_through(daemon: dict[str, Any], body: dict[str, Any]) -> Any:
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
        daemon = None if args.no_daemon else _running_daemon()
        if daemon is not None:
            import aiohttp

            try:
                data = asyncio.run(_place_through(daemon, body))
            except aiohttp.ClientConnectorError:
                pass  # never connected, so nothing was sent: the local gateway places it
            else:
                out.emit(data, lambda d: _order_line(d) + f"\n(through the daemon at {daemon['url']})")
                return 0
        data = asyncio.run(_with_api(args, lambda gw, api: api.place_order(_admin(), body)))
        out.emit(data, _order_line)
        return 0
    if args.order_cmd in ("get", "cancel"):
        if (args.client_order_id is None) == (args.order_id is None):
            raise CliError("give exactly one of --client-order-id or --order-id")
        key, by = (args.client_order_id, "client_order_id") if args.client_order_id else (args.order_id, "order_id")
        if args.order_cmd == "get":
            data = asyncio.run(_with_api(args, lambda gw, api: api.get_order(
                _admin(), args.broker, key, by=by, refresh=args.refresh, symbol=args.symbol)))
        else:
            data = asyncio.run(_with_api(args, lambda gw, api: api.cancel_order(
                _admin(), args.broker, key, by=by, symbol=args.symbol)))
        out.emit(data, _order_line)
        return 0
    if args.order_cmd == "list":
        filters = {k: v for k, v in {
            "broker_id": args.broker, "user_id": args.user, "status": args.status, "symbol": args.symbol,
            "since": args.since, "until": args.until, "limit": args.limit, "offset": args.offset,
        }.items() if v is not None}
        data = asyncio.run(_with_api(args, lambda gw, api: api.list_orders(_admin(), filters)))
        out.emit(data, lambda d: _table(d["orders"], ORDER_COLUMNS))
        return 0
    raise CliError("order needs a sub-command: place, get, cancel, list")


def cmd_reconcile(args: argparse.Namespace, out: Out) -> int:
    from terminal5.daemon.reconcile import Reconciler

    async def run(gw: Any, api: Any) -> Any:
        reconciler = Reconciler(gw)
        if args.broker is not None:
            return [await reconciler.reconcile_broker(args.broker)]
        return await reconciler.reconcile_all()

    data = asyncio.run(_with_api(args, run))

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
                return await api.kill_broker(_admin(), args.broker, args.reason)
            return await api.kill_user(_admin(), args.user, args.reason)
        if args.broker is not None:
            return await api.enable_broker(_admin(), args.broker)
        return await api.enable_user(_admin(), args.user)

    data = asyncio.run(_with_api(args, run))

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


def cmd_health(args: argparse.Namespace, out: Out) -> int:
    from terminal5.daemon.heartbeat import HeartbeatStore, render_table
    from terminal5.storage.database import Storage

    settings = _settings()

    async def run() -> Any:
        storage = await Storage.open(settings.database_url)
        redis = None
        try:
            if settings.redis_url:
                import redis as redis_lib

                redis = redis_lib.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
            beats = await HeartbeatStore(storage, redis).table(expected=tuple(args.expect or ()))
            return [b.to_dict() for b in beats], render_table(beats)
        finally:
            if redis is not None:
                redis.close()
            await storage.close()

    data, text = asyncio.run(run())
    out.emit(data, text)
    return 0 if all(b["status"] == "UP" for b in data) and data else 1


def cmd_watchdog(args: argparse.Namespace, out: Out) -> int:
    from terminal5.alerts import AlertBus
    from terminal5.daemon.discord import DiscordSink
    from terminal5.daemon.heartbeat import HeartbeatStore
    from terminal5.daemon.watchdog import Watchdog, WatchdogBusy
    from terminal5.storage.database import Storage

    command = list(args.daemon_command or [])
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CliError("give the daemon command after --, e.g. terminal5 watchdog -- terminal5 run")
    settings = _settings()
    sink = DiscordSink(settings.discord_webhook) if settings.discord_webhook else None
    bus = AlertBus(sink.alert if sink else (lambda alert: None))
    pid_file = Path(args.pid_file) if args.pid_file else settings.data_dir / f"{args.name}.pid"

    async def run() -> dict[str, Any]:
        storage = await Storage.open(settings.database_url)
        redis = None
        if settings.redis_url:
            import redis as redis_lib

            redis = redis_lib.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        dog = Watchdog(command, HeartbeatStore(storage, redis), name=args.name, pid_file=pid_file,
                       interval=args.interval, stale_after=args.stale_after, startup_grace=args.startup_grace,
                       backoff=args.backoff, max_backoff=args.max_backoff, alert=bus.raise_)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await dog.run(max_iterations=args.max_iterations, max_seconds=args.max_seconds, stop=stop)
        finally:
            if redis is not None:
                redis.close()
            await storage.close()
        return {"starts": dog.starts, "restarts": dog.restarts}

    try:
        data = asyncio.run(run())
    except WatchdogBusy as exc:
        raise Terminal5Error(str(exc)) from None
    out.emit(data, lambda d: f"watchdog stopped: {d['starts']} start(s), {d['restarts']} restart(s)")
    return 0


def cmd_migrate(args: argparse.Namespace, out: Out) -> int:
    from terminal5.storage.database import Storage, redact_url

    settings = _settings()

    async def run() -> int:
        storage = await Storage.open(settings.database_url)
        try:
            from terminal5.storage.migrations import migrate

            return await storage.run(migrate, storage)
        finally:
            await storage.close()

    version = asyncio.run(run())
    out.emit({"database": redact_url(settings.database_url), "schema_version": version},
             lambda d: f"{d['database']}: schema v{d['schema_version']}")
    return 0


def cmd_keygen(args: argparse.Namespace, out: Out) -> int:
    from terminal5.secrets import generate_key

    key = generate_key()
    out.emit({"master_key": key}, key)
    return 0


def cmd_simulator(args: argparse.Namespace, out: Out) -> int:
    """``simulate``: an installed plugin's native simulator (``register_simulators``; the template plugin
    registers the loopback exchange, the default)."""
    from terminal5.daemon.extra import build_hooks
    from terminal5.daemon.simulator import parse_accounts, run
    from terminal5.testing.fake_exchange import Account, FaultRule, load_accounts

    try:
        accounts = [Account(api_key=k, api_secret=v) for k, v in parse_accounts(args.account or []).items()]
        if args.accounts:
            accounts += load_accounts(args.accounts)
        faults = []
        if args.faults:
            text = Path(args.faults).read_text() if not args.faults.lstrip().startswith(("[", "{")) else args.faults
            data = jsonutil.loads(text)
            faults = [FaultRule.from_dict(item) for item in (data if isinstance(data, list) else [data])]
    except (OSError, ValueError, TypeError) as exc:
        raise CliError(str(exc)) from None
    factories: dict[str, Any] = build_hooks(_settings(), extra=args.plugin or ()).simulators()
    if args.exchange not in factories:
        raise CliError(f"no simulator for {args.exchange!r} (available: {', '.join(sorted(factories)) or 'none'}); "
                       "install the exchange's plugin (plugins/template serves the loopback exchange)")
    sim = factories[args.exchange](accounts=accounts, port=args.port, max_seconds=args.max_seconds,
                                   faults=faults, seed=args.seed)
    sim.ensure_account()

    def announce(sim: Any) -> None:
        info = {"exchange": sim.name, "url": sim.url, "max_seconds": args.max_seconds,
                "control": f"{sim.url}/_sim/records",
                "accounts": [{"api_key": a.api_key, "api_secret": a.api_secret, **({"extra": a.extra} if a.extra else {})}
                             for a in sim.accounts.values()]}
        out.emit(info, lambda d: f"{d['exchange']} simulator on {d['url']} (stops after {d['max_seconds']:.0f}s; "
                 f"records: {d['control']})\n"
                 + "\n".join(f"  account: key {a['api_key']}  secret {a['api_secret']}"
                             + "".join(f"  {k} {v}" for k, v in a.get("extra", {}).items()) for a in d["accounts"]))
        out.stdout.flush()

    requests = asyncio.run(run(sim, announce))
    out.note(f"simulator stopped after {requests} request(s)")
    return 0


def cmd_run(args: argparse.Namespace, out: Out) -> int:
    from terminal5.daemon.service import Daemon
    from terminal5.daemon.streams import StreamConsumer

    settings = _settings()
    _configure_logs(settings.log_level, log_dir=settings.log_dir, json_lines=settings.log_json)

    async def run() -> None:
        console = (lambda line: None) if out.as_json else (lambda line: (out.stdout.write(line + "\n"),
                                                                          out.stdout.flush()))
        daemon = await Daemon.open(
            settings, extra=args.plugin or (), heartbeat_name=args.heartbeat_name, console=console,
            reconcile_interval=args.reconcile_interval,
        )
        if settings.redis_url and not args.no_streams:
            daemon.streams = StreamConsumer.from_settings(daemon.api, daemon.verify_token, settings,
                                                          metrics=daemon.metrics)
        try:
            await daemon.start(host=args.host, port=args.port, reconcile=not args.no_reconcile)
            if out.as_json:
                out.emit({"url": f"http://{args.host or settings.http_host}:{daemon.port}",
                          "brokers": [r.to_dict() for r in daemon.readiness]})
                out.stdout.flush()
            await daemon.run_until_stopped(args.max_seconds)
        finally:
            await daemon.shutdown()

    asyncio.run(run())
    return 0


# --- the parser ------------------------------------------------------------------------------------------
ORDER_TYPES = ("market", "limit", "limit_maker", "stop_loss", "stop_loss_limit", "take_profit", "take_profit_limit")
STATUSES = ("open", "closed", "cancelled", "UNKNOWN", "pending_submit", "rejected")
TIME_FORMAT = "ISO-8601 with a timezone, e.g. 2026-01-21T14:32:15Z"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    common.add_argument("--plugin", action="append", default=argparse.SUPPRESS, metavar="MODULE:ATTR",
                        help="load a plugin object by import path (added to TERMINAL5_PLUGINS_EXTRA)")
    parser = argparse.ArgumentParser(prog="terminal5", description="Terminal 5 exchange gateway", epilog=EPILOG,
                                     parents=[common])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_: str, **kw: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_, parents=[common], epilog=EPILOG, **kw)

    def action(subs: Any, name: str, help_: str) -> argparse.ArgumentParser:
        return subs.add_parser(name, help=help_, description=help_, parents=[common], epilog=EPILOG)

    def broker_option(p: argparse.ArgumentParser, *, required: bool = False, help_: str = "the broker id") -> None:
        p.add_argument("--broker", type=int, required=required, metavar="ID", help=help_)

    p = add("run", "run the daemon (HTTP API, Redis Streams when configured, heartbeat, reconciliation)")
    p.add_argument("--host", help="bind address (default TERMINAL5_HTTP_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default TERMINAL5_HTTP_PORT or 8555; 0 = any free port)")
    p.add_argument("--max-seconds", type=float, metavar="SECONDS", help="stop by itself after this many seconds")
    p.add_argument("--heartbeat-name", default=os.environ.get("TERMINAL5_HEARTBEAT_NAME", "terminal5"),
                   metavar="NAME", help="the name this daemon's heartbeat is published under (default %(default)s)")
    p.add_argument("--reconcile-interval", type=float, metavar="SECONDS",
                   help="seconds between reconciliations (default TERMINAL5_RECONCILE_INTERVAL or 60)")
    p.add_argument("--no-reconcile", action="store_true", help="no reconciliation loop")
    p.add_argument("--no-streams", action="store_true", help="no Redis Streams front door even with Redis")
    p.set_defaults(func=cmd_run)

    add("exchanges", "list the exchanges of the installed plugins").set_defaults(func=cmd_exchanges)

    p = add("broker", "manage brokers (exchange accounts): add, list, remove, test")
    bsub = p.add_subparsers(dest="broker_cmd", metavar="ACTION")
    b = action(bsub, "add", "add a broker; the keys are read from a prompt or stdin (key line, secret line, "
                            "[passphrase line]), never from the command line")
    b.add_argument("--user", type=int, required=True, metavar="USER_ID", help="the user who owns the broker")
    b.add_argument("--exchange", required=True, metavar="NAME", help="an exchange of `terminal5 exchanges`")
    b.add_argument("--label", required=True, help="a name for the broker, unique per user")
    b.add_argument("--testnet", action="store_true", help="use the exchange's testnet URLs")
    b.add_argument("--base-url", metavar="URL",
                   help="override the exchange URL (a simulator, a proxy): one URL for every market type, or "
                        "spot=URL,swap=URL (the broker then trades those market types only)")
    b.add_argument("--option", action="append", metavar="NAME=VALUE",
                   help="a plugin broker option (see `terminal5 exchanges`); repeatable")
    b.add_argument("--passphrase", action="store_true", help="also read an API passphrase (third line)")
    b.add_argument("--test", action="store_true",
                   help="check the keys right after adding; when the check fails the broker is not added and "
                        "the exit status is 1")
    b = action(bsub, "list", "list brokers (never a secret: only the key's last characters)")
    b.add_argument("--user", type=int, metavar="USER_ID", help="only this user's brokers")
    for name, help_ in (("remove", "remove a broker (refused while it has open, pending or unknown orders)"),
                        ("test", "check a broker's keys; on futures, the position and margin modes")):
        b = action(bsub, name, help_)
        b.add_argument("broker_id", type=int, nargs="?", metavar="ID", help="the broker id")
        broker_option(b, help_="the broker id (same as ID)")
        if name == "remove":
            b.add_argument("--force", action="store_true",
                           help="remove even with live orders (they stay on the exchange, orphaned)")
    p.set_defaults(func=cmd_broker)

    p = add("token", "manage API tokens: create, list, revoke")
    tsub = p.add_subparsers(dest="tok_cmd", metavar="ACTION")
    t = action(tsub, "create", "create a token for one user or an admin (shown once)")
    who = t.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", type=int, metavar="USER_ID", help="a token acting as this user only")
    who.add_argument("--admin", action="store_true", help="an admin token (sees and acts for every user)")
    t.add_argument("--label", default="", help="a note to recognise the token by")
    t = action(tsub, "list", "list tokens (never the token itself)")
    t.add_argument("--user", type=int, metavar="USER_ID", help="only this user's tokens")
    t = action(tsub, "revoke", "revoke a token")
    t.add_argument("token_id", type=int, metavar="TOKEN_ID", help="the token's id (see `terminal5 token list`)")
    p.set_defaults(func=cmd_token)

    p = add("order", "place, get, cancel, list orders")
    osub = p.add_subparsers(dest="order_cmd", metavar="ACTION")
    o = action(osub, "place", "place an order (idempotent on --client-order-id); goes through the running "
                              "daemon when one is up")
    unless = " (required unless --data)"
    broker_option(o, help_="the broker id" + unless)
    o.add_argument("--symbol", help="unified symbol, e.g. BTC/USDT or BTC/USDT:USDT" + unless)
    o.add_argument("--side", choices=("buy", "sell"), help="buy or sell" + unless)
    o.add_argument("--type", choices=ORDER_TYPES, help="order type" + unless)
    o.add_argument("--quantity", metavar="DECIMAL", help="amount in base currency, a decimal like 0.001" + unless)
    o.add_argument("--price", metavar="DECIMAL", help="limit price (limit types)")
    o.add_argument("--stop-price", metavar="DECIMAL", help="trigger price (stop and take-profit types)")
    o.add_argument("--client-order-id", metavar="ID", help="your id for the order: 1-64 of A-Z a-z 0-9 . _ : / -")
    o.add_argument("--time-in-force", choices=("GTC", "IOC", "FOK", "GTD"), help="time in force")
    o.add_argument("--source", choices=("manual", "strategy", "webhook"), help="who sends it (default manual)")
    o.add_argument("--reduce-only", action="store_true", help="only reduce a position (futures)")
    o.add_argument("--data", metavar="JSON", help="the whole unified request as JSON ('-' reads stdin)")
    o.add_argument("--no-daemon", action="store_true",
                   help="place with a gateway of this command even when a daemon runs")
    for name in ("get", "cancel"):
        o = action(osub, name, f"{name} one order, by client order id or exchange order id")
        broker_option(o, required=True)
        key = o.add_mutually_exclusive_group(required=True)
        key.add_argument("--client-order-id", metavar="ID", help="the order's client order id")
        key.add_argument("--order-id", metavar="ID", help="the exchange's order id")
        o.add_argument("--symbol", help="unified symbol; needed when the order is not stored")
        if name == "get":
            o.add_argument("--refresh", action="store_true", help="ask the exchange, not only the database")
    o = action(osub, "list", "list stored orders, newest first")
    broker_option(o, help_="only this broker's orders")
    o.add_argument("--user", type=int, metavar="USER_ID", help="only this user's orders")
    o.add_argument("--status", choices=STATUSES, help="only orders in this status")
    o.add_argument("--symbol", help="only this unified symbol")
    o.add_argument("--since", metavar="TIME", help=f"created at or after TIME, {TIME_FORMAT}")
    o.add_argument("--until", metavar="TIME", help=f"created before TIME, {TIME_FORMAT}")
    o.add_argument("--limit", type=int, metavar="N", help="at most N orders (1-500, default 100)")
    o.add_argument("--offset", type=int, metavar="N", help="skip the first N orders (paging)")
    p.set_defaults(func=cmd_order)

    p = add("reconcile", "reconcile exchange open orders with the database, then validate stored orders")
    broker_option(p, help_="one broker (default: every enabled broker)")
    p.set_defaults(func=cmd_reconcile)

    for name, help_ in (("kill", "kill switch: refuse new orders and cancel every open order of a broker or user"),
                        ("enable", "lift the kill switch of a broker or of every broker of a user")):
        p = add(name, help_)
        target = p.add_mutually_exclusive_group(required=True)
        target.add_argument("--broker", type=int, metavar="ID", help="one broker")
        target.add_argument("--user", type=int, metavar="USER_ID", help="every broker of this user")
        if name == "kill":
            p.add_argument("--reason", help="why, stored with the broker and sent in the alert")
        p.set_defaults(func=cmd_kill)

    p = add("health", "heartbeat table of every terminal (UP < 30 s, STALE < 60 s, DOWN)")
    p.add_argument("--expect", action="append", metavar="NAME", help="also list this terminal (DOWN when silent)")
    p.set_defaults(func=cmd_health)

    p = add("watchdog", "restart the daemon command when its heartbeat is stale",
            usage="terminal5 watchdog [options] -- COMMAND [ARGS...]")
    p.add_argument("--name", default="terminal5", help="the heartbeat to watch (default %(default)s)")
    p.add_argument("--interval", type=float, default=10.0, metavar="SECONDS",
                   help="seconds between heartbeat checks (default %(default)s)")
    p.add_argument("--stale-after", type=float, default=60.0, metavar="SECONDS",
                   help="a heartbeat older than this many seconds means stuck: restart (default %(default)s)")
    p.add_argument("--startup-grace", type=float, default=30.0, metavar="SECONDS",
                   help="seconds a fresh start may take before its first heartbeat (default %(default)s)")
    p.add_argument("--backoff", type=float, default=1.0, metavar="SECONDS",
                   help="first wait before a restart, doubled each time (default %(default)s)")
    p.add_argument("--max-backoff", type=float, default=300.0, metavar="SECONDS",
                   help="longest wait between restarts (default %(default)s)")
    p.add_argument("--pid-file", metavar="PATH", help="where the daemon's pid is kept (default <data dir>/NAME.pid)")
    p.add_argument("--max-iterations", type=int, metavar="N", help="stop after N checks")
    p.add_argument("--max-seconds", type=float, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument("daemon_command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                   help="the daemon command, after --, e.g. -- terminal5 run")
    p.set_defaults(func=cmd_watchdog)

    add("migrate", "create or upgrade the database schema").set_defaults(func=cmd_migrate)
    add("keygen", "print a new master key (TERMINAL5_MASTER_KEY)").set_defaults(func=cmd_keygen)

    p = add("simulate", "serve a simulated exchange on 127.0.0.1 (loopback, or an installed plugin's own)",
            aliases=["simulator"])
    p.add_argument("--exchange", default="loopback", metavar="NAME",
                   help="loopback (default) or an installed exchange whose plugin ships a simulator, e.g. binance")
    p.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    p.add_argument("--account", action="append", metavar="KEY:SECRET", help="a test account (default: one random)")
    p.add_argument("--accounts", metavar="FILE", help="JSON list of {api_key, api_secret, extra?, balances?}")
    p.add_argument("--faults", metavar="FILE|JSON", help="fault rules to start with (see /_sim/faults)")
    p.add_argument("--seed", type=int, help="seed of the probabilistic faults")
    p.add_argument("--max-seconds", type=float, default=3600.0, metavar="SECONDS",
                   help="stop by itself after this many seconds (default %(default)s)")
    p.set_defaults(func=cmd_simulator)
    return parser


def error_text(exc: Terminal5Error) -> str:
    """``Type: message``: the field is named once (the message of a bad request already starts with it)."""
    return f"{exc.kind}: {exc}"


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    args.json = getattr(args, "json", False)
    args.stderr = stderr
    args.plugin = getattr(args, "plugin", None)
    args.stdin = stdin
    out = Out(args.json, stdout, stderr)
    if not getattr(args, "func", None):
        parser.print_help(stdout)
        return 2
    if args.command not in ("run",):
        _configure_logs(os.environ.get("TERMINAL5_CLI_LOG_LEVEL", "WARNING"))
    try:
        return args.func(args, out)
    except CliError as exc:
        stderr.write(f"terminal5: {exc}\n")
        return 2
    except Terminal5Error as exc:
        if args.json:
            stdout.write(jsonutil.dumps(exc.to_dict()) + "\n")
        else:
            stderr.write(f"error: {error_text(exc)}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # no traceback for people; the type and message say what broke
        stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())

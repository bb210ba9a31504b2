"""Verbs that run or look after the service: ``run``, ``health``, ``watchdog``, ``migrate``, ``keygen``,
``simulator``."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from loguru import logger

from terminal5 import jsonutil
from terminal5.cli.context import configure_logs, load_settings
from terminal5.cli.output import CliError, Out
from terminal5.errors import Terminal5Error


def cmd_health(args: argparse.Namespace, out: Out) -> int:
    from terminal5.daemon.heartbeat import HeartbeatStore, render_table
    from terminal5.storage.database import Storage

    settings = load_settings()

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
    settings = load_settings()
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

    settings = load_settings()

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
    factories: dict[str, Any] = build_hooks(load_settings(), extra=args.plugin or ()).simulators()
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

    settings = load_settings()
    configure_logs(settings.log_level, log_dir=settings.log_dir, json_lines=settings.log_json)

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
    logger.remove()  # the log file's writer thread writes what is queued, then stops
    return 0

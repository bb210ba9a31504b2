"""The command line: every verb, its options and its help."""

from __future__ import annotations

import argparse
import os
from typing import Any

from terminal5.cli.brokers import cmd_broker, cmd_exchanges, cmd_token
from terminal5.cli.operations import cmd_health, cmd_keygen, cmd_migrate, cmd_run, cmd_simulator, cmd_watchdog
from terminal5.cli.orders import cmd_kill, cmd_order, cmd_reconcile

EPILOG = "Configuration comes from TERMINAL5_* environment variables (see README, 'Configuration')."
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

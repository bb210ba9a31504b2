"""Verbs about exchanges and accounts: ``exchanges``, ``broker``, ``token``. Secrets come from a prompt or
stdin, never from argv."""

from __future__ import annotations

import argparse
import asyncio
import getpass
from collections.abc import Sequence
from typing import Any, TextIO

from terminal5.cli.context import admin, load_settings, with_api
from terminal5.cli.output import CliError, Out, pretty, table

NO_PLUGIN_HELP = (
    "no exchange plugin installed.\n"
    "Install one, e.g.  pip install -e plugins/binance   (or plugins/kraken; plugins/template is the loopback\n"
    "exchange that `terminal5 simulator` serves), or load one by import path:\n"
    "  export TERMINAL5_PLUGINS_EXTRA=my_package.plugin"
)



def cmd_exchanges(args: argparse.Namespace, out: Out) -> int:
    from terminal5.daemon.api import exchange_json
    from terminal5.daemon.extra import build_hooks

    hooks = build_hooks(load_settings(), extra=args.plugin or ())
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


def read_secret(prompt: str, stdin: TextIO, *, required: bool = True) -> str | None:
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


def parse_options(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CliError(f"--option takes NAME=VALUE, got {item!r}")
        out[name] = value
    return out


def broker_id_of(args: argparse.Namespace) -> int:
    """``broker remove ID`` or ``broker remove --broker ID``: one form for every verb, the other accepted."""
    given = {v for v in (args.broker_id, args.broker) if v is not None}
    if len(given) != 1:
        raise CliError("give the broker id: terminal5 broker " + args.broker_cmd + " ID")
    return given.pop()


def requires_passphrase(args: argparse.Namespace) -> bool:
    """Exchanges whose keys come with a passphrase (Bitget, OKX…) declare it in their ExchangeSpec."""
    from terminal5.daemon.extra import build_hooks

    spec = build_hooks(load_settings(), extra=getattr(args, "plugin", None) or ()).registry.specs.get(args.exchange)
    return bool(spec is not None and spec.requires_passphrase)


def cmd_broker(args: argparse.Namespace, out: Out) -> int:
    columns = ("id", "user_id", "exchange", "label", "testnet", "key_hint", "enabled", "base_url")
    if args.broker_cmd == "add":
        options = parse_options(args.option or [])
        api_key = read_secret("API key: ", args.stdin)
        api_secret = read_secret("API secret: ", args.stdin)
        needs_passphrase = requires_passphrase(args)
        password = (read_secret("API passphrase: ", args.stdin, required=needs_passphrase)
                    if args.passphrase or needs_passphrase else None)

        async def add(gw: Any, api: Any) -> Any:
            info = await gw.add_broker(
                user_id=args.user, exchange=args.exchange, label=args.label, api_key=api_key, api_secret=api_secret,
                api_password=password, testnet=args.testnet, base_url=args.base_url, options=options,
            )
            result = info.to_dict()
            if args.test:
                result["test"] = await api.test_broker(admin(), info.id)
                if not result["test"].get("ok"):
                    # Keys that fail their check are not kept: a broker that cannot trade is not "added".
                    await gw.remove_broker(info.id, force=True)
                    result["added"] = False
            return result

        data = asyncio.run(with_api(args, add))
        if data.get("added") is False:
            error = data["test"].get("error") or {}
            reason = f"{error.get('error', 'check failed')}: {error.get('message', '')}".rstrip(": ")
            if out.as_json:
                out.emit(data)
            else:
                args.stderr.write(f"error: the key check failed ({reason}); the broker was not added\n")
            return 1
        out.emit(data, lambda d: f"broker {d['id']} added: {d['exchange']}/{d['label']} for user {d['user_id']} "
                                 f"(key {d['key_hint']})" + (f"\n{pretty(d['test'])}" if "test" in d else ""))
        return 0
    if args.broker_cmd == "list":
        data = asyncio.run(with_api(args, lambda gw, api: api.list_brokers(admin(), args.user)))
        out.emit(data, lambda d: table(d, columns))
        return 0
    if args.broker_cmd == "remove":
        broker_id = broker_id_of(args)

        async def remove(gw: Any, api: Any) -> Any:
            info = await gw.get_broker(broker_id)
            await gw.remove_broker(broker_id, force=args.force)
            return {"removed": info.to_dict()}

        data = asyncio.run(with_api(args, remove))
        out.emit(data, lambda d: f"broker {d['removed']['id']} removed")
        return 0
    if args.broker_cmd == "test":
        broker_id = broker_id_of(args)
        data = asyncio.run(with_api(args, lambda gw, api: api.test_broker(admin(), broker_id)))
        out.emit(data, pretty)
        return 0 if data.get("ok") else 1
    raise CliError("broker needs a sub-command: add, list, remove, test")


def cmd_token(args: argparse.Namespace, out: Out) -> int:
    async def run(gw: Any, api: Any) -> Any:
        if args.tok_cmd == "create":
            if args.admin == (args.user is not None):
                raise CliError("give exactly one of --user N or --admin")
            info, token = await gw.create_token(user_id=args.user, admin=args.admin, label=args.label)
            return {**info.to_dict(), "token": token}
        if args.tok_cmd == "list":
            return [t.to_dict() for t in await gw.list_tokens(args.user)]
        if args.tok_cmd == "revoke":
            return (await gw.revoke_token(args.token_id)).to_dict()
        raise CliError("token needs a sub-command: create, list, revoke")

    data = asyncio.run(with_api(args, run))
    if args.tok_cmd == "create":
        out.emit(data, lambda d: f"{d['token']}\n(token {d['id']} for "
                                 f"{'admin' if d['admin'] else 'user ' + str(d['user_id'])}: shown once, store it now)")
    elif args.tok_cmd == "list":
        out.emit(data, lambda d: table(d, ("id", "user_id", "admin", "label", "revoked", "created_at")))
    else:
        out.emit(data, lambda d: f"token {d['id']} revoked")
    return 0

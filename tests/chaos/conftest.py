"""Fixtures of the chaos suite: a fresh data dir and master key, brokers and tokens written into the
daemon's database before it starts, and the simulator's request log (for the Retry-After check)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from terminal5.gateway import Gateway
from terminal5.plugins import load_hooks
from terminal5.secrets import generate_key


@attrs.define
class Setup:
    """What the test prepared in the daemon's database: broker ids, their keys, tokens per user."""

    broker_keys: dict[int, str]
    tokens: dict[int, str]  # user id -> token
    admin: str
    owners: dict[int, int]  # broker id -> user id


async def prepare(database_url: str, data_dir: Path, master_key: str,
                  brokers: Sequence[tuple[Any, ...]], plugins: Sequence[str]) -> Setup:
    """``brokers``: (user id, exchange, api key, api secret, base url[, options]) each; a token per user and
    one admin."""
    hooks = load_hooks(allow=frozenset(plugins))
    gw = await Gateway.open(database_url=database_url, master_key=master_key, data_dir=data_dir, hooks=hooks)
    try:
        setup = Setup(broker_keys={}, tokens={}, admin="", owners={})
        for n, (user, exchange, key, secret, url, *options) in enumerate(brokers):
            info = await gw.add_broker(user_id=user, exchange=exchange, label=f"chaos-{n}", api_key=key,
                                       api_secret=secret, base_url=url, options=options[0] if options else None)
            setup.broker_keys[info.id] = key
            setup.owners[info.id] = user
        for user in sorted({b[0] for b in brokers}):
            _, setup.tokens[user] = await gw.create_token(user_id=user)
        _, setup.admin = await gw.create_token(user_id=None, admin=True)
        return setup
    finally:
        await gw.close()


def new_master_key() -> str:
    return generate_key()


def rich() -> dict[str, Decimal]:
    """Balances no burst of this suite exhausts."""
    return {a: Decimal(v) for a, v in
            {"USDT": "100000000", "BTC": "100000", "ETH": "1000000", "USD": "100000000", "XXBT": "100000",
             "ZUSD": "100000000", "XBT": "100000"}.items()}

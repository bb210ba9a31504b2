"""Fixtures for the daemon: a loopback exchange, a daemon on a temporary SQLite database with two users'
brokers, tokens for each user and an admin, an aiohttp test client, and a Redis client with its own key
prefix."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import terminal5_template.plugin as loopback
from aiohttp.test_utils import TestClient, TestServer

from terminal5.daemon.service import Daemon
from terminal5.daemon.tokens import TokenStore
from terminal5.secrets import generate_key
from terminal5.settings import Settings
from terminal5.testing.loopback_server import LoopbackExchange
from terminal5.testing.pytest_plugin import skip_or_fail

REDIS_URL = os.environ.get("TERMINAL5_TEST_REDIS", "redis://127.0.0.1:6379/0")
ACCOUNTS = {"key-user-one": "secret-one", "key-user-two": "secret-two", "key-user-bad": "secret-bad"}


def make_settings(tmp: Path, **changes: Any) -> Settings:
    base = Settings(
        data_dir=tmp,
        database_url=f"sqlite:///{tmp}/t5.db",
        master_key=generate_key(),
        log_dir=None,
        http_timeout=2.0,
        reconcile_interval=3600.0,
        heartbeat_interval=0.2,
        unknown_outcome_grace=0.0,
    )
    return attrs.evolve(base, **changes)


@attrs.define
class World:
    daemon: Daemon
    exchange: LoopbackExchange
    client: TestClient
    brokers: dict[str, int]
    tokens: dict[str, str]
    console: list[str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def exchange() -> AsyncIterator[LoopbackExchange]:
    async with LoopbackExchange(ACCOUNTS) as ex:
        yield ex


async def build_world(tmp_path: Path, exchange: LoopbackExchange, **settings: Any) -> tuple[Daemon, dict, dict, list]:
    console: list[str] = []
    daemon = await Daemon.open(
        make_settings(tmp_path, **settings),
        plugins=[loopback],
        load_entry_points=False,
        lookup_delays=(0.05, 0.1),
        console=console.append,
    )
    gw = daemon.gw
    one = await gw.add_broker(user_id=1, exchange="loopback", label="one", api_key="key-user-one",
                              api_secret="secret-one", base_url=exchange.url)
    two = await gw.add_broker(user_id=2, exchange="loopback", label="two", api_key="key-user-two",
                              api_secret="secret-two", base_url=exchange.url)
    store = TokenStore(gw.storage)
    tokens = {}
    for name, kwargs in (("user1", {"user_id": 1}), ("user2", {"user_id": 2}), ("admin", {"user_id": None, "admin": True})):
        _, tokens[name] = await gw.storage.run(store.create, **kwargs)
    return daemon, {"one": one.id, "two": two.id}, tokens, console


@pytest.fixture
async def world(tmp_path: Path, exchange: LoopbackExchange) -> AsyncIterator[World]:
    daemon, brokers, tokens, console = await build_world(tmp_path, exchange)
    client = TestClient(TestServer(daemon.app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield World(daemon=daemon, exchange=exchange, client=client, brokers=brokers, tokens=tokens, console=console)
    finally:
        await client.close()
        await daemon.shutdown(drain_timeout=5)


def order_body(broker_id: int, cid: str, **extra: Any) -> dict[str, Any]:
    body = {"broker_id": broker_id, "symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": "0.001",
            "price": "43000.10", "client_order_id": cid}
    body.update(extra)
    return body


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    """The CI Redis (``REDIS_URL``); ``redis.test_prefix`` prefixes the test's keys, deleted afterwards."""
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        skip_or_fail(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    prefix = f"t5test:{uuid.uuid4().hex[:10]}"
    client.test_prefix = prefix  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()

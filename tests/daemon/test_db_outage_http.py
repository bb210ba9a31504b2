"""The HTTP front door during a database outage: typed 503s saying whether the order was sent, never a bare
500, and service again once the database is back, without restarting the daemon (issue 10, item 3)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from private_postgres import PrivatePostgres, private_postgres  # noqa: F401  (fixture)

from terminal5.testing.loopback_server import LoopbackExchange

from .conftest import World, build_world, order_body


@pytest.fixture
async def pg_world(
    tmp_path: Path, exchange: LoopbackExchange, private_postgres: PrivatePostgres  # noqa: F811
) -> AsyncIterator[tuple[World, PrivatePostgres]]:
    daemon, brokers, tokens, console = await build_world(tmp_path, exchange, database_url=private_postgres.url)
    client = TestClient(TestServer(daemon.app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield World(daemon=daemon, exchange=exchange, client=client, brokers=brokers, tokens=tokens,
                    console=console), private_postgres
    finally:
        await client.close()
        await daemon.shutdown(drain_timeout=5)


async def test_postgres_outage_gives_typed_503s_then_service_resumes(pg_world: tuple[World, PrivatePostgres]) -> None:
    world, server = pg_world
    one = world.brokers["one"]
    resp = await world.client.post("/v1/orders", json=order_body(one, "http-pg-1"), headers=world.auth("user1"))
    assert resp.status == 200

    server.stop()
    resp = await world.client.post("/v1/orders", json=order_body(one, "http-pg-2"), headers=world.auth("user1"))
    assert resp.status == 503
    body = await resp.json()
    assert body["error"] == "DatabaseUnavailable" and body["order_sent"] is False
    assert resp.headers.get("Retry-After")
    assert world.exchange.attempts["http-pg-2"] == 0
    for path in ("/v1/orders", f"/v1/brokers/{one}", f"/v1/brokers/{one}/orders/http-pg-1"):
        other = await world.client.get(path, headers=world.auth("user1"))
        assert other.status == 503 and (await other.json())["error"] == "DatabaseUnavailable"
    health = await world.client.get("/health")
    assert health.status == 503

    server.start()
    resp = await world.client.post("/v1/orders", json=order_body(one, "http-pg-2"), headers=world.auth("user1"))
    assert resp.status == 200 and (await resp.json())["status"] == "open"
    assert world.exchange.attempts["http-pg-2"] == 1


async def test_sqlite_locked_gives_a_typed_503_saying_the_order_was_not_sent(world: World, tmp_path: Path) -> None:
    gw = world.daemon.gw
    await gw.storage.run(lambda: gw.storage.db.execute_sql("PRAGMA busy_timeout = 100"))
    locker = sqlite3.connect(tmp_path / "t5.db", isolation_level=None, timeout=5)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        resp = await world.client.post("/v1/orders", json=order_body(world.brokers["one"], "http-lite-1"),
                                       headers=world.auth("user1"))
        assert resp.status == 503
        body = await resp.json()
        assert body["error"] == "DatabaseUnavailable" and body["order_sent"] is False
        assert body["client_order_id"] == "http-lite-1"
        locker.execute("ROLLBACK")
        resp = await world.client.post("/v1/orders", json=order_body(world.brokers["one"], "http-lite-1"),
                                       headers=world.auth("user1"))
        assert resp.status == 200
    finally:
        locker.close()

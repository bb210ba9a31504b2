"""The Redis Streams front door survives a Redis flush and a Redis restart; a clean shutdown leaves no
false ERROR, no heartbeat that still says UP, and no request entry (with its token) behind.

Every test runs on a private ``redis-server`` (see ``private_redis``): the shared one is never flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from terminal5.daemon.heartbeat import KEY_PREFIX
from terminal5.daemon.service import Daemon
from terminal5.daemon.streams import StreamConsumer, request
from terminal5.testing.captured_logs import captured_logs
from terminal5.testing.loopback_server import LoopbackExchange

from .conftest import build_world, order_body
from .private_redis import PrivateRedis, private_redis  # noqa: F401  (fixture)

pytestmark = pytest.mark.redis


def aclient(url: str) -> Any:
    import redis.asyncio as aredis

    return aredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


@pytest.fixture
async def daemon(tmp_path: Path, exchange: LoopbackExchange, private_redis: PrivateRedis) -> AsyncIterator[Daemon]:  # noqa: F811
    d, brokers, tokens, _ = await build_world(tmp_path, exchange, redis_url=private_redis.url, heartbeat_interval=0.1)
    d.test_brokers, d.test_tokens = brokers, tokens  # type: ignore[attr-defined]
    try:
        yield d
    finally:
        if not d.stop_event.is_set():
            await d.shutdown(drain_timeout=5)


def consumer_of(d: Daemon, url: str) -> StreamConsumer:
    return StreamConsumer(d.api, d.verify_token, aclient(url), block_ms=100, claim_every=0.2)


@contextlib.asynccontextmanager
async def consuming(d: Daemon, url: str) -> AsyncIterator[StreamConsumer]:
    """A stream consumer running (60 s at most) while the block runs, stopped after it."""
    consumer = consumer_of(d, url)
    stop = asyncio.Event()
    task = asyncio.ensure_future(consumer.run(stop, max_seconds=60))
    try:
        yield consumer
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await consumer.stop()


async def ask(url: str, d: Daemon, op: str, body: dict[str, Any]) -> dict[str, Any]:
    client = aclient(url)
    try:
        return await request(client, op, body, token=d.test_tokens["user1"], timeout=10)  # type: ignore[attr-defined]
    finally:
        await client.aclose()


async def test_consumer_group_is_recreated_after_flushdb_and_restart(
    daemon: Daemon, private_redis: PrivateRedis  # noqa: F811
) -> None:
    one = daemon.test_brokers["one"]  # type: ignore[attr-defined]
    with captured_logs("WARNING") as records:
        async with consuming(daemon, private_redis.url):
            first = await ask(private_redis.url, daemon, "place_order", order_body(one, "flush-1"))
            assert first["ok"] and first["body"]["client_order_id"] == "flush-1"

            admin = aclient(private_redis.url)
            await admin.flushdb()  # the group goes with the stream
            await admin.aclose()
            second = await ask(private_redis.url, daemon, "place_order", order_body(one, "flush-2"))
            assert second["ok"] and second["body"]["client_order_id"] == "flush-2"

            await asyncio.to_thread(private_redis.restart)  # an empty Redis, every connection dropped
            third = await ask(private_redis.url, daemon, "place_order", order_body(one, "flush-3"))
            assert third["ok"] and third["body"]["client_order_id"] == "flush-3"
    recreated = [r for r in records if "consumer group" in r["message"] and "recreat" in r["message"]]
    assert recreated, [r["message"] for r in records]  # the flush is said, not silent


async def test_answered_requests_are_trimmed_so_no_token_stays(daemon: Daemon, private_redis: PrivateRedis) -> None:  # noqa: F811
    token = daemon.test_tokens["user1"]  # type: ignore[attr-defined]
    async with consuming(daemon, private_redis.url) as consumer:
        for i in range(3):
            reply = await ask(private_redis.url, daemon, "list_orders", {"limit": i + 1})
            assert reply["ok"]
    client = aclient(private_redis.url)
    try:
        left = await client.xrange(consumer.stream)
        assert left == []
        assert (await client.xpending(consumer.stream, consumer.group))["pending"] == 0
        for key in [k async for k in client.scan_iter(count=100)]:
            if await client.type(key) == b"stream":
                for _id, fields in await client.xrange(key):
                    assert token.encode() not in b"".join(fields.values())
    finally:
        await client.aclose()


async def test_clean_shutdown_logs_no_error_and_removes_the_heartbeat(
    daemon: Daemon, private_redis: PrivateRedis  # noqa: F811
) -> None:
    daemon.streams = consumer_of(daemon, private_redis.url)
    client = aclient(private_redis.url)
    with captured_logs("ERROR") as records:
        try:
            await daemon.start(host="127.0.0.1", port=0, check_brokers=False, reconcile=False)
            key = KEY_PREFIX + daemon.heartbeat_name
            for _ in range(200):  # bounded: the first beat is immediate
                if await client.get(key) is not None:
                    break
                await asyncio.sleep(0.02)
            assert await client.get(key) is not None
            reply = await ask(private_redis.url, daemon, "list_orders", {})
            assert reply["ok"]
            daemon.request_stop("SIGTERM")
            await daemon.shutdown(drain_timeout=5)
            assert await client.get(key) is None  # health must not show a stopped daemon as UP
            assert [b.status for b in await daemon.heartbeats.table()] == []
        finally:
            await client.aclose()
    assert [r["message"] for r in records] == []

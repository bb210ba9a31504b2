"""The Redis Streams front door on the CI Redis: two consumers, one killed mid-stream; nothing lost,
nothing doubled."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from terminal5 import jsonutil
from terminal5.daemon.streams import StreamConsumer, request, stream_client_order_id

from .conftest import REDIS_URL, World, order_body

pytestmark = pytest.mark.redis


def consumer(world: World, client, name: str, **kw) -> StreamConsumer:  # type: ignore[no-untyped-def]
    import redis.asyncio as aredis

    prefix = client.test_prefix
    own = aredis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
    return StreamConsumer(world.daemon.api, world.daemon.verify_token, own, stream=f"{prefix}:requests",
                          group="terminal5", consumer=name, reply_prefix=f"{prefix}:replies:", block_ms=100, **kw)


async def test_two_consumers_one_killed_nothing_lost_nothing_doubled(world: World, redis) -> None:  # type: ignore[no-untyped-def]
    stream = f"{redis.test_prefix}:requests"
    token = world.tokens["user1"]
    b = world.brokers["one"]
    killed = asyncio.Event()

    a = consumer(world, redis, "consumer-a", batch=2, min_idle_ms=60_000)
    handled_by_a = 0

    async def die_on_third(entry_id: str, fields: dict) -> None:
        nonlocal handled_by_a
        handled_by_a += 1
        if handled_by_a == 3:  # the order reached the exchange; the process dies before reply and XACK
            killed.set()
            await asyncio.Event().wait()

    a.before_ack = die_on_third
    await a.ensure_group()
    stop = asyncio.Event()
    task_a = asyncio.ensure_future(a.run(stop, max_seconds=30))
    request_ids = [f"req-{i}-{uuid.uuid4().hex[:6]}" for i in range(10)]
    for rid in request_ids:
        body = order_body(b, "ignored")
        del body["client_order_id"]  # derived from request_id: redelivery stays idempotent
        await redis.xadd(stream, {"request_id": rid, "op": "place_order", "token": token,
                                  "body": jsonutil.dumps(body), "reply_to": f"{redis.test_prefix}:replies:{rid}"})
    await asyncio.wait_for(killed.wait(), 10)
    task_a.cancel()  # consumer A is gone, with entries pending
    with pytest.raises(asyncio.CancelledError):
        await task_a
    await a.redis.aclose()
    pending = await redis.xpending(stream, "terminal5")
    assert pending["pending"] >= 1

    bee = consumer(world, redis, "consumer-b", batch=5, min_idle_ms=200, claim_every=0.1)
    task_b = asyncio.ensure_future(bee.run(stop, max_seconds=30))
    try:
        for _ in range(200):
            replies = [await redis.xlen(f"{redis.test_prefix}:replies:{rid}") for rid in request_ids]
            if all(replies):
                break
            await asyncio.sleep(0.05)
        assert replies == [1] * 10  # every request answered exactly once
    finally:
        stop.set()
        await asyncio.wait_for(task_b, 10)
        await bee.stop()
    assert bee.claimed >= 1
    assert (await redis.xpending(stream, "terminal5"))["pending"] == 0
    placed = [p.order["clientId"] for p in world.exchange.placed]
    assert sorted(placed) == sorted(stream_client_order_id(r) for r in request_ids)  # each order reached it once
    for rid in request_ids:
        [(_, fields)] = await redis.xrange(f"{redis.test_prefix}:replies:{rid}")
        body = jsonutil.loads(fields[b"body"])
        assert fields[b"ok"] == b"1" and body["status"] == "open" and body["request_id"] == rid
        assert 0 < await redis.ttl(f"{redis.test_prefix}:replies:{rid}") <= 300


async def test_stream_tenancy_errors_and_other_ops(world: World, redis) -> None:  # type: ignore[no-untyped-def]
    stream = f"{redis.test_prefix}:requests"
    c = consumer(world, redis, "solo", min_idle_ms=60_000, metrics=world.daemon.metrics)
    stop = asyncio.Event()
    task = asyncio.ensure_future(c.run(stop, max_seconds=30))
    one = world.brokers["one"]
    try:
        ok = await request(redis, "place_order", order_body(one, "st-1"), token=world.tokens["user1"], stream=stream,
                           reply_to=f"{redis.test_prefix}:replies:x1")
        assert ok["ok"] and ok["body"]["client_order_id"] == "st-1"
        got = await request(redis, "get_order", {"broker_id": one, "client_order_id": "st-1"},
                            token=world.tokens["user1"], stream=stream, reply_to=f"{redis.test_prefix}:replies:x2")
        assert got["body"]["id"] == ok["body"]["id"]
        foreign = await request(redis, "cancel_order", {"broker_id": one, "client_order_id": "st-1"},
                                token=world.tokens["user2"], stream=stream, reply_to=f"{redis.test_prefix}:replies:x3")
        assert not foreign["ok"] and foreign["status"] == 404 and foreign["body"]["error"] == "BrokerNotFound"
        bad = await request(redis, "list_orders", {}, token="t5_bogus", stream=stream,
                            reply_to=f"{redis.test_prefix}:replies:x4")
        assert bad["status"] == 401
        unknown = await request(redis, "launch_rocket", {}, token=world.tokens["user1"], stream=stream,
                                reply_to=f"{redis.test_prefix}:replies:x5")
        assert unknown["status"] == 400 and unknown["body"]["field"] == "op"
        # a made-up op is one label value, never a new one per name (a caller must not grow the metrics)
        for n in range(3):
            await request(redis, f"made-up-{n}", {}, token=world.tokens["user1"], stream=stream,
                          reply_to=f"{redis.test_prefix}:replies:m{n}")
        routes = {s.labels["route"] for m in world.daemon.metrics.requests.collect() for s in m.samples}
        assert not any(r.startswith("made-up") or r == "launch_rocket" for r in routes)
        assert "other" in routes
        listed = await request(redis, "list_orders", {}, token=world.tokens["user2"], stream=stream,
                               reply_to=f"{redis.test_prefix}:replies:x6")
        assert listed["ok"] and listed["body"]["orders"] == []
        cancelled = await request(redis, "cancel_order", {"broker_id": one, "client_order_id": "st-1"},
                                  token=world.tokens["user1"], stream=stream,
                                  reply_to=f"{redis.test_prefix}:replies:x7")
        assert cancelled["body"]["status"] == "cancelled"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await c.stop()


async def test_a_slow_order_does_not_hold_the_ones_read_with_it(world: World, redis) -> None:  # type: ignore[no-untyped-def]
    """One consumer read 10 entries and answered them all before reading again: one slow order held the next
    nine (the scale-out benchmark's 6 s p99). Now each is answered when it is done."""
    stream = f"{redis.test_prefix}:requests"
    token, one = world.tokens["user1"], world.brokers["one"]
    release = asyncio.Event()

    async def before_ack(entry_id: str, fields: dict[str, str]) -> None:
        if fields.get("request_id") == "slow":
            await asyncio.wait_for(release.wait(), 20)

    # queued before the consumer reads: the slow one and 9 fast ones are one read of 10, 5 more come after
    for rid in ["slow", *(f"fast-{n}" for n in range(14))]:
        await redis.xadd(stream, {"request_id": rid, "op": "place_order", "token": token,
                                  "body": jsonutil.dumps(order_body(one, f"sl-{rid}")),
                                  "reply_to": f"{redis.test_prefix}:replies:{rid}"})
    c = consumer(world, redis, "solo", min_idle_ms=60_000)
    c.before_ack = before_ack
    stop = asyncio.Event()
    task = asyncio.ensure_future(c.run(stop, max_seconds=30))
    try:
        for n in range(14):  # every fast one is answered while the slow one is still held
            reply = await asyncio.wait_for(_reply(redis, f"{redis.test_prefix}:replies:fast-{n}"), 5)
            assert reply[b"ok"] == b"1"
        assert not await redis.xrange(f"{redis.test_prefix}:replies:slow")
        release.set()
        reply = await asyncio.wait_for(_reply(redis, f"{redis.test_prefix}:replies:slow"), 10)
        assert reply[b"ok"] == b"1"
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(task, 10)


async def _reply(redis, key: str) -> dict[bytes, bytes]:  # type: ignore[no-untyped-def]
    while True:
        found = await redis.xrange(key)
        if found:
            return found[0][1]
        await asyncio.sleep(0.02)

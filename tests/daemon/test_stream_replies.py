"""A Streams reply is written once, by the consumer holding the entry (``terminal5.daemon.stream_replies``),
even after a connection lost around the reply or by a handler whose entry another consumer claimed. Found by
the chaos of a killed consumer: redis-py turned the cancel of a handler into a connection error, the handler
wrote its reply again 200 ms later, and the request had two replies (tests/daemon/test_streams.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from terminal5.daemon.stream_replies import reply_script, write_reply

pytestmark = pytest.mark.redis
GROUP = "terminal5"


class LosingScript:
    """The reply script, whose next ``lose`` calls lose their answer: run first (``ran``) or not."""

    def __init__(self, redis: Any, *, lose: int, ran: bool, on_loss: Any = None) -> None:
        self.real = reply_script(redis)
        self.lose, self.ran, self.on_loss = lose, ran, on_loss
        self.calls = 0

    async def __call__(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.lose <= 0:
            return await self.real(**kwargs)
        self.lose -= 1
        if self.ran:
            await self.real(**kwargs)
        if self.on_loss is not None:
            self.on_loss()
        raise RedisConnectionError("Connection closed by server.")


async def pending_entry(redis: Any, prefix: str, consumer: str = "c1") -> tuple[str, str]:
    stream = f"{prefix}:requests"
    await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    await redis.xadd(stream, {"request_id": "r1", "op": "place_order"})
    (_, entries), = await redis.xreadgroup(GROUP, consumer, {stream: ">"}, count=1)
    entry_id = entries[0][0].decode()
    return stream, entry_id


async def reply_once(script: Any, stream: str, entry_id: str, reply_to: str, consumer: str = "c1") -> bool:
    return await write_reply(script, stream, GROUP, consumer, entry_id, reply_to,
                             {"request_id": "r1", "ok": "1", "status": "200", "body": "{}"}, ttl=60)


async def test_a_transaction_that_ran_but_lost_its_answer_is_not_written_again(redis: Any) -> None:
    client, prefix = redis, redis.test_prefix
    stream, entry_id = await pending_entry(client, prefix)
    losing = LosingScript(client, lose=1, ran=True)
    assert await reply_once(losing, stream, entry_id, f"{prefix}:replies:r1") is False
    assert await client.xlen(f"{prefix}:replies:r1") == 1 and losing.calls == 2
    assert (await client.xpending(stream, GROUP))["pending"] == 0


async def test_a_transaction_lost_before_it_ran_is_written_on_the_next_attempt(redis: Any) -> None:
    client, prefix = redis, redis.test_prefix
    stream, entry_id = await pending_entry(client, prefix)
    losing = LosingScript(client, lose=2, ran=False)
    assert await reply_once(losing, stream, entry_id, f"{prefix}:replies:r1") is True
    assert await client.xlen(f"{prefix}:replies:r1") == 1
    assert (await client.xpending(stream, GROUP))["pending"] == 0


async def test_an_entry_another_consumer_claimed_meanwhile_is_left_to_it(redis: Any) -> None:
    client, prefix = redis, redis.test_prefix
    stream, entry_id = await pending_entry(client, prefix)

    def claimed_by_another() -> None:
        asyncio.get_running_loop().create_task(client.xclaim(stream, GROUP, "c2", 0, [entry_id]))

    losing = LosingScript(client, lose=1, ran=False, on_loss=claimed_by_another)
    assert await reply_once(losing, stream, entry_id, f"{prefix}:replies:r1") is False
    assert await client.xlen(f"{prefix}:replies:r1") == 0  # c2 answers it
    pending = await client.xpending_range(stream, GROUP, min=entry_id, max=entry_id, count=1)
    assert pending[0]["consumer"] == b"c2"


async def test_a_cancelled_handler_does_not_write_on_when_its_cancel_arrives_as_a_connection_error(
    redis: Any,
) -> None:
    client, prefix = redis, redis.test_prefix
    stream, entry_id = await pending_entry(client, prefix)
    losing = LosingScript(client, lose=3, ran=False)
    task = asyncio.ensure_future(reply_once(losing, stream, entry_id, f"{prefix}:replies:r1"))
    losing.on_loss = lambda: task.cancel()  # the cancel lands while the client is inside execute()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert losing.lose == 2  # one attempt, no retry
    assert await client.xlen(f"{prefix}:replies:r1") == 0


async def test_a_slow_handler_whose_entry_was_claimed_leaves_the_answer_to_the_claimer(redis: Any) -> None:
    """Slower than the claim delay: another consumer took the entry; the first answer written is its."""
    client, prefix = redis, redis.test_prefix
    stream, entry_id = await pending_entry(client, prefix)
    await client.xclaim(stream, GROUP, "c2", 0, [entry_id])
    assert await reply_once(reply_script(client), stream, entry_id, f"{prefix}:replies:r1", consumer="c1") is False
    assert await reply_once(reply_script(client), stream, entry_id, f"{prefix}:replies:r1", consumer="c2") is True
    replies = await client.xrange(f"{prefix}:replies:r1")
    assert [fields for _, fields in replies] == [{b"request_id": b"r1", b"ok": b"1", b"status": b"200", b"body": b"{}"}]
    assert await client.ttl(f"{prefix}:replies:r1") > 0
    assert await client.xlen(stream) == 0 and (await client.xpending(stream, GROUP))["pending"] == 0

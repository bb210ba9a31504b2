"""A Streams front door's reply, written at most once (``terminal5.daemon.streams``).

The reply, the XACK and the XDEL of the request's entry go in one MULTI/EXEC transaction: all or nothing. A
connection Redis dropped is replaced and the reply written again, but a transaction whose answer was lost
may have run: before writing again, the entry is looked up, and if it is no longer pending on this consumer
(the transaction ran, or another consumer claimed the entry and answers it), nothing is written. A client
library that turns a cancellation into a connection error does not make a cancelled handler write on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: attempts at the reply transaction, and the pause after each failed one (seconds, times the attempt)
ATTEMPTS = 3
PAUSE = 0.2


async def write_reply(redis: Any, stream: str, group: str, consumer: str, entry_id: str, reply_to: str,
                      reply: dict[str, str], *, ttl: int) -> bool:
    """Answer the entry and acknowledge it; False when it was found answered already (or taken by another
    consumer) after a lost attempt. Raises the connection error after the last attempt."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            if attempt > 1 and not await still_pending_on(redis, stream, group, consumer, entry_id):
                return False
            pipe = redis.pipeline(transaction=True)
            pipe.xadd(reply_to, reply, maxlen=1000, approximate=True)
            pipe.expire(reply_to, ttl)
            pipe.xack(stream, group, entry_id)
            pipe.xdel(stream, entry_id)  # answered: the entry (and its token) leaves Redis
            await pipe.execute()
            return True
        except (RedisConnectionError, RedisTimeoutError):
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError from None  # cancelled: a dying consumer answers nothing more
            if attempt == ATTEMPTS:
                raise
            await asyncio.sleep(PAUSE * attempt)
    raise AssertionError("unreachable")


async def still_pending_on(redis: Any, stream: str, group: str, consumer: str, entry_id: str) -> bool:
    """Is the entry still pending, delivered to ``consumer``?"""
    pending = await redis.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
    if not pending:
        return False
    owner = pending[0].get("consumer")
    return (owner.decode() if isinstance(owner, bytes) else owner) == consumer

"""A Streams front door's reply, written once, by the consumer that holds the entry
(``terminal5.daemon.streams``).

One Lua script, atomic in Redis: if the entry is still pending on this consumer, write the reply, set its
expiry, XACK and XDEL the entry (its token leaves Redis); otherwise write nothing. So a handler slower than
the claim delay, whose entry another consumer has claimed meanwhile, leaves the answer to that consumer; and a
connection lost after the script ran makes the next attempt a no-op, never a second reply. A client library
that turns a cancellation into a connection error does not make a cancelled handler write on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: attempts at the reply, and the pause after each failed one (seconds, times the attempt)
ATTEMPTS = 3
PAUSE = 0.2

# KEYS: the request stream, the reply stream. ARGV: group, consumer, entry id, reply ttl, then the reply's
# field/value pairs. XPENDING's extended form answers [[id, consumer, idle ms, deliveries]].
SCRIPT = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then
  return 0
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 1000, '*', unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return 1
"""


def reply_script(redis: Any) -> Any:
    """The reply script registered on this client (EVALSHA; EVAL again after Redis lost its scripts)."""
    return redis.register_script(SCRIPT)


async def write_reply(script: Any, stream: str, group: str, consumer: str, entry_id: str, reply_to: str,
                      reply: dict[str, str], *, ttl: int) -> bool:
    """Answer the entry and acknowledge it, if it is still pending on ``consumer``; False when it is not (it
    was answered already, or another consumer claimed it). ``script``: ``reply_script(redis)``. Raises the
    connection error after the last attempt."""
    args: list[Any] = [group, consumer, entry_id, ttl]
    for field, value in reply.items():
        args += [field, value]
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return bool(await script(keys=[stream, reply_to], args=args))
        except (RedisConnectionError, RedisTimeoutError):
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError from None  # cancelled: a dying consumer answers nothing more
            if attempt == ATTEMPTS:
                raise
            await asyncio.sleep(PAUSE * attempt)
    raise AssertionError("unreachable")

"""Time that passes only when the test says so, to test a rate limiter's queue (who goes first, what is logged).

A limiter built with ``clock=time.clock`` and ``sleep=time.sleep`` sees its sleepers wait until the next
``advance``; ``urgent_goes_first`` queues callers behind a full budget, then an urgent one, and steps time
until every caller is through. Every loop is bounded in count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from terminal5.testing.captured_logs import captured_logs


class SteppedTime:
    def __init__(self, step: int, now: int = 0) -> None:
        self.now = now
        self.step = step  # how far one ``advance`` moves the clock, in the limiter's unit
        self.sleeping: list[float] = []  # every sleep asked for, in seconds
        self._tick = asyncio.Condition()

    def clock(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeping.append(seconds)
        async with self._tick:
            await self._tick.wait()

    async def until_sleeping(self, count: int, rounds: int = 100) -> None:
        """Let the event loop run until ``count`` sleeps were asked for (at most ``rounds`` turns)."""
        for _ in range(rounds):
            if len(self.sleeping) >= count:
                return
            await asyncio.sleep(0)

    async def advance(self) -> None:
        """Move the clock one step, wake every sleeper, and let them run."""
        async with self._tick:
            self.now += self.step
            self._tick.notify_all()
        for _ in range(20):
            await asyncio.sleep(0)


async def urgent_goes_first(
    time: SteppedTime,
    queued: Callable[[int], Awaitable[None]],
    count: int,
    urgent: Callable[[], Awaitable[None]],
    done: list[str],
    *,
    rounds: int,
) -> list[str]:
    """Start ``count`` queued calls (``queued(0)`` …) until each sleeps, then ``urgent`` until it sleeps too,
    then advance time (at most ``rounds`` steps) until ``done`` has an entry per call. Calls still waiting
    then are cancelled. Returns what was logged meanwhile (INFO and above), to check each wait says why."""
    with captured_logs("INFO") as records:
        tasks = [asyncio.ensure_future(queued(i)) for i in range(count)]
        try:
            await time.until_sleeping(len(tasks))
            tasks.append(asyncio.ensure_future(urgent()))
            await time.until_sleeping(len(tasks))
            for _ in range(rounds):
                if len(done) == len(tasks):
                    break
                await time.advance()
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return [r["message"] for r in records]

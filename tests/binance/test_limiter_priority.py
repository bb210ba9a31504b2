"""Binance's own weight limiter: a kill switch's request goes ahead of queued ones; every wait is logged."""

from __future__ import annotations

import asyncio

from loguru import logger

from terminal5.ratebudget import urgent
from terminal5_binance.ratelimit import Limiter


async def test_urgent_request_goes_first_and_waits_say_why() -> None:
    now = [0]
    tick = asyncio.Condition()
    sleeping: list[float] = []

    async def fake_sleep(seconds: float) -> None:  # time passes only when the test says so
        sleeping.append(seconds)
        async with tick:
            await tick.wait()

    limiter = Limiter("weight api.binance.com", lambda: now[0], sleep=fake_sleep, headroom=1.0, max_wait_s=120)
    limiter.configure([{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1}],
                      "REQUEST_WEIGHT")
    await limiter.acquire(1, reason="GET first")  # the minute's budget is used
    done: list[str] = []
    records: list = []
    sink = logger.add(lambda m: records.append(m.record), level="INFO")

    async def queued(i: int) -> None:
        await limiter.acquire(1, reason=f"POST order.place {i}")
        done.append(f"place-{i}")

    async def kill_cancel() -> None:
        with urgent("kill switch"):
            await limiter.acquire(1, reason="DELETE order.cancel")
        done.append("cancel")

    tasks = [asyncio.ensure_future(queued(i)) for i in range(3)]
    try:
        for expected in (3, 4):
            if expected == 4:
                tasks.append(asyncio.ensure_future(kill_cancel()))
            for _ in range(100):  # bounded: until every caller waits
                if len(sleeping) >= expected:
                    break
                await asyncio.sleep(0)
        for _ in range(20):  # bounded: one minute of exchange time per round
            if len(done) == 4:
                break
            async with tick:
                now[0] += 60_000
                tick.notify_all()
            for _ in range(20):
                await asyncio.sleep(0)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        logger.remove(sink)
    assert done[0] == "cancel", done
    messages = [r["message"] for r in records]
    assert any("DELETE order.cancel (priority: kill switch) waits" in m for m in messages), messages
    assert any("POST order.place 0 waits" in m for m in messages), messages

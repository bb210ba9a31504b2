"""Binance's own weight limiter: a kill switch's request goes ahead of queued ones; every wait is logged."""

from __future__ import annotations

from terminal5.ratebudget import urgent
from terminal5.testing.stepped_time import SteppedTime, urgent_goes_first
from terminal5_binance.ratelimit import Limiter


async def test_urgent_request_goes_first_and_waits_say_why() -> None:
    time = SteppedTime(step=60_000)  # one minute of exchange time per step
    limiter = Limiter("weight api.binance.com", time.clock, sleep=time.sleep, headroom=1.0, max_wait_s=120)
    limiter.configure([{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1}],
                      "REQUEST_WEIGHT")
    await limiter.acquire(1, reason="GET first")  # the minute's budget is used
    done: list[str] = []

    async def place(i: int) -> None:
        await limiter.acquire(1, reason=f"POST order.place {i}")
        done.append(f"place-{i}")

    async def kill_cancel() -> None:
        with urgent("kill switch"):
            await limiter.acquire(1, reason="DELETE order.cancel")
        done.append("cancel")

    messages = await urgent_goes_first(time, place, 3, kill_cancel, done, rounds=20)
    assert done[0] == "cancel", done
    assert any("DELETE order.cancel (priority: kill switch) waits" in m for m in messages), messages
    assert any("POST order.place 0 waits" in m for m in messages), messages

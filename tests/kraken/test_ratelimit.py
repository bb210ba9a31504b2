"""The client-side model of Kraken's REST call counter and trading-engine counter (reference §8)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from terminal5.contract import CallContext, Credentials
from terminal5.errors import RateLimitExceeded
from terminal5_kraken.constants import CANCEL_PENALTY, PATH_ADD_ORDER, PATH_BALANCE_EX, PATH_TRADES_HISTORY
from terminal5_kraken.ratelimit import RateLimiter, penalty

SECOND = 1_000_000_000


class FakeTime:
    def __init__(self) -> None:
        self.now = 0
        self.slept: list[float] = []

    def clock(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += int(Decimal(str(seconds)) * SECOND) + 1


def ctx(tier: str | None = None, key: str = "k") -> CallContext:
    options = {"tier": tier} if tier else {}
    return CallContext(exchange="kraken", base_url="x", credentials=Credentials(key, "s"), options=options)


async def test_rest_counter_waits_for_decay_starter() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock_ns=t.clock, sleep=t.sleep)
    for _ in range(15):
        await limiter.before_rest(ctx(), PATH_BALANCE_EX)
    assert t.slept == []
    await limiter.before_rest(ctx(), PATH_BALANCE_EX)  # the 16th waits one point of decay
    assert t.slept == [pytest.approx(1 / 0.33)]


async def test_trade_history_costs_more_and_trading_calls_are_exempt() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock_ns=t.clock, sleep=t.sleep)
    for _ in range(3):
        await limiter.before_rest(ctx("pro"), PATH_TRADES_HISTORY)
    assert limiter.rest_counter(ctx("pro")).level(t.now) == 12
    await limiter.before_rest(ctx("pro"), PATH_ADD_ORDER)
    assert limiter.rest_counter(ctx("pro")).level(t.now) == 12


async def test_counters_are_per_key() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock_ns=t.clock, sleep=t.sleep)
    for _ in range(15):
        await limiter.before_rest(ctx(key="a"), PATH_BALANCE_EX)
    await limiter.before_rest(ctx(key="b"), PATH_BALANCE_EX)
    assert t.slept == []


async def test_fail_fast_beyond_max_wait() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock_ns=t.clock, sleep=t.sleep, max_wait=Decimal(1))
    for _ in range(60):
        await limiter.before_add(ctx(), "XXBTZUSD")
    for _ in range(3):
        await limiter.before_cancel(ctx(), "XXBTZUSD", None)  # age unknown: +1 each, waits 1 s each
    limiter.placed("O1")
    with pytest.raises(RateLimitExceeded) as info:
        await limiter.before_cancel(ctx(), "XXBTZUSD", "O1")  # a fresh order costs 1 + 8
    assert info.value.retry_after == pytest.approx(9.0)
    await limiter.before_add(ctx(), "SOLUSD")  # another pair has its own counter


def test_penalties() -> None:
    assert penalty(Decimal(1), CANCEL_PENALTY) == 8
    assert penalty(Decimal(60), CANCEL_PENALTY) == 2
    assert penalty(Decimal(400), CANCEL_PENALTY) == 0
    assert penalty(None, CANCEL_PENALTY) == 0


async def test_unknown_tier_falls_back_to_starter() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock_ns=t.clock, sleep=t.sleep)
    assert limiter.rest_counter(ctx("platinum")).maximum == 15


async def test_kill_switch_cancels_go_ahead_of_queued_orders_and_waits_are_logged() -> None:
    """The trading counter is full; three AddOrders wait; a kill's CancelOrder arrives last and goes first."""
    from terminal5.contract import CallContext, Credentials
    from terminal5.ratebudget import urgent
    from terminal5.testing.stepped_time import SteppedTime, urgent_goes_first
    from terminal5_kraken.ratelimit import RateLimiter

    time = SteppedTime(step=1_000_000_000)  # one second of exchange time per step
    limiter = RateLimiter(clock_ns=time.clock, sleep=time.sleep)
    ctx = CallContext(exchange="kraken", base_url="https://api.kraken.com",
                      credentials=Credentials(api_key="k" * 20, api_secret="s"))
    counter = limiter.trading_counter(ctx, "XXBTZUSD")
    counter.add(counter.maximum, time.now)  # full
    done: list[str] = []

    async def add(i: int) -> None:
        await limiter.before_add(ctx, "XXBTZUSD")
        done.append(f"add-{i}")

    async def kill_cancel() -> None:
        with urgent("kill switch"):
            await limiter.before_cancel(ctx, "XXBTZUSD", None)
        done.append("cancel")

    messages = await urgent_goes_first(time, add, 3, kill_cancel, done, rounds=100)
    assert done[0] == "cancel", done
    assert any("CancelOrder on XXBTZUSD (priority: kill switch) waits" in m for m in messages), messages
    assert any("AddOrder on XXBTZUSD waits" in m for m in messages), messages

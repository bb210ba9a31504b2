"""Shared rate budgets: two 'processes' (two stores on one Redis) never exceed one budget together."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from terminal5.ratebudget import BudgetExceeded, BudgetStore, RedisBudgetStore
from terminal5.testing.pytest_plugin import skip_or_fail

from .conftest import REDIS_URL


async def test_in_process_window() -> None:
    budget = BudgetStore().budget("x", limit=3, window=0.3)
    assert [await budget.try_acquire() for _ in range(3)] == [0, 0, 0]
    wait = await budget.try_acquire()
    assert 0 < wait <= 0.3
    with pytest.raises(BudgetExceeded):
        await budget.try_acquire(cost=4)
    started = time.monotonic()
    await budget.acquire()
    assert time.monotonic() - started >= 0.2


async def test_two_processes_share_one_budget() -> None:
    import redis.asyncio as aredis

    clients = [aredis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2) for _ in range(2)]
    try:
        await clients[0].ping()
    except Exception as exc:
        for c in clients:
            await c.aclose()
        skip_or_fail(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    prefix = f"t5test:{uuid.uuid4().hex[:8]}:"
    try:
        stores = [RedisBudgetStore(c, prefix=prefix) for c in clients]
        budgets = [s.budget("exchange:ip:127.0.0.1:weight", limit=10, window=1.0) for s in stores]
        results = await asyncio.gather(*(budgets[i % 2].try_acquire(cost=2) for i in range(8)))
        assert sum(1 for r in results if r == 0) == 5  # 5 x 2 = the whole budget of 10, across both processes
        assert all(0 < r <= 1.0 for r in results if r)
        started = time.monotonic()
        await budgets[1].acquire(cost=2, max_wait=3)
        assert time.monotonic() - started > 0.5
    finally:
        keys = [k async for k in clients[0].scan_iter(match=f"{prefix}*")]
        if keys:
            await clients[0].delete(*keys)
        for c in clients:
            await c.aclose()

"""Shared rate budgets when Redis goes away (found by the chaos suite: a Redis restart mid-run answered
bare 500s, the budget's ``redis.ConnectionError`` escaping the placement): the budget falls back to the
process's own windows and keeps counting, then returns to Redis by itself."""

from __future__ import annotations

import redis.asyncio as aredis

from terminal5.ratebudget import RedisBudgetStore

from .private_redis import PrivateRedis, private_redis  # noqa: F401  (fixture)


async def test_budget_survives_a_redis_restart_and_an_outage(private_redis: PrivateRedis) -> None:  # noqa: F811
    client = aredis.Redis.from_url(private_redis.url, socket_timeout=2, socket_connect_timeout=2)
    store = RedisBudgetStore(client)
    decaying = store.budget("kraken:rest:key-1", limit=3, decay=0.001)
    window = store.budget("binance:weight:host", limit=3, window=60.0)
    try:
        assert await decaying.try_acquire() == 0 and await window.try_acquire() == 0
        private_redis.restart()  # every pooled connection is now dead
        assert await decaying.try_acquire() == 0 and await window.try_acquire() == 0
        private_redis.stop()  # and now no Redis at all
        for budget in (decaying, window):
            assert [await budget.try_acquire() == 0 for _ in range(3)] == [True, True, True]
            assert await budget.try_acquire() > 0  # still counted, in this process
    finally:
        await client.aclose()

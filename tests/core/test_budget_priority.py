"""The kill switch's calls go ahead of queued work in the client-side rate budgets, and every wait for a
budget is logged with its reason. No timed assertion: the order of the calls and the log lines are checked."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from loguru import logger

from terminal5.contract import CallContext, HttpRequest, RateLimitRule
from terminal5.errors import ExchangeError
from terminal5.ratebudget import BudgetStore, urgency, urgent
from terminal5.testing.loopback_server import LoopbackExchange
from terminal5.transport import HttpTransport

ONE_AT_A_TIME = RateLimitRule(name="tight", limit=1, window=0.3, scope="ip", weighted=False)


async def wait_for_lines(records: list[Any], needle: str, count: int) -> None:
    for _ in range(500):  # bounded: until the queued calls have said they wait
        if sum(needle in r["message"] for r in records) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {count} log lines containing {needle!r}")


async def test_urgent_calls_jump_the_queue_and_every_wait_says_why() -> None:
    records: list[Any] = []
    sink = logger.add(lambda m: records.append(m.record), level="INFO")
    order: list[str] = []
    name = f"ex{secrets.token_hex(3)}"
    async with LoopbackExchange() as exchange:
        transport = HttpTransport(name, lambda *_: None, rate_limits=(ONE_AT_A_TIME,), budgets=BudgetStore(),
                                  max_budget_wait=30, observers=[lambda ctx, rec: order.append(rec.endpoint)])
        ctx = CallContext(exchange=name, base_url=exchange.url)

        async def send(endpoint: str, method: str = "GET") -> None:
            await transport.send(ctx, HttpRequest(method=method, url=exchange.url + "/api/public/time",
                                                  endpoint=endpoint))

        async def kill_cancel() -> None:
            with urgent("kill switch"):
                assert urgency() == "kill switch"
                # the loopback exchange has no DELETE on its time route: the budget, not the answer, is tested
                with contextlib.suppress(ExchangeError):
                    await send("order.cancel", "DELETE")

        try:
            await send("first")  # the budget is now full for one window
            queued = [asyncio.ensure_future(send(f"queued-{i}")) for i in range(3)]
            await wait_for_lines(records, "waits", 3)  # three ordinary calls are waiting for the budget
            kill = asyncio.ensure_future(kill_cancel())
            await asyncio.wait_for(asyncio.gather(kill, *queued), 30)
        finally:
            logger.remove(sink)
            await transport.close()
    assert order[0] == "first" and order[1] == "order.cancel", order  # the kill did not wait behind the queue
    assert sorted(order[2:]) == ["queued-0", "queued-1", "queued-2"]
    messages = [r["message"] for r in records]
    assert any("DELETE order.cancel (priority: kill switch) waits" in m for m in messages), messages
    assert any("GET queued-0 waits" in m for m in messages), messages
    assert any("holds back for urgent work" in m for m in messages), messages
    assert all(f"{name}:tight:ip" in m for m in messages if "waits" in m or "holds back" in m)

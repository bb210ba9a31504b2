"""Published rate limits are enforced before sending, and shared by every process through Redis."""

from __future__ import annotations

import secrets

import pytest

from terminal5.contract import CallContext, Credentials, HttpRequest, RateLimitRule
from terminal5.errors import RateLimitExceeded
from terminal5.ratebudget import BudgetStore, budget_store
from terminal5.testing.loopback_server import LoopbackExchange
from terminal5.transport import HttpTransport

WEIGHT = RateLimitRule(name="weight", limit=10, window=60, scope="ip", weighted=True)
ORDERS = RateLimitRule(
    name="orders", limit=2, window=60, scope="account", weighted=False, endpoints=frozenset({"order.place"})
)


def transport(exchange: str, store: BudgetStore) -> HttpTransport:
    return HttpTransport(exchange, lambda *_: None, rate_limits=(WEIGHT, ORDERS), budgets=store, max_budget_wait=0.2)


async def send_many(
    transports: list[HttpTransport], url: str, count: int, *, endpoint: str, cost: int, creds: Credentials | None = None
) -> tuple[int, int]:
    ok = refused = 0
    for i in range(count):
        t = transports[i % len(transports)]
        ctx = CallContext(exchange=t.exchange, base_url=url, credentials=creds)
        try:
            await t.send(ctx, HttpRequest(method="GET", url=url + "/api/public/time", endpoint=endpoint, cost=cost))
            ok += 1
        except RateLimitExceeded as exc:
            assert exc.details == {"sent": False} and exc.retry_after == 60
            refused += 1
    return ok, refused


@pytest.mark.parametrize("shared", ["memory", "redis"])
async def test_two_processes_share_one_ip_budget(shared: str, request: pytest.FixtureRequest) -> None:
    name = f"ex{secrets.token_hex(3)}"
    if shared == "redis":
        url = request.getfixturevalue("redis_url")
        stores = [budget_store(url), budget_store(url)]  # two processes: two clients, one Redis
    else:
        store = BudgetStore()
        stores = [store, store]
    async with LoopbackExchange() as exchange:
        transports = [transport(name, s) for s in stores]
        before = exchange.requests
        ok, refused = await send_many(transports, exchange.url, 8, endpoint="time", cost=3)
        assert (ok, refused) == (3, 5)  # 3 x weight 3 fits in 10; the rest would exceed it
        assert exchange.requests - before == 3  # refused calls never left
        for t in transports:
            await t.close()


async def test_account_budget_is_per_key(redis_url: str) -> None:
    name = f"ex{secrets.token_hex(3)}"
    store = budget_store(redis_url)
    async with LoopbackExchange() as exchange:
        t = transport(name, store)
        a = Credentials(api_key="A" * 20, api_secret="x")
        b = Credentials(api_key="B" * 20, api_secret="y")
        assert await send_many([t], exchange.url, 3, endpoint="order.place", cost=1, creds=a) == (2, 1)
        assert await send_many([t], exchange.url, 3, endpoint="order.place", cost=1, creds=b) == (2, 1)
        assert await send_many([t], exchange.url, 1, endpoint="time", cost=1, creds=a) == (1, 0)
        await t.close()


def test_rules_apply_by_endpoint() -> None:
    from terminal5.models import MarketType

    assert ORDERS.applies("order.place", MarketType.SPOT) and not ORDERS.applies("time", MarketType.SPOT)
    assert WEIGHT.applies("anything", MarketType.SWAP)
    spot_only = RateLimitRule(name="s", limit=1, window=1, market_types=frozenset({MarketType.SPOT}))
    assert not spot_only.applies("x", MarketType.SWAP)


@pytest.mark.parametrize("shared", ["memory", "redis"])
async def test_decaying_counter_shared_and_by_tier(shared: str, request: pytest.FixtureRequest) -> None:
    """Kraken-style: a counter of at most `limit` that drains `decay` per second, chosen by account tier."""
    name = f"ex{secrets.token_hex(3)}"
    store = budget_store(request.getfixturevalue("redis_url")) if shared == "redis" else BudgetStore()
    rule = RateLimitRule(
        name="rest",
        limit=2,
        decay=0.5,
        scope="account",
        tier_option="tier",
        tiers={"starter": (2, 0.5), "pro": (4, 1.0)},
        default_tier="starter",
    )
    creds = Credentials(api_key="K" * 20, api_secret="s")
    async with LoopbackExchange() as exchange:
        t = HttpTransport(name, lambda *_: None, rate_limits=(rule,), budgets=store, max_budget_wait=0.1)

        async def burst(options: dict[str, str]) -> int:
            sent = 0
            for _ in range(6):
                ctx = CallContext(exchange=name, base_url=exchange.url, credentials=creds, options=options)
                try:
                    await t.send(ctx, HttpRequest(method="GET", url=exchange.url + "/api/public/time", endpoint="x"))
                    sent += 1
                except RateLimitExceeded as exc:
                    assert exc.details == {"sent": False}
            return sent

        assert await burst({}) == 2  # starter: 2, and 0.1 s of waiting drains only 0.05
        other = Credentials(api_key="P" * 20, api_secret="s")
        creds = other
        assert await burst({"tier": "pro"}) == 4
        await t.close()

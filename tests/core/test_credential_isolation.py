"""One client per exchange type, many accounts: every request is signed with its own broker's key.

500 concurrent orders across 50 brokers go through one shared native client to the loopback exchange,
which verifies each signature and records which key signed each order. The same harness run with a
client that stores credentials on itself (the seed's ``inject_credentials``) must find mismatches:
that proves the check can fail.
"""

from __future__ import annotations

import asyncio
from typing import Any

from loopback_double import make_plugin
from sample_orders import limit_buy
from terminal5_template.client import LoopbackClient

from terminal5.contract import CallContext, Credentials, HttpResponse
from terminal5.testing.loopback_server import LoopbackExchange

BROKERS = 50
ORDERS_PER_BROKER = 10


class InterleavingClient(LoopbackClient):
    """Yields to the event loop before each request, so many accounts' calls interleave on the one client."""

    async def _request(self, ctx: CallContext, method: str, path: str, **kwargs: Any) -> HttpResponse:
        await asyncio.sleep(0.001)
        return await super()._request(ctx, method, path, **kwargs)


class SeedStyleSharedClient(LoopbackClient):
    """The flaw the seed had: credentials injected into the shared client before each request."""

    credentials: Credentials | None = None

    async def _request(self, ctx: CallContext, method: str, path: str, **kwargs: Any) -> HttpResponse:
        self.credentials = ctx.credentials  # "inject_credentials"
        await asyncio.sleep(0.001)  # any await (DNS, rate limiter, clock sync) lets another account in
        shared = CallContext(
            exchange=ctx.exchange,
            base_url=ctx.base_url,
            market_type=ctx.market_type,
            credentials=self.credentials,
            broker_id=ctx.broker_id,
        )
        return await super()._request(shared, method, path, **kwargs)


async def run_load(
    t5_gateway: Any, client_class: type[LoopbackClient]
) -> tuple[int, int, LoopbackExchange, list[Any]]:
    """Returns (orders placed, orders signed by another broker's key, exchange, results)."""
    accounts = {f"key-{i}": f"secret-{i}" for i in range(BROKERS)}
    async with LoopbackExchange(accounts) as exchange:
        gateway = await t5_gateway(make_plugin(client_class))
        brokers = [
            await gateway.add_broker(
                user_id=100 + i,
                exchange="loopback",
                label=f"b{i}",
                api_key=f"key-{i}",
                api_secret=f"secret-{i}",
                base_url=exchange.url,
            )
            for i in range(BROKERS)
        ]
        expected_key = {}
        requests = []
        for i, broker in enumerate(brokers):
            for j in range(ORDERS_PER_BROKER):
                cid = f"b{i}-o{j}"
                expected_key[cid] = f"key-{i}"
                requests.append(limit_buy(broker.id, broker.user_id, client_order_id=cid))
        results = await asyncio.gather(*(gateway.place_order(r) for r in requests), return_exceptions=True)
        signed_by = exchange.signed_by()
        mismatched = sum(1 for cid, key in expected_key.items() if signed_by.get(cid) not in (None, key))
        return len(signed_by), mismatched, exchange, results


async def test_each_order_is_signed_with_its_own_brokers_key(t5_gateway: Any) -> None:
    placed, mismatched, exchange, results = await run_load(t5_gateway, InterleavingClient)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    assert placed == BROKERS * ORDERS_PER_BROKER == 500
    assert mismatched == 0
    assert exchange.bad_signatures == 0
    # and each stored order belongs to the broker whose client id it carries
    owner = {p.order["clientId"]: p.api_key for p in exchange.placed}
    for order in results:
        assert order.status.value == "open"
        assert owner[order.client_order_id] == f"key-{order.client_order_id.split('-')[0][1:]}"
        assert order.user_id == 100 + int(order.client_order_id.split("-")[0][1:])


async def test_the_check_catches_shared_credentials(t5_gateway: Any) -> None:
    _, mismatched, _, _ = await run_load(t5_gateway, SeedStyleSharedClient)
    assert mismatched > 0, "the harness must detect orders signed with another account's key"


def test_credentials_never_show_their_secrets() -> None:
    creds = Credentials(api_key="AKIAVERYLONGAPIKEY123", api_secret="s3cr3t-value-xyz", api_password="pw-123456")
    for text in (repr(creds), str(creds), f"{creds}", repr(CallContext(exchange="x", base_url="u", credentials=creds))):
        assert "s3cr3t" not in text and "AKIAVERYLONGAPIKEY123" not in text and "pw-123456" not in text

"""The validation checklist of ``terminal5.testing.checklist`` (phases 1 to 7), run against this plugin
and the loopback exchange of ``terminal5.testing`` on 127.0.0.1 (the way every plugin runs it)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from terminal5.testing.checklist import ChecklistTarget, ExchangeChecklist
from terminal5.testing.loopback_server import Fault, LoopbackExchange

import terminal5_template.plugin as plugin
from terminal5_template.constants import NAME, STATUSES


class TestLoopbackChecklist(ExchangeChecklist):
    @pytest.fixture
    async def checklist(self, t5_gateway) -> AsyncIterator[ChecklistTarget]:  # type: ignore[no-untyped-def]
        async with LoopbackExchange({"good-key": "good-secret"}) as exchange:
            gateway = await t5_gateway(plugin, http_timeout=1.5)
            good = await gateway.add_broker(
                user_id=1,
                exchange=NAME,
                label="good",
                api_key="good-key",
                api_secret="good-secret",
                base_url=exchange.url,
            )
            bad = await gateway.add_broker(
                user_id=1, exchange=NAME, label="bad", api_key="bad-key", api_secret="nope", base_url=exchange.url
            )

            @contextlib.contextmanager
            def arrange(scenario: str) -> Iterator[None]:
                if scenario == "unknown_status":
                    exchange.inject(Fault(kind="status", value="SOMETHING_NEW"))
                elif scenario == "network_timeout":
                    exchange.inject(Fault(kind="timeout_after_accept", delay=5.0))
                yield

            yield ChecklistTarget(
                gateway=gateway,
                broker=good,
                bad_broker=bad,
                exchange=NAME,
                spot_symbol="BTC/USDT",
                limit_price="43000.10",
                quantity="0.001",
                documented_statuses=list(STATUSES),
                futures_symbol="BTC/USDT:USDT",
                futures_price="43000.1",
                futures_quantity="0.001",
                stop_price_below="40000",
                stop_price_above="50000",
                arrange=arrange,
                simulator_url=exchange.url,
            )

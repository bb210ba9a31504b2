"""Fixtures for the core tests: a gateway wired to the loopback exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
import terminal5_template.plugin as loopback

from terminal5.testing.loopback_server import LoopbackExchange


@attrs.define
class Env:
    gateway: Any
    exchange: LoopbackExchange
    broker: Any

    def order(self, **overrides: Any) -> dict[str, Any]:
        data = {
            "symbol": "BTC/USDT",
            "side": "buy",
            "type": "limit",
            "quantity": "0.001",
            "price": "43000.10",
            "user_id": self.broker.user_id,
            "broker_id": self.broker.id,
        }
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}

    def order_posts(self) -> int:
        return len(self.exchange.placed)


@pytest.fixture
async def env(t5_gateway: Any) -> AsyncIterator[Env]:
    async with LoopbackExchange({"key-1": "secret-1", "key-2": "secret-2"}) as exchange:
        gateway = await t5_gateway(loopback)
        broker = await gateway.add_broker(
            user_id=1, exchange="loopback", label="main", api_key="key-1", api_secret="secret-1", base_url=exchange.url
        )
        yield Env(gateway=gateway, exchange=exchange, broker=broker)

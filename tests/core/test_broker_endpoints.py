"""A broker's base_url override is per market type; reconciliation visits only the market types the broker
trades (issue 10, item 15)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from loopback_double import make_plugin
from terminal5_template.client import LoopbackClient

from terminal5.contract import CallContext, NativePayload
from terminal5.errors import Terminal5Error, UnsupportedParameterError
from terminal5.models import Market, MarketType
from terminal5.testing.loopback_server import LoopbackExchange


def recording_client(visited: list[tuple[MarketType, str]]) -> Any:
    class Recording(LoopbackClient):
        async def fetch_open_orders(self, ctx: CallContext, market: Market | None) -> Sequence[NativePayload]:
            visited.append((ctx.market_type, ctx.base_url))
            return await super().fetch_open_orders(ctx, market)

    return Recording


@pytest.fixture
async def spot_only(t5_gateway: Any) -> Any:
    """A spot-only host: the loopback exchange. Nothing listens at the plugin's default swap URL."""
    visited: list[tuple[MarketType, str]] = []
    async with LoopbackExchange({"key-1": "secret-1"}) as exchange:
        gw = await t5_gateway(make_plugin(recording_client(visited)))
        yield gw, exchange, visited


async def _broker(gw: Any, exchange: LoopbackExchange, base_url: Any, label: str = "spot") -> Any:
    return await gw.add_broker(user_id=1, exchange="loopback", label=label, api_key="key-1", api_secret="secret-1",
                               base_url=base_url)


@pytest.mark.parametrize("form", ["mapping", "text"])
async def test_a_spot_override_makes_a_spot_broker(spot_only: Any, form: str) -> None:
    gw, exchange, visited = spot_only
    base_url = {"spot": exchange.url} if form == "mapping" else f"spot={exchange.url}"
    broker = await _broker(gw, exchange, base_url)
    assert broker.base_urls == {"spot": exchange.url} and broker.base_url is None
    assert broker.to_dict()["base_urls"] == {"spot": exchange.url}
    found = await gw.reconcile(broker.id)  # would fail reaching the swap endpoint if it were visited
    assert found["external"] == 0
    assert visited == [(MarketType.SPOT, exchange.url)]
    order = await gw.place_order({"symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": "0.001",
                                  "price": "43000", "user_id": 1, "broker_id": broker.id})
    assert order.status.value == "open"


async def test_a_market_type_the_broker_does_not_trade_is_refused_before_sending(spot_only: Any) -> None:
    gw, exchange, _ = spot_only
    broker = await _broker(gw, exchange, {"spot": exchange.url})
    with pytest.raises(UnsupportedParameterError) as raised:
        await gw.place_order({"symbol": "BTC/USDT:USDT", "side": "buy", "type": "limit", "quantity": "0.001",
                              "price": "43000", "user_id": 1, "broker_id": broker.id, "client_order_id": "swap-1"})
    assert raised.value.field == "symbol" and "spot" in raised.value.message
    assert exchange.attempts["swap-1"] == 0 and exchange.requests == 0


async def test_each_market_type_has_its_own_host(spot_only: Any) -> None:
    gw, exchange, visited = spot_only
    async with LoopbackExchange({"key-1": "secret-1"}) as futures_host:
        broker = await _broker(gw, exchange, {"spot": exchange.url, "swap": futures_host.url})
        await gw.reconcile(broker.id)
        assert sorted(visited) == sorted([(MarketType.SPOT, exchange.url), (MarketType.SWAP, futures_host.url)])
        order = await gw.place_order({"symbol": "BTC/USDT:USDT", "side": "buy", "type": "limit", "quantity": "0.001",
                                      "price": "43000", "user_id": 1, "broker_id": broker.id,
                                      "client_order_id": "perp-1"})
        assert order.status.value == "open"
        assert futures_host.placements("perp-1") == 1 and exchange.attempts["perp-1"] == 0


async def test_one_url_for_every_market_type_still_works(spot_only: Any) -> None:
    gw, exchange, visited = spot_only
    broker = await _broker(gw, exchange, exchange.url)
    assert broker.base_url == exchange.url and broker.base_urls == {}
    await gw.reconcile(broker.id)
    assert sorted(visited) == sorted([(MarketType.SPOT, exchange.url), (MarketType.SWAP, exchange.url)])


@pytest.mark.parametrize("bad", [{"options": "http://x"}, "margin=http://x", {"spot": ""}, {"spot": "ftp://x"}])
async def test_bad_overrides_name_the_field(spot_only: Any, bad: Any) -> None:
    gw, exchange, _ = spot_only
    with pytest.raises(Terminal5Error) as raised:
        await _broker(gw, exchange, bad, label="bad")
    assert raised.value.field == "base_url"

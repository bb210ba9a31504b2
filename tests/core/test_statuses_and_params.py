"""Status normalization (UNKNOWN path) and the three parameter levels, through the pipeline."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
import terminal5_template.plugin as loopback
from sample_orders import limit_buy

from terminal5.contract import Alert
from terminal5.errors import UnsupportedParameterError
from terminal5.hookspecs import hookimpl, overrides
from terminal5.models import OrderStatus
from terminal5.testing.loopback_server import Fault, LoopbackExchange


@pytest.fixture
async def alerting(t5_gateway: Any) -> Any:
    received: list[Alert] = []
    sink = SimpleNamespace(__name__="test-sink", alert=hookimpl(lambda alert: received.append(alert)))
    async with LoopbackExchange({"k": "s"}) as exchange:
        gateway = await t5_gateway(loopback, sink)
        broker = await gateway.add_broker(
            user_id=1, exchange="loopback", label="x", api_key="k", api_secret="s", base_url=exchange.url
        )
        yield SimpleNamespace(gateway=gateway, exchange=exchange, broker=broker, alerts=received)


def order(env: Any, **extra: Any) -> dict[str, Any]:
    return limit_buy(env.broker.id, **extra)


async def test_unknown_status_is_stored_with_raw_and_alerted_once(alerting: Any) -> None:
    for i in range(3):
        alerting.exchange.inject(Fault(kind="status", value="PENDING_MARS"))
        placed = await alerting.gateway.place_order(order(alerting, client_order_id=f"u{i}"))
        assert placed.status is OrderStatus.UNKNOWN
        assert placed.native_status == "PENDING_MARS" and placed.raw["status"] == "PENDING_MARS"
    stored = await alerting.gateway.get_order(broker_id=alerting.broker.id, client_order_id="u0")
    assert stored.status is OrderStatus.UNKNOWN and stored.raw["status"] == "PENDING_MARS"
    unknown = [a for a in alerting.alerts if a.kind == "unknown_status"]
    assert len(unknown) == 1 and "PENDING_MARS" in unknown[0].message


async def test_a_raising_status_hook_still_gives_unknown(alerting: Any) -> None:
    def explode(exchange: str, native_status: str) -> None:
        raise KeyError(native_status)

    crashing = SimpleNamespace(__name__="crashing-status", normalize_status=overrides("loopback")(explode))
    alerting.gateway.hooks.pm.register(crashing)
    placed = await alerting.gateway.place_order(order(alerting, client_order_id="crash-status"))
    assert placed.status is OrderStatus.UNKNOWN


async def test_level1_unsupported_refuses_and_sends_nothing(alerting: Any) -> None:
    with pytest.raises(UnsupportedParameterError) as raised:
        await alerting.gateway.place_order(order(alerting, reduce_only=True))
    assert raised.value.field == "reduce_only" and "nothing was sent" in raised.value.message
    assert not alerting.exchange.placed


async def test_level1_supported_on_the_other_market_type(alerting: Any) -> None:
    placed = await alerting.gateway.place_order(
        order(alerting, symbol="BTC/USDT:USDT", price="43000.1", reduce_only=True, client_order_id="perp-1")
    )
    assert placed.status is OrderStatus.OPEN
    assert alerting.exchange.placed[0].body["reduceOnly"] == "true"


async def test_level2_unsupported_is_ignored_and_reported(alerting: Any) -> None:
    placed = await alerting.gateway.place_order(
        order(alerting, take_profit_price="50000", trailing_delta="100", client_order_id="l2")
    )
    assert placed.ignored_params == ("take_profit_price", "trailing_delta")
    assert alerting.exchange.placements("l2") == 1
    stored = await alerting.gateway.get_order(broker_id=alerting.broker.id, client_order_id="l2")
    assert stored.ignored_params == ("take_profit_price", "trailing_delta")


async def test_level3_extra_params_pass_verbatim_and_override(alerting: Any) -> None:
    await alerting.gateway.place_order(
        order(
            alerting,
            client_order_id="l3",
            extra_params={"selfTradePrevention": "EXPIRE_TAKER", "type": "LIMIT", "postOnly": True, "iceberg": 3},
        )
    )
    body = alerting.exchange.placed[0].body
    assert body["selfTradePrevention"] == "EXPIRE_TAKER"
    assert body["postOnly"] == "true" and body["iceberg"] == "3"


async def test_tenancy_a_user_cannot_use_another_users_broker(alerting: Any) -> None:
    from terminal5.errors import BrokerNotFound

    with pytest.raises(BrokerNotFound):
        await alerting.gateway.place_order({**order(alerting), "user_id": 2})
    assert not alerting.exchange.placed


async def test_kill_switch_refuses_new_orders(alerting: Any) -> None:
    from terminal5.errors import BrokerDisabled

    await alerting.gateway.set_broker_enabled(alerting.broker.id, False, "kill switch")
    with pytest.raises(BrokerDisabled):
        await alerting.gateway.place_order(order(alerting))
    await alerting.gateway.set_broker_enabled(alerting.broker.id, True)
    assert (await alerting.gateway.place_order(order(alerting))).status is OrderStatus.OPEN


async def test_level2_stop_loss_as_a_linked_child_order(alerting: Any) -> None:
    parent = await alerting.gateway.place_order(
        order(alerting, symbol="BTC/USDT:USDT", price="43000.1", stop_loss_price="41000", client_order_id="par-1")
    )
    assert parent.ignored_params == ()
    assert [p.body["clientId"] for p in alerting.exchange.placed] == ["par-1", "par-1-sl"]
    child = await alerting.gateway.get_order(broker_id=alerting.broker.id, client_order_id="par-1-sl")
    assert child.parent_client_order_id == "par-1"
    assert child.reduce_only and child.side.value == "sell" and child.stop_price == Decimal("41000")
    assert child.status is OrderStatus.OPEN and child.raw["type"] == "STOP_MARKET"
    # replaying the parent places neither twice
    await alerting.gateway.place_order(
        order(alerting, symbol="BTC/USDT:USDT", price="43000.1", stop_loss_price="41000", client_order_id="par-1")
    )
    assert len(alerting.exchange.placed) == 2


async def test_an_answer_the_plugin_cannot_read_is_stored_raw(alerting: Any) -> None:
    def broken(exchange: str, native: Any, context: Any) -> None:
        if exchange == "loopback":
            raise KeyError("origQty")
        return None

    alerting.gateway.hooks.pm.register(
        SimpleNamespace(__name__="broken-reader", from_native=overrides("loopback")(broken))
    )
    placed = await alerting.gateway.place_order(order(alerting, client_order_id="unreadable"))
    assert placed.status is OrderStatus.UNKNOWN and placed.raw["clientId"] == "unreadable"
    assert alerting.exchange.placements("unreadable") == 1
    stored = await alerting.gateway.get_order(broker_id=alerting.broker.id, client_order_id="unreadable")
    assert stored.raw["status"] == "NEW" and stored.status is OrderStatus.UNKNOWN
    assert [a.kind for a in alerting.alerts] == ["unconvertible_answer"]

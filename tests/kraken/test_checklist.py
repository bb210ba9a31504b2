"""The seed's validation checklist, phases 1 to 7 (terminal5.testing.checklist), run against the Kraken
plugin through the real Gateway and the loopback Kraken of the shipped simulator (terminal5_kraken.simulator) (signatures and
nonces checked on every private call), in both client-id modes, with no key or secret in the logs."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from loguru import logger

import terminal5_kraken.plugin as plugin
from terminal5.errors import InvalidOrder
from terminal5.models import OrderStatus
from terminal5.testing.checklist import ChecklistTarget, ExchangeChecklist
from terminal5.testing.conformance import assert_unified_order
from terminal5_kraken.simulator import KrakenSimulator

from .data import TEST_KEY, TEST_SECRET

#: the simulator's clock for these tests (2023-11-14T22:13:20Z)
FROZEN_AT = Decimal(1700000000)

#: reference §6, verbatim
REFERENCE_STATUSES = ["pending", "open", "closed", "canceled", "expired"]
UNKNOWN_STATUS = "SOMETHING_NEW"
#: a key Kraken does not know, with a well-formed (base64) secret: the refusal must come from Kraken
BAD_KEY = "T5-WRONG-KEY-not-on-this-account"
BAD_SECRET = base64.b64encode(b"\x07" * 64).decode()


def add_orders(exchange: KrakenSimulator) -> list[dict[str, str]]:
    return [params for path, params in exchange.calls if path.endswith("/AddOrder")]


class TestKrakenChecklist(ExchangeChecklist):
    @pytest.fixture
    async def fake(self) -> AsyncIterator[tuple[KrakenSimulator, str]]:
        async with KrakenSimulator({TEST_KEY: TEST_SECRET}, frozen_at=FROZEN_AT) as exchange:
            yield exchange, exchange.url

    @pytest.fixture(params=["userref", "cl_ord_id"])
    def mode(self, request: pytest.FixtureRequest) -> str:
        """Both client-id modes: the claimed int32 userref, or a Kraken cl_ord_id string."""
        return str(request.param)

    @pytest.fixture
    async def checklist(  # type: ignore[no-untyped-def]
        self, t5_gateway, fake: tuple[KrakenSimulator, str], tmp_path: Path, mode: str
    ) -> AsyncIterator[ChecklistTarget]:
        exchange, url = fake
        logged: list[str] = []
        sink = logger.add(lambda message: logged.append(str(message)), level="DEBUG")
        gateway = await t5_gateway(plugin, http_timeout=1.5)
        options = {"nonce_dir": str(tmp_path / "nonce"), "client_id_mode": mode}
        id_field = "userref" if mode == "userref" else "cl_ord_id"
        good = await gateway.add_broker(
            user_id=1, exchange="kraken", label="good", api_key=TEST_KEY, api_secret=TEST_SECRET,
            base_url=url, options=options,
        )
        bad = await gateway.add_broker(
            user_id=1, exchange="kraken", label="bad", api_key=BAD_KEY, api_secret=BAD_SECRET,
            base_url=url, options=options,
        )

        @contextlib.contextmanager
        def arrange(scenario: str) -> Iterator[None]:
            sent_before = len(add_orders(exchange))
            kraken = gateway.pool.client_for("kraken").client
            if scenario == "unknown_status":
                # AddOrder's answer carries no status: a status is only seen by reading the order back
                kraken.read_back = "always"
                exchange.add_fault({"endpoint": "AddOrder", "kind": "unknown_status", "value": UNKNOWN_STATUS})
            elif scenario == "network_timeout":
                exchange.add_fault({"endpoint": "AddOrder", "kind": "timeout", "delay": 5.0})  # the gateway gives up after 1.5 s
            try:
                yield
            finally:
                kraken.read_back = "immediate"
            sent = add_orders(exchange)[sent_before:]
            assert all(("userref" in p) != ("cl_ord_id" in p) and id_field in p for p in sent)
            if scenario in ("quantity_too_small", "invalid_symbol", "keys_invalid"):
                assert not sent, f"{scenario}: refused before sending, nothing reaches Kraken"
            elif scenario == "duplicate":
                assert len(sent) == 1, "one order on Kraken for one client id"
            elif scenario == "network_timeout":
                assert len(sent) == 1, f"never sent twice: found by {id_field} after the timeout"
                lookups = [p for path, p in exchange.calls if path.endswith("/OpenOrders") and id_field in p]
                assert lookups and lookups[-1][id_field] == sent[0][id_field]
                assert next(iter(exchange.orders.values()))["status"] == "open"
            elif scenario == "insufficient_balance":
                assert len(sent) == 1
            elif scenario == "stop_loss":
                assert sent[0]["ordertype"] == "stop-loss" and Decimal(sent[0]["price"]) == Decimal("25000")
            elif scenario == "take_profit":
                assert sent[0]["ordertype"] == "take-profit" and Decimal(sent[0]["price"]) == Decimal("35000")
            elif scenario == "ioc":
                assert sent[0]["timeinforce"] == "IOC"

        yield ChecklistTarget(
            gateway=gateway,
            broker=good,
            bad_broker=bad,
            exchange="kraken",
            spot_symbol="BTC/USD",
            limit_price="27500.0",
            quantity="0.001",
            documented_statuses=REFERENCE_STATUSES,
            futures_symbol=None,  # Kraken spot: reduce_only must be refused (UnsupportedParameterError)
            too_small_quantity="0.00005",  # within lot_decimals (8), below ordermin 0.0001
            huge_quantity="1000000",
            stop_price_below="25000.0",
            stop_price_above="35000.0",
            unknown_status_value=UNKNOWN_STATUS,
            arrange=arrange,
            simulator_url=exchange.url,
        )
        logger.remove(sink)
        assert logged, "the gateway logged its calls"
        for secret in (TEST_KEY, TEST_SECRET, BAD_KEY, BAD_SECRET):
            assert not [line for line in logged if secret in line], "a key or secret reached the logs"

    # --- Kraken-specific additions to the checklist ------------------------------------------------------

    async def test_market_orders_fill_with_fee(self, checklist: ChecklistTarget) -> None:
        order = await checklist.gateway.place_order(checklist.order(type="market", price=None, client_order_id="ck-m"))
        assert order.status is OrderStatus.CLOSED and order.filled == order.quantity == Decimal("0.001")
        assert order.average == Decimal("30000.0") and order.fee == Decimal("0.12") and order.fee_currency == "USD"

    async def test_ioc_not_crossing_is_cancelled_unfilled(self, checklist: ChecklistTarget) -> None:
        order = await checklist.gateway.place_order(checklist.order(time_in_force="IOC", client_order_id="ck-ioc2"))
        assert_unified_order(order)
        assert order.status is OrderStatus.CANCELLED and order.filled == 0

    async def test_stop_orders_read_back_with_their_trigger(self, checklist: ChecklistTarget) -> None:
        order = await checklist.gateway.place_order(
            checklist.order(side="sell", type="stop_loss", price=None, stop_price="25000.0", client_order_id="ck-s2")
        )
        assert order.status is OrderStatus.OPEN and order.stop_price == Decimal("25000") and order.price is None

    async def test_edit_in_place(self, checklist: ChecklistTarget) -> None:
        """AmendOrder through Gateway.edit_order (the checklist's own edit item defers to the daemon)."""
        placed = await checklist.gateway.place_order(checklist.order(client_order_id="ck-edit"))
        edited = await checklist.gateway.edit_order(
            broker_id=checklist.broker.id, client_order_id="ck-edit", quantity=Decimal("0.002"),
            price=Decimal("27400.0"),
        )
        assert edited.id == placed.id and edited.status is OrderStatus.OPEN
        assert edited.price == Decimal("27400") and edited.quantity == Decimal("0.002")
        stored = await checklist.gateway.get_order(broker_id=checklist.broker.id, client_order_id="ck-edit")
        assert stored.quantity == Decimal("0.002") and stored.price == Decimal("27400")

    async def test_timeout_is_resolved_to_the_open_order(
        self, checklist: ChecklistTarget, fake: tuple[KrakenSimulator, str]
    ) -> None:
        """Stricter than the checklist's item: the lookup by client id finds the order (not pending_submit)."""
        exchange, _ = fake
        exchange.add_fault({"endpoint": "AddOrder", "kind": "timeout", "delay": 5.0})
        order = await checklist.gateway.place_order(checklist.order(client_order_id="ck-late"))
        assert order.status is OrderStatus.OPEN and order.id in exchange.orders
        assert order.client_order_id == "ck-late" and order.raw

    async def test_too_small_is_refused_by_the_named_rule(self, checklist: ChecklistTarget) -> None:
        with pytest.raises(InvalidOrder) as below:
            await checklist.gateway.place_order(checklist.order(quantity="0.00005", client_order_id="ck-min"))
        assert below.value.code == "ordermin" and below.value.field == "quantity"
        with pytest.raises(InvalidOrder) as precise:
            await checklist.gateway.place_order(checklist.order(quantity="0.0000000001", client_order_id="ck-lot"))
        assert precise.value.code == "lot_decimals"

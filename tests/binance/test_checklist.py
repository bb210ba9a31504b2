"""The seed's validation checklist, phases 1 to 7 (terminal5.testing.checklist), run for Binance through
the real ``terminal5.gateway.Gateway`` against the shipped Binance simulator (``terminal5_binance.simulator``) (spot
``BTC/USDT`` and USDⓈ-M ``BTC/USDT:USDT``; signatures verified, nothing leaves 127.0.0.1).

``arrange(scenario)`` puts the fake in the state each scenario needs and, after the scenario, checks the
exchange side of the story (what reached the fake, what it answered), so a pass cannot come from a
shortcut: e.g. ``insufficient_balance`` must be Binance's -2010 answer, not a local refusal, while
``quantity_too_small`` and ``invalid_symbol`` must be refused before anything is sent.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from terminal5.errors import AuthenticationError, UnsupportedParameterError
from terminal5.models import OrderStatus
from terminal5.testing.checklist import ChecklistTarget, ExchangeChecklist
from terminal5_binance import constants, plugin
from terminal5_binance.simulator import BinanceSimulator

GOOD_KEY, GOOD_SECRET = "checklist-key", "checklist-secret"
ORDER_PATHS = ("/api/v3/order", "/fapi/v1/order", "/fapi/v1/algoOrder")
#: the client id every scenario's order uses (see terminal5.testing.checklist)
SCENARIO_IDS = {
    "market_buy": "ck-market_buy",
    "market_sell": "ck-market_sell",
    "limit_buy": "ck-limit_buy",
    "limit_sell": "ck-limit_sell",
    "stop_loss": "ck-stop",
    "take_profit": "ck-tp",
    "ioc": "ck-ioc",
    "reduce_only": "ck-ro",
    "open_orders": "ck-open",
    "unknown_status": "ck-unknown",
    "insufficient_balance": "ck-poor",
    "network_timeout": "ck-timeout",
}
#: native type each scenario must send, and where: spot, USDⓈ-M orders, USDⓈ-M conditional (algo) orders
NATIVE = {
    "spot": {
        "market_buy": "MARKET",
        "market_sell": "MARKET",
        "limit_buy": "LIMIT",
        "limit_sell": "LIMIT",
        "stop_loss": "STOP_LOSS",
        "take_profit": "TAKE_PROFIT",
        "ioc": "LIMIT",
    },
    "usdm": {
        "market_buy": "MARKET",
        "market_sell": "MARKET",
        "limit_buy": "LIMIT",
        "limit_sell": "LIMIT",
        "stop_loss": "STOP_MARKET",
        "take_profit": "TAKE_PROFIT_MARKET",
        "ioc": "LIMIT",
        "reduce_only": "LIMIT",
    },
}
ORDER_PATH = {"spot": "/api/v3/order", "usdm": "/fapi/v1/order"}
#: what Binance answers an order the account cannot pay for
NO_FUNDS = {"spot": -2010, "usdm": -2019}
#: USDⓈ-M modifies LIMIT orders in place (PUT /fapi/v1/order); spot cannot
SPOT_EDIT_REASON = (
    "Binance spot has no in-place price change (order/amend/keepPriority only reduces quantity, and its "
    "answer shape is unsure in the reference): edit_order raises UnsupportedParameterError on spot"
)


def _order_posts(fake: BinanceSimulator) -> list[tuple[str, str]]:
    return [(m, p) for m, p in fake.requests if m == "POST" and p in ORDER_PATHS]


def _arrange(fake: BinanceSimulator, product: str) -> Callable[[str], contextlib.AbstractContextManager[None]]:
    @contextlib.contextmanager
    def arrange(scenario: str) -> Iterator[None]:
        posts_before = len(_order_posts(fake))
        if scenario == "unknown_status":
            fake.report_status_once("SOMETHING_NEW")
        elif scenario == "network_timeout":
            fake.answer_late_once(5.0)  # the gateway's http_timeout is 1.5 s
        elif scenario == "reduce_only":
            fake.positions["BTCUSDT"] = Decimal("0.010")  # a long to reduce, else Binance answers -2022
        elif scenario == "insufficient_balance":
            fake.balances["USDT"] = Decimal("1000")
            fake.futures_available = Decimal("1000")
        yield
        # only reached when the scenario's block ended normally (expected errors are caught inside it)
        sent = _order_posts(fake)[posts_before:]
        expected_types = NATIVE[product] | {"reduce_only": "LIMIT"}
        if scenario in expected_types:
            (placed,) = fake.placed(SCENARIO_IDS[scenario])
            assert placed["type"] == expected_types[scenario], placed
            if scenario in ("stop_loss", "take_profit"):
                trigger = "stopPrice" if product == "spot" else "triggerPrice"
                assert trigger in placed and "price" not in placed, placed
            if scenario == "ioc":
                assert placed["timeInForce"] == "IOC", placed
            if scenario == "reduce_only":
                assert placed["reduceOnly"] == "true" and ("POST", "/fapi/v1/order") in sent, placed
        if scenario in ("invalid_symbol", "quantity_too_small"):
            assert not sent, f"{scenario}: refused before sending, yet {sent} reached Binance"
        if scenario == "insufficient_balance":
            assert fake.rejections[-1] == (ORDER_PATH[product], NO_FUNDS[product]), fake.rejections
        if scenario == "keys_invalid":
            assert fake.rejections[-1] == ("/api/v3/account", -2015), fake.rejections
        if scenario == "duplicate":
            assert len(fake.placed("ck-dup")) == 1, "the same request twice is sent once"
        if scenario == "network_timeout":
            assert len(fake.placed("ck-timeout")) == 1, "after a timeout the order is looked up, never resent"
            assert ("GET", ORDER_PATH[product]) in fake.requests, "looked up by client id"

    return arrange


@pytest.fixture
async def fake() -> AsyncIterator[BinanceSimulator]:
    async with BinanceSimulator({GOOD_KEY: GOOD_SECRET}, last=Decimal("43000")) as fake:
        yield fake


@pytest.fixture
async def brokers(
    t5_gateway: Any, fake: BinanceSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Any, Any]:
    # the plugin's exchangeInfo disk cache stays inside the test's directory
    monkeypatch.setenv("TERMINAL5_BINANCE_CACHE_DIR", str(tmp_path / "binance-cache"))
    # 1.5 s: shorter than the fake's late answer in ``network_timeout``
    gateway = await t5_gateway(plugin, http_timeout=1.5)
    good = await gateway.add_broker(
        user_id=1, exchange="binance", label="good", api_key=GOOD_KEY, api_secret=GOOD_SECRET, base_url=fake.url
    )
    bad = await gateway.add_broker(
        user_id=1, exchange="binance", label="bad", api_key="not-a-binance-key", api_secret="nope", base_url=fake.url
    )
    return gateway, good, bad


def _target(fake: BinanceSimulator, brokers: tuple[Any, Any, Any], product: str) -> ChecklistTarget:
    gateway, good, bad = brokers
    common: dict[str, Any] = {
        "gateway": gateway,
        "broker": good,
        "bad_broker": bad,
        "exchange": "binance",
        "documented_statuses": list(constants.STATUSES),
        "futures_symbol": "BTC/USDT:USDT",
        "futures_price": "43000.1",
        # MIN_NOTIONAL is 100 USDT on the perpetual: 0.001 x 43000.1 would be refused before sending
        "futures_quantity": "0.005",
        # inside LOT_SIZE maxQty and NOTIONAL maxNotional, so Binance itself must refuse it
        "huge_quantity": "100",
        "stop_price_below": "40000",
        "stop_price_above": "50000",
        "unsupported": {"edit": SPOT_EDIT_REASON} if product == "spot" else {},
        "arrange": _arrange(fake, product),
        "simulator_url": fake.url,
    }
    if product == "spot":
        return ChecklistTarget(spot_symbol="BTC/USDT", limit_price="43000.10", quantity="0.001", **common)
    return ChecklistTarget(spot_symbol="BTC/USDT:USDT", limit_price="43000.1", quantity="0.005", **common)


class TestBinanceUsdmChecklist(ExchangeChecklist):
    """The same checklist with the USDⓈ-M perpetual as the main market: conditional orders go to the algo
    endpoint, lookups after a timeout to /fapi/v1/order, "cannot pay" is -2019."""

    @pytest.fixture
    def checklist(self, fake: BinanceSimulator, brokers: tuple[Any, Any, Any]) -> ChecklistTarget:
        return _target(fake, brokers, "usdm")

    async def test_modify_changes_price_and_quantity_in_place(
        self, checklist: ChecklistTarget, fake: BinanceSimulator
    ) -> None:
        placed = await checklist.gateway.place_order(checklist.order(client_order_id="ck-modify"))
        edited = await checklist.gateway.edit_order(
            broker_id=checklist.broker.id,
            client_order_id="ck-modify",
            quantity=Decimal("0.006"),
            price=Decimal("42999.9"),
        )
        assert edited.id == placed.id and edited.quantity == Decimal("0.006") and edited.price == Decimal("42999.9")
        assert fake.modifications[-1]["side"] == "BUY" and fake.modifications[-1]["quantity"] == "0.006"
        stored = await checklist.gateway.get_order(broker_id=checklist.broker.id, client_order_id="ck-modify")
        assert stored.quantity == Decimal("0.006") and stored.raw["price"] == "42999.9"

    async def test_off_tick_modification_is_refused_before_sending(
        self, checklist: ChecklistTarget, fake: BinanceSimulator
    ) -> None:
        from terminal5.errors import InvalidOrder

        await checklist.gateway.place_order(checklist.order(client_order_id="ck-modify-bad"))
        with pytest.raises(InvalidOrder):
            await checklist.gateway.edit_order(
                broker_id=checklist.broker.id, client_order_id="ck-modify-bad", price=Decimal("42999.95")
            )
        assert not fake.modifications


class TestBinanceChecklist(ExchangeChecklist):
    @pytest.fixture
    def checklist(self, fake: BinanceSimulator, brokers: tuple[Any, Any, Any]) -> ChecklistTarget:
        return _target(fake, brokers, "spot")

    # --- Binance specifics beyond the shared checklist ------------------------------------------------

    async def test_wrong_secret_is_invalid_signature(self, checklist: ChecklistTarget, fake: BinanceSimulator) -> None:
        broker = await checklist.gateway.add_broker(
            user_id=1, exchange="binance", label="wrong-secret", api_key=GOOD_KEY, api_secret="wrong", base_url=fake.url
        )
        with pytest.raises(AuthenticationError) as info:
            await checklist.gateway.fetch_balances(broker_id=broker.id)
        assert info.value.code == -1022
        assert "wrong" not in str(info.value) and GOOD_SECRET not in str(info.value)

    async def test_edit_is_refused_not_faked(self, checklist: ChecklistTarget) -> None:
        await checklist.gateway.place_order(checklist.order(client_order_id="ck-edit"))
        with pytest.raises(UnsupportedParameterError):
            await checklist.gateway.edit_order(
                broker_id=checklist.broker.id, client_order_id="ck-edit", price=Decimal("43000.20")
            )

    async def test_market_orders_fill_at_the_touch(self, checklist: ChecklistTarget) -> None:
        order = await checklist.gateway.place_order(checklist.order(type="market", price=None, client_order_id="ck-mk"))
        assert order.status is OrderStatus.CLOSED and order.filled == Decimal("0.001")
        assert order.average == Decimal("43100") and order.remaining == Decimal(0)

    async def test_ioc_that_cannot_fill_expires(self, checklist: ChecklistTarget) -> None:
        order = await checklist.gateway.place_order(checklist.order(time_in_force="IOC", client_order_id="ck-ioc2"))
        assert order.native_status == "EXPIRED" and order.status is OrderStatus.CANCELLED
        assert order.filled == Decimal(0)

    async def test_timeout_order_is_found_open(self, checklist: ChecklistTarget, fake: BinanceSimulator) -> None:
        with checklist.arrange("network_timeout"):
            order = await checklist.gateway.place_order(checklist.order(client_order_id="ck-timeout"))
        # the checklist accepts pending_submit too; against this fake the lookup must find it
        assert order.status is OrderStatus.OPEN and order.id is not None
        assert int(order.id) in fake.orders

    async def test_audit_log_keeps_no_secret(self, checklist: ChecklistTarget) -> None:
        """Every native call is audited (URL, headers, body): the signature and the API key never are."""
        gateway = checklist.gateway
        await gateway.place_order(checklist.order(client_order_id="ck-audit"))
        await gateway.flush()
        rows = await gateway.storage.run(lambda: list(gateway.storage.m.AuditRecord.select()))
        assert rows, "calls are audited"
        signed = 0
        for row in rows:
            text = f"{row.url} {row.request_headers} {row.request_body} {row.response_body}"
            assert GOOD_KEY not in text and GOOD_SECRET not in text, text
            for name, value in parse_qsl(urlsplit(row.url).query):
                if name == "signature":
                    signed += 1
                    assert not re.fullmatch(r"[0-9a-f]{64}", value), row.url
        assert signed, "the order placement is a signed call: its audited URL names a (masked) signature"

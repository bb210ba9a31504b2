"""The validation checklist, phases 1 to 7 (terminal5.testing.checklist), run for Bitget through the real
``terminal5.gateway.Gateway`` against the shipped simulator (``terminal5_bitget.simulator``: signatures,
passphrase and envelopes checked; nothing leaves 127.0.0.1; its records route drives the exchange-side
checks of ``terminal5.testing.exchange_checks``): spot ``BTC/USDT``, and the USDT-M perpetual
``BTC/USDT:USDT`` in one-way and in hedge mode.

``arrange(scenario)`` puts the simulator in the state each scenario needs and, after it, checks the exchange
side of the story (what reached the simulator, what it answered), so a pass cannot come from a shortcut:
``insufficient_balance`` must be Bitget's own 43012/40762, while ``quantity_too_small`` and
``invalid_symbol`` must be refused before anything is sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from terminal5.errors import AuthenticationError, InvalidOrder, UnsupportedParameterError
from terminal5.models import OrderStatus, PositionSide
from terminal5.testing.checklist import ChecklistTarget, ExchangeChecklist
from terminal5_bitget import constants, plugin
from terminal5_bitget.convert import SPOT_MARKET_BUY_RULE
from terminal5_bitget.simulator import BitgetSimulator
from terminal5_bitget.simulator_state import SimState

GOOD = ("checklist-key", "checklist-secret", "checklist-pass")
SPOT_PATHS = (constants.Spot.place, constants.Spot.place_plan)
MIX_PATHS = (constants.Mix.place, constants.Mix.place_plan)
SCENARIO_IDS = {
    "market_buy": "ck-market_buy", "market_sell": "ck-market_sell", "limit_buy": "ck-limit_buy",
    "limit_sell": "ck-limit_sell", "stop_loss": "ck-stop", "take_profit": "ck-tp", "ioc": "ck-ioc",
    "reduce_only": "ck-ro",
}
#: (path, orderType) each scenario must send
EXPECTED = {
    "market_buy": ("place", "market"), "market_sell": ("place", "market"), "limit_buy": ("place", "limit"),
    "limit_sell": ("place", "limit"), "stop_loss": ("plan", "market"), "take_profit": ("plan", "market"),
    "ioc": ("place", "limit"), "reduce_only": ("place", "limit"),
}
NO_FUNDS = {"spot": (constants.Spot.place, "43012"), "one_way": (constants.Mix.place, "40762"),
            "hedge": (constants.Mix.place, "40762")}
SPOT_EDIT_REASON = "Bitget modifies mix orders only: a spot edit raises UnsupportedParameterError (tested below)"


def _posts(state: SimState) -> list[tuple[str, str, dict[str, Any]]]:
    return list(state.placements)


def read_back(gateway: Any, mode: str) -> None:
    """The ``read_back`` mode of brokers that do not set the option (the shared client's default)."""
    gateway.pool.client_for("bitget").client.read_back = mode


def _arrange(sim: BitgetSimulator, product: str,
             gateway: Any) -> Callable[[str], contextlib.AbstractContextManager[None]]:
    state = sim.state
    paths = SPOT_PATHS if product == "spot" else MIX_PATHS

    @contextlib.contextmanager
    def arrange(scenario: str) -> Iterator[None]:
        before = len(state.placements)
        requests_before = len(state.requests)
        account = state.accounts[GOOD[0]]
        if scenario == "unknown_status":
            # the place answer carries no status: a status is only seen by reading the order back
            read_back(gateway, "always")
            sim.add_fault({"endpoint": "@place", "kind": "unknown_status", "value": "SOMETHING_NEW"})
        elif scenario == "network_timeout":
            sim.add_fault({"endpoint": "@place", "kind": "timeout", "delay": 5.0})  # the gateway waits 1.5 s
        elif scenario == "reduce_only":
            account.positions[("BTCUSDT", "long")] = [Decimal("0.010"), Decimal(43000)]
        elif scenario == "insufficient_balance":
            account.spot.free["USDT"] = Decimal(1000)
            account.margin["USDT"] = Decimal(1000)
        try:
            yield
        finally:
            read_back(gateway, "immediate")
        sent = state.placements[before:]
        if scenario in EXPECTED:
            (placed,) = state.placed(SCENARIO_IDS[scenario])
            kind, order_type = EXPECTED[scenario]
            path = next(p for _, p, v in sent if v is placed)
            where = MIX_PATHS if scenario == "reduce_only" else paths  # reduce-only runs on the perpetual
            assert path == where[0 if kind == "place" else 1], (scenario, path)
            assert placed["orderType"] == order_type, placed
            if kind == "plan":
                assert placed["triggerPrice"] and "price" not in placed, placed
            if scenario == "ioc":
                assert placed["force"] == "ioc", placed
            if scenario == "reduce_only":
                if product == "hedge":  # closing the long: side names the position, tradeSide closes it
                    assert (placed["side"], placed["tradeSide"]) == ("buy", "close") and "reduceOnly" not in placed
                else:
                    assert placed["reduceOnly"] == "YES" and "tradeSide" not in placed, placed
        if scenario in ("invalid_symbol", "quantity_too_small"):
            assert not sent and not [r for r in state.requests[requests_before:] if r[1] in paths], sent
        if scenario == "insufficient_balance":
            assert state.rejections[-1] == NO_FUNDS[product], state.rejections
        if scenario == "keys_invalid":
            assert state.rejections[-1] == (constants.Spot.assets, "40006"), state.rejections
        if scenario == "duplicate":
            assert len(state.placed("ck-dup")) == 1, "the same request twice is sent once"
        if scenario == "network_timeout":
            assert len(state.placed("ck-timeout")) == 1, "after a timeout the order is looked up, never resent"
            lookups = [r for r in state.requests[requests_before:] if r[1] in (constants.Spot.order_info,
                                                                                 constants.Mix.detail)]
            assert lookups, "looked up by clientOid"

    return arrange


@pytest.fixture
async def sim() -> AsyncIterator[BitgetSimulator]:
    async with BitgetSimulator([GOOD], n_spot=1000, n_usdt=200) as sim:
        yield sim


async def _brokers(t5_gateway: Any, sim: BitgetSimulator, options: dict[str, str]) -> tuple[Any, Any, Any]:
    gateway = await t5_gateway(plugin, http_timeout=1.5)
    good = await gateway.add_broker(user_id=1, exchange="bitget", label="good", api_key=GOOD[0], api_secret=GOOD[1],
                                    api_password=GOOD[2], base_url=sim.url, options=options)
    bad = await gateway.add_broker(user_id=1, exchange="bitget", label="bad", api_key="not-a-bitget-key",
                                   api_secret="nope", api_password="nope", base_url=sim.url)
    return gateway, good, bad


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMINAL5_BITGET_CACHE_DIR", str(tmp_path / "bitget-cache"))


def _target(sim: BitgetSimulator, brokers: tuple[Any, Any, Any], product: str) -> ChecklistTarget:
    gateway, good, bad = brokers
    common: dict[str, Any] = {
        "gateway": gateway, "broker": good, "bad_broker": bad, "exchange": "bitget",
        "documented_statuses": list(constants.STATUSES), "futures_symbol": "BTC/USDT:USDT",
        "futures_price": "43000.1", "futures_quantity": "0.005", "huge_quantity": "100",
        "stop_price_below": "40000", "stop_price_above": "50000", "arrange": _arrange(sim, product, gateway),
        "simulator_url": sim.url,
    }
    if product == "spot":
        return ChecklistTarget(spot_symbol="BTC/USDT", limit_price="43000.10", quantity="0.001",
                               unsupported={"edit": SPOT_EDIT_REASON, "market_buy": SPOT_MARKET_BUY_RULE}, **common)
    return ChecklistTarget(spot_symbol="BTC/USDT:USDT", limit_price="43000.1", quantity="0.005", **common)


class TestBitgetSpotChecklist(ExchangeChecklist):
    @pytest.fixture
    async def checklist(self, t5_gateway: Any, sim: BitgetSimulator) -> ChecklistTarget:
        return _target(sim, await _brokers(t5_gateway, sim, {}), "spot")

    async def test_market_buy_spends_the_quote_amount_given(self, checklist: ChecklistTarget,
                                                             sim: BitgetSimulator) -> None:
        order = await checklist.gateway.place_order(checklist.order(
            type="market", price=None, client_order_id="ck-mb", extra_params={"size": "43.01"}))
        (placed,) = sim.state.placed("ck-mb")
        assert placed["size"] == "43.01" and placed["orderType"] == "market"
        assert order.status is OrderStatus.CLOSED and order.filled == Decimal("0.001")
        assert order.average == Decimal("43010") and order.fee == Decimal("0.000001") and order.fee_currency == "BTC"

    async def test_market_buy_without_quote_amount_is_refused_before_sending(
        self, checklist: ChecklistTarget, sim: BitgetSimulator
    ) -> None:
        with pytest.raises(InvalidOrder) as info:
            await checklist.gateway.place_order(checklist.order(type="market", price=None, client_order_id="ck-mb0"))
        assert info.value.field == "quantity" and "quote coin" in info.value.message
        assert not sim.state.placements

    async def test_post_only_and_ioc_read_back_from_answers_without_force(self, checklist: ChecklistTarget,
                                                                          sim: BitgetSimulator) -> None:
        read_back(checklist.gateway, "always")  # post-only orders rest: read back only when asked
        maker = await checklist.gateway.place_order(checklist.order(type="limit_maker", client_order_id="ck-pm"))
        assert sim.state.placed("ck-pm")[0]["force"] == "post_only" and "force" not in maker.raw
        assert maker.type.value == "limit_maker" and maker.status is OrderStatus.OPEN
        taker = await checklist.gateway.place_order(checklist.order(type="limit_maker", price="43020",
                                                                    client_order_id="ck-pm-x"))
        assert taker.status is OrderStatus.CANCELLED and taker.filled == 0  # would have taken: cancelled

    async def test_edit_is_refused_not_faked(self, checklist: ChecklistTarget) -> None:
        await checklist.gateway.place_order(checklist.order(client_order_id="ck-edit-spot"))
        with pytest.raises(UnsupportedParameterError):
            await checklist.gateway.edit_order(broker_id=checklist.broker.id, client_order_id="ck-edit-spot",
                                               price=Decimal("43000.20"))

    async def test_wrong_passphrase_and_wrong_secret(self, checklist: ChecklistTarget, sim: BitgetSimulator) -> None:
        gateway = checklist.gateway
        for label, secret, password, code in (("pw", GOOD[1], "wrong", "40012"), ("sec", "wrong", GOOD[2], "40009")):
            broker = await gateway.add_broker(user_id=1, exchange="bitget", label=label, api_key=GOOD[0],
                                              api_secret=secret, api_password=password, base_url=sim.url)
            with pytest.raises(AuthenticationError) as info:
                await gateway.fetch_balances(broker_id=broker.id)
            assert info.value.code == code and "wrong" not in str(info.value)

    async def test_timeout_order_is_found_open(self, checklist: ChecklistTarget, sim: BitgetSimulator) -> None:
        with checklist.arrange("network_timeout"):
            order = await checklist.gateway.place_order(checklist.order(client_order_id="ck-timeout"))
        assert order.status is OrderStatus.OPEN and order.id is not None

    async def test_read_back_failure_completes_from_the_request(self, checklist: ChecklistTarget,
                                                                sim: BitgetSimulator) -> None:
        read_back(checklist.gateway, "always")  # a resting limit order is read back only when asked
        sim.add_fault({"endpoint": "spot.order.fetch", "kind": "error", "status": 500})
        order = await checklist.gateway.place_order(checklist.order(client_order_id="ck-half"))
        assert order.id is not None and order.quantity == Decimal("0.001") and order.price == Decimal("43000.1")
        assert order.status is OrderStatus.OPEN and order.raw[constants.COMPLETED_MARK] is True
        fetched = await checklist.gateway.fetch_order(broker_id=checklist.broker.id, client_order_id="ck-half")
        assert fetched.native_status == "live" and constants.COMPLETED_MARK not in fetched.raw

    async def test_audit_log_keeps_no_secret(self, checklist: ChecklistTarget) -> None:
        gateway = checklist.gateway
        await gateway.place_order(checklist.order(client_order_id="ck-audit"))
        await gateway.flush()
        rows = await gateway.storage.run(lambda: list(gateway.storage.m.AuditRecord.select()))
        assert rows
        for row in rows:
            text = f"{row.url} {row.request_headers} {row.request_body} {row.response_body}"
            assert not any(secret in text for secret in GOOD), text
        signed = [r for r in rows if constants.SIGN_HEADER in str(r.request_headers)]
        assert signed and all("***" in str(r.request_headers) for r in signed)


class TestBitgetUsdtmOneWayChecklist(ExchangeChecklist):
    @pytest.fixture
    async def checklist(self, t5_gateway: Any, sim: BitgetSimulator) -> ChecklistTarget:
        return _target(sim, await _brokers(t5_gateway, sim, {}), "one_way")

    async def test_modify_changes_price_and_quantity(self, checklist: ChecklistTarget, sim: BitgetSimulator) -> None:
        placed = await checklist.gateway.place_order(checklist.order(client_order_id="ck-modify"))
        edited = await checklist.gateway.edit_order(broker_id=checklist.broker.id, client_order_id="ck-modify",
                                                    quantity=Decimal("0.006"), price=Decimal("42999.9"))
        assert edited.id == placed.id and edited.quantity == Decimal("0.006") and edited.price == Decimal("42999.9")
        change = sim.state.modifications[-1]
        assert change["newSize"] == "0.006" and change["newClientOid"] != "ck-modify"
        stored = await checklist.gateway.get_order(broker_id=checklist.broker.id, client_order_id="ck-modify")
        assert stored.quantity == Decimal("0.006")

    async def test_off_tick_modification_is_refused_before_sending(self, checklist: ChecklistTarget,
                                                                   sim: BitgetSimulator) -> None:
        await checklist.gateway.place_order(checklist.order(client_order_id="ck-modify-bad"))
        with pytest.raises(InvalidOrder):
            await checklist.gateway.edit_order(broker_id=checklist.broker.id, client_order_id="ck-modify-bad",
                                               price=Decimal("42999.95"))
        assert not sim.state.modifications

    async def test_preset_tp_sl_travel_on_the_order(self, checklist: ChecklistTarget, sim: BitgetSimulator) -> None:
        order = await checklist.gateway.place_order(checklist.order(
            client_order_id="ck-preset", stop_loss_price="41000", take_profit_price="45000"))
        (placed,) = sim.state.placed("ck-preset")
        assert placed["presetStopLossPrice"] == "41000" and placed["presetStopSurplusPrice"] == "45000"
        assert order.ignored_params == ()

    async def test_position_side_refused_in_one_way_mode(self, checklist: ChecklistTarget) -> None:
        gateway = checklist.gateway
        broker = await gateway.add_broker(user_id=1, exchange="bitget", label="1w", api_key=GOOD[0],
                                          api_secret=GOOD[1], api_password=GOOD[2],
                                          base_url=checklist.broker.base_url, options={"position_mode": "one_way"})
        with pytest.raises(InvalidOrder) as info:
            await gateway.place_order(checklist.order(broker_id=broker.id, position_side="LONG",
                                                      client_order_id="ck-1w"))
        assert info.value.field == "position_side"


class TestBitgetUsdtmHedgeChecklist(ExchangeChecklist):
    @pytest.fixture
    async def checklist(self, t5_gateway: Any, sim: BitgetSimulator) -> ChecklistTarget:
        sim.state.accounts[GOOD[0]].pos_mode = constants.HEDGE
        return _target(sim, await _brokers(t5_gateway, sim, {"position_mode": "hedge"}), "hedge")

    async def test_open_and_close_a_short(self, checklist: ChecklistTarget, sim: BitgetSimulator) -> None:
        gateway = checklist.gateway
        opened = await gateway.place_order(checklist.order(side="sell", type="market", price=None,
                                                           position_side="SHORT", client_order_id="ck-short"))
        assert opened.status is OrderStatus.CLOSED and opened.position_side is PositionSide.SHORT
        assert opened.side.value == "sell"
        (positions,) = await gateway.fetch_positions(broker_id=checklist.broker.id)
        assert positions.side == "short" and positions.contracts == Decimal("0.005")
        closed = await gateway.place_order(checklist.order(side="buy", type="market", price=None,
                                                           position_side="SHORT", client_order_id="ck-short-x"))
        (sent,) = sim.state.placed("ck-short-x")
        assert (sent["side"], sent["tradeSide"]) == ("sell", "close")
        assert closed.side.value == "buy" and closed.position_side is PositionSide.SHORT
        assert await gateway.fetch_positions(broker_id=checklist.broker.id) == []

    async def test_account_config_reports_hedge_mode(self, checklist: ChecklistTarget) -> None:
        from terminal5.daemon.api import test_broker

        report = await test_broker(checklist.gateway, checklist.broker)
        assert report["ok"] and report["market_types"]["swap"] == {"position_mode": "hedge", "margin_mode": "cross"}

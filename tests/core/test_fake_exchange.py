"""The fake-exchange base (terminal5.testing.fake_exchange), exercised through the loopback exchange built
on it: loopback-only binding, a lifetime that ends by itself, wallets, records, fault knobs (one-shot,
counted, probabilistic with a seed, set at start or over the control route) and the control route."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from terminal5.testing.fake_exchange import Account, FaultRule, Resting, Wallet, load_accounts
from terminal5.testing.loopback_server import KEY_HEADER, SIGN_HEADER, TS_HEADER, LoopbackExchange, signature

KEY, SECRET = "base-key", "base-secret"


async def signed(session: aiohttp.ClientSession, url: str, method: str, path: str, body: Any = None,
                 key: str = KEY, secret: str = SECRET) -> tuple[int, Any, str]:
    text = json.dumps(body) if body is not None else ""
    ts = str(int(time.time() * 1000))
    headers = {KEY_HEADER: key, TS_HEADER: ts, SIGN_HEADER: signature(secret, ts, method, path, text)}
    async with session.request(method, url + path, data=text or None, headers=headers) as response:
        raw = await response.text()
        try:
            return response.status, json.loads(raw), response.headers.get("Retry-After", "")
        except json.JSONDecodeError:
            return response.status, raw, response.headers.get("Retry-After", "")


def order(cid: str) -> dict[str, Any]:
    return {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "43000", "clientId": cid}


def test_binds_only_to_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LoopbackExchange({KEY: SECRET}, host="0.0.0.0")  # noqa: S104 - the refusal is what is tested


async def test_stops_by_itself_at_the_end_of_its_lifetime() -> None:
    exchange = LoopbackExchange({KEY: SECRET}, max_seconds=0.2)
    await exchange.start()
    await asyncio.wait_for(exchange.stopped.wait(), 10)  # bounded: the lifetime ends it, not this test
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(exchange.url + "/api/public/time")


async def test_request_budget_is_bounded() -> None:
    async with LoopbackExchange({KEY: SECRET}, max_requests=2) as exchange, aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(3):
            async with session.get(exchange.url + "/api/public/time") as response:
                statuses.append(response.status)
    assert statuses == [200, 200, 503]


async def test_records_accepted_refused_and_duplicates_with_the_signing_key() -> None:
    async with LoopbackExchange({KEY: SECRET, "other": "other-secret"}) as exchange, aiohttp.ClientSession() as s:
        assert (await signed(s, exchange.url, "POST", "/api/order", order("r-1")))[0] == 200
        assert (await signed(s, exchange.url, "POST", "/api/order", order("r-1")))[0] == 409
        assert (await signed(s, exchange.url, "POST", "/api/order", order("r-2"), "other", "other-secret"))[0] == 200
        assert (await signed(s, exchange.url, "POST", "/api/order", order("r-3"), KEY, "wrong"))[0] == 401
        async with s.get(exchange.url + "/_sim/records") as response:
            records = await response.json()
    assert {cid: [a["api_key"] for a in items] for cid, items in records["accepted"].items()} == {
        "r-1": [KEY], "r-2": ["other"]}
    refused = [(r["client_id"], r["api_key"], r["duplicate"]) for r in records["refused"]]
    assert refused == [("r-1", KEY, True), ("r-3", KEY, False)]
    assert records["roles"]["place"] == 4 and records["endpoints"]["order.place"] == 4


async def test_faults_at_start_and_over_the_control_route() -> None:
    storm = {"endpoint": "order.place", "kind": "rate_limit", "status": 429, "retry_after": 3, "times": 2}
    async with LoopbackExchange({KEY: SECRET}, faults=[storm]) as exchange, aiohttp.ClientSession() as s:
        first = await signed(s, exchange.url, "POST", "/api/order", order("f-1"))
        second = await signed(s, exchange.url, "POST", "/api/order", order("f-1"))
        third = await signed(s, exchange.url, "POST", "/api/order", order("f-1"))
        assert (first[0], first[2], second[0], third[0]) == (429, "3", 429, 200)
        async with s.post(exchange.url + "/_sim/faults", json={"endpoint": "@lookup", "kind": "error",
                                                                "status": 502, "body": "html"}) as response:
            assert response.status == 200 and len(await response.json()) == 1
        status, body, _ = await signed(s, exchange.url, "GET", "/api/order?clientId=f-1")
        assert status == 502 and body.startswith("<html>")
        assert (await signed(s, exchange.url, "GET", "/api/order?clientId=f-1"))[0] == 200  # one-shot
        async with s.post(exchange.url + "/_sim/faults", json={"endpoint": "x", "kind": "meteor"}) as response:
            assert response.status == 400 and "meteor" in (await response.json())["error"]
    assert [r["code"] for r in exchange.records()["refused"]] == ["fault:rate_limit", "fault:rate_limit"]


async def test_accept_then_drop_leaves_the_order_accepted_and_unanswered() -> None:
    async with LoopbackExchange({KEY: SECRET}, faults=[{"endpoint": "@place", "kind": "drop"}]) as exchange, \
            aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientError):
            await signed(s, exchange.url, "POST", "/api/order", order("d-1"))
        assert exchange.placements("d-1") == 1 and list(exchange.records()["accepted"]) == ["d-1"]


async def test_unknown_status_and_not_found_knobs() -> None:
    faults = [{"endpoint": "@place", "kind": "unknown_status", "value": "WEIRD"},
              {"endpoint": "order.get", "kind": "not_found"}]
    async with LoopbackExchange({KEY: SECRET}, faults=faults) as exchange, aiohttp.ClientSession() as s:
        status, body, _ = await signed(s, exchange.url, "POST", "/api/order", order("u-1"))
        assert status == 200 and body["status"] == "WEIRD"
        assert (await signed(s, exchange.url, "GET", "/api/order?clientId=u-1"))[0] == 404
        assert (await signed(s, exchange.url, "GET", "/api/order?clientId=u-1"))[1]["status"] == "WEIRD"


async def test_a_held_answer_is_released_when_the_simulator_stops() -> None:
    exchange = LoopbackExchange({KEY: SECRET}, faults=[{"endpoint": "@place", "kind": "timeout", "delay": 600}])
    await exchange.start()
    async with aiohttp.ClientSession() as s:
        pending = asyncio.ensure_future(signed(s, exchange.url, "POST", "/api/order", order("h-1")))
        for _ in range(1000):  # bounded wait for the order to reach the simulator
            if exchange.placements("h-1"):
                break
            await asyncio.sleep(0.01)
        await asyncio.wait_for(exchange.stop(), 10)  # bounded far below the 600 s hold
        (outcome,) = await asyncio.wait_for(asyncio.gather(pending, return_exceptions=True), 10)
    # the held answer went out (or the connection closed) when the simulator stopped
    assert isinstance(outcome, (tuple, aiohttp.ClientError)), outcome


def test_probabilistic_faults_repeat_with_the_same_seed() -> None:
    def hits(seed: int) -> list[bool]:
        exchange = LoopbackExchange({KEY: SECRET}, seed=seed,
                                    faults=[{"endpoint": "*", "kind": "error", "probability": 0.3, "times": None}])
        route = exchange._routes[("POST", "/api/order")]
        return [exchange._take_fault(route) is not None for _ in range(200)]

    assert hits(7) == hits(7) and hits(7) != hits(8)
    assert 30 < sum(hits(7)) < 90


def test_fault_rules_are_validated() -> None:
    for bad in ({"endpoint": "*", "kind": "error", "probability": 2}, {"endpoint": "*", "kind": "error", "times": 0},
                {"endpoint": "*", "kind": "error", "body": "xml"}, {"endpoint": "*", "kind": "error", "colour": 1}):
        with pytest.raises((ValueError, TypeError)):
            FaultRule.from_dict(bad)


def test_wallet_reserve_fill_release() -> None:
    exchange = LoopbackExchange({KEY: SECRET})
    exchange.add_account(Account(api_key="w", api_secret="s", balances={"USDT": Decimal(1000), "BTC": Decimal(0)}))
    buy = Resting(order_id=1, api_key="w", client_id="b", symbol="BTCUSDT", side="buy", quantity=Decimal("0.02"),
                  price=Decimal(40000))
    assert exchange.reserve_order(buy, base="BTC", quote="USDT", price=Decimal(40000))
    wallet: Wallet = exchange.wallet("w")
    assert (wallet.free["USDT"], wallet.locked["USDT"]) == (Decimal(200), Decimal(800))
    exchange.settle_fill(buy, Decimal("0.01"), Decimal(39000), base="BTC", quote="USDT", fee=Decimal(1))
    assert wallet.free["BTC"] == Decimal("0.01") and wallet.locked["USDT"] == Decimal(400)
    assert wallet.free["USDT"] == Decimal(200) + Decimal(400) - Decimal(390) - Decimal(1)
    exchange.release_order(buy)
    assert wallet.locked["USDT"] == 0 and wallet.free["USDT"] == Decimal(609)
    too_big = Resting(order_id=2, api_key="w", client_id="x", symbol="BTCUSDT", side="sell", quantity=Decimal(1),
                      price=None)
    assert not exchange.reserve_order(too_big, base="BTC", quote="USDT", price=Decimal(40000))


def test_accounts_file(tmp_path: Any) -> None:
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps({"accounts": [{"api_key": "a", "api_secret": "b", "extra": {"passphrase": "p"},
                                              "balances": {"USDT": "12.5"}}]}))
    (account,) = load_accounts(path)
    assert account.extra == {"passphrase": "p"} and account.balances == {"USDT": Decimal("12.5")}
    path.write_text(json.dumps([{"api_key": "a"}]))
    with pytest.raises(ValueError, match="api_secret"):
        load_accounts(path)


async def test_control_fill_and_price() -> None:
    async with LoopbackExchange({KEY: SECRET}) as exchange, aiohttp.ClientSession() as s:
        _, placed, _ = await signed(s, exchange.url, "POST", "/api/order", order("c-1"))
        async with s.post(exchange.url + "/_sim/fill", json={"order_id": placed["orderId"], "quantity": "0.0004",
                                                              "price": "42999"}) as response:
            assert response.status == 200
        assert exchange.orders[placed["orderId"]]["status"] == "PARTIALLY_FILLED"
        async with s.post(exchange.url + "/_sim/price", json={"symbol": "BTCUSDT", "price": "41000"}) as response:
            assert response.status == 200
        assert exchange.price_of("BTCUSDT") == Decimal(41000)


def test_cli_refuses_an_exchange_without_simulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from terminal5.cli import main

    monkeypatch.setenv("TERMINAL5_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TERMINAL5_PLUGINS_ALLOW", "no-installed-plugin")
    err = io.StringIO()
    assert main(["simulate", "--exchange", "nowhere"], stdout=io.StringIO(), stderr=err) == 2
    assert "no simulator for 'nowhere'" in err.getvalue() and "loopback" in err.getvalue()


def test_simulators_are_registered_through_the_hook_and_a_name_is_claimed_once() -> None:
    import types

    from terminal5.errors import PluginError
    from terminal5.hookspecs import hookimpl
    from terminal5.plugins import load_hooks

    def plugin(name: str) -> types.SimpleNamespace:
        @hookimpl
        def register_simulators(register: Any) -> None:
            register("okx", lambda **options: LoopbackExchange(**options))

        return types.SimpleNamespace(__name__=name, register_simulators=register_simulators)

    factories = load_hooks(plugins=[plugin("one")], load_entry_points=False).simulators()
    assert list(factories) == ["okx"] and isinstance(factories["okx"](accounts=[], port=0), LoopbackExchange)
    with pytest.raises(PluginError, match="two plugins"):
        load_hooks(plugins=[plugin("one"), plugin("two")], load_entry_points=False).simulators()
    if importlib.util.find_spec("terminal5_binance") is None or importlib.util.find_spec("terminal5_kraken") is None:
        return  # the core env installs no plugin: the installed simulators are checked where they are
    installed = load_hooks(allow=frozenset({"binance", "kraken"})).simulators()
    assert {"binance", "kraken"} <= set(installed)
    assert installed["binance"](max_seconds=1).name == "binance"

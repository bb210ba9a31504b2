"""The shipped simulator speaks Bitget's protocol: public metadata in realistic size, signatures and
passphrases verified with Bitget's own error codes, separate accounts, control routes (the fake-exchange
base's records and fault rules, answered in Bitget's envelope), bounded lifetime, and
``terminal5 simulate --exchange bitget``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from terminal5 import jsonutil
from terminal5.contract import Credentials
from terminal5.testing.fake_exchange import Account
from terminal5_bitget import auth, constants
from terminal5_bitget.simulator import BitgetSimulator

ALICE = ("alice-key", "alice-secret", "alice-pass")
BOB = ("bob-key", "bob-secret", "bob-pass")


@pytest.fixture
async def sim() -> AsyncIterator[BitgetSimulator]:
    async with BitgetSimulator([ALICE, BOB]) as sim:
        yield sim


async def call(sim: BitgetSimulator | str, method: str, path: str, params: dict[str, Any] | None = None,
               who: tuple[str, str, str] | None = ALICE, *, tamper: dict[str, str] | None = None) -> tuple[int, Any]:
    params = params or {}
    query = auth.encode_query(params) if method == "GET" else ""
    body = "" if method == "GET" else auth.encode_body(params)
    headers = auth.public_headers()
    if who is not None:
        headers = auth.sign(Credentials(api_key=who[0], api_secret=who[1], api_password=who[2]), 1, method, path,
                            query=query, body=body)
    headers.update(tamper or {})
    async with aiohttp.ClientSession() as session, session.request(
        method, f"{sim if isinstance(sim, str) else sim.url}{path}{'?' + query if query else ''}", data=body or None,
        headers=headers,
    ) as resp:
        return resp.status, jsonutil.loads(await resp.text())


async def test_metadata_in_realistic_size(sim: BitgetSimulator) -> None:
    status, spot = await call(sim, "GET", constants.Spot.symbols, who=None)
    assert status == 200 and spot["code"] == "00000" and len(spot["data"]) >= 1000
    total = 0
    for product in constants.PRODUCT_TYPES:
        _, contracts = await call(sim, "GET", constants.Mix.contracts, {"productType": product}, who=None)
        total += len(contracts["data"])
    assert total >= 200
    _, bad = await call(sim, "GET", constants.Mix.contracts, {"productType": "NOPE"}, who=None)
    assert bad["code"] == "40020"


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ({constants.SIGN_HEADER: "AAAA"}, "40009"),
        ({constants.PASSPHRASE_HEADER: "wrong"}, "40012"),
        ({constants.KEY_HEADER: "nobody"}, "40006"),
        ({constants.PASSPHRASE_HEADER: ""}, "40011"),
        ({constants.TIMESTAMP_HEADER: "x"}, "40005"),
    ],
)
async def test_bad_credentials_get_bitgets_codes(sim: BitgetSimulator, tamper: dict[str, str], code: str) -> None:
    status, body = await call(sim, "GET", constants.Spot.assets, tamper=tamper)
    assert status == 400 and body["code"] == code and body["data"] is None


async def test_the_signature_covers_the_exact_body(sim: BitgetSimulator) -> None:
    params = {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "gtc", "price": "42000",
              "size": "0.001", "clientOid": "sim-1"}
    signed = auth.sign(Credentials(api_key=ALICE[0], api_secret=ALICE[1], api_password=ALICE[2]), 1, "POST",
                       constants.Spot.place, body=auth.encode_body(params))
    reordered = json.dumps(dict(reversed(list(params.items()))), separators=(",", ":"))
    async with aiohttp.ClientSession() as session, session.post(
        f"{sim.url}{constants.Spot.place}", data=reordered, headers=signed
    ) as resp:
        assert (await resp.json())["code"] == "40009"  # same fields, other bytes: refused
    assert not sim.state.placements


async def test_accounts_are_separate_and_duplicates_refused(sim: BitgetSimulator) -> None:
    order = {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "gtc", "price": "42000",
             "size": "0.01", "clientOid": "dup-1"}
    status, placed = await call(sim, "POST", constants.Spot.place, order)
    assert status == 200 and set(placed["data"]) == {"orderId", "clientOid"}
    _, again = await call(sim, "POST", constants.Spot.place, order)
    assert again["code"] == "43118"
    _, bob = await call(sim, "POST", constants.Spot.place, order, BOB)  # another account's namespace
    assert bob["code"] == "00000"
    _, alice_assets = await call(sim, "GET", constants.Spot.assets, {"coin": "USDT"})
    _, bob_assets = await call(sim, "GET", constants.Spot.assets, {"coin": "USDT"}, BOB)
    assert alice_assets["data"][0]["frozen"] == "420" and bob_assets["data"][0]["frozen"] == "420"
    async with aiohttp.ClientSession() as session, session.get(f"{sim.url}/_sim/records") as resp:
        records = await resp.json()
    assert [p["key"] for p in records["placements"]] == ["alice-key", "bob-key"]
    assert {"path": constants.Spot.place, "code": "43118"} in records["rejections"]


async def test_faults_over_the_control_route(sim: BitgetSimulator) -> None:
    rules = [{"endpoint": "@place", "kind": "timeout", "delay": 0.01},
             {"endpoint": "spot.order.fetch", "kind": "error", "status": 500}]
    async with aiohttp.ClientSession() as session, session.post(f"{sim.url}/_sim/faults", json=rules) as resp:
        assert resp.status == 200
    assert [(f.endpoint, f.kind, f.delay) for f in sim.faults] == [("@place", "timeout", 0.01),
                                                                   ("spot.order.fetch", "error", 0.0)]
    order = {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "gtc", "price": "42000",
             "size": "0.01", "clientOid": "late-1"}
    status, _ = await call(sim, "POST", constants.Spot.place, order)  # answered after the delay
    assert status == 200 and not [f for f in sim.faults if f.endpoint == "@place"]
    status, body = await call(sim, "GET", constants.Spot.order_info, {"orderId": "1"})
    assert status == 500 and body["code"] == "50001"
    status, body = await call(sim, "GET", constants.Spot.order_info, {"orderId": "1"})
    assert status == 200 and body["data"] == []


async def test_fault_answers_are_bitgets(sim: BitgetSimulator) -> None:
    sim.add_fault({"endpoint": "spot.assets", "kind": "rate_limit", "status": 429, "retry_after": 2})
    sim.add_fault({"endpoint": "mix.order.fetch", "kind": "not_found"})
    sim.add_fault({"endpoint": "@place", "kind": "unknown_status", "value": "SOMETHING_NEW"})
    status, body = await call(sim, "GET", constants.Spot.assets)
    assert status == 429 and body["code"] == "429"
    status, body = await call(sim, "GET", constants.Mix.detail, {"symbol": "BTCUSDT", "productType": "USDT-FUTURES",
                                                                 "orderId": "1"})
    assert body["code"] == "40768"
    order = {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "gtc", "price": "42000",
             "size": "0.01", "clientOid": "odd-1"}
    _, placed = await call(sim, "POST", constants.Spot.place, order)
    _, info = await call(sim, "GET", constants.Spot.order_info, {"clientOid": "odd-1"})
    assert info["data"][0]["status"] == "SOMETHING_NEW" and info["data"][0]["orderId"] == placed["data"]["orderId"]
    async with aiohttp.ClientSession() as session, session.get(f"{sim.url}/_sim/records") as resp:
        records = await resp.json()
    assert records["accepted"]["odd-1"][0]["api_key"] == ALICE[0] and records["roles"]["place"] == 1


async def test_partial_fill_on_demand_moves_the_wallet(sim: BitgetSimulator) -> None:
    order = {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "gtc", "price": "42000",
             "size": "0.01", "clientOid": "part-1"}
    _, placed = await call(sim, "POST", constants.Spot.place, order)
    fill = {"order_id": placed["data"]["orderId"], "quantity": "0.004", "price": "42000"}
    async with aiohttp.ClientSession() as session, session.post(f"{sim.url}/_sim/fill", json=fill) as resp:
        assert resp.status == 200
    _, info = await call(sim, "GET", constants.Spot.order_info, {"clientOid": "part-1"})
    assert info["data"][0]["status"] == "partially_filled" and info["data"][0]["baseVolume"] == "0.004"
    _, btc = await call(sim, "GET", constants.Spot.assets, {"coin": "BTC"})
    _, usdt = await call(sim, "GET", constants.Spot.assets, {"coin": "USDT"})
    assert btc["data"][0]["available"] == "1.003996"  # 1 + 0.004 less the 0.1 % fee in BTC
    assert usdt["data"][0]["frozen"] == "252"  # 0.006 still resting at 42000


def test_simulate_command_serves_bitget(tmp_path: Path) -> None:
    env = {**os.environ, "TERMINAL5_DATA_DIR": str(tmp_path), "TERMINAL5_PLUGINS_ALLOW": "bitget"}
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps([{"api_key": ALICE[0], "api_secret": ALICE[1], "extra": {"passphrase": ALICE[2]}}]))
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "terminal5.cli", "simulate", "--exchange", "bitget", "--accounts", str(accounts),
         "--max-seconds", "120", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["exchange"] == "bitget" and info["url"].startswith("http://127.0.0.1:")
        assert info["accounts"] == [{"api_key": ALICE[0], "api_secret": ALICE[1], "extra": {"passphrase": ALICE[2]}}]

        async def probe() -> tuple[Any, Any]:
            return (await call(info["url"], "GET", constants.Spot.symbols, who=None),
                    await call(info["url"], "GET", constants.Spot.assets, {"coin": "USDT"}))

        (_, symbols), (status, assets) = asyncio.run(probe())
        assert len(symbols["data"]) >= 1000
        assert status == 200 and assets["data"][0]["available"] == "10000"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0  # stops cleanly on SIGINT (and by itself after --max-seconds)
    finally:
        proc.kill()


async def test_opening_balances_and_a_market_buy_move_the_base_wallet() -> None:
    poor = Account(api_key="poor-key", api_secret="poor-secret", extra={"passphrase": "poor-pass"},
                   balances={"USDT": Decimal(500)})
    async with BitgetSimulator([poor], n_spot=10, n_usdt=5) as sim:
        who = ("poor-key", "poor-secret", "poor-pass")
        _, assets = await call(sim, "GET", constants.Spot.assets, who=who)
        assert [(a["coin"], a["available"]) for a in assets["data"]] == [("USDT", "500")]
        limit = {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "gtc", "price": "42000",
                 "size": "0.02", "clientOid": "too-big"}
        _, refused = await call(sim, "POST", constants.Spot.place, limit, who)
        assert refused["code"] == "43012"
        market = {"symbol": "BTCUSDT", "side": "buy", "orderType": "market", "force": "gtc", "size": "430.1",
                  "clientOid": "mkt-1"}
        _, placed = await call(sim, "POST", constants.Spot.place, market, who)
        assert placed["code"] == "00000"
        # 0.01 BTC at the ask (43010) less the 0.1 % fee in BTC; nothing stays held
        assert sim.wallet("poor-key").free == {"USDT": Decimal("69.9"), "BTC": Decimal("0.00999")}
        assert not any(sim.wallet("poor-key").locked.values())


def test_client_oid_indexes_answer_as_a_scan_would_after_many_orders() -> None:
    from terminal5_bitget.simulator_state import SimError

    sim = BitgetSimulator([ALICE, BOB])
    st, alice, bob = sim.state, sim.state.accounts[ALICE[0]], sim.state.accounts[BOB[0]]
    spot = {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "gtc", "price": "42000", "size": "0.001"}
    mix = {"symbol": "BTCUSDT", "productType": "USDT-FUTURES", "marginMode": "crossed", "marginCoin": "USDT",
           "size": "0.01", "price": "40000.5", "side": "buy", "orderType": "limit", "force": "gtc"}
    ids = [st.spot_place(alice, {**spot, "clientOid": f"b-{i}"}, constants.Spot.place)["orderId"] for i in range(40)]
    assert st.spot_place(bob, {**spot, "clientOid": "b-3"}, constants.Spot.place)  # another account's namespace

    def refused(place: Any, account: Any, params: dict[str, Any], path: str) -> str:
        with pytest.raises(SimError) as caught:
            place(account, params, path)
        return caught.value.code

    assert refused(st.spot_place, alice, {**spot, "clientOid": "b-3"}, constants.Spot.place) == "43118"
    assert st.spot_find(alice, {"clientOid": "b-30"})["orderId"] == ids[30]  # type: ignore[index]
    st.spot_cancel(alice, {"clientOid": "b-3"})
    # Bitget refuses a clientOid any order ever carried, cancelled or not
    assert refused(st.spot_place, alice, {**spot, "clientOid": "b-3"}, constants.Spot.place) == "43118"
    assert st.spot_find(alice, {"clientOid": "b-3"})["status"] == "cancelled"  # type: ignore[index]
    assert st.spot_find(bob, {"clientOid": "b-30"}) is None
    # a modified order answers to its new clientOid only, and frees the old one
    first = st.mix_place(alice, {**mix, "clientOid": "m-1"}, constants.Mix.place)
    st.mix_modify(alice, {**mix, "clientOid": "m-1", "newClientOid": "m-1b", "newSize": "0.02", "newPrice": "40000.5"})
    assert st.mix_find(alice, {"clientOid": "m-1b"})["orderId"] == first["orderId"]  # type: ignore[index]
    assert st.mix_find(alice, {"clientOid": "m-1"}) is None
    assert refused(st.mix_place, alice, {**mix, "clientOid": "m-1b"}, constants.Mix.place) == "40786"
    second = st.mix_place(alice, {**mix, "clientOid": "m-1"}, constants.Mix.place)
    assert st.mix_find(alice, {"clientOid": "m-1"})["orderId"] == second["orderId"]  # type: ignore[index]
    # plans share the namespace: a plan's clientOid refuses an order, and plans are cancelled by it
    plan = {"planType": "normal_plan", "symbol": "BTCUSDT", "productType": "USDT-FUTURES", "marginMode": "crossed",
            "marginCoin": "USDT", "size": "0.01", "triggerPrice": "39000", "side": "sell", "orderType": "market"}
    placed_plan = st.mix_plan_place(alice, {**plan, "clientOid": "p-1"}, constants.Mix.place_plan)
    assert refused(st.spot_place, alice, {**spot, "clientOid": "p-1"}, constants.Spot.place) == "43118"
    assert st.plan_cancel(alice, [{"clientOid": "p-1"}], mix=True) == [placed_plan]
    # an order a test puts in the book by hand is found too
    alice.orders["77"] = {**alice.orders[ids[1]], "orderId": "77", "clientOid": "by-hand"}
    assert st.spot_find(alice, {"clientOid": "by-hand"})["orderId"] == "77"  # type: ignore[index]
    assert refused(st.spot_place, alice, {**spot, "clientOid": "by-hand"}, constants.Spot.place) == "43118"

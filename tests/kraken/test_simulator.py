"""The shipped Kraken simulator (terminal5_kraken.simulator) on its own: reference §2's signature (the
official vector is accepted verbatim) and nonce rule, ~700 pairs the plugin parses, held balances,
userref/cl_ord_id rules, separate accounts, and ``terminal5 simulate --exchange kraken``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from terminal5 import jsonutil
from terminal5_kraken.auth import signature
from terminal5_kraken.markets import parse_asset_pairs
from terminal5_kraken.simulator import KrakenSimulator

from .data import OFFICIAL_BODY, OFFICIAL_NONCE, OFFICIAL_PATH, OFFICIAL_SECRET, OFFICIAL_SIGN

KEY = "official-key"
OTHER_KEY, OTHER_SECRET = "other-key", "b3RoZXItc2VjcmV0LW9mLWEtc2ltdWxhdGVkLWtyYWtlbi1hY2NvdW50IQ=="


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str, key: str, secret: str) -> None:
        self.session, self.url, self.key, self.secret, self.nonce = session, url, key, secret, OFFICIAL_NONCE

    async def post(self, path: str, params: dict[str, str], *, nonce: int | None = None, sign: str | None = None,
                   as_json: bool = False) -> Any:
        if nonce is None:
            self.nonce += 1
            nonce = self.nonce
        fields = {"nonce": nonce, **params}
        body = json.dumps(fields) if as_json else urlencode(fields)
        headers = {"API-Key": self.key, "API-Sign": sign or signature(self.secret, nonce, path, body),
                   "Content-Type": "application/json" if as_json else "application/x-www-form-urlencoded"}
        async with self.session.post(self.url + path, data=body, headers=headers) as response:
            return jsonutil.loads(await response.text())


@pytest.fixture
async def sim() -> Any:
    async with KrakenSimulator({KEY: OFFICIAL_SECRET, OTHER_KEY: OTHER_SECRET}) as exchange:
        yield exchange


async def test_the_official_signing_example_is_accepted_and_nonces_must_increase(sim: KrakenSimulator) -> None:
    async with aiohttp.ClientSession() as s:
        headers = {"API-Key": KEY, "API-Sign": OFFICIAL_SIGN, "Content-Type": "application/x-www-form-urlencoded"}
        async with s.post(sim.url + OFFICIAL_PATH, data=OFFICIAL_BODY, headers=headers) as response:
            placed = jsonutil.loads(await response.text())
        assert placed["error"] == [] and placed["result"]["txid"]
        async with s.post(sim.url + OFFICIAL_PATH, data=OFFICIAL_BODY, headers=headers) as response:
            assert jsonutil.loads(await response.text()) == {"error": ["EAPI:Invalid nonce"]}
        client = Client(s, sim.url, KEY, OFFICIAL_SECRET)
        assert (await client.post("/0/private/Balance", {}, sign="AAAA"))["error"] == ["EAPI:Invalid signature"]
        assert (await Client(s, sim.url, "nobody", OFFICIAL_SECRET).post("/0/private/Balance", {}))["error"] == [
            "EAPI:Invalid key"]
        assert (await client.post("/0/private/Balance", {}, as_json=True))["error"] == []  # JSON bodies too
    assert sim.records()["accepted"]  # the documented AddOrder was accepted, signed by KEY
    assert [a["api_key"] for items in sim.records()["accepted"].values() for a in items] == [KEY]


async def test_pairs_of_realistic_size_parse(sim: KrakenSimulator) -> None:
    async with aiohttp.ClientSession() as s, s.get(sim.url + "/0/public/AssetPairs") as response:
        result = jsonutil.loads(await response.text())["result"]
    assert 650 <= len(result) <= 750
    markets = parse_asset_pairs(result)
    assert len(markets) >= 650 and any(m.symbol == "BTC/USD" for m in markets)
    async with aiohttp.ClientSession() as s, s.get(sim.url + "/0/public/AssetPairs?pair=XBTUSD") as response:
        assert list(jsonutil.loads(await response.text())["result"]) == ["XXBTZUSD"]


async def test_orders_hold_funds_and_client_id_rules(sim: KrakenSimulator) -> None:
    order = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "27500.0", "volume": "0.1"}
    async with aiohttp.ClientSession() as s:
        client = Client(s, sim.url, KEY, OFFICIAL_SECRET)
        placed = await client.post("/0/private/AddOrder", {**order, "cl_ord_id": "hold-1"})
        assert placed["error"] == []
        balance = (await client.post("/0/private/BalanceEx", {}))["result"]["ZUSD"]
        assert (Decimal(balance["balance"]), Decimal(balance["hold_trade"])) == (Decimal(50000), Decimal(2750))
        assert (await client.post("/0/private/AddOrder", {**order, "cl_ord_id": "hold-1"}))["error"] == [
            "EGeneral:Invalid arguments:cl_ord_id"]
        assert (await client.post("/0/private/AddOrder", {**order, "cl_ord_id": "x", "userref": "5"}))["error"] == [
            "EGeneral:Invalid arguments:cl_ord_id"]
        assert (await client.post("/0/private/AddOrder", {**order, "volume": "100"}))["error"] == [
            "EOrder:Insufficient funds"]
        other = Client(s, sim.url, OTHER_KEY, OTHER_SECRET)
        assert (await other.post("/0/private/OpenOrders", {}))["result"] == {"open": {}}  # accounts are separate
        cancelled = await client.post("/0/private/CancelOrder", {"cl_ord_id": "hold-1"})
        assert cancelled["result"] == {"count": 1, "pending": False}
        balance = (await client.post("/0/private/BalanceEx", {}))["result"]["ZUSD"]
        assert Decimal(balance["hold_trade"]) == 0
        market = await client.post("/0/private/AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "market",
                                                            "volume": "0.5", "userref": "42"})
        (txid,) = market["result"]["txid"]
        assert sim.orders[txid]["status"] == "closed" and sim.orders[txid]["fee"] == "60.00000"
        assert sim.wallet(KEY).free["XXBT"] == Decimal("1.0")
        assert sim.wallet(KEY).free["ZUSD"] == Decimal(50000) + Decimal(15000) - Decimal(60)
        checked = await client.post("/0/private/AddOrder", {**order, "validate": "true"})
        assert checked["error"] == [] and "txid" not in checked["result"]
        too_fine = await client.post("/0/private/AddOrder", {**order, "volume": "0.123456789"})
        assert too_fine["error"] == ["EGeneral:Invalid arguments:volume"]
    refused = sim.records()["refused"]
    assert [(r["client_id"], r["duplicate"]) for r in refused][:1] == [("hold-1", True)]


def test_simulate_command_serves_kraken(tmp_path: Any) -> None:
    env = {**os.environ, "TERMINAL5_DATA_DIR": str(tmp_path), "TERMINAL5_PLUGINS_ALLOW": "kraken"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "terminal5.cli", "simulate", "--exchange", "kraken", "--max-seconds", "120", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "the simulator did not start"
        info = json.loads(line)
        (account,) = info["accounts"]  # a demo account, with a base64 secret as Kraken issues them
        import base64
        import urllib.request

        assert len(base64.b64decode(account["api_secret"])) == 64
        with urllib.request.urlopen(info["url"] + "/0/public/Time", timeout=10) as response:  # noqa: S310 - loopback
            assert json.loads(response.read())["error"] == []
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    assert proc.returncode == 0


async def test_partial_fills_on_demand_over_the_control_route(sim: KrakenSimulator) -> None:
    async with aiohttp.ClientSession() as s:
        client = Client(s, sim.url, KEY, OFFICIAL_SECRET)
        placed = await client.post("/0/private/AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "limit",
                                                            "price": "27500.0", "volume": "0.1", "userref": "7"})
        (txid,) = placed["result"]["txid"]
        async with s.post(f"{sim.url}/_sim/fill", json={"order_id": txid, "quantity": "0.04", "price": "27500"}) as r:
            assert r.status == 200
        order = (await client.post("/0/private/QueryOrders", {"txid": txid, "userref": "7"}))["result"][txid]
    assert (order["status"], Decimal(order["vol_exec"]), Decimal(order["price"])) == ("open", Decimal("0.04"), 27500)
    assert sim.wallet(KEY).free["XXBT"] == Decimal("1.54")


def _scan(sim: KrakenSimulator, key: str, statuses: tuple[str, ...]) -> list[str]:
    """What a scan over every order ever placed answers (the lookups' indexes must agree with it)."""
    return [t for t, o in sim.orders.items() if sim.owner_of(t) == key and o["status"] in statuses]


async def test_order_indexes_answer_as_a_scan_would_after_many_orders(sim: KrakenSimulator) -> None:
    order = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "27500.0", "volume": "0.01"}
    async with aiohttp.ClientSession() as s:
        client, other = Client(s, sim.url, KEY, OFFICIAL_SECRET), Client(s, sim.url, OTHER_KEY, OTHER_SECRET)
        txids = {}
        for i in range(50):
            ident = {"cl_ord_id": f"k-{i}"} if i % 5 else {"userref": str(1000 + i % 2)}
            placed = await client.post("/0/private/AddOrder", {**order, **ident})
            assert placed["error"] == []
            txids[i] = placed["result"]["txid"][0]
        assert (await other.post("/0/private/AddOrder", {**order, "cl_ord_id": "k-1"}))["error"] == []
        duplicate = await client.post("/0/private/AddOrder", {**order, "cl_ord_id": "k-1"})
        assert duplicate["error"] == ["EGeneral:Invalid arguments:cl_ord_id"]
        open_one = (await client.post("/0/private/OpenOrders", {"cl_ord_id": "k-3"}))["result"]["open"]
        assert list(open_one) == [txids[3]]
        assert (await client.post("/0/private/CancelOrder", {"cl_ord_id": "k-3"}))["result"]["count"] == 1
        sim.fill(txids[4], Decimal("0.01"), Decimal("27500"))  # closed: its cl_ord_id is free again
        for i in (3, 4):
            again = await client.post("/0/private/AddOrder", {**order, "cl_ord_id": f"k-{i}"})
            assert again["error"] == [] and again["result"]["txid"][0] != txids[i]
            refused = await client.post("/0/private/AddOrder", {**order, "cl_ord_id": f"k-{i}"})
            assert refused["error"] == ["EGeneral:Invalid arguments:cl_ord_id"]
        # a userref cancels every open order carrying it (here the ten placed with 1000)
        assert (await client.post("/0/private/CancelOrder", {"txid": "1000"}))["result"]["count"] == 5
        open_now = (await client.post("/0/private/OpenOrders", {}))["result"]["open"]
        assert list(open_now) == _scan(sim, KEY, ("pending", "open")) and len(open_now) == 50 - 2 - 5 + 2
        by_ref = (await client.post("/0/private/OpenOrders", {"userref": "1001"}))["result"]["open"]
        assert list(by_ref) == [txids[i] for i in range(5, 50, 10)]
        closed = (await client.post("/0/private/ClosedOrders", {}))["result"]
        assert list(closed["closed"]) == _scan(sim, KEY, ("closed", "canceled", "expired")) and closed["count"] == 7
        assert (await other.post("/0/private/OpenOrders", {}))["result"]["open"].keys() == set(_scan(sim, OTHER_KEY, ("open",)))
        # an order a test puts in the book by hand (no owner: the first account's) is found too
        sim.orders["OBYHAND-00000-SIMULK"] = {**sim.orders[txids[1]], "cl_ord_id": "by-hand", "status": "open"}
        open_one = (await client.post("/0/private/OpenOrders", {"cl_ord_id": "by-hand"}))["result"]["open"]
        assert list(open_one) == ["OBYHAND-00000-SIMULK"]
        assert (await client.post("/0/private/CancelOrder", {"txid": txids[1]}))["result"]["count"] == 1
        assert (await client.post("/0/private/CancelOrder", {"txid": txids[1]}))["error"] == ["EOrder:Unknown order"]

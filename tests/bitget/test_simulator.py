"""The shipped simulator speaks Bitget's protocol: public metadata in realistic size, signatures and
passphrases verified with Bitget's own error codes, separate accounts, control routes, bounded lifetime."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from terminal5 import jsonutil
from terminal5.contract import Credentials
from terminal5_bitget import auth, constants
from terminal5_bitget.simulator import BitgetSimulator, parse_account
from terminal5_bitget.simulator_state import SimState

ALICE = ("alice-key", "alice-secret", "alice-pass")
BOB = ("bob-key", "bob-secret", "bob-pass")


@pytest.fixture
async def sim() -> AsyncIterator[BitgetSimulator]:
    async with BitgetSimulator(SimState([ALICE, BOB])) as sim:
        yield sim


async def call(sim: BitgetSimulator, method: str, path: str, params: dict[str, Any] | None = None,
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
        method, f"{sim.url}{path}{'?' + query if query else ''}", data=body or None, headers=headers
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
    async with aiohttp.ClientSession() as session, session.post(
        f"{sim.url}/_sim/faults", data='{"failing_lookups": 1, "late_once": 0.01}'
    ) as resp:
        assert resp.status == 200
    assert sim.state.faults.late_once == 0.01
    order = {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "gtc", "price": "42000",
             "size": "0.01", "clientOid": "late-1"}
    status, _ = await call(sim, "POST", constants.Spot.place, order)  # answered after the delay
    assert status == 200 and sim.state.faults.late_once is None
    status, body = await call(sim, "GET", constants.Spot.order_info, {"orderId": "1"})
    assert status == 500 and body["code"] == "50001"
    status, body = await call(sim, "GET", constants.Spot.order_info, {"orderId": "1"})
    assert status == 200 and body["data"] == []


def test_parse_account() -> None:
    assert parse_account("k:s:p") == ("k", "s", "p")
    with pytest.raises(ValueError, match="KEY:SECRET:PASSPHRASE"):
        parse_account("k:s")


def test_runs_as_a_command_on_loopback_and_stops_by_itself() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "terminal5_bitget.simulator", "--account", "k:s:p", "--max-seconds", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    info = json.loads(out.splitlines()[0])
    assert info["url"].startswith("http://127.0.0.1:") and info["accounts"] == ["k"]
    assert proc.returncode == 0 and "stopped after" in err

"""The shipped Binance simulator (terminal5_binance.simulator) on its own: the signature and timing checks of
reference §2, market metadata of realistic size, wallets that orders reserve, separate accounts, duplicate
client ids, fault answers in Binance's own shape, and ``terminal5 simulate --exchange binance``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from terminal5.contract import Credentials
from terminal5.testing.fake_exchange import Account
from terminal5_binance.auth import sign
from terminal5_binance.markets import parse_exchange_info
from terminal5_binance.simulator import BinanceSimulator

KEY, SECRET = "sim-key-a", "sim-secret-a"
OTHER_KEY, OTHER_SECRET = "sim-key-b", "sim-secret-b"
SPOT_FILTERS = {"PRICE_FILTER", "PERCENT_PRICE", "PERCENT_PRICE_BY_SIDE", "LOT_SIZE", "MIN_NOTIONAL", "NOTIONAL",
                "ICEBERG_PARTS", "MARKET_LOT_SIZE", "MAX_NUM_ORDERS", "MAX_NUM_ALGO_ORDERS", "MAX_NUM_ICEBERG_ORDERS",
                "MAX_POSITION", "TRAILING_DELTA"}


async def call(session: aiohttp.ClientSession, url: str, method: str, path: str, params: dict[str, str],
               key: str = KEY, secret: str = SECRET, timestamp: int | None = None) -> tuple[int, Any]:
    parts = sign(Credentials(api_key=key, api_secret=secret), timestamp or int(time.time() * 1000), params)
    async with session.request(method, f"{url}{path}?{parts.query}", headers=dict(parts.headers)) as response:
        return response.status, json.loads(await response.text())


def limit_buy(cid: str, quantity: str = "0.01", price: str = "29000.00") -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": quantity,
            "price": price, "newClientOrderId": cid}


@pytest.fixture
async def sim() -> Any:
    async with BinanceSimulator({KEY: SECRET, OTHER_KEY: OTHER_SECRET}) as exchange:
        yield exchange


async def test_signature_key_and_timestamp_are_checked_as_documented(sim: BinanceSimulator) -> None:
    async with aiohttp.ClientSession() as s:
        assert (await call(s, sim.url, "GET", "/api/v3/account", {}))[0] == 200
        assert await call(s, sim.url, "GET", "/api/v3/account", {}, secret="wrong") == (
            400, {"code": -1022, "msg": "Signature for this request is not valid."})
        status, body = await call(s, sim.url, "GET", "/api/v3/account", {}, key="nobody")
        assert (status, body["code"]) == (401, -2015)
        status, body = await call(s, sim.url, "GET", "/fapi/v3/balance", {}, timestamp=int(time.time() * 1000) - 60_000)
        assert (status, body["code"]) == (400, -1021) and "recvWindow" in body["msg"]
        async with s.get(f"{sim.url}/api/v3/account", headers={"X-MBX-APIKEY": KEY}) as response:
            assert response.status == 400 and (await response.json())["code"] == -1102


async def test_markets_of_realistic_size_with_every_filter_type(sim: BinanceSimulator) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{sim.url}/api/v3/exchangeInfo") as response:
            from terminal5 import jsonutil

            spot = jsonutil.loads(await response.text())
        async with s.get(f"{sim.url}/fapi/v1/exchangeInfo") as response:
            futures = jsonutil.loads(await response.text())
    assert len(spot["symbols"]) >= 1000 and len(futures["symbols"]) >= 300
    seen = {f["filterType"] for entry in spot["symbols"] for f in entry["filters"]}
    assert SPOT_FILTERS <= seen, SPOT_FILTERS - seen
    assert {f["filterType"] for f in spot["exchangeFilters"]} >= {"EXCHANGE_MAX_NUM_ORDERS"}
    markets = parse_exchange_info(spot, futures=False)
    assert len(markets) == len(spot["symbols"]) and len({m.symbol for m in markets}) == len(markets)
    swaps = parse_exchange_info(futures, futures=True)
    assert {m.type.value for m in swaps} == {"swap", "future"}
    btc = next(e for e in spot["symbols"] if e["symbol"] == "BTCUSDT")
    assert btc["filters"][0] == {"filterType": "PRICE_FILTER", "minPrice": "0.01000000",
                                 "maxPrice": "1000000.00000000", "tickSize": "0.01000000"}


async def test_orders_reserve_balances_and_cancels_release_them(sim: BinanceSimulator) -> None:
    async with aiohttp.ClientSession() as s:
        status, placed = await call(s, sim.url, "POST", "/api/v3/order", limit_buy("res-1"))
        assert status == 200 and placed["status"] == "NEW"
        _, account = await call(s, sim.url, "GET", "/api/v3/account", {})
        usdt = next(b for b in account["balances"] if b["asset"] == "USDT")
        assert (Decimal(usdt["free"]), Decimal(usdt["locked"])) == (Decimal(10000) - 290, Decimal(290))
        await call(s, sim.url, "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "res-1"})
        _, account = await call(s, sim.url, "GET", "/api/v3/account", {})
        usdt = next(b for b in account["balances"] if b["asset"] == "USDT")
        assert (Decimal(usdt["free"]), Decimal(usdt["locked"])) == (Decimal(10000), Decimal(0))
        status, market = await call(s, sim.url, "POST", "/api/v3/order",
                                    {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1",
                                     "newClientOrderId": "mkt-1"})
        assert status == 200 and market["status"] == "FILLED" and market["fills"][0]["price"] == "30100"
        assert sim.wallet(KEY).free["BTC"] == Decimal("1.1") and sim.wallet(KEY).free["USDT"] == Decimal(10000 - 3010)
        status, body = await call(s, sim.url, "POST", "/api/v3/order", limit_buy("poor", quantity="1", price="29000.00"))
        assert (status, body) == (400, {"code": -2010, "msg": "Account has insufficient balance for requested action."})


async def test_accounts_are_separate_and_duplicates_refused(sim: BinanceSimulator) -> None:
    async with aiohttp.ClientSession() as s:
        status, first = await call(s, sim.url, "POST", "/api/v3/order", limit_buy("dup-1"))
        assert status == 200
        assert await call(s, sim.url, "POST", "/api/v3/order", limit_buy("dup-1")) == (
            400, {"code": -2010, "msg": "Duplicate order sent."})
        # the same client id on another account is another order
        assert (await call(s, sim.url, "POST", "/api/v3/order", limit_buy("dup-1"), OTHER_KEY, OTHER_SECRET))[0] == 200
        status, body = await call(s, sim.url, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": str(first["orderId"])},
                                  OTHER_KEY, OTHER_SECRET)
        assert (status, body["code"]) == (400, -2013)  # another account's order is invisible
        status, mine = await call(s, sim.url, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": str(first["orderId"])})
        assert status == 200 and mine["clientOrderId"] == "dup-1"
        futures = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010",
                   "price": "29000.0", "newClientOrderId": "fdup"}
        assert (await call(s, sim.url, "POST", "/fapi/v1/order", futures))[0] == 200
        assert (await call(s, sim.url, "POST", "/fapi/v1/order", futures))[1]["code"] == -4116
    records = sim.records()
    assert [a["api_key"] for a in records["accepted"]["dup-1"]] == [KEY, OTHER_KEY]
    assert [(r["client_id"], r["code"], r["duplicate"]) for r in records["refused"]] == [
        ("dup-1", "-2010", True), ("fdup", "-4116", True)]


async def test_faults_answer_in_binance_shape(sim: BinanceSimulator) -> None:
    sim.add_fault({"endpoint": "spot.order.place", "kind": "rate_limit", "status": 429, "retry_after": 7})
    sim.add_fault({"endpoint": "spot.account", "kind": "rate_limit", "status": 418, "retry_after": 120})
    sim.add_fault({"endpoint": "spot.order.get", "kind": "error", "status": 503})
    async with aiohttp.ClientSession() as s:
        parts = sign(Credentials(api_key=KEY, api_secret=SECRET), int(time.time() * 1000), limit_buy("rl-1"))
        async with s.post(f"{sim.url}/api/v3/order?{parts.query}", headers=dict(parts.headers)) as response:
            assert response.status == 429 and response.headers["Retry-After"] == "7"
            assert (await response.json())["code"] == -1003
        status, body = await call(s, sim.url, "GET", "/api/v3/account", {})
        assert status == 418 and "banned" in body["msg"]
        status, body = await call(s, sim.url, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": "1"})
        assert (status, body["code"]) == (503, -1007)


async def test_accounts_file_sets_spot_and_futures_balances() -> None:
    account = Account(api_key="f", api_secret="s", balances={"USDT": Decimal(5), "futures:USDT": Decimal(7)})
    async with BinanceSimulator([account]) as sim:
        assert sim.wallet("f").free == {"USDT": Decimal(5)} and sim.futures_available == Decimal(7)


def test_simulate_command_serves_binance(tmp_path: Any) -> None:
    env = {**os.environ, "TERMINAL5_DATA_DIR": str(tmp_path), "TERMINAL5_PLUGINS_ALLOW": "binance"}
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps([{"api_key": KEY, "api_secret": SECRET}]))
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "terminal5.cli", "simulate", "--exchange", "binance", "--accounts", str(accounts),
         "--max-seconds", "120", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "the simulator did not start"
        info = json.loads(line)
        assert info["exchange"] == "binance" and info["url"].startswith("http://127.0.0.1:")
        assert info["accounts"] == [{"api_key": KEY, "api_secret": SECRET}]
        import urllib.request

        with urllib.request.urlopen(info["url"] + "/api/v3/time", timeout=10) as response:  # noqa: S310 - loopback
            assert "serverTime" in json.loads(response.read())
        with urllib.request.urlopen(info["url"] + "/_sim/records", timeout=10) as response:  # noqa: S310 - loopback
            assert json.loads(response.read())["exchange"] == "binance"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    assert proc.returncode == 0


async def test_spot_answer_follows_new_order_resp_type(sim: BinanceSimulator) -> None:
    async with aiohttp.ClientSession() as s:
        _, ack = await call(s, sim.url, "POST", "/api/v3/order", {**limit_buy("ack-1"), "newOrderRespType": "ACK"})
        _, result = await call(s, sim.url, "POST", "/api/v3/order", {**limit_buy("res-2"), "newOrderRespType": "RESULT"})
        _, full = await call(s, sim.url, "POST", "/api/v3/order", limit_buy("full-1"))
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert "fills" not in result and result["status"] == "NEW" and full["fills"] == []


async def test_concurrent_orders_of_many_brokers_are_each_signed_by_their_own_key(
    t5_gateway: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100 orders of 10 brokers at once through the gateway: the records name each order's signing key."""
    import asyncio

    from terminal5_binance import plugin

    monkeypatch.setenv("TERMINAL5_BINANCE_CACHE_DIR", str(tmp_path / "cache"))
    keys = {f"iso-key-{i}": f"iso-secret-{i}" for i in range(10)}
    async with BinanceSimulator(keys) as sim:
        gateway = await t5_gateway(plugin)
        brokers = [await gateway.add_broker(user_id=1, exchange="binance", label=key, api_key=key, api_secret=secret,
                                            base_url=sim.url) for key, secret in keys.items()]
        owner = {f"iso-{b.id}-{n}": b.label for b in brokers for n in range(10)}
        orders = await asyncio.gather(*(
            gateway.place_order({"user_id": 1, "broker_id": int(cid.split("-")[1]), "symbol": "BTC/USDT",
                                 "side": "buy", "type": "limit", "quantity": "0.001", "price": "29000",
                                 "client_order_id": cid})
            for cid in owner))
        records = sim.records()
    assert len(orders) == 100 and not records["refused"]
    assert {cid: items[0]["api_key"] for cid, items in records["accepted"].items()} == owner


async def test_partial_fills_on_demand_over_the_control_route(sim: BinanceSimulator) -> None:
    async with aiohttp.ClientSession() as s:
        _, placed = await call(s, sim.url, "POST", "/api/v3/order", limit_buy("pf-1", quantity="0.02"))
        async with s.post(f"{sim.url}/_sim/fill", json={"order_id": placed["orderId"], "quantity": "0.005",
                                                         "price": "28990"}) as response:
            assert response.status == 200
        _, order = await call(s, sim.url, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "pf-1"})
    assert (order["status"], order["executedQty"]) == ("PARTIALLY_FILLED", "0.005")
    wallet = sim.wallet(KEY)
    assert wallet.free["BTC"] == Decimal("1.005") and wallet.locked["USDT"] == Decimal("0.015") * 29000


def _scan(sim: BinanceSimulator, key: str, futures: bool, symbol: str | None = None) -> list[dict[str, Any]]:
    """What a scan over every order ever placed answers (the lookups' indexes must agree with it)."""
    return [o for i, o in sim.orders.items() if sim.owner.get(i) == key and (i in sim.futures_ids) is futures
            and symbol in (None, o["symbol"])]


async def test_order_indexes_answer_as_a_scan_would_after_many_orders(sim: BinanceSimulator) -> None:
    small = {"quantity": "0.00100", "price": "29000.00"}
    async with aiohttp.ClientSession() as s:
        placed = {}
        for i in range(60):
            status, body = await call(s, sim.url, "POST", "/api/v3/order", limit_buy(f"ix-{i}", **small))
            assert status == 200
            placed[f"ix-{i}"] = body["orderId"]
        assert (await call(s, sim.url, "POST", "/api/v3/order", limit_buy("ix-5", **small), OTHER_KEY, OTHER_SECRET))[0] == 200
        assert (await call(s, sim.url, "POST", "/api/v3/order", limit_buy("ix-5", **small)))[1]["code"] == -2010
        sim.fill(placed["ix-7"], "0.00100", "29000")  # filled: no longer open, its client id is free again
        status, body = await call(s, sim.url, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "ix-42"})
        assert status == 200 and body["orderId"] == placed["ix-42"]
        status, body = await call(s, sim.url, "GET", "/api/v3/order", {"symbol": "ETHUSDT", "origClientOrderId": "ix-42"})
        assert (status, body["code"]) == (400, -2013)  # the symbol filter still applies
        status, body = await call(s, sim.url, "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "ix-30"})
        assert status == 200 and body["status"] == "CANCELED"
        assert (await call(s, sim.url, "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": str(placed["ix-30"])}))[1][
            "code"] == -2011
        _, open_before = await call(s, sim.url, "GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
        for cid in ("ix-30", "ix-7"):  # cancelled or filled: the client id may be used again
            status, again = await call(s, sim.url, "POST", "/api/v3/order", limit_buy(cid, **small))
            assert status == 200 and again["orderId"] != placed[cid]
            assert (await call(s, sim.url, "POST", "/api/v3/order", limit_buy(cid, **small)))[1]["code"] == -2010
            status, body = await call(s, sim.url, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": str(again["orderId"])})
            assert status == 200 and body["clientOrderId"] == cid and body["status"] == "NEW"
        # a lookup by client id answers the account's first order carrying it, as the scan did
        status, body = await call(s, sim.url, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "ix-30"})
        assert status == 200 and body["orderId"] == placed["ix-30"] and body["status"] == "CANCELED"
        _, open_now = await call(s, sim.url, "GET", "/api/v3/openOrders", {})
        expected = [sim._view(o) for o in _scan(sim, KEY, False) if o["status"] in ("NEW", "PARTIALLY_FILLED")]
        assert [o["orderId"] for o in open_now] == [o["orderId"] for o in expected] and len(open_now) == 60
        assert len(open_before) == 58 and "ix-30" not in [o["clientOrderId"] for o in open_before]
        _, last5 = await call(s, sim.url, "GET", "/api/v3/allOrders", {"symbol": "BTCUSDT", "limit": "5"})
        assert [o["orderId"] for o in last5] == [o["orderId"] for o in _scan(sim, KEY, False, "BTCUSDT")[-5:]]
        _, every = await call(s, sim.url, "GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"})
        assert [o["orderId"] for o in every] == [o["orderId"] for o in _scan(sim, KEY, False, "BTCUSDT")]
        _, trades = await call(s, sim.url, "GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": str(placed["ix-7"])})
        assert [t["orderId"] for t in trades] == [placed["ix-7"]]
        # an order a test puts in the book by hand is found too
        sim.orders[1] = {**sim.orders[placed["ix-1"]], "orderId": 1, "clientOrderId": "by-hand"}
        sim.owner[1] = KEY
        status, body = await call(s, sim.url, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "by-hand"})
        assert status == 200 and body["orderId"] == 1
        # algo orders: duplicates only among NEW ones, looked up by id or client id
        algo = {"symbol": "BTCUSDT", "algoType": "CONDITIONAL", "type": "STOP_MARKET", "side": "SELL",
                "quantity": "0.010", "triggerPrice": "29000.0", "clientAlgoId": "ix-algo"}
        status, first = await call(s, sim.url, "POST", "/fapi/v1/algoOrder", algo)
        assert status == 200
        assert (await call(s, sim.url, "POST", "/fapi/v1/algoOrder", algo))[1]["code"] == -4116
        assert (await call(s, sim.url, "POST", "/fapi/v1/algoOrder", algo, OTHER_KEY, OTHER_SECRET))[0] == 200
        assert (await call(s, sim.url, "DELETE", "/fapi/v1/algoOrder", {"clientAlgoId": "ix-algo"}))[0] == 200
        status, second = await call(s, sim.url, "POST", "/fapi/v1/algoOrder", algo)
        assert status == 200 and second["algoId"] != first["algoId"]
        status, body = await call(s, sim.url, "GET", "/fapi/v1/algoOrder", {"algoId": str(second["algoId"])})
        assert status == 200 and body["algoStatus"] == "NEW"
        assert (await call(s, sim.url, "GET", "/fapi/v1/algoOrder", {"algoId": str(second["algoId"])}, OTHER_KEY,
                           OTHER_SECRET))[1]["code"] == -2013
        _, open_algos = await call(s, sim.url, "GET", "/fapi/v1/openAlgoOrders", {})
        _, all_algos = await call(s, sim.url, "GET", "/fapi/v1/allAlgoOrders", {"symbol": "BTCUSDT"})
        assert [a["algoId"] for a in open_algos] == [second["algoId"]]
        assert [a["algoId"] for a in all_algos] == [first["algoId"], second["algoId"]]

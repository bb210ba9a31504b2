"""Scenario 1: a burst against the Binance simulator with lost answers, 5xx, a 429 storm with Retry-After and
failing lookups; then reconciliation past the grace window. 0 lost, 0 sent twice, every status right; the
FILLED market order whose answer was lost while lookups were down is found and stored, never declared
never-placed."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from pathlib import Path

import attrs

from terminal5.testing.fake_exchange import Account, FaultRule
from terminal5_binance.simulator import BinanceSimulator

from . import harness as h
from .conftest import new_master_key, prepare, rich

GRACE = 2.0
RETRY_AFTER = 4


def order(n: int, cid: str, broker: int) -> dict:
    body = {"broker_id": broker, "symbol": "BTC/USDT", "side": "buy", "quantity": "0.001", "client_order_id": cid}
    if n % 4 == 0:
        body["type"] = "market"
    else:
        body.update(type="limit", price=str(20000 + n % 500))
    return body


async def reconcile_all(url: str, admin: str, brokers: list[int]) -> list[tuple[int, object]]:
    return [await h.request("POST", f"{url}/v1/brokers/{b}/reconcile", admin) for b in brokers]


async def test_burst_with_lost_answers_5xx_429_and_failing_lookups(tmp_path: Path) -> None:
    started = time.monotonic()
    total, concurrency = h.scaled(1000, 200), 32
    keys = [(secrets.token_hex(32), secrets.token_hex(32)) for _ in range(2)]
    sim = h.logged(BinanceSimulator)([Account(k, s, balances=rich()) for k, s in keys], seed=9)
    await sim.start()
    url = f"sqlite:///{tmp_path}/t5.db"
    master = new_master_key()
    try:
        setup = await prepare(url, tmp_path, master, [(u + 1, "binance", k, s, sim.url) for u, (k, s) in enumerate(keys)],
                              ["binance"])
        brokers = sorted(setup.broker_keys)
        daemon = h.DaemonProcess.make(tmp_path, url, master, grace=GRACE)
        async with h.running(daemon):
            token_of = {b: setup.tokens[setup.owners[b]] for b in brokers}
            # the FILLED market order whose answer is lost while every lookup fails
            sim.add_fault(FaultRule("@place", "drop", times=1))
            sim.add_fault(FaultRule("@lookup", "error", status=503, times=None))
            lost_market = {"broker_id": brokers[0], "symbol": "BTC/USDT", "side": "buy", "type": "market",
                           "quantity": "0.002", "client_order_id": "chaos-lost-market"}
            first = await h.burst(daemon.url, [(token_of[brokers[0]], lost_market)], concurrency=1, max_seconds=60,
                                  attempts=1)
            sim.clear_faults()
            # the burst's faults: 10% accepted then dropped, ~5% 5xx (JSON and HTML), lookups failing 30%
            for rule in (FaultRule("@place", "drop", times=None, probability=0.10),
                         FaultRule("@place", "error", status=500, times=None, probability=0.03),
                         FaultRule("@place", "error", status=502, body="html", times=None, probability=0.02),
                         FaultRule("@lookup", "error", status=503, times=None, probability=0.30)):
                sim.add_fault(rule)
            orders = []
            for n in range(total):
                broker = brokers[n % len(brokers)]
                orders.append((token_of[broker], order(n, f"chaos-b1-{n}", broker)))
            running = asyncio.ensure_future(h.burst(daemon.url, orders, concurrency=concurrency, max_seconds=240))
            for _ in range(600):  # the 429 storm, a third of the way in
                if len(sim.accepted) >= total // 3 or running.done():
                    break
                await asyncio.sleep(0.1)
            sim.faults.insert(0, FaultRule("*", "rate_limit", status=429, retry_after=RETRY_AFTER, times=5))
            load = await running
            # past the grace window, with every lookup failing: nothing may be declared never placed
            sim.clear_faults()
            sim.add_fault(FaultRule("@lookup", "error", status=503, times=None))
            await asyncio.sleep(GRACE + 0.5)
            await reconcile_all(daemon.url, setup.admin, brokers)
            during_outage = {r["native_client_id"]: r["status"] for r in h.database_rows(url)}
            sim.clear_faults()
            for _ in range(5):  # then healthy: everything resolves
                await reconcile_all(daemon.url, setup.admin, brokers)
                if not any(r["status"] == "pending_submit" for r in h.database_rows(url)):
                    break
                await asyncio.sleep(GRACE)
        rows = h.database_rows(url)
        places, in_clear = h.secrets_in_clear([v for pair in keys for v in pair], dirs=[tmp_path], database_url=url)
    finally:
        await sim.stop()
    figures = h.compare(attempted=[b["client_order_id"] for _, b in orders] + ["chaos-lost-market"],
                        sim_orders=h.binance_orders(sim), placements=h.placements_of(sim), rows=rows,
                        broker_keys=setup.broker_keys)
    storms, violations = h.retry_after_violations(sim.log)
    print(figures.line("binance faults"))
    print(f"chaos[binance faults]: answers {dict(sorted(load.statuses().items()))}, final answers {dict(load.outcomes())}, "
          f"stored {dict(Counter(r['status'] for r in rows))}, first {first.statuses()}, "
          f"429 answered {storms}, signed requests logged {sum(e.signed_ms is not None for e in sim.log)}, requests inside a Retry-After window {len(violations)}, "
          f"requests {sim.request_count}, roles {sim.role_counts}, {time.monotonic() - started:.1f}s")
    print(f"chaos[secrets]: {2 * len(keys)} keys and secrets searched in {places} files of the data dir "
          f"(SQLite database, logs, daemon output): {len(in_clear)} in clear")
    assert in_clear == [], in_clear[:5]
    assert storms >= 1 and violations == [], violations[:10]
    assert sum(e.signed_ms is not None for e in sim.log) > total  # the check had every order's stamp
    assert during_outage.get("chaos-lost-market") not in ("rejected", None), during_outage.get("chaos-lost-market")
    stored = {r["native_client_id"]: r for r in rows}
    assert stored["chaos-lost-market"]["status"] == "closed"
    assert not load.bodies_with(500), load.bodies_with(500)[:3]
    figures.assert_clean()
    assert figures.accepted > total // 2


def test_the_retry_after_check_sees_a_request_signed_inside_the_window() -> None:
    storm = h.Logged(arrived=0.0, arrived_ms=1_000_000.0, answered_ms=1_000_000.0, path="/api/v3/order",
                     status=429, retry_after="4", signed_ms=999_990)
    early = attrs.evolve(storm, status=200, retry_after=None, signed_ms=1_002_500, arrived_ms=1_002_510)
    queued = attrs.evolve(early, signed_ms=1_000_300)  # let through before the 429 reached the client
    late = attrs.evolve(early, signed_ms=1_003_998, arrived_ms=1_004_008)  # the window's end, to the ms
    assert h.retry_after_violations([storm, queued, late]) == (1, [])
    assert h.retry_after_violations([storm, early]) == (1, ["/api/v3/order signed 2.510s after a Retry-After: 4"])
    # a client whose clock runs 1.5 s ahead: its stamps are read on the simulator's clock
    ahead = [attrs.evolve(e, signed_ms=e.signed_ms + 1500) for e in (storm, queued, late)]
    assert h.retry_after_violations(ahead) == (1, [])

"""Scenario 2: SIGKILL of the daemon in the middle of a burst, restart, start-up reconciliation, and the
clients retrying every order with the same client ids: every order the simulator holds is in the database
with the right status, none twice."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

from terminal5.testing.fake_exchange import Account, FaultRule
from terminal5_binance.simulator import BinanceSimulator

from . import harness as h
from .conftest import new_master_key, prepare, rich
from .test_binance_faults import GRACE, order, reconcile_all


async def test_sigkill_mid_burst_then_restart_and_client_retries(tmp_path: Path) -> None:
    started = time.monotonic()
    total = h.scaled(1000, 200)
    keys = [(secrets.token_hex(32), secrets.token_hex(32)) for _ in range(2)]
    sim = BinanceSimulator([Account(k, s, balances=rich()) for k, s in keys], seed=2)
    await sim.start()
    url = f"sqlite:///{tmp_path}/t5.db"
    master = new_master_key()
    try:
        setup = await prepare(url, tmp_path, master, [(u + 1, "binance", k, s, sim.url) for u, (k, s) in enumerate(keys)],
                              ["binance"])
        brokers = sorted(setup.broker_keys)
        token_of = {b: setup.tokens[setup.owners[b]] for b in brokers}
        orders = [(token_of[brokers[n % 2]], order(n, f"chaos-kill-{n}", brokers[n % 2])) for n in range(total)]
        # answers take a little while, so the kill finds orders between sending and storing
        sim.add_fault(FaultRule("@place", "latency", delay=0.05, times=None))
        daemon = h.DaemonProcess.make(tmp_path, url, master, grace=GRACE)
        try:
            await daemon.start()
            running = asyncio.ensure_future(h.burst(daemon.url, orders, concurrency=32, max_seconds=120, attempts=1))
            for _ in range(1200):
                if len(sim.accepted) >= total // 3 or running.done():
                    break
                await asyncio.sleep(0.05)
            daemon.kill()
            killed_at = len(sim.accepted)
            first = await running
            sim.clear_faults()
            await asyncio.sleep(GRACE)  # the interrupted orders are past the grace window at start-up
            await daemon.start()  # start-up reconciliation runs now
            second = await h.burst(daemon.url, orders, concurrency=32, max_seconds=180)
            await asyncio.sleep(GRACE)
            for _ in range(5):
                await reconcile_all(daemon.url, setup.admin, brokers)
                if not any(r["status"] == "pending_submit" for r in h.database_rows(url)):
                    break
                await asyncio.sleep(GRACE)
        finally:
            daemon.stop()
        rows = h.database_rows(url)
    finally:
        await sim.stop()
    figures = h.compare(attempted=[b["client_order_id"] for _, b in orders], sim_orders=h.binance_orders(sim),
                        placements=h.placements_of(sim), rows=rows, broker_keys=setup.broker_keys)
    print(figures.line("sigkill"))
    print(f"chaos[sigkill]: accepted when killed {killed_at}, first burst answers {dict(first.statuses())}, "
          f"retries' answers {dict(second.statuses())}, {time.monotonic() - started:.1f}s")
    odd = {b["client_order_id"]: second.last(b["client_order_id"]) for _, b in orders}
    odd = {cid: (a.status, a.body) for cid, a in odd.items() if a is not None and a.status != 200}
    print(f"chaos[sigkill]: retries not answered 200: {len(odd)} {list(odd.items())[:3]}")
    assert 0 < killed_at < total
    assert first.connection_errors > 0  # the kill did land mid-burst
    figures.assert_clean()
    # every client got a final answer on retry: its order, including (for an intent stored but never sent
    # before the kill, declared absent by the start-up reconciliation) the stored verdict `rejected`, and then
    # the exchange has not it
    assert not odd, odd
    stored = {r["client_order_id"]: r["status"] for r in rows}
    for _, b in orders:
        answer = second.last(b["client_order_id"])
        if answer is not None and answer.body.get("status") == "rejected":
            assert b["client_order_id"] not in sim.accepted and stored[b["client_order_id"]] == "rejected"
    assert all(second.last(b["client_order_id"]) is not None for _, b in orders)

"""Scenario 4: the daemon's PostgreSQL (a private server) stopped ~12 s in the middle of a burst and started
again by the test, whatever happens. No order reaches the exchange without a recorded intent; clients get a
typed 503 ``DatabaseUnavailable`` (never a bare 500); the daemon recovers by itself, without a restart."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

from private_postgres import PrivatePostgres, private_postgres  # noqa: F401  (fixture)

from terminal5.testing.fake_exchange import Account, FaultRule
from terminal5_binance.simulator import BinanceSimulator

from . import harness as h
from .conftest import new_master_key, prepare, rich
from .test_binance_faults import GRACE, order, reconcile_all

OUTAGE = 12.0  # seconds the database stays down


async def test_postgres_stopped_mid_burst(tmp_path: Path, private_postgres: PrivatePostgres) -> None:  # noqa: F811
    started = time.monotonic()
    server = private_postgres
    total = h.scaled(1000, 300)
    keys = [(secrets.token_hex(32), secrets.token_hex(32)) for _ in range(2)]
    sim = BinanceSimulator([Account(k, s, balances=rich()) for k, s in keys], seed=4)
    await sim.start()
    url = server.url
    master = new_master_key()
    up = True
    try:
        setup = await prepare(url, tmp_path, master, [(u + 1, "binance", k, s, sim.url) for u, (k, s) in enumerate(keys)],
                              ["binance"])
        brokers = sorted(setup.broker_keys)
        token_of = {b: setup.tokens[setup.owners[b]] for b in brokers}
        orders = [(token_of[brokers[n % 2]], order(n, f"chaos-pg-{n}", brokers[n % 2])) for n in range(total)]
        # a slower exchange, so that the burst is still running when the database comes back
        sim.add_fault(FaultRule("@place", "latency", delay=0.1, times=None))
        daemon = h.DaemonProcess.make(tmp_path, url, master, grace=GRACE)
        async with h.running(daemon):
            running = asyncio.ensure_future(h.burst(daemon.url, orders, concurrency=16, max_seconds=300,
                                                    attempts=80, pause=0.5))
            for _ in range(1200):
                if len(sim.accepted) >= total // 4 or running.done():
                    break
                await asyncio.sleep(0.05)
            try:
                await asyncio.to_thread(server.stop)
                up = False
                stopped_at, accepted_at_stop = time.monotonic(), set(sim.accepted)
                await asyncio.sleep(OUTAGE)
                accepted_in_outage = set(sim.accepted) - accepted_at_stop
            finally:
                await asyncio.to_thread(server.start)  # whatever happened
                up = True
            load = await running
            sim.clear_faults()
            await asyncio.sleep(GRACE)
            for _ in range(5):
                await reconcile_all(daemon.url, setup.admin, brokers)
                if not any(r["status"] == "pending_submit" for r in h.database_rows(url)):
                    break
                await asyncio.sleep(GRACE)
            assert daemon.process is not None and daemon.process.poll() is None  # never restarted
            assert daemon.starts == 1
        rows = h.database_rows(url)
    finally:
        if not up:
            await asyncio.to_thread(server.start)
        await sim.stop()
    figures = h.compare(attempted=[b["client_order_id"] for _, b in orders], sim_orders=h.binance_orders(sim),
                        placements=h.placements_of(sim), rows=rows, broker_keys=setup.broker_keys)
    unavailable = [b for b in load.bodies_with(503) if b.get("error") == "DatabaseUnavailable"]
    # an order whose first request came after the database stopped had no intent stored: never sent then
    no_intent = sorted(c for c in accepted_in_outage if load.first_sent.get(c, 0.0) > stopped_at)
    print(figures.line("postgres outage"))
    print(f"chaos[postgres outage]: answers {dict(sorted(load.statuses().items()))}, 503 DatabaseUnavailable "
          f"{len(unavailable)} (order_sent: {sorted({str(b.get('order_sent')) for b in unavailable})}), "
          f"accepted during the outage {len(accepted_in_outage)}, of them without an intent {len(no_intent)}, "
          f"{time.monotonic() - started:.1f}s")
    assert unavailable, load.statuses()
    assert all("order_sent" in b for b in unavailable if b.get("client_order_id")), unavailable[:3]
    assert not load.bodies_with(500), load.bodies_with(500)[:3]
    assert no_intent == []
    figures.assert_clean()
    assert all(load.last(b["client_order_id"]).status == 200 for _, b in orders)  # type: ignore[union-attr]

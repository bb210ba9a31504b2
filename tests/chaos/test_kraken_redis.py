"""Scenario 5: Kraken, two daemons on one PostgreSQL and one (private) Redis, client ids whose first userref
guesses collide in pairs, a Redis FLUSHDB, then Redis stopped a few seconds and started again empty, in the
middle of the run, while a Binance broker carries on. 0 collisions, every userref maps back to its client id.
Scenario 6 at its end: every key and secret of the run searched everywhere the run wrote."""

from __future__ import annotations

import asyncio
import base64
import functools
import secrets
import time
from collections import defaultdict
from pathlib import Path

import redis as redis_lib
from daemon.private_redis import PrivateRedis, private_redis  # noqa: F401  (fixture)

from terminal5.testing.fake_exchange import Account
from terminal5_binance.simulator import BinanceSimulator
from terminal5_kraken.simulator import KrakenSimulator
from terminal5_kraken.userref import first_guess

from . import harness as h
from .conftest import new_master_key, prepare, rich
from .test_binance_faults import GRACE, order, reconcile_all

REDIS_DOWN = 3.0  # seconds Redis stays stopped
KRAKEN_STATUSES = {"pending": "open", "open": "open", "closed": "closed", "canceled": "cancelled",
                   "expired": "cancelled"}


@functools.cache
def colliding_pairs(count: int) -> list[tuple[str, str]]:
    """``count`` pairs of distinct client ids with the same first userref guess (a birthday search)."""
    seen: dict[int, str] = {}
    pairs: list[tuple[str, str]] = []
    for i in range(5_000_000):
        cid = f"kc-{i}"
        guess = first_guess(cid)
        if guess in seen:
            pairs.append((seen.pop(guess), cid))
            if len(pairs) == count:
                return pairs
        else:
            seen[guess] = cid
    raise AssertionError("not enough colliding client ids")


def kraken_account() -> tuple[str, str]:
    return base64.b64encode(secrets.token_bytes(42)).decode(), base64.b64encode(secrets.token_bytes(64)).decode()


async def test_two_kraken_daemons_colliding_userrefs_redis_flush_and_restart(
    tmp_path: Path, pg_url: str, private_redis: PrivateRedis,  # noqa: F811
) -> None:
    started = time.monotonic()
    per_daemon = h.scaled(20, 4)  # Kraken keys per daemon (each key's REST counter allows a burst of ~20)
    pairs = colliding_pairs(h.scaled(400, 80))
    kraken_keys = [kraken_account() for _ in range(2 * per_daemon)]
    kraken = KrakenSimulator([Account(k, s, balances=rich()) for k, s in kraken_keys], seed=5)
    bn_key = (secrets.token_hex(32), secrets.token_hex(32))
    binance = BinanceSimulator([Account(*bn_key, balances=rich())], seed=5)
    await kraken.start()
    await binance.start()
    master = new_master_key()
    try:
        brokers_spec = [(1 + i % 2, "kraken", k, s, kraken.url, {"tier": "pro"}) for i, (k, s) in enumerate(kraken_keys)]
        brokers_spec.append((3, "binance", *bn_key, binance.url))
        setup = await prepare(pg_url, tmp_path, master, brokers_spec, ["kraken", "binance"])
        ids = sorted(setup.broker_keys)
        kraken_brokers, binance_broker = ids[:-1], ids[-1]
        # daemon A serves the even Kraken brokers and the Binance one, daemon B the odd ones (a key is never
        # used by two processes at once: Kraken's nonces are per key)
        side = {b: n % 2 for n, b in enumerate(kraken_brokers)}
        daemons = [h.DaemonProcess.make(tmp_path / name, pg_url, master, plugins="kraken,binance", grace=GRACE,
                                        redis_url=private_redis.url, heartbeat=f"chaos-{name}")
                   for name in ("a", "b")]
        for d in daemons:
            d.data_dir.mkdir()
        # each pair: one id through daemon A, the other through daemon B, at the same time
        work: list[list[tuple[str, dict]]] = [[], []]
        expected: dict[tuple[str, str], str] = {}  # (api key, price) -> client id
        for n, pair in enumerate(pairs):
            for which, cid in enumerate(pair):
                candidates = [b for b in kraken_brokers if side[b] == which]
                broker = candidates[n % len(candidates)]
                price = str(10000 + n)
                body = {"broker_id": broker, "symbol": "BTC/USD", "side": "buy", "type": "limit",
                        "quantity": "0.01", "price": price, "client_order_id": cid}
                work[which].append((setup.tokens[setup.owners[broker]], body))
                expected[(setup.broker_keys[broker], price)] = cid
        bn_orders = [(setup.tokens[3], order(n, f"chaos-kr-bn-{n}", binance_broker)) for n in range(len(pairs))]
        try:
            for d in daemons:
                await d.start()
            a, b = daemons
            loads = [asyncio.ensure_future(h.burst(a.url, work[0], concurrency=16, max_seconds=240, pause=1.0,
                                                   attempts=30)),
                     asyncio.ensure_future(h.burst(b.url, work[1], concurrency=16, max_seconds=240, pause=1.0,
                                                   attempts=30)),
                     asyncio.ensure_future(h.burst(a.url, bn_orders, concurrency=4, max_seconds=240))]
            total = 2 * len(pairs)
            cache = redis_lib.Redis.from_url(private_redis.url, socket_timeout=5)
            accepted_at: dict[str, int] = {}
            for step, action in ((3, "flush"), (2, "stop")):
                for _ in range(2400):
                    if len(kraken.accepted) >= total * (4 - step) // 4 or all(t.done() for t in loads):
                        break
                    await asyncio.sleep(0.05)
                accepted_at[action] = len(kraken.accepted) + len(binance.accepted)
                if action == "flush":
                    keys_before = cache.dbsize()
                    cache.flushdb()
                else:  # Redis gone for a while, then back empty (no persistence)
                    await asyncio.to_thread(private_redis.stop)
                    try:
                        await asyncio.sleep(REDIS_DOWN)
                    finally:
                        await asyncio.to_thread(private_redis.start)
            cache.close()
            results = await asyncio.gather(*loads)
            await asyncio.sleep(GRACE)
            for _ in range(5):
                await reconcile_all(a.url, setup.admin, [x for x in kraken_brokers if side[x] == 0] + [binance_broker])
                await reconcile_all(b.url, setup.admin, [x for x in kraken_brokers if side[x] == 1])
                if not any(r["status"] == "pending_submit" for r in h.database_rows(pg_url)):
                    break
                await asyncio.sleep(GRACE)
            alive = [d.process is not None and d.process.poll() is None for d in daemons]
        finally:
            for d in daemons:
                d.stop()
        rows = h.database_rows(pg_url)
        # scenario 6: every key and secret of the run, searched everywhere the run wrote
        every_secret = [v for pair in [*kraken_keys, bn_key] for v in pair]
        places, in_clear = h.secrets_in_clear(every_secret, dirs=[tmp_path], database_url=pg_url,
                                              redis_url=private_redis.url)
    finally:
        await kraken.stop()
        await binance.stop()
    kraken_keys_of = {bid: key for bid, key in setup.broker_keys.items() if bid in kraken_brokers}
    sim_orders = [h.SimOrder(native_client_id=str(o["userref"]), api_key=kraken.owner[txid],
                             status=KRAKEN_STATUSES.get(o["status"], "UNKNOWN")) for txid, o in kraken.orders.items()]
    figures = h.compare(attempted=[body["client_order_id"] for w in work for _, body in w], sim_orders=sim_orders,
                        placements=h.placements_of(kraken), rows=rows, broker_keys=kraken_keys_of)
    bn_figures = h.compare(attempted=[body["client_order_id"] for _, body in bn_orders],
                           sim_orders=h.binance_orders(binance), placements=h.placements_of(binance), rows=rows,
                           broker_keys={binance_broker: bn_key[0]})
    # every userref the exchange holds maps back, through the database, to the client id that was sent
    by_cid = {r["client_order_id"]: r for r in rows if r["broker_id"] in kraken_keys_of}
    unmapped = []
    for txid, o in kraken.orders.items():
        cid = expected.get((kraken.owner[txid], o["descr"]["price"]))
        row = by_cid.get(cid)
        if row is None or row["native_client_id"] != str(o["userref"]):
            unmapped.append(f"{txid}: userref {o['userref']} for {cid}, stored {row and row['native_client_id']}")
    userrefs = defaultdict(set)
    for r in rows:
        if r["broker_id"] in kraken_keys_of:
            userrefs[r["native_client_id"]].add(r["client_order_id"])
    collisions = [u for u, c in userrefs.items() if len(c) > 1]
    moved = sum(1 for r in rows if r["broker_id"] in kraken_keys_of
                and r["native_client_id"] != str(first_guess(r["client_order_id"])))
    print(figures.line("kraken two daemons"))
    print(bn_figures.line("binance beside kraken"))
    print(f"chaos[kraken two daemons]: {len(pairs)} colliding pairs, userrefs moved off their first guess {moved}, "
          f"collisions {len(collisions)}, unmapped {len(unmapped)}, Redis keys before the flush {keys_before}, "
          f"orders accepted at the flush / at the stop {accepted_at} of {3 * len(pairs)}, "
          f"answers A {dict(results[0].statuses())} B {dict(results[1].statuses())} "
          f"binance {dict(results[2].statuses())}, {time.monotonic() - started:.1f}s")
    print(f"chaos[secrets]: {len(every_secret)} keys and secrets searched in {places} places "
          f"(data dirs, logs, database rows, Redis): {len(in_clear)} in clear")
    assert in_clear == [], in_clear[:5]
    assert alive == [True, True]
    assert accepted_at["stop"] < 3 * len(pairs)  # the outage met a running burst
    assert not any(r.bodies_with(500) for r in results), [r.bodies_with(500)[:2] for r in results]
    assert collisions == [] and unmapped == [], (collisions[:5], unmapped[:5])
    assert moved >= len(pairs) - len(unmapped)  # one of each pair had to take the next probe
    figures.assert_clean()
    bn_figures.assert_clean()
    assert figures.accepted == 2 * len(pairs) and bn_figures.accepted == len(pairs)

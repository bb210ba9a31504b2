"""The database going away (issue 10, item 3).

A private PostgreSQL server is stopped for a few seconds and restarted under a running gateway: the
gateway reconnects by itself, callers get a typed 503 (``DatabaseUnavailable``) saying whether the order
was sent, and an exchange answer received while it could not be stored is kept and stored when the
database is back. On SQLite, a database locked by another writer is the outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from loopback_double import make_plugin
from private_postgres import PrivatePostgres, private_postgres  # noqa: F401  (fixture)

from terminal5.errors import DatabaseUnavailable
from terminal5.models import OrderStatus
from terminal5.testing.loopback_server import LoopbackExchange

ORDER = {"symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": "0.001", "price": "43000.1"}


async def _gateway(t5_gateway: Any, url: str, exchange: LoopbackExchange) -> tuple[Any, Any]:
    gw = await t5_gateway(make_plugin(), database_url=url)
    broker = await gw.add_broker(user_id=1, exchange="loopback", label="main", api_key="key-1",
                                 api_secret="secret-1", base_url=exchange.url)
    return gw, broker


def order(broker: Any, cid: str) -> dict[str, Any]:
    return {**ORDER, "user_id": broker.user_id, "broker_id": broker.id, "client_order_id": cid}


def stop_when_the_exchange_has_it(exchange: LoopbackExchange, stop: Any) -> None:
    """Take the database away at the moment the exchange accepts the order (before its answer is stored)."""
    original = exchange._place

    def place(key: str, body: dict[str, Any], fault: Any) -> Any:
        response = original(key, body, fault)
        stop()
        exchange._place = original
        return response

    exchange._place = place


async def outage_as_the_exchange_accepts(gw: Any, broker: Any, exchange: LoopbackExchange, stop: Any, cid: str) -> Any:
    """Place order ``cid`` while ``stop`` takes the database away as the exchange accepts it: the typed error."""
    stop_when_the_exchange_has_it(exchange, stop)
    with pytest.raises(DatabaseUnavailable) as raised:
        await gw.place_order(order(broker, cid))
    return raised.value


async def wait_until(condition: Any, tries: int = 400) -> bool:
    """Bounded wait (count and time) for a background effect; never a timed assertion."""
    for _ in range(tries):
        if await condition():
            return True
        await asyncio.sleep(0.05)
    return False


# --- PostgreSQL: stopped, then restarted --------------------------------------------------------------------


async def test_postgres_restart_is_survived_without_restarting_the_gateway(
    private_postgres: PrivatePostgres, t5_gateway: Any  # noqa: F811
) -> None:
    async with LoopbackExchange({"key-1": "secret-1"}) as exchange:
        gw, broker = await _gateway(t5_gateway, private_postgres.url, exchange)
        assert (await gw.place_order(order(broker, "pg-before"))).status is OrderStatus.OPEN

        private_postgres.stop()
        with pytest.raises(DatabaseUnavailable) as raised:
            await gw.place_order(order(broker, "pg-during"))
        assert raised.value.http_status == 503 and raised.value.order_sent is False
        assert raised.value.to_dict()["order_sent"] is False
        assert exchange.attempts["pg-during"] == 0  # nothing reached the exchange
        with pytest.raises(DatabaseUnavailable):
            await gw.get_order(broker_id=broker.id, client_order_id="pg-before")
        await asyncio.sleep(2)  # an outage of a few seconds

        private_postgres.start()
        # the very next calls work: the dead connection was dropped, a new one opened
        assert (await gw.get_order(broker_id=broker.id, client_order_id="pg-before")).status is OrderStatus.OPEN
        again = await gw.place_order(order(broker, "pg-during"))
        assert again.status is OrderStatus.OPEN and exchange.attempts["pg-during"] == 1


async def test_postgres_restart_between_calls_costs_no_failed_call(
    private_postgres: PrivatePostgres, t5_gateway: Any  # noqa: F811
) -> None:
    """Stopped and restarted while idle: the stale connection is replaced transparently."""
    async with LoopbackExchange({"key-1": "secret-1"}) as exchange:
        gw, broker = await _gateway(t5_gateway, private_postgres.url, exchange)
        await gw.place_order(order(broker, "idle-1"))
        private_postgres.stop()
        private_postgres.start()
        assert (await gw.get_order(broker_id=broker.id, client_order_id="idle-1")).status is OrderStatus.OPEN


async def test_an_answer_received_during_the_outage_is_kept_and_stored_when_postgres_returns(
    private_postgres: PrivatePostgres, t5_gateway: Any  # noqa: F811
) -> None:
    async with LoopbackExchange({"key-1": "secret-1"}) as exchange:
        gw, broker = await _gateway(t5_gateway, private_postgres.url, exchange)
        error = await outage_as_the_exchange_accepts(gw, broker, exchange, private_postgres.stop, "kept-1")
        assert error.order_sent is True and error.client_order_id == "kept-1"
        assert error.to_dict()["order_sent"] is True and "kept" in error.message
        assert exchange.placements("kept-1") == 1
        assert gw.kept_answers == 1
        await asyncio.sleep(2)

        private_postgres.start()

        async def stored() -> bool:
            try:
                row = await gw.storage.run(gw.orders.find, broker.id, "kept-1")
            except DatabaseUnavailable:
                return False
            return row is not None and row.status == OrderStatus.OPEN.value

        assert await wait_until(stored)  # stored by the gateway itself, nobody asked
        assert gw.kept_answers == 0
        row = await gw.storage.run(gw.orders.find, broker.id, "kept-1")
        assert row.exchange_order_id is not None and row.raw_response["clientId"] == "kept-1"
        replay = await gw.place_order(order(broker, "kept-1"))
        assert replay.id == row.exchange_order_id and exchange.attempts["kept-1"] == 1


# --- SQLite: locked by another writer -------------------------------------------------------------------------


class Locker:
    """Another process's write transaction holding the SQLite database."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=5)
        self.held = False

    def lock(self) -> None:
        self.conn.execute("BEGIN EXCLUSIVE")
        self.held = True

    def release(self) -> None:
        if self.held:
            self.conn.execute("ROLLBACK")
            self.held = False

    def close(self) -> None:
        self.release()
        self.conn.close()


@contextlib.asynccontextmanager
async def locked_sqlite(t5_gateway: Any, path: Path) -> AsyncIterator[tuple[Any, Any, LoopbackExchange, Locker]]:
    """A gateway on a SQLite file another connection can lock (waits of 100 ms at most), and that locker."""
    async with LoopbackExchange({"key-1": "secret-1"}) as exchange:
        gw, broker = await _gateway(t5_gateway, f"sqlite:///{path}", exchange)
        await gw.storage.run(lambda: gw.storage.db.execute_sql("PRAGMA busy_timeout = 100"))
        locker = Locker(path)
        try:
            yield gw, broker, exchange, locker
        finally:
            locker.close()


async def test_sqlite_locked_is_a_typed_503_and_the_answer_is_kept(t5_gateway: Any, tmp_path: Path) -> None:
    async with locked_sqlite(t5_gateway, tmp_path / "locked.db") as (gw, broker, exchange, locker):
        locker.lock()
        with pytest.raises(DatabaseUnavailable) as raised:
            await gw.place_order(order(broker, "lite-1"))
        assert raised.value.order_sent is False and exchange.attempts["lite-1"] == 0
        locker.release()

        error = await outage_as_the_exchange_accepts(gw, broker, exchange, locker.lock, "lite-2")
        assert error.order_sent is True and gw.kept_answers == 1
        locker.release()
        assert await gw.store_kept_answers() == 1
        row = await gw.storage.run(gw.orders.find, broker.id, "lite-2")
        assert row.status == OrderStatus.OPEN.value and row.exchange_order_id is not None
        assert exchange.placements("lite-2") == 1


async def test_a_kept_answer_never_overwrites_a_row_resolved_meanwhile(t5_gateway: Any, tmp_path: Path) -> None:
    async with locked_sqlite(t5_gateway, tmp_path / "later.db") as (gw, broker, exchange, locker):
        await outage_as_the_exchange_accepts(gw, broker, exchange, locker.lock, "lite-3")
        locker.release()
        [oid] = [o for o, v in exchange.orders.items() if v["clientId"] == "lite-3"]
        exchange.orders[oid]["status"] = "CANCELED"  # meanwhile, cancelled on the exchange
        found = await gw.fetch_order(broker_id=broker.id, client_order_id="lite-3")
        assert found.status is OrderStatus.CANCELLED
        await gw.store_kept_answers()  # the older "NEW" answer must not win
        row = await gw.storage.run(gw.orders.find, broker.id, "lite-3")
        assert row.status == OrderStatus.CANCELLED.value


async def test_flush_and_close_during_an_outage_do_not_raise(
    private_postgres: PrivatePostgres, t5_gateway: Any  # noqa: F811
) -> None:
    async with LoopbackExchange({"key-1": "secret-1"}) as exchange:
        gw, broker = await _gateway(t5_gateway, private_postgres.url, exchange)
        await outage_as_the_exchange_accepts(gw, broker, exchange, private_postgres.stop, "close-1")
        await gw.flush()  # says what could not be written, and returns
        await gw.close()
        assert gw.kept_answers == 1  # lost with the process; the order stays pending_submit for reconciliation

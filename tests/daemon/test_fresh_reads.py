"""The token and the broker row are read on every request without the hand-off to the DB thread (SQLite,
``terminal5.storage.fresh_reads``), and are still never cached: a revocation or a kill switch written by
another process holds for the very next request, a lifted one too; where the read cannot be made at once
the DB thread reads as before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from terminal5.storage.fresh_reads import MISS, FreshReads, sqlite_path

from .conftest import World, order_body


def other_process(db: Path, sql: str, *params: Any) -> None:
    """``sql`` committed by another process (as the CLI or a second daemon would)."""
    code = (
        "import sqlite3, sys, json\n"
        "conn = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)\n"
        "conn.execute(sys.argv[2], json.loads(sys.argv[3]))\n"
        "conn.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db), sql, json.dumps(params)], check=True, timeout=60)  # noqa: S603


def db_thread_reads(world: World, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the jobs the DB thread is handed from now on."""
    storage = world.daemon.gw.storage
    jobs: list[str] = []
    run = storage.run

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        jobs.append(getattr(fn, "__qualname__", repr(fn)))
        return await run(fn, *args, **kwargs)

    monkeypatch.setattr(storage, "run", counting)
    return jobs


async def test_token_and_broker_are_read_without_a_db_thread_hop(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    await world.client.get("/v1/brokers", headers=world.auth("user1"))  # connections opened
    jobs = db_thread_reads(world, monkeypatch)
    resp = await world.client.post(
        "/v1/orders", json=order_body(world.brokers["one"], "fresh-1"), headers=world.auth("user1")
    )
    assert resp.status == 200, await resp.text()
    assert not [j for j in jobs if j.startswith(("TokenRepo.", "BrokerRepo.get"))], jobs
    resp = await world.client.get(f"/v1/brokers/{world.brokers['one']}", headers=world.auth("user1"))
    assert resp.status == 200
    assert not [j for j in jobs if j.startswith(("TokenRepo.", "BrokerRepo.get"))], jobs


async def test_a_token_revoked_by_another_process_is_refused_at_the_very_next_request(
    world: World, tmp_path: Path
) -> None:
    headers = world.auth("user1")
    for _ in range(3):  # read here, several times: nothing of it may be kept
        assert (await world.client.get("/v1/brokers", headers=headers)).status == 200
    other_process(tmp_path / "t5.db", "UPDATE api_tokens SET revoked = 1 WHERE user_id = ?", 1)
    resp = await world.client.get("/v1/brokers", headers=headers)
    assert resp.status == 401 and (await resp.json())["error"] == "AuthenticationError"
    resp = await world.client.post("/v1/orders", json=order_body(world.brokers["one"], "revoked-1"), headers=headers)
    assert resp.status == 401
    assert world.exchange.attempts.get("revoked-1", 0) == 0
    other_process(tmp_path / "t5.db", "UPDATE api_tokens SET revoked = 0 WHERE user_id = ?", 1)
    assert (await world.client.get("/v1/brokers", headers=headers)).status == 200


async def test_a_kill_switch_set_by_another_process_holds_for_the_very_next_order(world: World, tmp_path: Path) -> None:
    headers, broker = world.auth("user1"), world.brokers["one"]
    resp = await world.client.post("/v1/orders", json=order_body(broker, "kill-1"), headers=headers)
    assert resp.status == 200
    other_process(
        tmp_path / "t5.db",
        "UPDATE brokers SET enabled = 0, disabled_reason = 'elsewhere', disabled_by = 'admin' WHERE id = ?",
        broker,
    )
    resp = await world.client.post("/v1/orders", json=order_body(broker, "kill-2"), headers=headers)
    assert resp.status == 423 and (await resp.json())["error"] == "BrokerDisabled"
    assert world.exchange.attempts.get("kill-2", 0) == 0
    other_process(
        tmp_path / "t5.db",
        "UPDATE brokers SET enabled = 1, disabled_reason = NULL, disabled_by = NULL WHERE id = ?",
        broker,
    )
    resp = await world.client.post("/v1/orders", json=order_body(broker, "kill-3"), headers=headers)
    assert resp.status == 200


async def test_a_broker_moved_to_another_user_elsewhere_is_foreign_at_once(world: World, tmp_path: Path) -> None:
    broker = world.brokers["one"]
    assert (await world.client.get(f"/v1/brokers/{broker}", headers=world.auth("user1"))).status == 200
    other_process(tmp_path / "t5.db", "UPDATE brokers SET user_id = 2 WHERE id = ?", broker)
    assert (await world.client.get(f"/v1/brokers/{broker}", headers=world.auth("user1"))).status == 404
    resp = await world.client.post("/v1/orders", json=order_body(broker, "moved-1"), headers=world.auth("user1"))
    assert resp.status == 404 and world.exchange.attempts.get("moved-1", 0) == 0


async def test_the_db_thread_reads_when_the_read_cannot_be_made_here(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fresh = world.daemon.gw.tokens.fresh
    monkeypatch.setattr(fresh, "path", str(tmp_path / "no-such-dir" / "t5.db"))  # cannot be opened
    monkeypatch.setattr(fresh, "_local", type(fresh._local)())
    jobs = db_thread_reads(world, monkeypatch)
    resp = await world.client.post(
        "/v1/orders", json=order_body(world.brokers["one"], "fallback-1"), headers=world.auth("user1")
    )
    assert resp.status == 200, await resp.text()
    assert "TokenRepo.active" in jobs and "BrokerRepo.get" in jobs
    other_process(tmp_path / "t5.db", "UPDATE api_tokens SET revoked = 1 WHERE user_id = ?", 1)
    assert (await world.client.get("/v1/brokers", headers=world.auth("user1"))).status == 401


def test_only_sqlite_files_are_read_here(tmp_path: Path) -> None:
    assert sqlite_path(f"sqlite:///{tmp_path}/a.db") == f"{tmp_path}/a.db"
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql://u@127.0.0.1:5432/x") is None
    reads = FreshReads("postgresql://u@127.0.0.1:5432/x")
    assert reads.select_one(object(), ("id",), (1,)) is MISS  # type: ignore[arg-type]


async def test_an_admin_order_reads_its_broker_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin's order without ``user_id`` reads the broker to find its owner; the placement takes that row
    instead of reading it a second time."""
    repo = world.daemon.gw.broker_book.repo
    reads: list[str] = []
    for name in ("get", "get_here"):
        if hasattr(repo, name):
            original = getattr(repo, name)

            def spy(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
                reads.append(_name)
                return _original(*args, **kwargs)

            monkeypatch.setattr(repo, name, spy)
    resp = await world.client.post(
        "/v1/orders", json=order_body(world.brokers["two"], "admin-once"), headers=world.auth("admin")
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["user_id"] == 2
    assert len(reads) == 1, reads


async def test_a_row_handed_over_is_taken_once_and_keeps_tenancy(world: World) -> None:
    import attrs

    from terminal5.brokers import handing_over
    from terminal5.errors import BrokerNotFound

    book, broker_id = world.daemon.gw.broker_book, world.brokers["one"]
    read = await book.get(broker_id)
    marked = attrs.evolve(read, label="just read")
    with handing_over(marked):
        assert (await book.get(broker_id, 1)).label == "just read"
        assert (await book.get(broker_id, 1)).label == "one"  # taken once: the next get reads again
    with handing_over(marked), pytest.raises(BrokerNotFound):
        await book.get(broker_id, 2)  # a foreign broker stays foreign
    with handing_over(marked):
        assert (await book.get(world.brokers["two"])).label == "two"  # another broker: read
        assert (await book.get(broker_id)).label == "one"  # and the row handed over is dropped
    assert (await book.get(broker_id)).label == "one"

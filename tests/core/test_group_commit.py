"""Jobs queued while the DB thread is busy run as one group: one transaction, one commit, one wake-up.

What must hold: no caller gets an answer before its writes are committed (an intent is durable before
the send); a job that fails rolls back alone; a group whose commit fails answers every job with the error
and reverts their in-memory effects (claimed ids forgotten); a caller that went away before its job ran
never has it run; a deadlock with another process's transaction is run again, not answered as an outage.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import peewee
import pytest
from db_thread import db_thread_held

from terminal5.storage.client_ids import ClientIdStore
from terminal5.storage.database import Storage
from terminal5.storage.fields import now
from terminal5.storage.prepared import PreparedTable


def group_sizes(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    original = Storage._in_one_transaction

    def counted(self: Storage, batch: list[Any], *args: Any) -> Any:
        sizes.append(len(batch))
        return original(self, batch, *args)

    monkeypatch.setattr(Storage, "_in_one_transaction", counted)
    return sizes


def insert_claim(storage: Storage, n: int, prefix: str = "c") -> int:
    return storage.m.ClientId.insert(exchange="ex", native_id=f"{prefix}{n}", client_order_id=f"{prefix}{n}").execute()


async def test_every_answer_comes_after_its_commit(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = await Storage.open(db_url)
    other = await Storage.open(db_url)  # another connection: it sees committed rows only
    sizes = group_sizes(storage, monkeypatch)
    seen_by_other: list[bool] = []

    async def place(n: int) -> None:
        await storage.run(insert_claim, storage, n)
        # the caller has its answer: from now on its row must be visible to any other connection
        count = other.run_sync(lambda: other.m.ClientId.select().where(other.m.ClientId.native_id == f"c{n}").count())
        seen_by_other.append(count == 1)

    with db_thread_held(storage):
        tasks = [asyncio.ensure_future(place(n)) for n in range(40)]
        await asyncio.sleep(0.05)
    await asyncio.gather(*tasks)
    assert seen_by_other == [True] * 40
    assert max(sizes) > 1  # they did run grouped
    await other.close()
    await storage.close()


async def test_a_failing_job_rolls_back_alone_and_forgets_its_claim(db_url: str) -> None:
    storage = await Storage.open(db_url)
    store = ClientIdStore(storage)

    def claim_then_fail(cid: str) -> None:
        store.claim("ex", cid, lambda attempt: f"n-{cid}-{attempt}")
        raise RuntimeError("the job fails after its claim")

    with db_thread_held(storage):
        good = asyncio.ensure_future(storage.run(store.claim, "ex", "a", lambda attempt: f"n-a-{attempt}"))
        bad = asyncio.ensure_future(storage.run(claim_then_fail, "b"))
        more = asyncio.ensure_future(storage.run(store.claim, "ex", "c", lambda attempt: f"n-c-{attempt}"))
        await asyncio.sleep(0.05)
    assert await good == "n-a-0" and await more == "n-c-0"
    with pytest.raises(RuntimeError):
        await bad
    rows = await storage.run(lambda: sorted(r.client_order_id for r in storage.m.ClientId.select()))
    assert rows == ["a", "c"]
    assert ("ex", "n-b-0") not in store._cache  # the rolled-back claim is not remembered as taken
    # and it can be claimed again, for real this time
    assert await storage.run(store.claim, "ex", "b", lambda attempt: f"n-b-{attempt}") == "n-b-0"
    await storage.close()


async def test_failing_jobs_cost_one_rerun_of_the_others_at_most(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A group runs first without savepoints; a failure rolls it back and the others run once more, each in
    a savepoint: with many failures (a hostile caller's requests) no job runs more than twice, the good ones
    are stored once and their after-commit effects happen once."""
    storage = await Storage.open(db_url)
    sizes = group_sizes(storage, monkeypatch)
    runs: dict[int, int] = {}
    effects: list[int] = []

    def job(n: int) -> int:
        runs[n] = runs.get(n, 0) + 1
        insert_claim(storage, n)
        storage.after_commit(lambda: effects.append(n))
        if n % 3 == 1:
            raise ValueError(f"job {n} refuses")
        return n

    with db_thread_held(storage):
        tasks = [asyncio.ensure_future(storage.run(job, n)) for n in range(12)]
        await asyncio.sleep(0.05)
    answers = await asyncio.gather(*tasks, return_exceptions=True)
    good = [n for n in range(12) if n % 3 != 1]
    assert [a for a in answers if not isinstance(a, Exception)] == good
    assert all(isinstance(answers[n], ValueError) for n in range(12) if n % 3 == 1)
    assert max(runs.values()) == 2 and sizes == [12, 11]  # one optimistic pass, then savepoints
    rows = await storage.run(lambda: sorted(int(r.native_id[1:]) for r in storage.m.ClientId.select()))
    assert rows == good and sorted(effects) == good
    await storage.close()


async def test_a_failed_commit_answers_every_job_and_reverts_them(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = await Storage.open(f"sqlite:///{tmp_path}/t5.db")
    store = ClientIdStore(storage)
    published: list[str] = []
    monkeypatch.setattr(store, "_publish", lambda exchange, native_id, cid: published.append(cid))

    def failing_commit() -> None:
        raise peewee.OperationalError("disk I/O error at commit")

    with db_thread_held(storage):
        monkeypatch.setattr(storage.db, "commit", failing_commit)
        jobs = [
            asyncio.ensure_future(storage.run(store.claim, "ex", f"k{n}", lambda a, n=n: f"n{n}-{a}")) for n in range(5)
        ]
        await asyncio.sleep(0.05)
    for job in jobs:
        with pytest.raises(peewee.OperationalError):
            await job
    monkeypatch.undo()
    assert await storage.run(lambda: storage.m.ClientId.select().count()) == 0
    assert not store._cache and not published  # nothing remembered, nothing shared with other processes
    await storage.close()


async def test_a_caller_gone_before_its_job_ran_never_has_it_run(db_url: str) -> None:
    storage = await Storage.open(db_url)
    with db_thread_held(storage):
        gone = asyncio.ensure_future(storage.run(insert_claim, storage, 1))
        kept = asyncio.ensure_future(storage.run(insert_claim, storage, 2))
        await asyncio.sleep(0.05)
        gone.cancel()
    await kept
    names = await storage.run(lambda: [r.native_id for r in storage.m.ClientId.select()])
    assert names == ["c2"]
    await storage.close()


async def test_a_deadlock_with_another_transaction_is_run_again_not_an_outage(pg_url: str) -> None:
    """Two processes' groups each hold a row the other one wants: PostgreSQL aborts one; its jobs run
    again alone and succeed."""
    one, two = await Storage.open(pg_url), await Storage.open(pg_url)
    first_in = {"one": threading.Event(), "two": threading.Event()}
    runs = {"one": 0, "two": 0}

    def crossing(storage: Storage, me: str, other: str, mine: str, theirs: str) -> list[bool]:
        runs[me] += 1
        table = PreparedTable(storage.m.ClientId)

        def row(native: str) -> dict[str, Any]:
            return {"exchange": "ex", "native_id": native, "client_order_id": f"{me}-{native}", "created_at": now()}

        got = [table.insert_unless_taken(row(mine)) is not None]
        first_in[me].set()
        first_in[other].wait(10)  # both hold their first row, uncommitted
        got.append(table.insert_unless_taken(row(theirs)) is not None)  # each waits on the other's row
        return got

    a = asyncio.ensure_future(one.run(crossing, one, "one", "two", "x", "y"))
    b = asyncio.ensure_future(two.run(crossing, two, "two", "one", "y", "x"))
    results = await asyncio.wait_for(asyncio.gather(a, b), 60)  # neither is a DatabaseUnavailable
    assert sum(runs.values()) == 3  # the deadlock's loser ran once more
    assert sorted(results) == [[False, False], [True, True]]  # the winner has both rows; the rerun none
    rows = await one.run(lambda: sorted(r.native_id for r in one.m.ClientId.select()))
    assert rows == ["x", "y"]
    await one.close()
    await two.close()


async def test_sqlite_another_process_writing_between_a_read_and_a_write_is_run_again(tmp_path: Any) -> None:
    """A deferred transaction that read before another connection committed may not write (SQLite's
    BUSY_SNAPSHOT): the job runs again and succeeds, it is not answered as an outage."""
    import sqlite3

    storage = await Storage.open(f"sqlite:///{tmp_path}/t5.db")
    runs = []

    def read_then_write() -> int:
        runs.append(1)
        storage.m.ClientId.select().count()  # the read snapshot starts here
        if len(runs) == 1:  # another process writes meanwhile
            other = sqlite3.connect(tmp_path / "t5.db", isolation_level=None, timeout=5)
            other.execute(
                "INSERT INTO client_ids (exchange, native_id, client_order_id, created_at) VALUES (?, ?, ?, ?)",
                ("ex", "theirs", "theirs", now().isoformat()),
            )
            other.close()
        return insert_claim(storage, 1)

    await storage.run(read_then_write)
    assert len(runs) == 2
    names = await storage.run(lambda: sorted(r.native_id for r in storage.m.ClientId.select()))
    assert names == ["c1", "theirs"]
    await storage.close()

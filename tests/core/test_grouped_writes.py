"""Fire-and-forget writes (``Storage.submit``: the audit rows) are grouped while the DB thread is busy:
one job, one transaction; one bad write does not lose the others; a clean close writes every one."""

from __future__ import annotations

from typing import Any

import pytest
from db_thread import db_thread_held

from terminal5.storage.database import Storage


def claim_row(storage: Storage, n: int) -> bool:
    storage.m.ClientId.create(exchange="ex", native_id=f"n{n}", client_order_id=f"c{n}")
    return storage.db.in_transaction()


async def test_writes_queued_behind_a_busy_db_thread_go_in_one_transaction(db_url: str) -> None:
    storage = await Storage.open(db_url)
    with db_thread_held(storage):
        futures = [storage.submit(claim_row, storage, n) for n in range(20)]
        assert not any(f.done() for f in futures)
    in_transaction = [f.result(timeout=30) for f in futures]
    assert in_transaction == [True] * 20  # all written inside the one grouped transaction
    assert await storage.run(lambda: storage.m.ClientId.select().count()) == 20
    await storage.close()


async def test_one_bad_write_does_not_lose_the_others(db_url: str) -> None:
    storage = await Storage.open(db_url)
    with db_thread_held(storage):
        good = [storage.submit(claim_row, storage, n) for n in range(3)]
        bad = storage.submit(claim_row, storage, 1)  # the same unique native id again
        more = [storage.submit(claim_row, storage, n) for n in range(3, 6)]
    for f in good + more:
        f.result(timeout=30)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        bad.result(timeout=30)
    assert await storage.run(lambda: storage.m.ClientId.select().count()) == 6
    await storage.close()


async def test_a_clean_close_writes_every_submitted_write(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/t5.db"
    storage = await Storage.open(url)
    for n in range(50):
        storage.submit(claim_row, storage, n)
    await storage.close()
    again = await Storage.open(url)
    assert await again.run(lambda: again.m.ClientId.select().count()) == 50
    await again.close()

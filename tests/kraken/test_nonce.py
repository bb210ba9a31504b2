"""Nonces strictly increase per key: asyncio tasks, threads, two processes, restarts, a clock going back."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from pathlib import Path

import pytest

from terminal5_kraken.nonce import NonceStore, NonceStores, default_directory


def test_memory_store_increases_even_with_a_frozen_clock() -> None:
    store = NonceStore(None, clock_us=lambda: 1000)
    assert [store.next("k") for _ in range(3)] == [1000, 1001, 1002]
    assert store.next("other") == 1000  # per key


async def test_concurrent_tasks_get_distinct_increasing_nonces(tmp_path: Path) -> None:
    store = NonceStore(tmp_path)
    issued: list[int] = []

    async def worker() -> None:
        for _ in range(200):
            issued.append(store.next("key"))
            await asyncio.sleep(0)

    await asyncio.gather(*(worker() for _ in range(20)))
    assert issued == sorted(issued) and len(set(issued)) == len(issued) == 4000


def test_threads(tmp_path: Path) -> None:
    store = NonceStore(tmp_path, clock_us=lambda: 5)  # worst case: every call hits the +1 path
    results: list[list[int]] = [[] for _ in range(8)]

    def worker(i: int) -> None:
        results[i] = [store.next("key") for _ in range(500)]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [n for r in results for n in r]
    assert len(set(everything)) == 4000
    assert all(r == sorted(r) for r in results)


def test_restart_with_clock_behind_continues_above_the_mark(tmp_path: Path) -> None:
    first = NonceStore(tmp_path, clock_us=lambda: 10_000_000)
    last = [first.next("key") for _ in range(5)][-1]
    first.close()
    restarted = NonceStore(tmp_path, clock_us=lambda: 42)  # the clock went back across the restart
    assert restarted.next("key") == last + 1
    assert (tmp_path / "key.nonce").read_text().strip().lstrip("0") == str(last + 1)


def _issue(directory: str, count: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = NonceStore(Path(directory), clock_us=lambda: 7)  # frozen clock: only the shared mark orders
    queue.put([store.next("shared") for _ in range(count)])


def test_two_processes_sharing_a_key_never_reuse_a_nonce(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_issue, args=(str(tmp_path), 1500, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    lists = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    a, b = lists
    assert a == sorted(a) and b == sorted(b)
    assert not set(a) & set(b)
    assert max(a + b) == 7 + 3000 - 1  # every value handed out exactly once


def test_directory_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_directory({"nonce_dir": str(tmp_path / "x")}) == tmp_path / "x"
    monkeypatch.setenv("TERMINAL5_DATA_DIR", str(tmp_path))
    assert default_directory({}) == tmp_path / "kraken-nonce"
    monkeypatch.delenv("TERMINAL5_DATA_DIR")
    assert "terminal5-" in str(default_directory(None))


def test_stores_share_one_store_per_directory(tmp_path: Path) -> None:
    stores = NonceStores()
    a = stores.for_options({"nonce_dir": str(tmp_path)})
    assert stores.for_options({"nonce_dir": str(tmp_path)}) is a
    stores.close()


def test_a_configured_directory_is_resolved_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every private call asks for its store: the path is resolved (a filesystem walk) on the first call only,
    and two spellings of one directory still share one store."""
    stores = NonceStores()
    first = stores.for_options({"nonce_dir": str(tmp_path)})
    resolved: list[Path] = []
    original = Path.resolve

    def counting(self: Path, strict: bool = False) -> Path:
        resolved.append(self)
        return original(self, strict)

    monkeypatch.setattr(Path, "resolve", counting)
    for _ in range(3):
        assert stores.for_options({"nonce_dir": str(tmp_path)}) is first
    assert resolved == []
    (tmp_path / "sub").mkdir()
    assert stores.for_options({"nonce_dir": str(tmp_path / "sub" / "..")}) is first  # resolved once, same store
    stores.close()

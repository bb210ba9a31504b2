"""The log file sink: lines formatted on the caller, written by one thread, in order, rotated, bounded, all
written at shutdown, and a failing disk never reaching the caller."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from terminal5 import logs
from terminal5.log_sink import QueuedFileSink
from terminal5.logs import configure, request_scope


@pytest.fixture
def restore_logger() -> Iterator[None]:
    yield
    logger.remove()
    logger.add(sys.stderr)


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("log-writer:") and t.is_alive()]


def all_lines(log_dir: Path) -> list[str]:
    """Every line of the current and the rotated files, oldest file first."""
    files = [*sorted(log_dir.glob("terminal5.*.log"), key=lambda p: p.name), log_dir / "terminal5.log"]
    return [line for f in files if f.exists() for line in f.read_text("utf-8").splitlines()]


def test_lines_reach_the_file_in_order_and_all_are_written_at_remove(tmp_path: Path, restore_logger: None) -> None:
    configure(log_dir=tmp_path, level="INFO", console=False)
    for i in range(20_000):
        logger.info("line {}", i)
    logger.remove()  # no wait, no flush before it: the shutdown writes what is queued
    numbers = [int(line.rsplit(" ", 1)[1]) for line in all_lines(tmp_path)]
    assert numbers == list(range(20_000))
    assert not writer_threads()


def test_flush_makes_the_lines_so_far_readable_without_stopping(tmp_path: Path, restore_logger: None) -> None:
    configure(log_dir=tmp_path, level="INFO", console=False)
    with request_scope("req-f"):
        logger.info("first")
    assert logs.flush(5)
    assert "[req-f]" in (tmp_path / "terminal5.log").read_text("utf-8")
    logger.info("second")
    assert logs.flush(5)
    assert (tmp_path / "terminal5.log").read_text("utf-8").splitlines()[-1].endswith("second")
    assert len(writer_threads()) == 1


def test_rotation_keeps_at_most_five_files_of_the_size(tmp_path: Path, restore_logger: None) -> None:
    configure(log_dir=tmp_path, level="INFO", console=False, rotation_bytes=4_000, keep=5)
    for i in range(3_000):
        logger.info("rotating line {:05d} {}", i, "x" * 40)
        if i % 500 == 0:
            logs.flush(5)  # several batches: rotation inside a batch and between batches
    logger.remove()
    files = list(tmp_path.iterdir())
    assert len(files) == 5, sorted(f.name for f in files)
    assert all(f.stat().st_size <= 4_000 for f in files), [f.stat().st_size for f in files]
    assert all(f.stat().st_size > 3_000 for f in files if f.name != "terminal5.log")
    numbers = [int(line.split("rotating line ")[1].split()[0]) for line in all_lines(tmp_path)]
    assert numbers[-1] == 2_999 and numbers == list(range(numbers[0], 3_000))  # the newest kept, whole lines


def test_a_traceback_keeps_the_request_id_on_every_line(tmp_path: Path, restore_logger: None) -> None:
    configure(log_dir=tmp_path, level="INFO", console=False)
    with request_scope("req-tb-7"):
        try:
            raise ValueError("first line\nsecond line")
        except ValueError:
            logger.exception("failed\nwhile doing it")
    assert logs.flush(5)
    lines = (tmp_path / "terminal5.log").read_text("utf-8").splitlines()
    assert len(lines) >= 6 and any("Traceback" in line for line in lines)
    assert all("[req-tb-7]" in line for line in lines), "\n".join(lines)


def test_json_lines_still_parse(tmp_path: Path, restore_logger: None) -> None:
    configure(log_dir=tmp_path, level="INFO", json_lines=True, console=False)
    with request_scope("req-j"):
        logger.info("hello {}", "ünïcode")
        try:
            raise KeyError("k")
        except KeyError:
            logger.exception("boom")
    logger.remove()
    records = [json.loads(line) for line in (tmp_path / "terminal5.log").read_text("utf-8").splitlines()]
    assert [r["record"]["message"] for r in records] == ["hello ünïcode", "boom"]
    assert all(r["record"]["extra"]["request_id"] == "req-j" for r in records)
    assert records[1]["record"]["exception"]["type"] == "KeyError"


def test_the_writer_thread_stops_at_remove_and_at_reconfigure(tmp_path: Path, restore_logger: None) -> None:
    configure(log_dir=tmp_path / "a", level="INFO", console=False)
    assert len(writer_threads()) == 1
    configure(log_dir=tmp_path / "b", level="INFO", console=False)  # the first sink removed: its thread ends
    assert len(writer_threads()) == 1
    logger.info("x")
    logger.remove()
    assert not writer_threads()
    assert (tmp_path / "b" / "terminal5.log").read_text("utf-8").endswith("x\n")


def test_a_slow_disk_drops_and_counts_lines_never_blocks_the_caller(tmp_path: Path) -> None:
    sink = QueuedFileSink(tmp_path / "terminal5.log", max_pending_chars=1_000, batch_seconds=0)
    gate = threading.Event()
    real_append = sink._append

    def slow_append(data: bytes) -> None:
        gate.wait(10)
        real_append(data)

    sink._append = slow_append  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        for i in range(1_000):
            sink.write(f"line {i:04d} {'y' * 20}\n")
        assert time.perf_counter() - started < 0.5  # never waited for the disk
        assert sink.dropped > 900
    finally:
        gate.set()
    sink.write("after\n")
    assert sink.drain(5)
    sink.stop()
    text = (tmp_path / "terminal5.log").read_text("utf-8")
    assert f"{sink.dropped} log line(s) dropped" in text, text
    assert text.endswith("after\n") and "line 0000" in text


def test_a_failing_disk_is_survived_counted_and_recovered(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "terminal5.log"
    path.mkdir()  # the file cannot be opened (root ignores permissions, not this)
    sink = QueuedFileSink(path, retry_seconds=0, batch_seconds=0)
    sink.write("lost 1\n")
    sink.write("lost 2\n")
    assert sink.drain(5)
    assert sink.dropped == 2
    assert "cannot write the log file" in capsys.readouterr().err
    path.rmdir()
    sink.write("back\n")
    sink.stop()
    assert path.read_text("utf-8").splitlines()[-2:] == [
        "2 log line(s) dropped (total 2: 0 with the queue full, the disk slower than the log; 2 the disk failing)",
        "back",
    ]


async def test_an_unwritable_log_dir_does_not_crash_placement(env: Any, tmp_path: Path, restore_logger: None) -> None:
    (tmp_path / "terminal5.log").mkdir()  # the log file cannot be opened
    configure(log_dir=tmp_path, level="DEBUG", console=False)
    order = await env.gateway.place_order(env.order(client_order_id="unwritable-1"), request_id="req-u")
    assert order.client_order_id == "unwritable-1"
    assert logs.flush(5)
    assert logs._file_sink is not None and logs._file_sink.dropped > 0
    logger.remove()
    assert not writer_threads()


def test_a_disabled_level_never_computes_a_lazy_argument(tmp_path: Path, restore_logger: None) -> None:
    calls: list[int] = []

    def url() -> str:
        calls.append(1)
        return "https://x/api?signature=***"

    configure(log_dir=tmp_path, level="INFO", console=False)
    logger.debug("{} {} -> {}", "POST", logs.Lazy(url), 200, exchange="x", broker_id=1)
    assert calls == []
    configure(log_dir=tmp_path, level="DEBUG", console=False)
    logger.debug("{} {} -> {}", "POST", logs.Lazy(url), 200, exchange="x", broker_id=1)
    logger.remove()
    assert calls == [1]
    line = (tmp_path / "terminal5.log").read_text("utf-8").splitlines()[-1]
    assert line.endswith("POST https://x/api?signature=*** -> 200") and "] x |" in line

"""The shipped benchmark (benchmarks/run.py) still runs: its pieces, with a handful of orders, on the
Binance simulator, without CCXT, produce well-formed results. Nothing here is timed: the numbers are only
checked to exist and be sane in kind (counts, no errors), never compared with a duration.

The scale-out piece (one daemon, then two, on the Redis Streams front door and PostgreSQL) needs
``redis-server`` and the PostgreSQL of CI (``TERMINAL5_TEST_POSTGRES``); it skips without them unless
``TERMINAL5_REQUIRE_SERVICES=1``."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from terminal5.testing.pytest_plugin import skip_or_fail

pytest.importorskip("terminal5_binance", reason="the benchmark runs on the Binance plugin's simulator")

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import run as bench  # noqa: E402
from common import NotLoopback, check_loopback_url, loopback_session  # noqa: E402
from scaleout import PgSchema  # noqa: E402


class TinyPlan(bench.Plan):
    def __init__(self) -> None:
        super().__init__(quick=True)
        self.rounds, self.orders, self.warmup, self.max_seconds = 1, {1: 3, 32: 6}, 2, 60.0
        self.daemon_exchanges = ()
        self.scale_out_orders, self.scale_out_rounds = 5, 1


def _well_formed(result: dict[str, Any], orders: int, concurrency: int) -> None:
    assert result["orders"] == orders and result["errors"] == 0, result
    assert result["concurrency"] == concurrency
    for key in ("cpu_us_per_order", "p50_ms", "p99_ms", "throughput"):
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] >= 0, (key, result)
    assert result["p99_ms"] >= result["p50_ms"]


async def test_the_benchmark_pieces_produce_well_formed_results(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMINAL5_DATA_DIR", str(tmp_path / "data"))
    results = await bench.run(TinyPlan(), ["binance"], tmp_path, lambda line: None,
                              paths=["t5_native", "t5_gateway", "floor"], with_startup=False, own_logs=False,
                              with_scale_out=False)
    paths = results["exchanges"]["binance"]["paths"]
    assert set(paths) == {"t5_native", "t5_gateway", "floor"}, paths
    for name in paths:
        _well_formed(paths[name]["conc_1"], 3, 1)
        _well_formed(paths[name]["conc_32"], 6, 32)
    table = bench.table(results)
    assert "| binance | t5_gateway | 32 |" in table and "| binance | floor | 1 |" in table
    assert results["machine"]["cpus"] and len(results["machine"]["loadavg_at_end"]) == 3


async def test_the_floor_daemon_path_runs_through_the_daemon_machinery_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The floor daemon (no database) answers the load generator's orders from its own process; it is
    measured like the T5 daemon, shows in the table and under it, and is stopped after the run. Its random
    token starts with "-" here: the load generator once took such a token for an option (1 run in 32)."""
    import floor_daemon

    monkeypatch.setenv("TERMINAL5_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(floor_daemon.secrets, "token_urlsafe", lambda n: "-" + "x" * n)
    plan = TinyPlan()
    plan.daemon_exchanges = ("binance",)
    results = await bench.run(plan, ["binance"], tmp_path, lambda line: None, paths=["floor", "floor_daemon"],
                              with_startup=False, own_logs=False, with_scale_out=False)
    paths = results["exchanges"]["binance"]["paths"]
    assert set(paths) == {"floor", "floor_daemon"}, paths
    _well_formed(paths["floor_daemon"]["conc_1"], 3, 1)
    _well_formed(paths["floor_daemon"]["conc_32"], 6, 32)
    table = bench.table(results)
    assert "| binance | floor_daemon | 32 |" in table
    made_up = {name: {"conc_32": {"cpu_us_per_order": cpu, "throughput": rate}}
               for name, cpu, rate in (("t5_daemon", 900.0, 300.0), ("floor_daemon", 300.0, 1000.0),
                                       ("ccxt", 400.0, 1250.0))}
    assert bench.daemon_lines({"exchanges": {"binance": {"paths": made_up}}}) == [
        "", "- binance, conc 32: t5_daemon vs floor daemon: CPU/order 3.00x, throughput 0.30x; "
            "floor daemon vs CCXT: throughput 0.80x, CPU/order 0.75x"]
    assert _bench_children() == []


async def test_the_benchmark_refuses_any_address_but_loopback() -> None:
    assert check_loopback_url("http://127.0.0.1:8600/api") and check_loopback_url("http://[::1]:1/")
    with pytest.raises(NotLoopback):
        check_loopback_url("https://api.binance.com/api/v3/order")
    async with loopback_session() as session:
        for url in ("http://192.0.2.1/", "https://api.kraken.com/0/public/Time"):  # refused before any socket
            with pytest.raises(NotLoopback):
                await session.get(url)


def _bench_children() -> list[str]:
    """What the benchmark starts, still alive under this process: the daemons, redis-server, the simulator."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = next(line.split()[1] for line in status.read_text().splitlines() if line.startswith("PPid:"))
            cmdline = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, StopIteration):
            continue
        if int(ppid) == os.getpid() and any(k in cmdline for k in ("terminal5.cli run", "floor_daemon.py", "redis-server",
                                                                   "simproc.py")):
            found.append(cmdline)
    return found


@pytest.mark.postgres
@pytest.mark.redis
async def test_the_scale_out_piece_runs_one_then_two_daemons_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERMINAL5_DATA_DIR", str(tmp_path / "data"))
    pg = os.environ.get("TERMINAL5_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    results = await bench.run(TinyPlan(), ["binance"], tmp_path, lambda line: None, paths=[], with_startup=False,
                              own_logs=False, with_scale_out=True, postgres_url=pg)
    scale = results["scale_out"]
    if "skipped" in scale:
        skip_or_fail(f"scale-out: {scale['skipped']}")
    assert "failed" not in scale, scale
    assert results["exchanges"]["binance"]["paths"] == {}  # only the scale-out ran
    for label, daemons in (("one", 1), ("two", 2)):
        _well_formed(scale[label], 5, 32)
        assert scale[label]["daemons"] == daemons and len(scale[label]["per_daemon_cpu_share"]) == daemons
    _well_formed(scale["one_http"], 5, 32)  # the reference: one daemon over HTTP, same database
    assert scale["cpu_ratio_two_vs_one"] > 0 and isinstance(scale["target_met"], bool)
    assert len(scale["cpu_ratio_per_round"]) == 1
    assert "| 2 daemons |" in bench.table(results) and "two daemons over one" in bench.table(results)
    # nothing left: every process stopped, the schema dropped
    assert _bench_children() == []
    admin = PgSchema(pg)
    admin.create()  # a schema of its own, to look with
    try:
        with admin.conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (scale["schema_dropped"],))
            assert cur.fetchone()[0] == 0
    finally:
        admin.drop()

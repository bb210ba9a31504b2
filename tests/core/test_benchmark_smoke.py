"""The shipped benchmark (benchmarks/run.py) still runs: its pieces, with a handful of orders, on the
Binance simulator, without CCXT, produce well-formed results. Nothing here is timed: the numbers are only
checked to exist and be sane in kind (counts, no errors), never compared with a duration."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("terminal5_binance", reason="the benchmark runs on the Binance plugin's simulator")

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import run as bench  # noqa: E402
from common import NotLoopback, check_loopback_url, loopback_session  # noqa: E402


class TinyPlan(bench.Plan):
    def __init__(self) -> None:
        super().__init__(quick=True)
        self.rounds, self.orders, self.warmup, self.max_seconds = 1, {1: 3, 32: 6}, 2, 60.0
        self.daemon_exchanges = ()


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
                              paths=["t5_native", "t5_gateway", "floor"], with_startup=False, own_logs=False)
    paths = results["exchanges"]["binance"]["paths"]
    assert set(paths) == {"t5_native", "t5_gateway", "floor"}, paths
    for name in paths:
        _well_formed(paths[name]["conc_1"], 3, 1)
        _well_formed(paths[name]["conc_32"], 6, 32)
    table = bench.table(results)
    assert "| binance | t5_gateway | 32 |" in table and "| binance | floor | 1 |" in table
    assert results["machine"]["cpus"] and len(results["machine"]["loadavg_at_end"]) == 3


async def test_the_benchmark_refuses_any_address_but_loopback() -> None:
    assert check_loopback_url("http://127.0.0.1:8600/api") and check_loopback_url("http://[::1]:1/")
    with pytest.raises(NotLoopback):
        check_loopback_url("https://api.binance.com/api/v3/order")
    async with loopback_session() as session:
        for url in ("http://192.0.2.1/", "https://api.kraken.com/0/public/Time"):  # refused before any socket
            with pytest.raises(NotLoopback):
                await session.get(url)

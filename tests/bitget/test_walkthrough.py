"""The README's keyless Bitget walkthrough, as a test: ``terminal5 simulate --exchange bitget`` as a process, a broker added
with key, secret and passphrase on stdin, then a spot and a futures order placed, read and cancelled with
the CLI."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal5.cli import main
from terminal5.secrets import generate_key


def run_json(*argv: str, stdin: str = "") -> dict:  # type: ignore[type-arg]
    out, err = io.StringIO(), io.StringIO()
    code = main([*argv, "--json"], stdin=io.StringIO(stdin), stdout=out, stderr=err)
    assert code == 0, (out.getvalue(), err.getvalue())
    return json.loads(out.getvalue())


@pytest.fixture
def simulator_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {"TERMINAL5_DATA_DIR": str(tmp_path), "TERMINAL5_MASTER_KEY": generate_key(),
                        "TERMINAL5_PLUGINS_ALLOW": "bitget", "TERMINAL5_HTTP_TIMEOUT": "5"}.items():
        monkeypatch.setenv(name, value)
    for name in ("TERMINAL5_REDIS_URL", "TERMINAL5_DATABASE_URL", "TERMINAL5_PLUGINS_EXTRA"):
        monkeypatch.delenv(name, raising=False)
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps([{"api_key": "walk-key", "api_secret": "walk-secret",
                                     "extra": {"passphrase": "walk-pass"}}]))
    proc = subprocess.Popen(  # noqa: S603 - the README's command, as a bounded process
        [sys.executable, "-m", "terminal5.cli", "simulate", "--exchange", "bitget", "--accounts", str(accounts),
         "--max-seconds", "120", "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())["url"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        finally:
            proc.kill()
    assert proc.returncode == 0  # stopped cleanly on SIGINT


def test_spot_and_futures_walkthrough(simulator_url: str) -> None:
    broker = run_json("broker", "add", "--user", "1", "--exchange", "bitget", "--label", "sim", "--base-url",
                      simulator_url, "--test", stdin="walk-key\nwalk-secret\nwalk-pass\n")
    assert broker["test"]["ok"] is True
    assert broker["test"]["market_types"]["swap"]["position_mode"] == "one_way"
    broker_id = str(broker["id"])
    for symbol, price, quantity, cid in (("BTC/USDT", "42000", "0.001", "walk-spot"),
                                         ("BTC/USDT:USDT", "42000.5", "0.01", "walk-perp")):
        placed = run_json("order", "place", "--broker", broker_id, "--symbol", symbol, "--side", "buy", "--type",
                          "limit", "--quantity", quantity, "--price", price, "--client-order-id", cid)
        assert placed["status"] == "open" and placed["exchange"] == "bitget"
        fetched = run_json("order", "get", "--broker", broker_id, "--client-order-id", cid, "--refresh")
        assert fetched["id"] == placed["id"] and fetched["native_status"] == "live"
        cancelled = run_json("order", "cancel", "--broker", broker_id, "--client-order-id", cid)
        assert cancelled["status"] == "cancelled"

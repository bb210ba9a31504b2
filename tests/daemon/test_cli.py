"""Each CLI verb, through ``main(argv)`` (and the daemon and simulator as real processes)."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from terminal5.cli import build_parser, main
from terminal5.secrets import generate_key

LOOPBACK = "terminal5_template.plugin"  # the plugin template: the loopback exchange


def run_cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def run_json(*argv: str, stdin: str = ""):  # type: ignore[no-untyped-def]
    code, out, err = run_cli(*argv, "--json", stdin=stdin)
    assert code == 0, (out, err)
    return json.loads(out)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "TERMINAL5_DATA_DIR": str(tmp_path),
        "TERMINAL5_MASTER_KEY": generate_key(),
        "TERMINAL5_PLUGINS_EXTRA": LOOPBACK,
        "TERMINAL5_PLUGINS_ALLOW": "no-installed-plugin",  # isolate from the installed exchange plugins
        "TERMINAL5_HTTP_TIMEOUT": "3",
        "TERMINAL5_LOG_LEVEL": "WARNING",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TERMINAL5_REDIS_URL", raising=False)
    monkeypatch.delenv("TERMINAL5_DATABASE_URL", raising=False)
    return {**os.environ, **values}


def start_json_process(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], dict]:
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "terminal5.cli", *argv, "--json"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(f"{argv[0]} did not start")
    return proc, json.loads(line)


@pytest.fixture
def simulator(env: dict[str, str]) -> Iterator[dict]:
    proc, info = start_json_process(["simulator", "--account", "cli-key-0001:cli-secret", "--max-seconds", "90"], env)
    try:
        yield info
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def test_every_verb_has_help() -> None:
    verbs = [["run"], ["exchanges"], ["broker", "add"], ["broker", "list"], ["broker", "remove"], ["broker", "test"],
             ["token", "create"], ["token", "list"], ["token", "revoke"], ["order", "place"], ["order", "get"],
             ["order", "cancel"], ["order", "list"], ["reconcile"], ["health"], ["watchdog"], ["migrate"],
             ["simulator"], ["kill"], ["enable"], ["keygen"]]
    for verb in verbs:
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args([*verb, "--help"])
        assert exc.value.code == 0, verb
    assert run_cli()[0] == 2  # no verb: help and usage status


def test_secrets_are_never_options() -> None:
    for option in ("--api-key", "--api-secret", "--secret", "--key"):
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args(["broker", "add", "--user", "1", "--exchange", "x", "--label", "l", option, "v"])
        assert exc.value.code == 2


def test_exchanges_none_installed(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMINAL5_PLUGINS_EXTRA", "")
    code, out, _ = run_cli("exchanges")
    assert code == 0 and "no exchange plugin installed" in out and "pip install" in out
    assert run_json("exchanges") == []


def test_exchanges_lists_plugin_details(env: dict[str, str]) -> None:
    code, out, _ = run_cli("exchanges")
    assert code == 0 and "loopback" in out and "order types:" in out and "parameters:" in out
    [loopback] = run_json("exchanges")
    assert loopback["name"] == "loopback" and loopback["market_types"] == ["spot", "swap"]
    assert "reduce_only" in loopback["supported_params"]["swap"]
    assert loopback["distribution"] == "terminal5_template.plugin"


def test_migrate_and_keygen(env: dict[str, str]) -> None:
    assert run_json("migrate")["schema_version"] >= 1
    key = run_json("keygen")["master_key"]
    assert len(key) == 44


def test_broker_token_order_reconcile_kill(env: dict[str, str], simulator: dict) -> None:
    url = simulator["url"]
    # broker add: key and secret come from stdin, never argv, and never come back
    code, out, err = run_cli("broker", "add", "--user", "7", "--exchange", "loopback", "--label", "sim",
                             "--base-url", url, "--test", stdin="cli-key-0001\ncli-secret\n")
    assert code == 0, err
    assert "broker 1 added" in out and "cli-secret" not in out and "ok: True" in out
    code, out, err = run_cli("broker", "add", "--user", "7", "--exchange", "loopback", "--label", "empty", stdin="")
    assert code == 2 and "required" in err
    [broker] = run_json("broker", "list")
    assert broker["id"] == 1 and broker["key_hint"].endswith("0001") and "secret" not in json.dumps(broker)
    assert run_json("broker", "test", "1")["ok"] is True
    code, out, _ = run_cli("broker", "list", "--user", "8")
    assert code == 0 and "(none)" in out

    token = run_json("token", "create", "--user", "7", "--label", "ci")
    assert token["token"].startswith("t5_") and token["user_id"] == 7
    code, out, _ = run_cli("token", "create", "--admin")
    assert code == 0 and out.startswith("t5_") and "shown once" in out
    assert run_cli("token", "create")[0] == 2  # neither --user nor --admin
    tokens = run_json("token", "list")
    assert [t["user_id"] for t in tokens] == [7, None] and all("token" not in t for t in tokens)
    assert run_json("token", "revoke", str(token["id"]))["revoked"] is True

    order = run_json("order", "place", "--broker", "1", "--symbol", "BTC/USDT", "--side", "buy", "--type", "limit",
                     "--quantity", "0.001", "--price", "43000.10", "--client-order-id", "cli-1")
    assert order["status"] == "open" and order["user_id"] == 7 and order["price"] == "43000.1"
    code, out, _ = run_cli("order", "place", "--data", "-", stdin=json.dumps(
        {"broker_id": 1, "symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": "0.001",
         "price": "43000.10", "client_order_id": "cli-1"}))
    assert code == 0 and "cli-1" in out and "-> open" in out  # idempotent replay
    code, out, _ = run_cli("order", "place", "--broker", "1", "--symbol", "BTC/USDT", "--side", "buy", "--type",
                           "limit", "--quantity", "-1", "--price", "1")
    assert code == 1 and "InvalidOrderRequest" in _
    assert run_json("order", "get", "--broker", "1", "--client-order-id", "cli-1")["id"] == order["id"]
    assert run_json("order", "get", "--broker", "1", "--order-id", order["id"], "--refresh")["status"] == "open"
    assert run_cli("order", "get", "--broker", "1")[0] == 2
    code, out, _ = run_cli("order", "list", "--broker", "1")
    assert code == 0 and "cli-1" in out and "CLIENT_ORDER_ID" in out
    assert len(run_json("order", "list", "--status", "open")["orders"]) == 1

    [result] = run_json("reconcile")
    assert result["broker_id"] == 1 and result["format_problems"] == 0
    code, out, _ = run_cli("reconcile", "--broker", "1")
    assert code == 0 and "broker 1: external 0" in out

    cancelled = run_json("order", "cancel", "--broker", "1", "--client-order-id", "cli-1")
    assert cancelled["status"] == "cancelled"

    run_json("order", "place", "--broker", "1", "--symbol", "BTC/USDT", "--side", "sell", "--type", "limit",
             "--quantity", "0.001", "--price", "50000", "--client-order-id", "cli-2")
    code, out, _ = run_cli("kill", "--broker", "1", "--reason", "drill")
    assert code == 0 and "1 order(s) cancelled" in out
    code, out, err = run_cli("order", "place", "--broker", "1", "--symbol", "BTC/USDT", "--side", "buy", "--type",
                             "limit", "--quantity", "0.001", "--price", "43000", "--client-order-id", "cli-3")
    assert code == 1 and "BrokerDisabled" in err
    code, out, _ = run_cli("enable", "--user", "7")
    assert code == 0 and "broker 1 enabled" in out
    assert run_cli("kill")[0] == 2

    removed = run_json("broker", "remove", "1")
    assert removed["removed"]["id"] == 1
    code, out, err = run_cli("broker", "remove", "1", "--json")
    assert code == 1 and json.loads(out)["error"] == "BrokerNotFound"


def test_run_serves_and_stops_on_sigterm(env: dict[str, str], simulator: dict) -> None:
    code, _, err = run_cli("broker", "add", "--user", "3", "--exchange", "loopback", "--label", "ok",
                           "--base-url", simulator["url"], stdin="cli-key-0001\ncli-secret\n")
    assert code == 0, err
    run_cli("broker", "add", "--user", "3", "--exchange", "loopback", "--label", "shared",
            "--base-url", simulator["url"], stdin="cli-key-0001\ncli-secret\n")
    run_cli("broker", "add", "--user", "4", "--exchange", "loopback", "--label", "badkeys",
            "--base-url", simulator["url"], stdin="unknown-key\nnope\n")
    token = run_json("token", "create", "--user", "3")["token"]
    proc, info = start_json_process(["run", "--port", "0", "--max-seconds", "60"], env)
    try:
        states = {b["label"]: b["state"] for b in info["brokers"]}
        assert states == {"ok": "OK", "shared": "SHARED", "badkeys": "FAILED"}
        with urllib.request.urlopen(info["url"] + "/health", timeout=5) as resp:  # noqa: S310
            health = json.loads(resp.read())
        assert health["database"]["ok"] is True and health["redis"]["configured"] is False
        body = json.dumps({"broker_id": 1, "symbol": "BTC/USDT", "side": "buy", "type": "limit",
                           "quantity": "0.001", "price": "43000.10", "client_order_id": "run-1"}).encode()
        request = urllib.request.Request(info["url"] + "/v1/orders", data=body, method="POST",  # noqa: S310
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            assert json.loads(resp.read())["status"] == "open"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert time.monotonic() - started < 20
    finally:
        if proc.poll() is None:
            proc.kill()
    # the heartbeat it wrote is visible to `terminal5 health`
    beats = run_json("health") if run_cli("health")[0] == 0 else json.loads(run_cli("health", "--json")[1])
    assert [b["name"] for b in beats] == ["terminal5"]


def test_run_human_readiness_lines(env: dict[str, str], simulator: dict) -> None:
    run_cli("broker", "add", "--user", "3", "--exchange", "loopback", "--label", "a",
            "--base-url", simulator["url"], stdin="cli-key-0001\ncli-secret\n")
    run_cli("broker", "add", "--user", "3", "--exchange", "loopback", "--label", "b",
            "--base-url", simulator["url"], stdin="cli-key-0001\ncli-secret\n")
    run_cli("broker", "add", "--user", "3", "--exchange", "loopback", "--label", "c",
            "--base-url", simulator["url"], stdin="cli-key-0001\nwrong\n")
    proc = subprocess.run(
        [sys.executable, "-m", "terminal5.cli", "run", "--port", "0", "--max-seconds", "1", "--no-reconcile"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(re.fullmatch(r"loopback/a → Loading → OK \(\d+\.\d s\)", x) for x in lines), lines
    assert "loopback/b → SHARED (0 s)" in lines
    assert any(x.startswith("loopback/c → FAILED (AuthenticationError") for x in lines), lines


import re  # noqa: E402


# --- issue 10: keys check, the running daemon, help, files ---------------------------------------------------
def test_broker_add_test_with_bad_keys_adds_nothing_and_fails(env: dict[str, str], simulator: dict) -> None:
    code, out, err = run_cli("broker", "add", "--user", "7", "--exchange", "loopback", "--label", "bad",
                             "--base-url", simulator["url"], "--test", stdin="cli-key-0001\nwrong-secret\n")
    assert code == 1 and "not added" in err and "AuthenticationError" in err, (out, err)
    assert "wrong-secret" not in out + err
    assert run_json("broker", "list") == []
    code, out, _ = run_cli("broker", "add", "--user", "7", "--exchange", "loopback", "--label", "bad",
                           "--base-url", simulator["url"], "--test", "--json", stdin="unknown-key\nx\n")
    assert code == 1 and json.loads(out)["added"] is False and run_json("broker", "list") == []


def test_order_place_goes_through_the_running_daemon(env: dict[str, str], simulator: dict, tmp_path: Path) -> None:
    run_cli("broker", "add", "--user", "5", "--exchange", "loopback", "--label", "sim", "--base-url",
            simulator["url"], stdin="cli-key-0001\ncli-secret\n")
    proc, info = start_json_process(["run", "--port", "0", "--max-seconds", "60", "--no-reconcile"], env)
    door = tmp_path / "terminal5.daemon.json"
    try:
        assert door.exists() and (door.stat().st_mode & 0o777) == 0o600
        code, out, err = run_cli("order", "place", "--broker", "1", "--symbol", "BTC/USDT", "--side", "buy",
                                 "--type", "limit", "--quantity", "0.001", "--price", "43000", "--client-order-id",
                                 "via-daemon-1")
        assert code == 0 and "through the daemon at " + info["url"] in out, (out, err)
        with urllib.request.urlopen(info["url"] + "/metrics", timeout=5) as resp:  # noqa: S310
            metrics = resp.read().decode()
        # the daemon counted it: the order went through its pipeline, not a second gateway
        assert 'terminal5_orders_total{exchange="loopback",operation="place",status="open"} 1.0' in metrics
        code, out, err = run_cli("order", "place", "--broker", "1", "--symbol", "BTC/USDT", "--side", "buy",
                                 "--type", "limit", "--quantity", "-1", "--price", "1")
        assert code == 1 and err.startswith("error: InvalidOrderRequest: quantity:"), err  # the daemon's error
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not door.exists()
    tokens = run_json("token", "list")
    assert tokens and all(t["revoked"] for t in tokens if t["label"].startswith("local CLI"))
    # no daemon: the CLI places with its own gateway
    order = run_json("order", "place", "--broker", "1", "--symbol", "BTC/USDT", "--side", "buy", "--type",
                     "limit", "--quantity", "0.001", "--price", "43000", "--client-order-id", "local-1")
    assert order["status"] == "open"


def _parsers(parser: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


def test_help_describes_every_verb_and_option() -> None:
    missing = []
    for path, parser in _parsers(build_parser()):
        if path and not parser.description:
            missing.append(f"{' '.join(path)}: no description")
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not action.help:
                missing.append(f"{' '.join(path)} {action.dest}: no help")
    assert not missing, "\n".join(missing)
    helps = {" ".join(path): parser.format_help() for path, parser in _parsers(build_parser())}
    assert "{open,closed,cancelled,UNKNOWN,pending_submit,rejected}" in helps["order list"]
    assert "2026-01-21T14:32:15Z" in helps["order list"]
    assert "SECONDS" in helps["watchdog"] and "seconds" in helps["watchdog"]
    # required options are shown required (no brackets), alternatives as a required group
    assert "usage: terminal5 order get" in helps["order get"]
    assert "--broker ID (--client-order-id ID | --order-id ID)" in " ".join(helps["order get"].split())
    assert "(--broker ID | --user USER_ID)" in " ".join(helps["kill"].split())
    assert "(--user USER_ID | --admin)" in " ".join(helps["token create"].split())
    assert "--user USER_ID --exchange NAME --label LABEL" in " ".join(helps["broker add"].split())
    assert "required unless --data" in helps["order place"]


def test_one_broker_id_form_and_errors_name_the_field_once(env: dict[str, str], simulator: dict) -> None:
    for label in ("a", "b"):
        run_cli("broker", "add", "--user", "7", "--exchange", "loopback", "--label", label, "--base-url",
                simulator["url"], stdin="cli-key-0001\ncli-secret\n")
    assert run_json("broker", "test", "--broker", "1")["ok"] is True
    assert run_json("broker", "test", "1")["ok"] is True
    assert run_json("broker", "remove", "--broker", "2")["removed"]["id"] == 2
    assert run_cli("broker", "remove")[0] == 2
    code, _, err = run_cli("order", "list", "--since", "yesterday")
    assert code == 1 and err.count("since") == 1 and err.startswith("error: InvalidOrderRequest: since: "), err
    code, _, err = run_cli("order", "list", "--status", "bogus")
    assert code == 2 and "invalid choice" in err


def test_removing_a_broker_with_open_orders_needs_force(env: dict[str, str], simulator: dict) -> None:
    run_cli("broker", "add", "--user", "7", "--exchange", "loopback", "--label", "a", "--base-url",
            simulator["url"], stdin="cli-key-0001\ncli-secret\n")
    run_json("order", "place", "--broker", "1", "--symbol", "BTC/USDT", "--side", "buy", "--type", "limit",
             "--quantity", "0.001", "--price", "43000", "--client-order-id", "keep-1")
    code, _, err = run_cli("broker", "remove", "1")
    assert code == 1 and "BrokerBusy" in err and "1 order(s)" in err and "--force" in err
    assert [b["id"] for b in run_json("broker", "list")] == [1]
    assert run_json("broker", "remove", "1", "--force")["removed"]["id"] == 1
    run_cli("broker", "add", "--user", "8", "--exchange", "loopback", "--label", "next", "--base-url",
            simulator["url"], stdin="cli-key-0001\ncli-secret\n")
    assert [b["id"] for b in run_json("broker", "list")] == [2]  # never 1 again


def test_database_file_is_private(env: dict[str, str], tmp_path: Path) -> None:
    run_json("migrate")
    assert (tmp_path / "terminal5.db").stat().st_mode & 0o777 == 0o600


ROOT = Path(__file__).resolve().parents[2]


def test_walkthrough_data_dir_is_git_ignored() -> None:
    readme = (ROOT / "README.md").read_text()
    dirs = re.findall(r"TERMINAL5_DATA_DIR=\$PWD/(\S+)", readme)
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".gitignore").read_text().splitlines()}
    assert dirs and all(d.rstrip("/") in ignored for d in dirs), (dirs, ignored)


def test_readme_install_never_fetches_the_core_from_an_index() -> None:
    """A plugin requires ``terminal5``, which is not published: ``pip install ./plugins/x`` alone would take
    whatever an index serves under that name. Every documented plugin install brings the core in the same
    command (``.``) or installs with ``--no-deps``."""
    texts = {p: p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "plugins").glob("*/README.md"))]}
    bad = []
    for path, text in texts.items():
        for command in re.findall(r"pip install[^\n`&|;#]*", text):
            if "plugins/" not in command:
                continue
            words = command.split()
            if "--no-deps" not in words and "." not in words:
                bad.append(f"{path.relative_to(ROOT)}: {command.strip()}")
    assert not bad, "\n".join(bad)

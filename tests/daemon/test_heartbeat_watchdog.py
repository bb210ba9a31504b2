"""Heartbeat (database and Redis), the health table, /health, and the watchdog with a fake daemon."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import pytest

from terminal5.contract import Alert
from terminal5.daemon.heartbeat import KEY_PREFIX, HeartbeatStore, classify, publish_forever, render_table
from terminal5.daemon.watchdog import Watchdog, WatchdogBusy
from terminal5.storage.database import Storage
from terminal5.testing.pytest_plugin import skip_or_fail

from .conftest import REDIS_URL, World

FAKE = str(Path(__file__).with_name("fake_daemon.py"))


def test_classify_like_the_seed() -> None:
    assert [classify(a) for a in (0, 29.9, 30, 59.9, 60, None)] == ["UP", "UP", "STALE", "STALE", "DOWN", "DOWN"]


async def test_database_heartbeat_and_table(tmp_path: Path) -> None:
    storage = await Storage.open(f"sqlite:///{tmp_path}/hb.db")
    now = [1_000_000.0]
    store = HeartbeatStore(storage, clock=lambda: now[0])
    try:
        await store.beat("terminal5")
        now[0] += 45
        await store.beat("terminal7")
        now[0] += 20
        table = {b.name: b for b in await store.table(expected=("terminal3",))}
        assert table["terminal7"].status == "UP" and table["terminal7"].age == 20
        assert table["terminal5"].status == "DOWN" and table["terminal5"].age == 65
        assert table["terminal3"].status == "DOWN" and table["terminal3"].age is None
        now[0] -= 30
        assert {b.name: b.status for b in await store.table()}["terminal5"] == "STALE"
        text = render_table(await store.table())
        assert "🟡 STALE" in text and "terminal7" in text
    finally:
        await storage.close()


async def test_publish_forever_beats_until_stopped(tmp_path: Path) -> None:
    storage = await Storage.open(f"sqlite:///{tmp_path}/hb.db")
    store = HeartbeatStore(storage)
    stop = asyncio.Event()
    try:
        task = asyncio.ensure_future(publish_forever(store, "t5-test", 0.05, stop))
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(task, 2)
        assert (await store.age("t5-test")) is not None and (await store.age("t5-test")) < 5
    finally:
        await storage.close()


async def test_redis_heartbeat_is_the_seeds_setex() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        skip_or_fail(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    name = f"t5test-{uuid.uuid4().hex[:8]}"
    try:
        store = HeartbeatStore(None, client)
        epoch = await store.beat(name)
        assert int(client.get(KEY_PREFIX + name)) == epoch
        assert 25 <= client.ttl(KEY_PREFIX + name) <= 30
        assert {b.name: b.status for b in await store.table()}[name] == "UP"
    finally:
        client.delete(KEY_PREFIX + name)
        client.close()


async def test_health_endpoint(world: World) -> None:
    await world.daemon.heartbeats.beat("terminal5")
    resp = await world.client.get("/health")
    health = await resp.json()
    assert resp.status == 200 and health["status"] == "ok"
    assert health["database"]["ok"] is True and health["redis"] == {"configured": False, "ok": None}
    assert [t["name"] for t in health["terminals"]] == ["terminal5"] and health["terminals"][0]["status"] == "UP"
    assert "master_key" not in str(health)


# --- watchdog ------------------------------------------------------------------------------------------
def fake_command(tmp_path: Path, *, beats: int, exit_: bool = False) -> list[str]:
    cmd = [sys.executable, FAKE, "--db", f"sqlite:///{tmp_path}/wd.db", "--beats", str(beats), "--interval", "0.05",
           "--log", str(tmp_path / "starts.log")]
    return [*cmd, "--exit"] if exit_ else cmd


def starts(tmp_path: Path) -> int:
    log = tmp_path / "starts.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


async def test_watchdog_restarts_a_stale_daemon_with_backoff_and_alert(tmp_path: Path) -> None:
    storage = await Storage.open(f"sqlite:///{tmp_path}/wd.db")
    alerts: list[Alert] = []
    dog = Watchdog(fake_command(tmp_path, beats=2), HeartbeatStore(storage), pid_file=tmp_path / "t5.pid",
                   interval=0.3, stale_after=1.0, startup_grace=1.5, backoff=0.1, max_backoff=0.4,
                   stop_timeout=2, alert=alerts.append, env={**os.environ})
    try:
        await dog.run(max_seconds=6)
    finally:
        await storage.close()
    assert dog.restarts >= 1 and dog.starts == dog.restarts + 1
    assert starts(tmp_path) == dog.starts
    assert [a.kind for a in alerts] == ["restart"] * dog.restarts and alerts[0].severity == "critical"
    assert "heartbeat" in alerts[0].message or "no heartbeat" in alerts[0].message
    assert dog.process is not None and dog.process.poll() is not None  # stopped on exit, nothing left behind
    assert not (tmp_path / "t5.pid").exists()


async def test_watchdog_leaves_a_healthy_daemon_alone(tmp_path: Path) -> None:
    storage = await Storage.open(f"sqlite:///{tmp_path}/wd.db")
    dog = Watchdog(fake_command(tmp_path, beats=60), HeartbeatStore(storage), pid_file=tmp_path / "t5.pid",
                   interval=0.2, stale_after=2.0, startup_grace=1.0, backoff=0.1, env={**os.environ})
    try:
        await dog.run(max_seconds=2)
    finally:
        await storage.close()
    assert dog.starts == 1 and dog.restarts == 0 and starts(tmp_path) == 1


async def test_watchdog_restarts_an_exited_daemon(tmp_path: Path) -> None:
    storage = await Storage.open(f"sqlite:///{tmp_path}/wd.db")
    dog = Watchdog(fake_command(tmp_path, beats=1, exit_=True), HeartbeatStore(storage),
                   pid_file=tmp_path / "t5.pid", interval=0.2, stale_after=30, startup_grace=0.5, backoff=0.05,
                   max_backoff=0.1, env={**os.environ})
    try:
        await dog.run(max_iterations=8)
    finally:
        await storage.close()
    assert dog.restarts >= 1


async def test_never_two_watchdogs_nor_two_daemons(tmp_path: Path) -> None:
    storage = await Storage.open(f"sqlite:///{tmp_path}/wd.db")
    pid_file = tmp_path / "t5.pid"
    first = Watchdog(fake_command(tmp_path, beats=40), HeartbeatStore(storage), pid_file=pid_file, interval=0.1,
                     env={**os.environ})
    second = Watchdog(fake_command(tmp_path, beats=40), HeartbeatStore(storage), pid_file=pid_file, interval=0.1,
                      env={**os.environ})
    try:
        first.acquire()
        with pytest.raises(WatchdogBusy):
            second.acquire()
        await first.check()  # starts the daemon, records its pid
        for _ in range(100):
            if starts(tmp_path):
                break
            await asyncio.sleep(0.05)
        assert first.running() and pid_file.read_text() == str(first.process.pid)
        first.release()
        # a new watchdog finds a live daemon it did not start: it starts nothing
        alerts: list[Alert] = []
        second.alert = alerts.append
        assert await second.check() == "foreign" and second.process is None
        assert alerts and "not starting another" in alerts[0].message
    finally:
        first.stop()
        await storage.close()
    assert starts(tmp_path) == 1


def test_cli_watchdog_verb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from terminal5.cli import main
    from terminal5.secrets import generate_key

    monkeypatch.setenv("TERMINAL5_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TERMINAL5_MASTER_KEY", generate_key())
    monkeypatch.setenv("TERMINAL5_DATABASE_URL", f"sqlite:///{tmp_path}/wd.db")
    monkeypatch.delenv("TERMINAL5_REDIS_URL", raising=False)
    import io
    import json

    out = io.StringIO()
    code = main(["watchdog", "--json", "--interval", "0.2", "--stale-after", "0.6", "--startup-grace", "0.8",
                 "--backoff", "0.05", "--max-seconds", "3", "--", *fake_command(tmp_path, beats=2)], stdout=out)
    assert code == 0
    result = json.loads(out.getvalue())
    assert result["starts"] >= 2 and result["restarts"] == result["starts"] - 1


async def test_clean_shutdown_marks_the_database_heartbeat_down(tmp_path: Path) -> None:
    from terminal5.testing.loopback_server import LoopbackExchange

    from .conftest import build_world

    async with LoopbackExchange() as exchange:
        daemon, *_ = await build_world(tmp_path, exchange, heartbeat_interval=0.1)
        await daemon.start(host="127.0.0.1", port=0, check_brokers=False, reconcile=False)
        for _ in range(200):  # bounded: the first beat is immediate
            if [b.status for b in await daemon.heartbeats.table()] == ["UP"]:
                break
            await asyncio.sleep(0.02)
        assert [b.status for b in await daemon.heartbeats.table()] == ["UP"]
        await daemon.shutdown(drain_timeout=5)
        storage = await Storage.open(f"sqlite:///{tmp_path}/t5.db")
        try:
            table = await HeartbeatStore(storage).table()
            assert [(b.name, b.status) for b in table] == [(daemon.heartbeat_name, "DOWN")]
        finally:
            await storage.close()

"""The chaos harness: the real daemon as a subprocess, a simulator in this process, a bounded HTTP load
generator, and the final comparison of the database with the simulator's records, order by order.

Everything listens on 127.0.0.1; every loop is bounded in count and in time; the daemon is started with
``--max-seconds`` (it stops by itself) and is killed by the fixture whatever the test did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import attrs

from terminal5.storage.database import open_database

#: scale of the scenarios: 1 runs the issue's full counts (1,000 orders, 10,000 over 100 brokers...)
SCALE = float(os.environ.get("TERMINAL5_CHAOS_SCALE", "0.2"))
#: no daemon of this suite lives longer than this (it stops by itself)
DAEMON_MAX_SECONDS = 600
START_TIMEOUT = 120.0


def scaled(full: int, minimum: int) -> int:
    """The issue's count ``full`` at the current scale, never below ``minimum``."""
    return max(minimum, int(full * SCALE))


# --- the daemon -----------------------------------------------------------------------------------------
@attrs.define
class DaemonProcess:
    """``terminal5 run`` in a subprocess with its own data dir and database."""

    data_dir: Path
    env: dict[str, str]
    reconcile_interval: float = 3600.0
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    starts: int = 0

    @classmethod
    def make(cls, data_dir: Path, database_url: str, master_key: str, *, plugins: str = "binance",
             grace: float = 2.0, redis_url: str | None = None, heartbeat: str = "chaos",
             reconcile_interval: float = 3600.0, extra_env: Mapping[str, str] | None = None) -> DaemonProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TERMINAL5_") or k.startswith("TERMINAL5_TEST")}
        env.update({
            "TERMINAL5_DATA_DIR": str(data_dir),
            "TERMINAL5_DATABASE_URL": database_url,
            "TERMINAL5_MASTER_KEY": master_key,
            "TERMINAL5_PLUGINS_ALLOW": plugins,
            "TERMINAL5_UNKNOWN_OUTCOME_GRACE": str(grace),
            "TERMINAL5_HTTP_TIMEOUT": "3",
            "TERMINAL5_LOG_LEVEL": "INFO",
            "TERMINAL5_HEARTBEAT_NAME": heartbeat,
        })
        if redis_url:
            env["TERMINAL5_REDIS_URL"] = redis_url
        env.update(extra_env or {})
        return cls(data_dir=data_dir, env=env, reconcile_interval=reconcile_interval)

    async def start(self) -> str:
        """Start, wait for its readiness line (bounded), return its base URL."""
        self.starts += 1
        out = self.data_dir / f"daemon-{self.starts}.out"
        err = self.data_dir / f"daemon-{self.starts}.err"
        argv = [sys.executable, "-m", "terminal5.cli", "run", "--port", "0", "--max-seconds", str(DAEMON_MAX_SECONDS),
                "--reconcile-interval", str(self.reconcile_interval), "--json"]
        with out.open("wb") as stdout, err.open("wb") as stderr:
            self.process = subprocess.Popen(argv, env=self.env, stdout=stdout, stderr=stderr)  # noqa: S603, ASYNC220
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = out.read_text() if out.exists() else ""
            if text.endswith("\n"):
                self.url = json.loads(text.splitlines()[0])["url"]
                return self.url
            if self.process.poll() is not None:
                break
            await asyncio.sleep(0.1)
        self.kill()
        raise AssertionError(f"the daemon did not start: {err.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL (no shutdown of any kind), and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> int | None:
        """SIGTERM, bounded; SIGKILL if it does not end."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode


# --- the load generator -----------------------------------------------------------------------------------
@attrs.define
class Answer:
    status: int
    body: dict[str, Any]


@attrs.define
class Load:
    """What the clients saw: every answer per client id, in order."""

    answers: dict[str, list[Answer]] = attrs.field(factory=dict)
    connection_errors: int = 0
    #: client id -> when its first request left (monotonic clock)
    first_sent: dict[str, float] = attrs.field(factory=dict)

    def last(self, cid: str) -> Answer | None:
        items = self.answers.get(cid)
        return items[-1] if items else None

    def statuses(self) -> Counter[int]:
        return Counter(a.status for items in self.answers.values() for a in items)

    def outcomes(self) -> Counter[str]:
        """Final answers: HTTP status and the order's status (or the error's name)."""
        return Counter(f"{a.status} {a.body.get('status') or a.body.get('error')}"
                       for items in self.answers.values() if (a := items[-1]))

    def bodies_with(self, status: int) -> list[dict[str, Any]]:
        return [a.body for items in self.answers.values() for a in items if a.status == status]


#: answers after which a client retries the same request (same client id): the outcome may be unknown
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


async def burst(url: str, orders: Sequence[tuple[str, dict[str, Any]]], *, concurrency: int, max_seconds: float,
                attempts: int = 6, pause: float = 0.2, load: Load | None = None,
                retry_connection_errors: bool = True, obey_retry_after: bool = False) -> Load:
    """POST every ``(token, body)`` with ``concurrency`` clients; a client retries an unknown outcome (a
    5xx, a 429 or a dropped connection) with the same client id, at most ``attempts`` times (after the 429's
    ``Retry-After`` with ``obey_retry_after``), and nothing runs past ``max_seconds``."""
    load = load or Load()
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for item in orders:
        queue.put_nowait(item)
    deadline = time.monotonic() + max_seconds
    timeout = aiohttp.ClientTimeout(total=30)

    async def client(session: aiohttp.ClientSession) -> None:
        while not queue.empty() and time.monotonic() < deadline:
            token, body = queue.get_nowait()
            cid = body["client_order_id"]
            for _ in range(attempts):
                if time.monotonic() >= deadline:
                    return
                load.first_sent.setdefault(cid, time.monotonic())
                wait = pause
                try:
                    async with session.post(f"{url}/v1/orders", json=body,
                                            headers={"Authorization": f"Bearer {token}"}) as resp:
                        text = await resp.text()
                        try:
                            data = json.loads(text)
                        except ValueError:  # not JSON: kept as text, and counted by its HTTP status
                            data = {"text": text[:200]}
                        load.answers.setdefault(cid, []).append(Answer(resp.status, data))
                        if resp.status not in RETRY_STATUSES:
                            break
                        if resp.status == 429 and obey_retry_after:  # a well-behaved client waits as told
                            wait = max(pause, float(resp.headers.get("Retry-After", pause)))
                except (TimeoutError, aiohttp.ClientError):
                    load.connection_errors += 1
                    load.answers.setdefault(cid, []).append(Answer(0, {}))
                    if not retry_connection_errors:
                        break
                await asyncio.sleep(min(wait, max(0.0, deadline - time.monotonic())))

    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    return load


async def request(method: str, url: str, token: str | None = None, body: Any = None,
                  timeout: float = 60) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
            session.request(method, url, json=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


# --- the comparison ---------------------------------------------------------------------------------------
@attrs.frozen
class SimOrder:
    """One order the simulator holds (accepted), by native client id."""

    native_client_id: str
    api_key: str
    status: str  # the unified status it should have in the database


@attrs.define
class Figures:
    attempted: int = 0
    accepted: int = 0
    in_database: int = 0
    lost: list[str] = attrs.field(factory=list)
    duplicated: list[str] = attrs.field(factory=list)
    mismatched: list[str] = attrs.field(factory=list)
    cross_signed: list[str] = attrs.field(factory=list)

    def line(self, name: str) -> str:
        return (f"chaos[{name}]: attempted {self.attempted}, accepted by the exchange {self.accepted}, "
                f"in the database {self.in_database}, lost {len(self.lost)}, duplicated {len(self.duplicated)}, "
                f"mismatched status {len(self.mismatched)}, cross-signed {len(self.cross_signed)}")

    def assert_clean(self) -> None:
        problems = {"lost": self.lost, "duplicated": self.duplicated, "mismatched": self.mismatched,
                    "cross-signed": self.cross_signed}
        bad = {k: v[:10] for k, v in problems.items() if v}
        assert not bad, bad


def database_rows(database_url: str) -> list[dict[str, Any]]:
    """Every stored order (the ``orders`` table), read directly from the daemon's database."""
    db = open_database(database_url)
    try:
        db.connect()
        cursor = db.execute_sql(
            "SELECT broker_id, client_order_id, native_client_id, status, exchange_order_id, source FROM orders")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        db.close()


def compare(*, attempted: Iterable[str], sim_orders: Iterable[SimOrder], placements: Mapping[str, int],
            rows: Iterable[Mapping[str, Any]], broker_keys: Mapping[int, str]) -> Figures:
    """Order by order. ``placements``: native client id -> how many times the exchange accepted it;
    ``broker_keys``: broker id -> the API key of that broker."""
    figures = Figures(attempted=len(set(attempted)))
    held = {o.native_client_id: o for o in sim_orders}
    figures.accepted = len(held)
    stored: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row["broker_id"] in broker_keys:
            stored.setdefault(str(row["native_client_id"] or row["client_order_id"]), []).append(row)
    figures.in_database = sum(len(v) for v in stored.values())
    for cid, count in placements.items():
        if count > 1:
            figures.duplicated.append(f"{cid}: accepted {count} times")
    for cid, items in stored.items():
        if len(items) > 1:
            figures.duplicated.append(f"{cid}: {len(items)} rows")
    for cid, order in held.items():
        items = stored.get(cid)
        if not items:
            figures.lost.append(cid)
            continue
        row = items[0]
        if row["status"] in ("rejected", "pending_submit"):
            figures.lost.append(f"{cid}: held by the exchange ({order.status}), stored {row['status']}")
        elif row["status"] != order.status:
            figures.mismatched.append(f"{cid}: exchange {order.status}, database {row['status']}")
        if broker_keys.get(row["broker_id"]) != order.api_key:
            figures.cross_signed.append(f"{cid}: stored under broker {row['broker_id']}, signed by another key")
    for cid, items in stored.items():
        if cid not in held and items[0]["status"] not in ("rejected",):
            figures.mismatched.append(f"{cid}: not on the exchange, database {items[0]['status']}")
    return figures


BINANCE_STATUSES = {"NEW": "open", "PARTIALLY_FILLED": "open", "FILLED": "closed", "CANCELED": "cancelled",
                    "EXPIRED": "cancelled", "REJECTED": "rejected"}


def binance_orders(sim: Any) -> list[SimOrder]:
    return [SimOrder(native_client_id=o["clientOrderId"], api_key=sim.owner[i],
                     status=BINANCE_STATUSES.get(o["status"], "UNKNOWN")) for i, o in sim.orders.items()]


def placements_of(sim: Any) -> dict[str, int]:
    return {cid: len(items) for cid, items in sim.accepted.items()}


@contextlib.asynccontextmanager
async def running(daemon: DaemonProcess):  # type: ignore[no-untyped-def]
    try:
        await daemon.start()
        yield daemon
    finally:
        daemon.stop()


def logged(cls: type) -> type:
    """A simulator class that also logs every native request as a ``Logged``."""

    class Logging(cls):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.log: list[Logged] = []

        async def _dispatch(self, request: Any) -> Any:
            arrived, arrived_ms = time.monotonic(), time.time() * 1000
            response = await super()._dispatch(request)
            if not request.path.startswith("/_sim/"):
                from urllib.parse import parse_qs

                body = parse_qs(await request.text()) if request.can_read_body or request.body_exists else {}
                stamp = request.query.get("timestamp") or (body.get("timestamp") or [None])[0]
                self.log.append(Logged(arrived=arrived, arrived_ms=arrived_ms, answered_ms=time.time() * 1000, path=request.path,
                                       status=response.status, retry_after=response.headers.get("Retry-After"),
                                       signed_ms=int(stamp) if stamp and stamp.isdigit() else None))
            return response

    Logging.__name__ = f"Logging{cls.__name__}"
    return Logging


@attrs.frozen
class Logged:
    """One native request: when it arrived (monotonic), when it was answered (wall clock, ms), its status
    and ``Retry-After``, and the ``timestamp`` it was signed with (the client's clock when it left the
    client's rate limiter, whatever queue it then waited in)."""

    arrived: float
    arrived_ms: float
    answered_ms: float
    path: str
    status: int
    retry_after: str | None
    signed_ms: int | None


#: a 429 answered at T reaches the client a little later: requests it let through before then are fine
IN_FLIGHT_ALLOWANCE_MS = 1000
#: the client signs with its estimate of the server's clock, re-estimated at each resync (tens of ms apart):
#: the window's end is read this loosely (a request let out early by the limiter leaves seconds early)
CLOCK_GRANULARITY_MS = 250


def retry_after_violations(log: Sequence[Logged]) -> tuple[int, list[str]]:
    """(how many 429/418 with Retry-After were answered, requests signed inside a Retry-After window after
    the in-flight allowance). The request's own signed timestamp says when the client let it go, so a
    request that waited in a queue after passing the client's limiter is not mistaken for a violation;
    and it must have arrived inside the window too. The client signs with its estimate of the server's
    clock: that offset is taken out first (its upper bound, the smallest arrival-minus-signature gap)."""
    signed = [e for e in log if e.signed_ms is not None]
    offset = min((e.arrived_ms - e.signed_ms for e in signed), default=0.0)  # type: ignore[operator]
    windows = [(e.answered_ms, float(e.retry_after) * 1000) for e in log if e.status in (429, 418) and e.retry_after]
    bad = []
    for entry in signed:
        left = entry.signed_ms + offset  # type: ignore[operator]
        for answered, length in windows:
            inside = answered + IN_FLIGHT_ALLOWANCE_MS, answered + length - CLOCK_GRANULARITY_MS
            # it left inside the window (its signature says) and it arrived inside it (the simulator says)
            if inside[0] < left < inside[1] and inside[0] < entry.arrived_ms < inside[1]:
                bad.append(f"{entry.path} signed {(left - answered) / 1000:.3f}s after a Retry-After: {length / 1000:g}")
                break
    return len(windows), bad


# --- secrets ----------------------------------------------------------------------------------------------
def _forms(secret: str) -> set[str]:
    """A secret as it could appear: as is and URL-encoded."""
    from urllib.parse import quote

    return {secret, quote(secret, safe="")}


def _database_text(database_url: str) -> str:
    """Every row of every table of the daemon's database, as text (a PostgreSQL dump of the schema in use;
    an SQLite file is read byte for byte with the data dir)."""
    if database_url.startswith("sqlite"):
        return ""
    db = open_database(database_url)
    try:
        db.connect()
        tables = [r[0] for r in db.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()").fetchall()]
        parts = []
        for table in tables:
            sql = f'SELECT row_to_json(t)::text FROM "{table}" t'  # noqa: S608  (names from the catalogue)
            parts += [r[0] for r in db.execute_sql(sql).fetchall()]
        return "\n".join(parts)
    finally:
        db.close()


def _redis_text(redis_url: str) -> str:
    import redis as redis_lib

    client = redis_lib.Redis.from_url(redis_url, socket_timeout=5)
    try:
        parts: list[str] = []
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            value: Any = {
                "string": lambda k: client.get(k),
                "hash": lambda k: client.hgetall(k),
                "list": lambda k: client.lrange(k, 0, -1),
                "set": lambda k: client.smembers(k),
                "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
                "stream": lambda k: client.xrange(k),
            }.get(kind, lambda k: b"")(key)
            parts.append(f"{key!r} {value!r}")
        return "\n".join(parts)
    finally:
        client.close()


def secrets_in_clear(values: Iterable[str], *, dirs: Iterable[Path], database_url: str,
                     redis_url: str | None = None) -> tuple[int, list[str]]:
    """Search every key and secret in every file under ``dirs`` (database files, logs, market caches, the
    daemon's output), the database's rows and Redis's keys and values. Returns (places searched, findings)."""
    places: dict[str, bytes] = {}
    for root in dirs:
        for path in Path(root).rglob("*"):
            if path.is_file():
                places[str(path)] = path.read_bytes()
    places["database rows"] = _database_text(database_url).encode()
    if redis_url:
        places["redis"] = _redis_text(redis_url).encode()
    findings = []
    for value in values:
        for form in _forms(value):
            needle = form.encode()
            findings += [f"{value[:4]}… in {where}" for where, data in places.items() if needle in data]
    return len(places), findings

"""Heartbeats and the seed's health table.

With Redis: ``SETEX terminal_heartbeat:<name> 30 <epoch>`` every 10 s (the seed's format, so the other
terminals' dashboards read it). Without Redis: the same record in the ``heartbeats`` table. The table
classifies every terminal that publishes: UP (< 30 s), STALE (< 60 s), DOWN.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

import attrs
from loguru import logger

from terminal5.storage.database import Storage
from terminal5.storage.heartbeats import HeartbeatTable

KEY_PREFIX = "terminal_heartbeat:"
TTL_SECONDS = 30
UP_BELOW = 30.0
STALE_BELOW = 60.0
DEFAULT_NAME = "terminal5"


def classify(age: float | None) -> str:
    if age is None:
        return "DOWN"
    if age < UP_BELOW:
        return "UP"
    if age < STALE_BELOW:
        return "STALE"
    return "DOWN"


@attrs.frozen(kw_only=True)
class Beat:
    name: str
    status: str
    age: float | None
    last_seen: int | None  # epoch seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "age": None if self.age is None else f"{self.age:.0f}s",
            "age_seconds": None if self.age is None else int(self.age),
            "last_seen": self.last_seen,
        }


class HeartbeatDatabase(Protocol):
    """Where heartbeats are kept without Redis: the gateway (its façade), or a ``HeartbeatTable``."""

    async def write_heartbeat(self, name: str, epoch: int) -> None: ...

    async def read_heartbeats(self) -> dict[str, int]: ...


class HeartbeatStore:
    """Where heartbeats live: Redis when given (sync client, called off the event loop), else the DB.

    ``database``: the gateway, or a bare ``Storage`` (the CLI and the watchdog open one of their own)."""

    def __init__(
        self, database: HeartbeatDatabase | Storage | None, redis: Any = None, clock: Callable[[], float] = time.time
    ) -> None:
        if database is None and redis is None:
            raise ValueError("heartbeats need a database or Redis")
        self.database: HeartbeatDatabase | None = (
            HeartbeatTable(database) if isinstance(database, Storage) else database
        )
        self.redis = redis
        self.clock = clock

    # --- writing -------------------------------------------------------------------------------
    async def beat(self, name: str = DEFAULT_NAME) -> int:
        epoch = int(self.clock())
        if self.redis is not None:
            await asyncio.to_thread(self.redis.set, KEY_PREFIX + name, epoch, ex=TTL_SECONDS)  # SETEX
        else:
            assert self.database is not None
            await self.database.write_heartbeat(name, epoch)
        return epoch

    async def forget(self, name: str = DEFAULT_NAME) -> None:
        """On a clean shutdown, so health never shows a stopped daemon UP: with Redis the key is deleted;
        in the table the terminal stays listed, its beat set to the epoch (DOWN at once)."""
        if self.redis is not None:
            await asyncio.to_thread(self.redis.delete, KEY_PREFIX + name)
        else:
            assert self.database is not None
            await self.database.write_heartbeat(name, 0)

    # --- reading -------------------------------------------------------------------------------
    def _read_redis(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for key in self.redis.scan_iter(match=KEY_PREFIX + "*", count=100):
            value = self.redis.get(key)
            name = (key.decode() if isinstance(key, bytes) else key)[len(KEY_PREFIX) :]
            if value is not None:
                try:
                    out[name] = int(value)
                except ValueError:
                    continue
        return out

    async def read(self) -> dict[str, int]:
        if self.redis is not None:
            return await asyncio.to_thread(self._read_redis)
        assert self.database is not None
        return await self.database.read_heartbeats()

    async def table(self, expected: tuple[str, ...] = ()) -> list[Beat]:
        """Every terminal that publishes a heartbeat (plus ``expected`` ones, DOWN when silent)."""
        seen = await self.read()
        now = self.clock()
        names = sorted(set(seen) | set(expected))
        return [
            Beat(
                name=n,
                status=classify(now - seen[n] if n in seen else None),
                age=max(0.0, now - seen[n]) if n in seen else None,
                last_seen=seen.get(n),
            )
            for n in names
        ]

    async def age(self, name: str) -> float | None:
        seen = await self.read()
        return None if name not in seen else max(0.0, self.clock() - seen[name])


async def publish_forever(
    store: HeartbeatStore, name: str, interval: float, stop: asyncio.Event, max_beats: int | None = None
) -> None:
    """Beat every ``interval`` seconds until ``stop`` is set (errors are logged, never fatal)."""
    beats = 0
    while not stop.is_set():
        try:
            await store.beat(name)
            logger.debug("heartbeat {} published", name)
        except Exception as exc:  # Redis or the DB down: keep trying, the watchdog will notice
            logger.error("heartbeat {} failed: {}", name, exc)
        beats += 1
        if max_beats is not None and beats >= max_beats:
            return
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass


def render_table(beats: list[Beat]) -> str:
    """The seed's dashboard as text."""
    icons = {"UP": "🟢", "STALE": "🟡", "DOWN": "🔴"}
    if not beats:
        return "no terminal publishes a heartbeat"
    width = max(len(b.name) for b in beats)
    lines = [f"{'TERMINAL'.ljust(width)}  STATUS     AGE"]
    for b in beats:
        age = "N/A" if b.age is None else f"{b.age:.0f}s"
        lines.append(f"{b.name.ljust(width)}  {icons[b.status]} {b.status.ljust(6)}  {age}")
    return "\n".join(lines)

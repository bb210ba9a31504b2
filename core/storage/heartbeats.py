"""The ``heartbeats`` table: where a terminal's heartbeat lives when there is no Redis.

One row per terminal name, its last beat as a timestamp (epoch 0 after a clean shutdown, so it reads DOWN).
"""

from __future__ import annotations

from datetime import UTC, datetime

from terminal5.storage.database import Storage


class HeartbeatTable:
    """Async; each call runs on the storage thread."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def _write(self, name: str, epoch: int) -> None:
        m = self.storage.m
        when = datetime.fromtimestamp(epoch, UTC)
        m.Heartbeat.insert(name=name, beat_at=when).on_conflict(
            conflict_target=[m.Heartbeat.name], update={m.Heartbeat.beat_at: when}
        ).execute()

    def _read(self) -> dict[str, int]:
        return {r.name: int(r.beat_at.timestamp()) for r in self.storage.m.Heartbeat.select()}

    async def write_heartbeat(self, name: str, epoch: int) -> None:
        await self.storage.run(self._write, name, epoch)

    async def read_heartbeats(self) -> dict[str, int]:
        """Every terminal's last beat, as epoch seconds."""
        return await self.storage.run(self._read)

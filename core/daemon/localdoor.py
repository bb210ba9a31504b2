"""How a CLI on the same machine finds the running daemon, so its orders go through the daemon's pipeline
(its metrics, its shared rate budgets, its one native client per exchange) instead of a second gateway
opened on the same database.

On start the daemon writes ``<data dir>/<heartbeat name>.daemon.json`` with its URL, its pid and a fresh
admin token, readable by the owner only (mode 0600, like the master key beside it: whoever can read
that can already decrypt every broker). On shutdown it revokes the token and removes the file. A file
left by a killed daemon has its token revoked by the next start. ``find`` is the CLI's side: the file,
only while its pid is alive.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from loguru import logger

from terminal5.daemon.watchdog import pid_alive


def door_path(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / f"{name}.daemon.json"


def find(data_dir: Path, name: str) -> dict[str, Any] | None:
    """The running daemon's ``{"url", "pid", "token"}``, or None when none runs."""
    path = door_path(data_dir, name)
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int) or not pid_alive(info["pid"]):
        return None
    if info["pid"] == os.getpid():  # a test running the daemon in this process: not a separate daemon
        return None
    return info


class LocalDoor:
    def __init__(self, gateway: Any, data_dir: Path, name: str) -> None:
        self.gw = gateway
        self.path = door_path(data_dir, name)
        self.token_id: int | None = None

    async def open(self, host: str, port: int | None) -> None:
        await self._revoke_left_over()
        shown = "127.0.0.1" if host in ("0.0.0.0", "", None) else ("::1" if host == "::" else host)  # noqa: S104
        url_host = f"[{shown}]" if ":" in shown else shown
        info, token = await self.gw.create_token(
            user_id=None, admin=True, label=f"local CLI (daemon pid {os.getpid()})"
        )
        self.token_id = info.id
        data = {"url": f"http://{url_host}:{port}", "pid": os.getpid(), "token_id": info.id, "token": token}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(data))
        os.replace(tmp, self.path)

    async def _revoke_left_over(self) -> None:
        try:
            old = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if isinstance(old, dict) and isinstance(old.get("token_id"), int):
            with contextlib.suppress(Exception):
                await self.gw.revoke_token(old["token_id"])
                logger.info("revoked the local CLI token of a daemon that did not stop cleanly")

    async def close(self) -> None:
        if self.token_id is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with contextlib.suppress(Exception):
            await self.gw.revoke_token(self.token_id)
        self.token_id = None

"""Configuration from the environment, with embedded defaults (SQLite, no Redis)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "terminal5"


def _names(value: str | None) -> frozenset[str] | None:
    if value is None or not value.strip():
        return None
    return frozenset(n.strip() for n in value.split(",") if n.strip())


@attrs.frozen(kw_only=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None = None
    master_key: str | None = attrs.field(default=None, repr=False)
    http_host: str = "127.0.0.1"
    http_port: int = 8555
    log_dir: Path | None = None
    log_json: bool = False
    log_level: str = "INFO"
    plugins_allow: frozenset[str] | None = None
    plugins_block: frozenset[str] = frozenset()
    discord_webhook: str | None = attrs.field(default=None, repr=False)
    http_timeout: float = 10.0
    reconcile_interval: float = 60.0
    heartbeat_interval: float = 10.0
    unknown_outcome_grace: float = 120.0

    @property
    def key_file(self) -> Path:
        return self.data_dir / "master.key"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("TERMINAL5_DATA_DIR") or _default_data_dir())
        return cls(
            data_dir=data_dir,
            database_url=env.get("TERMINAL5_DATABASE_URL") or f"sqlite:///{data_dir / 'terminal5.db'}",
            redis_url=env.get("TERMINAL5_REDIS_URL") or None,
            master_key=env.get("TERMINAL5_MASTER_KEY") or None,
            http_host=env.get("TERMINAL5_HTTP_HOST", "127.0.0.1"),
            http_port=int(env.get("TERMINAL5_HTTP_PORT", "8555")),
            log_dir=Path(env["TERMINAL5_LOG_DIR"]) if env.get("TERMINAL5_LOG_DIR") else data_dir / "logs",
            log_json=env.get("TERMINAL5_LOG_JSON", "") in ("1", "true", "yes"),
            log_level=env.get("TERMINAL5_LOG_LEVEL", "INFO"),
            plugins_allow=_names(env.get("TERMINAL5_PLUGINS_ALLOW")),
            plugins_block=_names(env.get("TERMINAL5_PLUGINS_BLOCK")) or frozenset(),
            discord_webhook=env.get("TERMINAL5_DISCORD_WEBHOOK") or None,
            http_timeout=float(env.get("TERMINAL5_HTTP_TIMEOUT", "10")),  # seconds (not money): float is right
            reconcile_interval=float(env.get("TERMINAL5_RECONCILE_INTERVAL", "60")),  # seconds: float
            unknown_outcome_grace=float(env.get("TERMINAL5_UNKNOWN_OUTCOME_GRACE", "120")),  # seconds: float
        )

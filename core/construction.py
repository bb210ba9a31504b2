"""Building a gateway from settings: the explicit arguments over the environment, the master key, the
database (migrated on open, with the raw-answer indexes the installed plugins declare) and the optional
Redis cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from terminal5.plugins import Registry
from terminal5.settings import Settings
from terminal5.storage.database import Storage
from terminal5.storage.raw_indexes import ensure_raw_indexes


def resolve_settings(
    settings: Settings | None,
    *,
    database_url: str | None = None,
    master_key: str | None = None,
    redis_url: str | None = None,
    data_dir: str | Path | None = None,
    http_timeout: float | None = None,
) -> Settings:
    """The environment's settings (or ``settings``), overridden by every argument given."""
    settings = settings or Settings.from_env()
    changes: dict[str, Any] = {}
    if data_dir is not None:
        changes["data_dir"] = Path(data_dir)
    if database_url is not None:
        changes["database_url"] = database_url
    if redis_url is not None:
        changes["redis_url"] = redis_url
    if master_key is not None:
        changes["master_key"] = master_key
    if http_timeout is not None:
        changes["http_timeout"] = http_timeout
    return attrs.evolve(settings, **changes)


def connect_redis(redis_url: str | None) -> Any:
    """A Redis client for the caches, or None. A cache must answer fast or not at all: no retries, short
    timeouts (every user of it falls back to the database)."""
    if not redis_url:
        return None
    import redis as redis_lib
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis_lib.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))


async def open_storage(database_url: str, registry: Registry) -> Storage:
    """The database, migrated, with an index for every raw key an installed plugin declares."""
    storage = await Storage.open(database_url)
    fields = [field for name in registry.names() for field in registry.get(name).raw_index_fields]
    try:
        await storage.run(ensure_raw_indexes, storage, fields)
    except BaseException:
        await storage.close()
        raise
    return storage

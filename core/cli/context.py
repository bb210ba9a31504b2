"""What every verb sets up: the settings, the logs, a gateway (and the API over it) acting as admin."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


def load_settings() -> Any:
    from terminal5.settings import Settings

    return Settings.from_env()


def configure_logs(level: str = "WARNING", *, log_dir: Path | None = None, json_lines: bool = False) -> None:
    from terminal5.logs import configure

    configure(log_dir=log_dir, level=level, json_lines=json_lines, console=True)


async def gateway(args: argparse.Namespace) -> Any:
    from terminal5.daemon.extra import build_hooks
    from terminal5.gateway import Gateway

    settings = load_settings()
    hooks = build_hooks(settings, extra=getattr(args, "plugin", None) or ())
    return await Gateway.open(settings=settings, hooks=hooks)


async def with_api(args: argparse.Namespace, fn: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    from terminal5.daemon.api import Api

    gw = await gateway(args)
    try:
        return await fn(gw, Api(gw))
    finally:
        await gw.flush()
        await gw.close()


def admin() -> Any:
    from terminal5.daemon.tokens import ADMIN

    return ADMIN

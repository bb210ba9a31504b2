"""``terminal5 simulator``: the loopback exchange served on 127.0.0.1 for trying the gateway without an
exchange account. It stops by itself after ``max_seconds`` (and on SIGINT/SIGTERM)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import Callable, Mapping

from aiohttp import web

from terminal5.testing.loopback_server import LoopbackExchange


class Simulator(LoopbackExchange):
    """``LoopbackExchange`` on a chosen port (0 = any free port)."""

    def __init__(self, accounts: Mapping[str, str] | None = None, *, port: int = 0) -> None:
        super().__init__(accounts)
        self.port = port

    async def __aenter__(self) -> Simulator:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self


def parse_accounts(items: list[str]) -> dict[str, str]:
    accounts = {}
    for item in items:
        key, sep, secret = item.partition(":")
        if not sep or not key or not secret:
            raise ValueError(f"--account takes KEY:SECRET, got {item!r}")
        accounts[key] = secret
    return accounts


async def serve(
    accounts: Mapping[str, str] | None,
    *,
    port: int = 0,
    max_seconds: float = 3600.0,
    announce: Callable[[Simulator, dict[str, str]], None] = lambda sim, acc: None,
) -> int:
    accounts = dict(accounts or {})
    if not accounts:
        accounts = {f"sim-{secrets.token_hex(4)}": secrets.token_urlsafe(16)}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with Simulator(accounts, port=port) as sim:
        announce(sim, accounts)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max_seconds)
        return sim.requests

"""``terminal5 simulate``: a simulated exchange served on 127.0.0.1 for trying the gateway without an
exchange account. The loopback exchange is the core's own; plugins contribute theirs through the
``register_simulators`` hook. A simulator stops by itself after ``max_seconds`` (and on SIGINT/SIGTERM)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

from terminal5.testing.fake_exchange import FakeExchange


def parse_accounts(items: list[str]) -> dict[str, str]:
    accounts = {}
    for item in items:
        key, sep, secret = item.partition(":")
        if not sep or not key or not secret:
            raise ValueError(f"--account takes KEY:SECRET, got {item!r}")
        accounts[key] = secret
    return accounts


async def run(sim: FakeExchange, announce: Callable[[FakeExchange], None] = lambda sim: None) -> int:
    """Serve ``sim`` until SIGINT/SIGTERM or the end of its lifetime; returns the requests it served."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await sim.start()
    try:
        announce(sim)
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(sim.stopped.wait())]
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
    finally:
        await sim.stop()
    return sim.request_count

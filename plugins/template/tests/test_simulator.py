"""The plugin registers its exchange's simulator (the loopback exchange) through ``register_simulators``,
so ``terminal5 simulate`` serves it without the core naming it."""

from __future__ import annotations

import aiohttp
from terminal5.plugins import load_hooks
from terminal5.testing.loopback_server import LoopbackExchange

import terminal5_template.plugin as plugin
from terminal5_template.constants import NAME


async def test_the_loopback_simulator_is_registered_and_serves() -> None:
    factory = load_hooks(plugins=[plugin], load_entry_points=False).simulators()[NAME]
    sim = factory(accounts=[], port=0, max_seconds=30, faults=[], seed=None)
    assert isinstance(sim, LoopbackExchange) and sim.name == NAME
    sim.ensure_account()
    async with sim, aiohttp.ClientSession() as session, session.get(f"{sim.url}/api/public/markets") as resp:
        assert resp.status == 200 and await resp.json()

"""One shipped simulator in its own process (so the client's CPU time never includes the exchange's):
prints ``{"url": ...}`` on one line once it listens on 127.0.0.1, stops after ``--max-seconds``.

``python benchmarks/simproc.py --exchange binance --max-seconds 600``"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CLIENTS, SIM_ACCOUNTS_PER_CLIENT, accounts


def factories() -> dict[str, Any]:
    """The simulators the installed plugins register (``register_simulators``)."""
    from terminal5.plugins import load_hooks

    return dict(load_hooks().simulators())


def build(exchange: str, max_seconds: float) -> Any:
    factory = factories()[exchange]
    from terminal5.testing.fake_exchange import Account

    every = [Account(api_key=acc["api_key"], api_secret=acc["api_secret"],
                     extra={"passphrase": acc["api_password"]} if "api_password" in acc else {},
                     balances={a: Decimal(v) for a, v in acc["balances"].items()})
             for client in CLIENTS for acc in accounts(exchange, client, SIM_ACCOUNTS_PER_CLIENT)]
    return factory(accounts=every, port=0, max_seconds=max_seconds, faults=[], seed=1)


async def serve(exchange: str, max_seconds: float) -> None:
    sim = build(exchange, max_seconds)
    async with sim:
        print(json.dumps({"exchange": exchange, "url": sim.url}), flush=True)
        try:
            if hasattr(sim, "stopped"):
                await asyncio.wait_for(sim.stopped.wait(), max_seconds + 5)
            else:
                await asyncio.sleep(max_seconds)
        except TimeoutError:
            pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args()
    asyncio.run(serve(args.exchange, args.max_seconds))


if __name__ == "__main__":
    main()

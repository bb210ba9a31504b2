"""A tiny stand-in daemon for watchdog tests: beats ``beats`` times every ``interval`` seconds into the
database heartbeat table, then hangs silently (a stuck daemon) until killed, or exits with ``--exit``."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from terminal5.daemon.heartbeat import HeartbeatStore
from terminal5.storage.database import Storage


async def beat(args: argparse.Namespace) -> None:
    storage = await Storage.open(args.db)
    store = HeartbeatStore(storage)
    for _ in range(args.beats):
        await store.beat(args.name)
        await asyncio.sleep(args.interval)
    await storage.close()
    if not args.exit:
        await asyncio.sleep(120)  # stuck: no more heartbeats (the watchdog kills us long before)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--name", default="terminal5")
    parser.add_argument("--beats", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--log", required=True)
    parser.add_argument("--exit", action="store_true")
    args = parser.parse_args()
    with Path(args.log).open("a") as log:
        log.write(f"start {time.time()}\n")
    asyncio.run(beat(args))


if __name__ == "__main__":
    main()

"""The daemon path's load generator, in its own process (its CPU is not the daemon's): POSTs
``--orders`` orders to ``/v1/orders`` with ``--concurrency`` workers, bounded by ``--max-seconds``, and
prints the latencies' summary as one JSON line.

``python benchmarks/load.py --url http://127.0.0.1:PORT --token T --brokers 1,2 --orders 200 --concurrency 32``"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ORDERS, check_loopback_url, loopback_session, summarize


async def run(args: argparse.Namespace) -> dict[str, object]:
    check_loopback_url(args.url)
    o = ORDERS[args.exchange]
    headers = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(args.orders))
    brokers = [int(b) for b in args.brokers.split(",")]
    prefix = uuid.uuid4().hex[:8]
    async with loopback_session() as session:
        t0 = time.perf_counter()
        deadline = t0 + args.max_seconds

        async def worker() -> None:
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                body = json.dumps({"broker_id": brokers[i % len(brokers)], "symbol": o["symbol"], "side": "buy", "type": "limit",
                                   "quantity": o["quantity"], "price": o["price"],
                                   "client_order_id": f"d{prefix}{i}"})
                began = time.perf_counter()
                try:
                    async with session.post(f"{args.url}/v1/orders", data=body, headers=headers) as r:
                        answer = await r.json(content_type=None)
                        if r.status >= 300 or answer.get("status") not in ("open", "closed"):
                            raise RuntimeError(f"{r.status}: {str(answer)[:200]}")
                except Exception as exc:  # counted, reported
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                    continue
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        wall = time.perf_counter() - t0
    return summarize(latencies, errors, wall=wall, cpu=None, concurrency=args.concurrency)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--brokers", required=True, help="broker ids, comma-separated (orders go round-robin)")
    parser.add_argument("--exchange", default="binance")
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()

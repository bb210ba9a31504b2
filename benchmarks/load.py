"""The daemon path's load generator, in its own process (its CPU is not the daemon's): POSTs
``--orders`` orders to ``/v1/orders`` with ``--concurrency`` workers, bounded by ``--max-seconds``, and
prints the latencies' summary as one JSON line.

``python benchmarks/load.py --url http://127.0.0.1:PORT --token T --brokers 1,2 --orders 200 --concurrency 32``

With ``--redis redis://127.0.0.1:PORT/0`` instead of ``--url`` the orders go through the Redis Streams front
door (``terminal5.daemon.streams``): each worker XADDs a ``place_order`` request to ``terminal5:requests``
with its own ``reply_to`` stream and waits (XREAD, bounded) for the reply, whichever daemon answers."""

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


def order_body(args: argparse.Namespace, brokers: list[int], prefix: str, i: int) -> str:
    o = ORDERS[args.exchange]
    return json.dumps({"broker_id": brokers[i % len(brokers)], "symbol": o["symbol"], "side": "buy", "type": "limit",
                       "quantity": o["quantity"], "price": o["price"], "client_order_id": f"d{prefix}{i}"})


async def run(args: argparse.Namespace) -> dict[str, object]:
    if args.redis:
        return await run_streams(args)
    check_loopback_url(args.url)
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
                body = order_body(args, brokers, prefix, i)
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


async def run_streams(args: argparse.Namespace) -> dict[str, object]:
    """The same orders through the Redis Streams front door; a reply is awaited at most ``--reply-timeout``."""
    import redis.asyncio as aredis

    from terminal5.daemon.streams import STREAM

    check_loopback_url(args.redis)
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(args.orders))
    brokers = [int(b) for b in args.brokers.split(",")]
    prefix = uuid.uuid4().hex[:8]
    client = aredis.Redis.from_url(args.redis, socket_timeout=10, socket_connect_timeout=2,
                                   max_connections=args.concurrency + 4)
    replies = [f"terminal5:bench:{prefix}:{w}" for w in range(args.concurrency)]
    try:
        t0 = time.perf_counter()
        deadline = t0 + args.max_seconds

        async def worker(reply_to: str) -> None:
            last = "0-0"
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                request_id = f"{prefix}-{i}"
                began = time.perf_counter()
                try:
                    await client.xadd(STREAM, {"request_id": request_id, "op": "place_order", "token": args.token,
                                               "body": order_body(args, brokers, prefix, i), "reply_to": reply_to})
                    reply: dict[str, str] | None = None
                    give_up = began + args.reply_timeout
                    while reply is None:  # bounded by give_up
                        wait_ms = int(min(1.0, give_up - time.perf_counter()) * 1000)
                        if wait_ms <= 0:
                            raise TimeoutError(f"no reply to {request_id} within {args.reply_timeout}s")
                        for _stream, entries in await client.xread({reply_to: last}, count=1, block=wait_ms) or []:
                            for entry_id, fields in entries:
                                last = entry_id
                                got = {k.decode(): v.decode() for k, v in fields.items()}
                                if got.get("request_id") == request_id:  # a late answer to an earlier one is skipped
                                    reply = got
                    answer = json.loads(reply["body"])
                    if reply["ok"] != "1" or answer.get("status") not in ("open", "closed"):
                        raise RuntimeError(f"{reply['status']}: {str(answer)[:200]}")
                except Exception as exc:  # counted, reported
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                    continue
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(worker(r) for r in replies))
        wall = time.perf_counter() - t0
    finally:
        try:
            await client.delete(*replies)
        finally:
            await client.aclose()
    return summarize(latencies, errors, wall=wall, cpu=None, concurrency=args.concurrency)


def main() -> None:
    parser = argparse.ArgumentParser()
    door = parser.add_mutually_exclusive_group(required=True)
    door.add_argument("--url", help="the daemon's HTTP address")
    door.add_argument("--redis", help="the Redis of the Streams front door (every daemon reading it shares the load)")
    parser.add_argument("--token", required=True)
    parser.add_argument("--brokers", required=True, help="broker ids, comma-separated (orders go round-robin)")
    parser.add_argument("--exchange", default="binance")
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--reply-timeout", type=float, default=30.0, help="seconds to wait for one stream reply")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()

"""The floor daemon: the least any daemon can do on the mandated stack (aiohttp server in, aiohttp client out),
as a lower bound for ``t5_daemon``'s throughput and CPU per order on this machine.

It answers the route and body the load generator (``load.py``) sends to ``terminal5 run`` (``POST /v1/orders``,
``Authorization: Bearer <token>``, the JSON order) and turns each request into the floor client's signed native
call (``clients.open_floor``, reused, not copied: plain aiohttp + HMAC + JSON), then answers the exchange's JSON
back in an envelope with ``"status": "open"`` (what the load generator checks). No database, no storage, no
validation beyond parsing the body; the token is compared with the one it was started with, in memory. Whatever
``t5_daemon`` costs above this is Terminal 5's; what this costs is the bound of any daemon on aiohttp here (on
2 cores, shared with the simulator and the load generator).

``benchmarks/run.py`` starts it through ``daemon_path.Daemon`` (``floor_daemon_process``), so its load and CPU
(``/proc/<pid>/stat``) are measured exactly as the T5 daemon's. It listens on 127.0.0.1 only (the host and port
from ``TERMINAL5_HTTP_HOST``/``TERMINAL5_HTTP_PORT``, as the T5 daemon), talks to the loopback simulator only, and
stops by itself after ``--max-seconds`` (or on SIGTERM).

``python benchmarks/floor_daemon.py --exchange binance --sim-url http://127.0.0.1:PORT --max-seconds 600``
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import itertools
import json
import os
import secrets
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from aiohttp import web  # noqa: E402
from clients import open_floor  # noqa: E402
from common import accounts, check_loopback_url  # noqa: E402
from daemon_path import Daemon  # noqa: E402

CLIENT = "floor_daemon"  # its own simulator accounts (common.CLIENTS)
TOKEN_ENV = "TERMINAL5_FLOOR_DAEMON_TOKEN"  # noqa: S105 (the variable's name; the token is random per run)


def floor_daemon_process(exchange: str, sim_url: str, data_dir: Path, max_seconds: float) -> Daemon:
    """A ``Daemon`` running this module: a random token, one "broker" id per account (1..N); ``launch()`` it
    (no ``prepare()``: there is no database)."""
    daemon = Daemon(exchange, sim_url, data_dir, command=[sys.executable, str(Path(__file__).resolve()),
                                                          "--exchange", exchange, "--sim-url", sim_url,
                                                          "--max-seconds", str(max_seconds)])
    daemon.token = secrets.token_urlsafe(24)
    daemon.env[TOKEN_ENV] = daemon.token
    daemon.broker_ids = list(range(1, len(accounts(exchange, CLIENT)) + 1))
    return daemon


async def serve(exchange: str, sim_url: str, host: str, port: int, token: str, max_seconds: float) -> None:
    check_loopback_url(sim_url)
    check_loopback_url(f"http://{host}:{port}")
    client = await open_floor(exchange, sim_url, CLIENT)
    accounts_n = len(accounts(exchange, CLIENT))
    rounds = itertools.count()
    expected = f"Bearer {token}".encode()

    async def place_order(request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            return web.json_response({"error": "AuthenticationError"}, status=401)
        order = json.loads(await request.read())
        # the broker id picks the account, as the T5 daemon's broker does; the floor client picks the account
        # of order number i by i % accounts
        i = next(rounds) * accounts_n + (int(order["broker_id"]) - 1) % accounts_n
        try:
            answer = await client.place(i)
        except Exception as exc:  # the exchange refused: reported to the load generator, which counts it
            return web.json_response({"error": type(exc).__name__, "message": str(exc)[:300]}, status=502)
        return web.Response(text=json.dumps({"status": "open", "exchange": answer}), content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/v1/orders", place_order)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, host, port).start()
        try:
            await asyncio.wait_for(stop.wait(), max_seconds)
        except TimeoutError:
            pass  # stops by itself
    finally:
        await runner.cleanup()
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exchange", required=True, choices=("binance", "kraken", "bitget"))
    parser.add_argument("--sim-url", required=True, help="the simulator (loopback only)")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stops by itself after this")
    args = parser.parse_args()
    token, port = os.environ.get(TOKEN_ENV), os.environ.get("TERMINAL5_HTTP_PORT")
    if not token or not port:
        parser.error(f"{TOKEN_ENV} and TERMINAL5_HTTP_PORT must be set (floor_daemon_process sets them)")
    asyncio.run(serve(args.exchange, args.sim_url, os.environ.get("TERMINAL5_HTTP_HOST", "127.0.0.1"), int(port),
                      token, args.max_seconds))


if __name__ == "__main__":
    main()

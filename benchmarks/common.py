"""What every benchmark piece shares: the test accounts, the order each client places, the loopback guard
and the bounded measurement loop.

Every loop here is bounded twice, in count and in time; every address is checked to be loopback before a
request leaves (the benchmark never talks to a real exchange)."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import aiohttp.abc

LOOPBACK_NAMES = ("localhost",)

#: the account template per exchange, with balances large enough for every order of a run
ACCOUNTS: dict[str, dict[str, Any]] = {
    "binance": {"api_key": "bench-binance-key", "api_secret": "bench-binance-secret",
                "balances": {"USDT": "1000000000", "BTC": "100000"}},
    "kraken": {"api_key": "bench-kraken-key",
               # Kraken secrets are base64; this one decodes to 64 bytes of a benchmark-only account
               "api_secret": "YmVuY2gta3Jha2VuLXNlY3JldC1vZi1hLXNpbXVsYXRlZC1hY2NvdW50LW9ubHktbm90LXJlYWwhISEhISE=",
               "balances": {"ZUSD": "1000000000", "XXBT": "100000"}},
    "bitget": {"api_key": "bench-bitget-key", "api_secret": "bench-bitget-secret", "api_password": "bench-pass",
               "balances": {"USDT": "1000000000", "BTC": "100000"}},
}

#: the clients measured; each gets its own accounts on the simulator, so no client's order counts or
#: nonces ever reach another's
CLIENTS = ("t5_native", "t5_gateway", "t5_daemon", "ccxt", "floor", "floor_daemon", "probe")
#: accounts per client: orders go round-robin over them, so a run at concurrency 32 stays inside each
#: account's published order-rate limits (Terminal 5 honours them; CCXT's throttle is off) without
#: switching any limit off. One shared native client serves them all, as in the product.
ACCOUNTS_PER_CLIENT = 32
#: more where the published limit is tighter: Bitget places 10 orders/s per account, so 32 accounts would
#: cap a client that honours it at ~320 orders/s (CCXT, throttle off, would not be capped)
ACCOUNTS_PER_CLIENT_OF = {"bitget": 128}
#: what the simulator holds per client (the memory probe uses up to 50)
SIM_ACCOUNTS_PER_CLIENT = 128


def accounts(exchange: str, client: str, count: int | None = None) -> list[dict[str, Any]]:
    """The simulator accounts of one client, derived from the exchange's template (same on both sides)."""
    if count is None:
        count = ACCOUNTS_PER_CLIENT_OF.get(exchange, ACCOUNTS_PER_CLIENT)
    base = ACCOUNTS[exchange]
    found = []
    for k in range(count):
        item = dict(base, api_key=f"{base['api_key']}-{client}-{k}")
        if exchange == "kraken":
            item["api_secret"] = base64.b64encode(f"{client}-{k}-".encode() + base64.b64decode(base["api_secret"])).decode()
        else:
            item["api_secret"] = f"{base['api_secret']}-{client}-{k}"
        found.append(item)
    return found


#: the order every client places: a resting limit buy well under the simulator's price
ORDERS: dict[str, dict[str, str]] = {
    "binance": {"symbol": "BTC/USDT", "native_symbol": "BTCUSDT", "quantity": "0.001", "price": "20000"},
    "kraken": {"symbol": "BTC/USD", "native_symbol": "XBTUSD", "quantity": "0.01", "price": "20000"},
    "bitget": {"symbol": "BTC/USDT", "native_symbol": "BTCUSDT", "quantity": "0.001", "price": "40000"},
}


class NotLoopback(RuntimeError):
    """A request was about to leave for an address that is not this machine."""


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_loopback_url(url: str) -> str:
    host = urlsplit(str(url)).hostname
    if not is_loopback_host(host):
        raise NotLoopback(f"refusing a non-loopback address: {host!r}")
    return url


class LoopbackResolver(aiohttp.abc.AbstractResolver):
    """Resolves loopback names only; any other name is refused before a socket opens."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        if not is_loopback_host(host):
            raise NotLoopback(f"refusing to resolve {host!r}: the benchmark talks to 127.0.0.1 only")
        address = "::1" if host == "::1" else "127.0.0.1"
        return [{"hostname": host, "host": address, "port": port, "family": socket.AF_INET6 if ":" in address
                 else socket.AF_INET, "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        return None


async def _refuse_non_loopback(session: Any, context: Any, params: aiohttp.TraceRequestStartParams) -> None:
    check_loopback_url(str(params.url))  # IP literals skip the resolver: every URL is checked too


def loopback_session(**kwargs: Any) -> aiohttp.ClientSession:
    """An aiohttp session that refuses, before any request, every address that is not loopback."""
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(_refuse_non_loopback)
    connector = aiohttp.TCPConnector(resolver=LoopbackResolver(), limit=100)
    return aiohttp.ClientSession(connector=connector, trace_configs=[trace], **kwargs)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(place: Callable[[int], Awaitable[Any]], *, orders: int, concurrency: int,
                  max_seconds: float, start: int = 0) -> dict[str, Any]:
    """Places up to ``orders`` orders with ``concurrency`` workers, stopping at ``max_seconds``. CPU is the
    whole process's (every thread: the database thread included)."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(start, start + orders))
    cpu0, t0 = time.process_time(), time.perf_counter()
    deadline = t0 + max_seconds

    async def worker() -> None:
        for i in counter:
            if time.perf_counter() > deadline:
                return
            began = time.perf_counter()
            try:
                await place(i)
            except Exception as exc:  # counted and reported: a failing client must not pass for a fast one
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return summarize(latencies, errors, wall=wall, cpu=cpu, concurrency=concurrency)


def summarize(latencies: list[float], errors: list[str], *, wall: float, cpu: float | None,
              concurrency: int) -> dict[str, Any]:
    done = len(latencies)
    return {
        "concurrency": concurrency,
        "orders": done,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 4) if cpu is not None else None,
        "cpu_us_per_order": round(cpu / done * 1e6, 1) if done and cpu is not None else None,
        "p50_ms": round(percentile(latencies, 0.50) * 1e3, 3) if done else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1e3, 3) if done else None,
        "mean_ms": round(statistics.fmean(latencies) * 1e3, 3) if done else None,
        "throughput": round(done / wall, 1) if done and wall > 0 else None,
    }


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Alternating rounds of one client merged: totals for CPU and throughput, medians for latencies."""
    good = [r for r in runs if r["orders"]]
    if not good:
        return runs[-1]
    orders = sum(r["orders"] for r in good)
    wall = sum(r["wall_s"] for r in good)
    cpus = [r["cpu_s"] for r in good if r["cpu_s"] is not None]
    return {
        "concurrency": good[0]["concurrency"],
        "rounds": len(runs),
        "orders": orders,
        "errors": sum(r["errors"] for r in runs),
        "first_error": next((r["first_error"] for r in runs if r["first_error"]), None),
        "wall_s": round(wall, 4),
        "cpu_s": round(sum(cpus), 4) if cpus else None,
        "cpu_us_per_order": round(sum(cpus) / orders * 1e6, 1) if cpus else None,
        "p50_ms": round(statistics.median(r["p50_ms"] for r in good), 3),
        "p99_ms": max(r["p99_ms"] for r in good),
        "throughput": round(orders / wall, 1) if wall else None,
    }


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)

"""Terminal 5 against CCXT and the floor, on the shipped simulators, in one run (issue 12).

    python benchmarks/run.py [--quick] [--exchanges binance,kraken,bitget] [--out FILE]
                             [--scale-out | --no-scale-out] [--postgres URL]

Starts each exchange's simulator (``register_simulators``) in its own process on
127.0.0.1, then measures, alternating the clients round by round:

* ``t5_native``  Terminal 5's native client through the core (hooks, transport, signing), no database;
* ``t5_gateway`` ``Gateway.place_order`` on SQLite, every guarantee on;
* ``t5_daemon``  ``terminal5 run`` in its own process (HTTP in -> store -> native -> store -> HTTP out),
                 the load from a third process; CPU is the daemon's own;
* ``ccxt``       CCXT async (the ``bench`` extra pins it), throttle off, every URL at the simulator;
* ``floor``      a minimal hand-written signed aiohttp request;
* ``floor_daemon`` ``floor_daemon.py``: the floor client behind an aiohttp server answering the T5 daemon's
                 order route, no storage: the least any daemon on aiohttp can do, measured as ``t5_daemon``
                 is (its own process, the same load generator, its own CPU);
* scale-out      (Binance) one ``terminal5 run`` daemon, then two, sharing the Redis Streams front door (a
                 private redis-server) and PostgreSQL (a fresh schema, dropped after): throughput and the
                 daemons' CPU per order, two over one (target <= 1.10). ``--scale-out`` runs only this;
                 ``--no-scale-out`` skips it; ``--postgres URL`` (or ``TERMINAL5_BENCH_POSTGRES``) says where.

Metrics: CPU per order (process CPU time / orders: every thread), p50/p99 latency and throughput at
concurrency 1 and 32; cold and warm start to the first order; memory at 1/10/50 brokers against 50 CCXT
instances. Prints a table of ratios (vs CCXT, vs the floor; under it, the T5 daemon vs the floor daemon and
the floor daemon vs CCXT) and writes JSON (``benchmarks/results/latest.json``). ``--quick`` runs the daemon
paths on Binance only, unless ``--exchanges`` names the exchanges. Every loop is bounded in count and in
time; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import clients  # noqa: E402
from common import accounts, check_loopback_url, dumps, measure, merge  # noqa: E402
from daemon_path import Daemon  # noqa: E402
from floor_daemon import floor_daemon_process  # noqa: E402
from scaleout import Unavailable, scale_out, scale_out_table  # noqa: E402

IN_PROCESS = ("t5_native", "t5_gateway", "ccxt", "floor")
DAEMONS = ("t5_daemon", "floor_daemon")  # in their own processes, the load from load.py
OPENERS: dict[str, Callable[..., Any]] = {"t5_native": clients.open_t5_native, "ccxt": clients.open_ccxt,
                                          "floor": clients.open_floor}


class Plan:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.rounds = 2 if quick else 3
        #: orders per measurement (per round): concurrency -> count
        self.orders = {1: 25, 32: 128} if quick else {1: 150, 32: 800}
        self.max_seconds = 6.0 if quick else 40.0  # per measurement
        self.warmup = 32  # orders per client before measuring (one per account)
        self.memory_brokers = (1, 10, 50)
        self.daemon_exchanges = ("binance",) if quick else ("binance", "kraken", "bitget")
        #: scale-out (1 then 2 daemons on Redis Streams + PostgreSQL): its exchange, orders per measurement,
        #: load concurrency, rounds (each round measures both, alternating ABBA)
        self.scale_out_exchange = "binance"
        # every daemon's orders come from one IP: Binance's 6,000 request weight per minute bounds a whole
        # scale-out (3 rounds of 1 and 2 daemons plus the HTTP reference) once the daemons are fast
        self.scale_out_orders = 300 if quick else 400
        self.scale_out_concurrency = 32
        self.scale_out_rounds = 2 if quick else 3


# --- simulators ------------------------------------------------------------------------------------------
class Simulator:
    """A shipped simulator in its own process, always stopped (and stopping by itself after max_seconds)."""

    def __init__(self, exchange: str, max_seconds: float) -> None:
        self.exchange = exchange
        self.proc = subprocess.Popen([sys.executable, str(HERE / "simproc.py"), "--exchange", exchange,
                                      "--max-seconds", str(max_seconds)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError(f"the {exchange} simulator did not start")
        self.url = check_loopback_url(json.loads(line)["url"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def available_exchanges() -> list[str]:
    from simproc import factories

    return [e for e in ("binance", "kraken", "bitget") if e in factories()]


def ccxt_available() -> bool:
    try:
        import ccxt.async_support  # noqa: F401
    except ImportError:
        return False
    return True


# --- the order paths -----------------------------------------------------------------------------------------
async def open_client(name: str, exchange: str, url: str, work: Path) -> clients.Client:
    if name == "t5_gateway":
        return await clients.open_t5_gateway(exchange, url, work / f"gateway-{exchange}")
    return await OPENERS[name](exchange, url)


async def order_paths(exchange: str, url: str, plan: Plan, work: Path, names: list[str],
                      daemons: dict[str, Daemon], log: Callable[[str], None]) -> dict[str, Any]:
    opened: dict[str, clients.Client] = {}
    failures: dict[str, str] = {}
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {}
    try:
        # warm-up, not measured: connections, caches, one order per account
        warmup = max(plan.warmup, len(accounts(exchange, "t5_native")))
        for name in names:
            try:
                opened[name] = await open_client(name, exchange, url, work)
                await measure(opened[name].place, orders=warmup, concurrency=8, max_seconds=plan.max_seconds,
                              start=900_000)
            except Exception as exc:  # reported in the results, the other clients still run
                failures[name] = f"{type(exc).__name__}: {exc}"[:500]
                log(f"  {exchange}/{name}: could not start: {failures[name]}")
        for daemon in daemons.values():
            daemon.load(warmup, 8, plan.max_seconds)  # warm-up
        offset = 0
        for r in range(plan.rounds):
            every = [*opened, *daemons]
            for name in every if r % 2 == 0 else reversed(every):  # alternate who goes first
                for conc, count in plan.orders.items():
                    if name in daemons:
                        result = daemons[name].load(count, conc, plan.max_seconds)
                    else:
                        result = await measure(opened[name].place, orders=count, concurrency=conc,
                                               max_seconds=plan.max_seconds, start=offset)
                    offset += count
                    runs.setdefault(name, {}).setdefault(conc, []).append(result)
                    log(f"  {exchange}/{name} round {r + 1} conc {conc}: {result['orders']} orders, "
                        f"{result['cpu_us_per_order']} µs CPU/order, {result['throughput']} orders/s, "
                        f"p50 {result['p50_ms']} ms, errors {result['errors']}")
    finally:
        for client in opened.values():
            await client.close()
    out: dict[str, Any] = {name: {f"conc_{c}": merge(rs) for c, rs in by_conc.items()} for name, by_conc in runs.items()}
    for name, why in failures.items():
        out[name] = {"failed": why}
    return out


# --- start-up and memory ----------------------------------------------------------------------------------------
def probe(*args: str, timeout: float = 180.0) -> dict[str, Any]:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / "probe.py"), *args], capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        return {"failed": done.stderr.strip().splitlines()[-1][:300] if done.stderr.strip() else "exit"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = round(time.perf_counter() - t0, 4)
    return result


def startup_and_memory(exchange: str, url: str, plan: Plan, work: Path, with_ccxt: bool,
                       log: Callable[[str], None]) -> dict[str, Any]:
    data = work / f"start-{exchange}"
    data.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"t5_cold": probe("t5-start", exchange, url, str(data)),
                           "t5_warm": probe("t5-start", exchange, url, str(data))}
    if with_ccxt:
        out["ccxt_cold"] = probe("ccxt-start", exchange, url)
    baseline = probe("baseline", exchange, url)
    memory: dict[str, Any] = {"baseline_python_aiohttp_mb": baseline.get("rss_mb")}
    for n in plan.memory_brokers:
        brokers_dir = work / f"memory-{exchange}-{n}"
        brokers_dir.mkdir(parents=True, exist_ok=True)
        memory[f"t5_{n}_brokers_mb"] = probe("t5-memory", exchange, url, str(brokers_dir), str(n)).get("rss_mb")
    if with_ccxt:
        for n in (1, 50) if plan.quick else plan.memory_brokers:
            memory[f"ccxt_{n}_instances_mb"] = probe("ccxt-memory", exchange, url, str(n)).get("rss_mb")
    out["memory"] = memory
    log(f"  {exchange} start-up and memory: {json.dumps(out)}")
    return out


# --- the table -----------------------------------------------------------------------------------------------
def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


def table(results: dict[str, Any]) -> str:
    lines = ["| exchange | path | conc | CPU µs/order | vs CCXT | vs floor | p50 ms | p99 ms | orders/s | vs CCXT |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for exchange, data in results["exchanges"].items():
        paths = data.get("paths", {})
        for conc in (1, 32):
            key = f"conc_{conc}"
            ref = paths.get("ccxt", {}).get(key, {})
            floor = paths.get("floor", {}).get(key, {})
            for name in ("t5_native", "t5_gateway", "t5_daemon", "floor_daemon", "ccxt", "floor"):
                r = paths.get(name, {}).get(key)
                if not r:
                    continue
                lines.append(
                    f"| {exchange} | {name} | {conc} | {r['cpu_us_per_order']} | "
                    f"{ratio(r['cpu_us_per_order'], ref.get('cpu_us_per_order'))} | "
                    f"{ratio(r['cpu_us_per_order'], floor.get('cpu_us_per_order'))} | {r['p50_ms']} | {r['p99_ms']} | "
                    f"{r['throughput']} | {ratio(r['throughput'], ref.get('throughput'))} |")
    if len(lines) == 2:
        lines = []  # no order path measured (--scale-out)
    lines += daemon_lines(results)
    lines += ["", "| exchange | T5 cold → 1st order | T5 warm | T5 warm, in process (open → 1st order) | CCXT cold | "
                  "T5 1 / 10 / 50 brokers MB | CCXT 1 / 50 instances MB | 50 CCXT / 50 T5 (over a bare python+aiohttp) |",
              "|---|---|---|---|---|---|---|---|"]
    for exchange, data in results["exchanges"].items():
        s = data.get("startup")
        if not s:
            continue
        m = s["memory"]
        base = m.get("baseline_python_aiohttp_mb") or 0
        t5_50, cc_50 = m.get("t5_50_brokers_mb"), m.get("ccxt_50_instances_mb")
        over = f"{(cc_50 - base) / (t5_50 - base):.1f}x" if t5_50 and cc_50 and t5_50 > base else "n/a"
        t5_1, cc_1 = m.get("t5_1_brokers_mb"), m.get("ccxt_1_instances_mb")
        if t5_1 and cc_1 and t5_50 and cc_50:
            over += f"; per added broker {(t5_50 - t5_1) / 49 * 1024:.0f} KB vs {(cc_50 - cc_1) / 49:.1f} MB"
        lines.append(
            f"| {exchange} | {s['t5_cold'].get('to_first_order_s')} s | {s['t5_warm'].get('to_first_order_s')} s | "
            f"{s['t5_warm'].get('open_to_first_order_s', s['t5_warm'].get('first_order_after_open_s'))} s | {s.get('ccxt_cold', {}).get('to_first_order_s')} s | "
            f"{m.get('t5_1_brokers_mb')} / {m.get('t5_10_brokers_mb')} / {t5_50} | "
            f"{m.get('ccxt_1_instances_mb')} / {cc_50} | {over} |")
    if not any(data.get("startup") for data in results["exchanges"].values()):
        lines = lines[:-3]  # no start-up measured
    if results.get("scale_out"):
        lines += ["", scale_out_table(results["scale_out"])]
    return "\n".join(lines).strip("\n")


def daemon_lines(results: dict[str, Any]) -> list[str]:
    """Under the table: the T5 daemon against the floor daemon (the least any daemon on aiohttp does here),
    and the floor daemon's throughput against CCXT's bare library (how far any daemon could get)."""
    lines = []
    for exchange, data in results["exchanges"].items():
        paths = data.get("paths", {})
        for conc in (1, 32):
            key = f"conc_{conc}"
            t5, fd = paths.get("t5_daemon", {}).get(key), paths.get("floor_daemon", {}).get(key)
            ref = paths.get("ccxt", {}).get(key, {})
            parts = []
            if t5 and fd:
                parts.append(f"t5_daemon vs floor daemon: CPU/order {ratio(t5['cpu_us_per_order'], fd['cpu_us_per_order'])}, "
                             f"throughput {ratio(t5['throughput'], fd['throughput'])}")
            if fd and ref:
                parts.append(f"floor daemon vs CCXT: throughput {ratio(fd['throughput'], ref.get('throughput'))}, "
                             f"CPU/order {ratio(fd['cpu_us_per_order'], ref.get('cpu_us_per_order'))}")
            if parts:
                lines.append(f"- {exchange}, conc {conc}: " + "; ".join(parts))
    return ["", *lines] if lines else []


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in load], "ccxt": _ccxt_version()}


def _ccxt_version() -> str | None:
    try:
        import ccxt

        return str(ccxt.__version__)
    except ImportError:
        return None


# --- main ----------------------------------------------------------------------------------------------------
def start_daemon(name: str, exchange: str, url: str, work: Path) -> Daemon:
    """``t5_daemon`` (``terminal5 run`` on SQLite) or ``floor_daemon`` (no database, and stopping by itself
    after the simulator's own limit), started."""
    data_dir = work / f"{name}-{exchange}"
    data_dir.mkdir(parents=True, exist_ok=True)
    if name == "floor_daemon":
        daemon = floor_daemon_process(exchange, url, data_dir, max_seconds=1800)
        daemon.launch()
    else:
        daemon = Daemon(exchange, url, data_dir)
        daemon.start()
    return daemon


async def run(plan: Plan, exchanges: list[str], work: Path, log: Callable[[str], None],
              paths: list[str] | None = None, with_startup: bool = True, own_logs: bool = True,
              with_scale_out: bool = True, postgres_url: str | None = None) -> dict[str, Any]:
    with_ccxt = ccxt_available()
    names = [n for n in (IN_PROCESS if paths is None else paths) if n in IN_PROCESS and (n != "ccxt" or with_ccxt)]
    want_daemons = [n for n in DAEMONS if paths is None or n in paths]
    results: dict[str, Any] = {"machine": machine(), "quick": plan.quick, "exchanges": {},
                               "notes": [] if with_ccxt else ["ccxt not installed: pip install '.[bench]'"]}
    os.environ["TERMINAL5_DATA_DIR"] = str(work / "native-data")  # plugin caches, Kraken nonce marks
    if own_logs:
        clients.configure_logs(work / "logs")
    for exchange in exchanges:
        log(f"{exchange}: starting its simulator")
        sim = Simulator(exchange, max_seconds=1800)
        daemons: dict[str, Daemon] = {}
        try:
            if exchange in plan.daemon_exchanges:
                for name in want_daemons:
                    daemons[name] = start_daemon(name, exchange, sim.url, work)
            entry: dict[str, Any] = {"simulator": "shipped", "paths": await order_paths(
                exchange, sim.url, plan, work, names, daemons, log) if names or daemons else {}}
            for daemon in daemons.values():
                daemon.stop()
            daemons = {}
            if with_scale_out and exchange == plan.scale_out_exchange:
                log(f"{exchange}: scale-out, 1 then 2 daemons on Redis Streams + PostgreSQL")
                try:
                    results["scale_out"] = await asyncio.to_thread(scale_out, exchange, sim.url, plan, work, log,
                                                                   postgres_url)
                except Unavailable as exc:
                    results["scale_out"] = {"skipped": str(exc)}
                    log(f"  scale-out skipped: {exc}")
                except Exception as exc:  # reported; the rest of the run goes on
                    results["scale_out"] = {"failed": f"{type(exc).__name__}: {exc}"[:500]}
                    log(f"  scale-out failed: {results['scale_out']['failed']}")
            if with_startup:
                entry["startup"] = startup_and_memory(exchange, sim.url, plan, work, with_ccxt, log)
            results["exchanges"][exchange] = entry
        finally:
            for daemon in daemons.values():
                daemon.stop()
            sim.stop()
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer orders and rounds (about two minutes)")
    parser.add_argument("--exchanges", help="comma-separated (default: every exchange with a simulator); the "
                                             "daemon paths run on each of them, --quick or not")
    parser.add_argument("--paths", help="comma-separated subset of t5_native,t5_gateway,t5_daemon,floor_daemon,ccxt,floor")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up and memory probes")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--scale-out", action="store_true",
                       help="only the scale-out (1 then 2 daemons on Redis Streams + PostgreSQL, Binance)")
    which.add_argument("--no-scale-out", action="store_true", help="skip the scale-out")
    parser.add_argument("--postgres", metavar="URL",
                        help="a loopback PostgreSQL database for the scale-out's schema (default "
                             "TERMINAL5_BENCH_POSTGRES, TERMINAL5_TEST_POSTGRES, or postgres@127.0.0.1:5432/postgres)")
    parser.add_argument("--scale-out-orders", type=int, metavar="N", help="orders per scale-out measurement")
    parser.add_argument("--scale-out-rounds", type=int, metavar="N", help="scale-out rounds (each: 1 and 2 daemons)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    args = parser.parse_args(argv)
    plan = Plan(args.quick)
    exchanges = args.exchanges.split(",") if args.exchanges else available_exchanges()
    if args.exchanges:
        plan.daemon_exchanges = tuple(exchanges)
    if args.scale_out:
        exchanges = [plan.scale_out_exchange]
    plan.scale_out_orders = args.scale_out_orders or plan.scale_out_orders
    plan.scale_out_rounds = args.scale_out_rounds or plan.scale_out_rounds
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="t5bench-") as tmp:
        results = asyncio.run(run(plan, exchanges, Path(tmp), lambda line: print(line, flush=True),
                                  paths=[] if args.scale_out else args.paths.split(",") if args.paths else None,
                                  with_startup=not (args.no_startup or args.scale_out),
                                  with_scale_out=not args.no_scale_out, postgres_url=args.postgres))
    results["duration_s"] = round(time.perf_counter() - started, 1)
    results["table"] = table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(results) + "\n")
    print()
    print(results["table"])
    print(f"\n{results['duration_s']} s; JSON: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

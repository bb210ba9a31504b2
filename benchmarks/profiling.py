"""Where the time of an order goes, on a shipped simulator (``--exchange``, Binance by default): cProfile on every thread (the database thread
included) of the gateway path in process, and stage timers in the gateway or in the daemon (``terminal5
run`` with the timers installed, load from another process).

    python benchmarks/profiling.py gateway|daemon [--exchange binance|kraken|bitget] [--orders 600]
        [--concurrency 32] [--top 40]

Prints the top functions by own time and by cumulative time, in µs per order, scaled so that their sum
matches the CPU per order measured without the profiler (the profiler's own overhead removed in
proportion), and the stage timers: the CPU of each named step (database jobs by name, hooks, signer, audit
record, log sinks) per order, which cProfile's per-call overhead does not distort. The daemon gets the stage
timers only."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import json
import os
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import clients  # noqa: E402
from common import measure  # noqa: E402
from daemon_path import Daemon  # noqa: E402
from run import Simulator  # noqa: E402

_profiles: list[cProfile.Profile] = []


def profile_every_thread() -> cProfile.Profile:
    """A profiler on this thread, and one on every thread started from now on."""

    def start(*_: Any) -> None:
        profile = cProfile.Profile(time.thread_time)  # CPU of this thread: waiting is not cost
        _profiles.append(profile)
        profile.enable()  # replaces this hook on the new thread

    threading.setprofile(start)
    main = cProfile.Profile(time.thread_time)
    _profiles.append(main)
    main.enable()
    return main


def stop_profiles() -> pstats.Stats:
    threading.setprofile(None)  # type: ignore[arg-type]
    for profile in _profiles:
        profile.disable()
    stats = pstats.Stats(_profiles[0])
    for profile in _profiles[1:]:
        try:
            stats.add(profile)
        except TypeError:  # a profiler that never saw a call
            continue
    return stats


# --- stage timers: the CPU (thread time) of named synchronous steps, per order, with little overhead --------
_stages: dict[str, list[float]] = {}


def _timed(name: str, fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            cell = _stages.setdefault(name, [0.0, 0])
            cell[0] += time.thread_time() - t0
            cell[1] += 1

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


def install_stage_timers() -> None:
    """Wraps, in memory only, the steps the issue names: every job of the database thread (by name), the
    transport's audit record, the signer, the plugin hooks, the log sinks."""
    import loguru._handler

    import terminal5.placement as gateway_module  # where place() looks these steps up
    import terminal5_binance.auth as binance_auth
    import terminal5_binance.client as binance_client
    from terminal5.plugins import Hooks
    from terminal5.storage.database import Storage
    from terminal5.transport import HttpTransport

    original_job = Storage._run_job

    def job_name(fn: Any) -> str:
        while isinstance(fn, functools.partial):  # run(): partial(context.run, fn, ...); submit(): partial(fn)
            fn = fn.args[0] if getattr(fn.func, "__name__", "") == "run" and fn.args else fn.func
        return "db: " + getattr(fn, "__qualname__", repr(fn)).replace(".<locals>", "")

    def db_job(self: Any, fn: Any) -> Any:
        return _timed(job_name(fn), original_job)(self, fn)

    Storage._run_job = db_job  # type: ignore[method-assign]
    HttpTransport._record = _timed(
        "transport: audit record (scrub + observers + debug log)",  # type: ignore[method-assign]
        HttpTransport._record,
    )
    for hook in ("to_native", "from_native", "map_client_id", "normalize_status", "map_error"):
        setattr(Hooks, hook, _timed(f"hook: {hook}", getattr(Hooks, hook)))
    gateway_module.structure_request = _timed("structure_request", gateway_module.structure_request)
    gateway_module.check_levels = _timed("check_levels", gateway_module.check_levels)
    binance_client.sign = _timed("binance: sign", binance_auth.sign)
    loguru._handler.Handler.emit = _timed(
        "loguru: emit (every sink, every line)",  # type: ignore[method-assign]
        loguru._handler.Handler.emit,
    )
    _install_daemon_timers()


def _install_daemon_timers() -> None:
    """The daemon's own synchronous steps around an order (HTTP body, checks, token and broker reads,
    the answer's JSON, metrics), looked up where the daemon's modules call them."""
    import terminal5.daemon.api as api
    import terminal5.daemon.body as json_body
    import terminal5.daemon.http as http
    from terminal5.daemon.metrics import Metrics
    from terminal5.storage.fresh_reads import FreshReads

    json_body.parse = _timed("daemon: body parse", json_body.parse)
    json_body.check_content_type = _timed("daemon: content type check", json_body.check_content_type)
    api.check_wire_order = _timed("daemon: check_wire_order", api.check_wire_order)
    api.structure_request = _timed("daemon: structure_request", api.structure_request)
    api.order_json = _timed("daemon: order_json (unstructure the answer)", api.order_json)
    http.json_response = _timed("daemon: json_response (encode, web.Response)", http.json_response)
    http.new_request_id = _timed("daemon: new_request_id", http.new_request_id)
    http.check_query = _timed("daemon: check_query", http.check_query)
    FreshReads.select_one = _timed("daemon: fresh read (token, broker row)", FreshReads.select_one)  # type: ignore[method-assign]
    Metrics.request = _timed("daemon: metrics.request", Metrics.request)  # type: ignore[method-assign]


def stage_report(orders: int) -> str:
    lines = ["| step | µs CPU per order | calls per order |", "|---|---|---|"]
    for name, (cpu, calls) in sorted(_stages.items(), key=lambda kv: kv[1][0], reverse=True):
        lines.append(f"| {name} | {cpu / orders * 1e6:.0f} | {calls / orders:.1f} |")
    return "\n".join(lines)


def report(stats: pstats.Stats, orders: int, cpu_us_per_order: float | None, top: int) -> str:
    """The top functions in µs per order; scaled to the unprofiled CPU per order when it is known."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total_own = sum(v[2] for v in raw.values())
    scale = (cpu_us_per_order / (total_own / orders * 1e6)) if cpu_us_per_order and total_own else 1.0
    out = io.StringIO()
    out.write(
        f"orders {orders}; profiled CPU {total_own / orders * 1e6:.0f} µs/order; scaled by {scale:.2f} to the "
        f"unprofiled {cpu_us_per_order} µs/order\n"
    )
    for title, index in (("own time", 2), ("cumulative", 3)):
        out.write(f"\n## top by {title} (µs per order, scaled)\n")
        ranked = sorted(raw.items(), key=lambda kv: kv[1][index], reverse=True)[:top]
        for (file, line, name), value in ranked:
            where = file.split("site-packages/")[-1].split("/bench/")[-1]
            out.write(f"{value[index] / orders * 1e6 * scale:9.1f}  {value[1]:>8} calls  {name}  ({where}:{line})\n")
    return out.getvalue()


async def gateway(
    orders: int, concurrency: int, work: Path, profiled: bool, timed: bool = False, exchange: str = "binance"
) -> tuple[dict[str, Any], Any]:
    sim = Simulator(exchange, max_seconds=900)
    try:
        os.environ["TERMINAL5_DATA_DIR"] = str(work / "native-data")
        clients.configure_logs(work / "logs")
        if profiled:
            profile_every_thread()  # before the gateway starts its database thread
        if timed:
            install_stage_timers()
        client = await clients.open_t5_gateway(exchange, sim.url, work / f"gw-{profiled}-{timed}")
        try:
            await measure(client.place, orders=64, concurrency=8, max_seconds=60, start=800_000)  # warm-up
            if profiled:
                for profile in _profiles:  # count the measured orders only
                    profile.clear()
            _stages.clear()
            result = await measure(client.place, orders=orders, concurrency=concurrency, max_seconds=300)
        finally:
            stats = stop_profiles() if profiled else None
            await client.close()
        return result, stats
    finally:
        sim.stop()


def daemon(orders: int, concurrency: int, work: Path, timed: bool,
           exchange: str = "binance") -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The daemon, plain or with the stage timers installed in its process (cProfile on every thread of a
    daemon distorts more than it shows: its many small peewee calls)."""
    sim = Simulator(exchange, max_seconds=900)
    out = work / "daemon-stages.json"
    command = [sys.executable, str(HERE / "profiling.py"), "daemon-child", str(out)] if timed else None
    d = Daemon(exchange, sim.url, work / f"daemon-{timed}", command=command)
    d.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        d.start()
        d.load(64, 8, 60)  # warm-up
        if timed:
            (work / "daemon.clear").write_text("x")  # the child resets its timers when it sees this
            time.sleep(1.5)
        result = d.load(orders, concurrency, 300)
    finally:
        d.stop()
        sim.stop()
    return result, json.loads(out.read_text()) if timed and out.exists() else None


def daemon_child(out: str) -> None:
    """``terminal5 run`` with the stage timers; their totals written when it stops (SIGTERM)."""
    from terminal5.cli import main as cli_main

    install_stage_timers()
    clear_flag = Path(out).parent / "daemon.clear"

    def clear_when_asked() -> None:
        deadline = time.monotonic() + 600
        while not clear_flag.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        _stages.clear()

    threading.Thread(target=clear_when_asked, daemon=True).start()
    try:
        cli_main(["run"])
    finally:
        Path(out).write_text(json.dumps(_stages))


def main() -> None:
    if sys.argv[1:2] == ["daemon-child"]:
        daemon_child(sys.argv[2])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("path", choices=("gateway", "daemon"))
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--exchange", default="binance", choices=("binance", "kraken", "bitget"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="t5prof-") as tmp:
        work = Path(tmp)
        if args.path == "gateway":
            ex = args.exchange
            plain, _ = asyncio.run(gateway(args.orders, args.concurrency, work, profiled=False, exchange=ex))
            profiled, stats = asyncio.run(gateway(args.orders, args.concurrency, work, profiled=True, exchange=ex))
            timed, _ = asyncio.run(gateway(args.orders, args.concurrency, work, profiled=False, timed=True, exchange=ex))
            print(
                f"stage timers ({timed['orders']} orders at concurrency {args.concurrency}; "
                f"{timed['cpu_us_per_order']} µs CPU/order with the timers, {plain['cpu_us_per_order']} without):"
            )
            print(stage_report(timed["orders"]))
        else:
            plain, _ = daemon(args.orders, args.concurrency, work, timed=False, exchange=args.exchange)
            timed, stages = daemon(args.orders, args.concurrency, work, timed=True, exchange=args.exchange)
            _stages.update(stages or {})
            print(
                f"stage timers in the daemon ({timed['orders']} orders at concurrency {args.concurrency}; "
                f"{timed['cpu_us_per_order']} µs CPU/order with the timers, {plain['cpu_us_per_order']} without):"
            )
            print(stage_report(timed["orders"]))
            print(json.dumps({"plain": plain, "timed": timed}))
            return
        print(json.dumps({"unprofiled": plain, "profiled": profiled}))
        if stats is None:
            raise SystemExit("no profile was written")
        print(report(stats, profiled["orders"], plain["cpu_us_per_order"], args.top))


if __name__ == "__main__":
    main()

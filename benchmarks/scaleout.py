"""Scale-out (issue 12): one ``terminal5 run`` daemon, then two, sharing the Redis Streams front door and
PostgreSQL, the load from a separate process (``load.py --redis``) at a bounded concurrency.

What it measures, per configuration, alternating ABBA (one, two, two, one, ...): throughput and the
daemons' summed CPU per order (``/proc/<pid>/stat``, every thread), plus, for reference, the private Redis
server's and the database's backends' CPU per order. The target: the daemons' CPU per order with two
processes at most 10% above one process (no coordination tax). On a 2-core machine the simulator and the
load generator share the cores with the daemons, so two daemons are not expected to double the throughput.

Everything it starts is its own and always stopped: a private ``redis-server`` on a free loopback port
(no persistence), a fresh schema in the given PostgreSQL database (``?search_path=``, dropped at the end),
the daemons (SIGTERM, then kill; each also stops by itself after ``--max-seconds``). Every address is
checked to be loopback; every loop is bounded in count and in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from common import check_loopback_url, merge
from daemon_path import Daemon, free_port, process_cpu, process_rss_mb

from terminal5.testing.redis_server import PrivateRedisServer, RedisServerUnavailable

HERE = Path(__file__).resolve().parent
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
#: the target: daemons' CPU per order, two processes over one
TARGET_CPU_RATIO = 1.10


class Unavailable(RuntimeError):
    """A service the scale-out needs (redis-server, PostgreSQL, psycopg2, redis-py) is not there."""


def postgres_admin_url() -> str:
    """Where the scale-out makes its schema: ``TERMINAL5_BENCH_POSTGRES``, else the tests' database."""
    return os.environ.get("TERMINAL5_BENCH_POSTGRES") or os.environ.get("TERMINAL5_TEST_POSTGRES") or DEFAULT_POSTGRES


# --- the private services ------------------------------------------------------------------------------------
class PrivateRedis(PrivateRedisServer):
    """The testing kit's private ``redis-server`` on a free loopback port, with the benchmark's own readings."""

    def __init__(self, workdir: Path, start_timeout: float = 10.0) -> None:
        super().__init__(workdir, free_port(), start_timeout=start_timeout)

    def start(self) -> None:
        try:
            super().start()
        except RedisServerUnavailable as exc:
            raise Unavailable(str(exc)) from None

    def commandstats(self) -> dict[str, int]:
        """Calls per Redis command so far (``INFO commandstats``), to see what each order costs in round trips."""
        try:
            import redis as redis_py

            with contextlib.closing(redis_py.Redis.from_url(self.url, socket_timeout=5)) as client:
                stats = client.info("commandstats")
        except Exception:
            return {}
        return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items() if isinstance(v, dict)}


class PgSchema:
    """A fresh schema ``t5bench_<hex>`` in a loopback PostgreSQL database, dropped (CASCADE) at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = check_loopback_url(admin_url)
        self.name = f"t5bench_{secrets.token_hex(4)}"
        self.conn: Any = None

    @property
    def url(self) -> str:
        base = self.admin_url.split("?", 1)[0]
        return f"{base}?{urlencode({'search_path': self.name})}"

    def create(self) -> None:
        try:
            import psycopg2
        except ImportError:
            raise Unavailable("psycopg2 is not installed: pip install 'terminal5[postgres]'") from None
        parts = urlsplit(self.admin_url)
        try:
            self.conn = psycopg2.connect(
                dbname=parts.path.lstrip("/") or "postgres",
                user=parts.username,
                password=parts.password,
                host=parts.hostname,
                port=parts.port or 5432,
                connect_timeout=3,
            )
        except Exception as exc:
            raise Unavailable(
                f"PostgreSQL not reachable at {parts.hostname}:{parts.port}: {type(exc).__name__}"
            ) from None
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute(f"CREATE SCHEMA {self.name}")

    def backend_pids(self) -> list[int]:
        """The database's client backends but this admin connection (best effort, for their CPU)."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                )
                return [int(row[0]) for row in cur.fetchall()]
        except Exception:
            return []

    def drop(self) -> None:
        if self.conn is None:
            return
        try:
            with self.conn.cursor() as cur:
                cur.execute(f"DROP SCHEMA IF EXISTS {self.name} CASCADE")
        finally:
            self.conn.close()
            self.conn = None


def cpu_of(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            found[pid] = process_cpu(pid)
    return found


# --- one measurement -------------------------------------------------------------------------------------------
def stream_load(
    daemons: list[Daemon], redis: PrivateRedis, pg: PgSchema, orders: int, concurrency: int, max_seconds: float
) -> dict[str, Any]:
    """``orders`` orders through the front door while ``daemons`` read it; CPU of each daemon, of Redis and of
    the database's backends over the run."""
    first = daemons[0]
    pids = [d.proc.pid for d in daemons if d.proc is not None]
    calls0 = redis.commandstats()
    backends = pg.backend_pids()
    cpu0 = cpu_of(pids)
    side0 = cpu_of(([redis.pid] if redis.pid else []) + backends)
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "load.py"),
            "--redis",
            redis.url,
            f"--token={first.token}",  # one argument: a token may start with "-"
            "--brokers",
            ",".join(map(str, first.broker_ids)),
            "--exchange",
            first.exchange,
            "--orders",
            str(orders),
            "--concurrency",
            str(concurrency),
            "--max-seconds",
            str(max_seconds),
            "--reply-timeout",
            str(min(30.0, max_seconds)),
        ],
        capture_output=True,
        timeout=max_seconds + 90,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    cpu1 = cpu_of(pids)
    calls1 = redis.commandstats()
    side1 = cpu_of(([redis.pid] if redis.pid else []) + backends)
    per_daemon = [round(cpu1.get(p, 0.0) - cpu0.get(p, 0.0), 4) for p in pids]
    cpu = sum(per_daemon)
    n = result["orders"]
    result["daemons"] = len(daemons)
    result["cpu_s"] = round(cpu, 4)
    result["cpu_us_per_order"] = round(cpu / n * 1e6, 1) if n else None
    result["per_daemon_cpu_s"] = per_daemon
    result["daemon_rss_mb"] = [round(process_rss_mb(p), 1) for p in pids]
    redis_cpu = side1.get(redis.pid or -1, 0.0) - side0.get(redis.pid or -1, 0.0)
    pg_cpu = sum(side1[p] - side0[p] for p in backends if p in side0 and p in side1)
    calls = {c: calls1[c] - calls0.get(c, 0) for c in calls1 if calls1[c] > calls0.get(c, 0) and c != "info"}
    result["redis_calls_per_order"] = {c: round(v / n, 2) for c, v in sorted(calls.items())} if n else None
    result["redis_cpu_us_per_order"] = round(redis_cpu / n * 1e6, 1) if n else None
    result["pg_backends_cpu_us_per_order"] = round(pg_cpu / n * 1e6, 1) if n and backends else None
    return result


def merge_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """``common.merge`` plus the side CPU (Redis, PostgreSQL backends) and each daemon's share, order-weighted."""
    out = merge(runs)
    good = [r for r in runs if r["orders"]]
    orders = sum(r["orders"] for r in good)
    for key in ("redis_cpu_us_per_order", "pg_backends_cpu_us_per_order"):
        values = [(r[key], r["orders"]) for r in good if r.get(key) is not None]
        out[key] = round(sum(v * n for v, n in values) / sum(n for _, n in values), 1) if values else None
    calls = [r["redis_calls_per_order"] for r in good if r.get("redis_calls_per_order")]
    if calls:
        names = sorted({c for r in calls for c in r})
        out["redis_calls_per_order"] = {c: round(sum(r.get(c, 0) for r in calls) / len(calls), 2) for c in names}
    if good and "daemons" in good[0]:
        out["daemons"] = good[0]["daemons"]
        shares = [sum(r["per_daemon_cpu_s"][k] for r in good) for k in range(len(good[0]["per_daemon_cpu_s"]))]
        out["per_daemon_cpu_share"] = [round(s / sum(shares), 3) if sum(shares) else None for s in shares]
    out["orders_per_round"] = [r["orders"] for r in runs]
    return out if orders else runs[-1]


# --- the scale-out ---------------------------------------------------------------------------------------------
def scale_out(
    exchange: str,
    sim_url: str,
    plan: Any,
    work: Path,
    log: Callable[[str], None],
    postgres_url: str | None = None,
    http_reference: bool = True,
) -> dict[str, Any]:
    """One daemon, then two, on the front door and PostgreSQL; ``plan`` gives ``scale_out_orders``,
    ``scale_out_concurrency``, ``scale_out_rounds``, ``max_seconds`` and ``warmup``."""
    from cryptography.fernet import Fernet

    try:
        import redis  # noqa: F401  (the load generator's client)
    except ImportError:
        raise Unavailable("redis-py is not installed: pip install 'terminal5[redis]'") from None
    orders, conc, rounds = plan.scale_out_orders, plan.scale_out_concurrency, plan.scale_out_rounds
    bound = str(max(600.0, plan.max_seconds * rounds * 6 + 300))  # each daemon stops by itself after this
    command = [sys.executable, "-m", "terminal5.cli", "run", "--no-reconcile", "--max-seconds", bound]
    server = PrivateRedis(work / "scale-out-redis")
    pg = PgSchema(postgres_url or postgres_admin_url())
    one: Daemon | None = None
    two: Daemon | None = None
    runs: dict[str, list[dict[str, Any]]] = {"one": [], "two": []}
    if http_reference:
        runs["one_http"] = []
    try:
        server.start()
        pg.create()
        one = Daemon(
            exchange,
            sim_url,
            work / "scale-out-1",
            command=[*command, "--heartbeat-name", "scale-1"],
            database_url=pg.url,
            redis_url=server.url,
            master_key=Fernet.generate_key().decode(),
        )
        one.data_dir.mkdir(parents=True, exist_ok=True)
        one.prepare()
        one.launch()
        two = one.sibling(work / "scale-out-2", command=[*command, "--heartbeat-name", "scale-2"])
        stream_load([one], server, pg, max(plan.warmup, conc), conc, plan.max_seconds)  # warm-up, not measured
        if http_reference:
            one.load(plan.warmup, 8, plan.max_seconds)  # warm-up of the HTTP side
        sequence = [label for r in range(rounds) for label in (("one", "two") if r % 2 == 0 else ("two", "one"))]
        for k, label in enumerate(sequence):
            if label == "two" and not two.running:
                two.launch()
                # warm-up, not measured: enough orders that the new daemon meets most brokers (its first order on
                # each one reads and decrypts the broker, opens connections)
                warm = max(plan.warmup, conc) * 4 if orders > conc else max(plan.warmup, conc)
                stream_load([one, two], server, pg, warm, conc, plan.max_seconds)
            elif label == "one" and two.running:
                two.stop()
            daemons = [one, two] if label == "two" else [one]
            result = stream_load(daemons, server, pg, orders, conc, plan.max_seconds)
            runs[label].append(result)
            log(
                f"  {exchange}/scale-out {k + 1}/{len(sequence)} {len(daemons)} daemon(s), conc {conc}: "
                f"{result['orders']} orders, {result['cpu_us_per_order']} µs daemon CPU/order "
                f"(per daemon {result['per_daemon_cpu_s']} s), {result['throughput']} orders/s, "
                f"p50 {result['p50_ms']} ms, redis {result['redis_cpu_us_per_order']} µs, "
                f"pg {result['pg_backends_cpu_us_per_order']} µs, errors {result['errors']}"
            )
            if label == "one" and http_reference:
                ref = one.load(orders, conc, plan.max_seconds)
                runs["one_http"].append(ref)
                log(
                    f"  {exchange}/scale-out reference, 1 daemon over HTTP on PostgreSQL, conc {conc}: "
                    f"{ref['orders']} orders, {ref['cpu_us_per_order']} µs CPU/order, {ref['throughput']} orders/s, "
                    f"errors {ref['errors']}"
                )
    finally:
        for daemon in (two, one):
            if daemon is not None:
                daemon.stop()
        server.stop()
        pg.drop()
    out: dict[str, Any] = {
        "exchange": exchange,
        "concurrency": conc,
        "front_door": "redis streams",
        "database": "postgresql",
        "target_cpu_ratio": TARGET_CPU_RATIO,
    }
    for label, rs in runs.items():
        if rs:
            out[label] = merge_runs(rs) if label != "one_http" else merge(rs)
    out["schema_dropped"] = pg.name
    # each round measured both (ABBA): the ratio within a round, where the machine's load was alike
    paired = [
        t["cpu_us_per_order"] / o["cpu_us_per_order"]
        for o, t in zip(runs["one"], runs["two"], strict=False)
        if o.get("cpu_us_per_order") and t.get("cpu_us_per_order")
    ]
    out["cpu_ratio_per_round"] = [round(x, 3) for x in paired]
    if paired:
        out["cpu_ratio_median_of_rounds"] = round(statistics.median(paired), 3)
    a, b = out.get("one", {}), out.get("two", {})
    if a.get("cpu_us_per_order") and b.get("cpu_us_per_order"):
        out["cpu_ratio_two_vs_one"] = round(b["cpu_us_per_order"] / a["cpu_us_per_order"], 3)
        out["target_met"] = out["cpu_ratio_two_vs_one"] <= TARGET_CPU_RATIO and not (a["errors"] or b["errors"])
    if a.get("throughput") and b.get("throughput"):
        out["throughput_ratio_two_vs_one"] = round(b["throughput"] / a["throughput"], 3)
    return out


def scale_out_table(data: dict[str, Any]) -> str:
    if not data or "one" not in data:
        return f"scale-out: {data.get('skipped') or data.get('failed') or 'not run'}" if data else ""
    lines = [
        f"| scale-out ({data['exchange']}, Redis Streams + PostgreSQL, conc {data['concurrency']}) | daemons' CPU "
        "µs/order | per-daemon share | orders/s | p50 ms | p99 ms | Redis CPU µs/order | PG backends CPU µs/order |"
        " errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, name in (("one", "1 daemon"), ("two", "2 daemons"), ("one_http", "1 daemon, HTTP (reference)")):
        r = data.get(label)
        if r:
            lines.append(
                f"| {name} | {r['cpu_us_per_order']} | {r.get('per_daemon_cpu_share', '')} | {r['throughput']} | "
                f"{r['p50_ms']} | {r['p99_ms']} | {r.get('redis_cpu_us_per_order', '')} | "
                f"{r.get('pg_backends_cpu_us_per_order', '')} | {r['errors']} |"
            )
    if "cpu_ratio_two_vs_one" in data:
        lines.append(
            f"\nCPU per order, two daemons over one: {data['cpu_ratio_two_vs_one']:.3f} "
            f"(target ≤ {data['target_cpu_ratio']:.2f}: {'met' if data.get('target_met') else 'NOT met'}); "
            f"throughput two over one: {data.get('throughput_ratio_two_vs_one')}; per round (ABBA pairs): "
            f"{data.get('cpu_ratio_per_round')} (median {data.get('cpu_ratio_median_of_rounds')})"
        )
    calls = (data.get("two") or {}).get("redis_calls_per_order")
    if calls:
        lines.append(
            f"Redis calls per order, two daemons (load generator's included): {sum(calls.values()):.1f} "
            f"({', '.join(f'{c} {v}' for c, v in calls.items() if v >= 0.5)})"
        )
    return "\n".join(lines)

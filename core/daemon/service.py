"""``Daemon``: the gateway as a long-running service.

Start-up: open the database (migrations), load plugins (installed + ``TERMINAL5_PLUGINS_EXTRA``), show
each broker's readiness as the seed's "affichage optimisé" (first broker of an exchange type
``Loading -> OK (time)``, further ones ``SHARED (0 s)``, bad keys ``FAILED (reason)`` without stopping the
others), then serve HTTP, the Redis Streams consumer (with ``TERMINAL5_REDIS_URL``), the heartbeat and
the reconciliation loop.

Shutdown (SIGTERM/SIGINT): stop taking work (new orders get 503), stop reading the stream, finish the
in-flight orders, stop the loops, close the HTTP server, flush and close the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import attrs
from aiohttp import web
from loguru import logger

from terminal5.daemon.api import Api
from terminal5.daemon.discord import DiscordSink
from terminal5.daemon.extra import build_hooks
from terminal5.daemon.heartbeat import DEFAULT_NAME, HeartbeatStore, publish_forever
from terminal5.daemon.http import build_app
from terminal5.daemon.localdoor import LocalDoor
from terminal5.daemon.metrics import ErrorBurst, Metrics
from terminal5.daemon.reconcile import Reconciler
from terminal5.daemon.tokens import Principal
from terminal5.errors import Terminal5Error
from terminal5.gateway import DEFAULT_LOOKUP_DELAYS, Gateway
from terminal5.logs import request_scope
from terminal5.models import MarketType
from terminal5.settings import Settings
from terminal5.storage.database import redact_url


@attrs.frozen(kw_only=True)
class Readiness:
    broker_id: int
    exchange: str
    label: str
    state: str  # OK | SHARED | FAILED
    seconds: float
    reason: str | None = None

    def line(self) -> str:
        name = f"{self.exchange}/{self.label}"
        if self.state == "OK":
            return f"{name} → Loading → OK ({self.seconds:.1f} s)"
        if self.state == "SHARED":
            return f"{name} → SHARED (0 s)"
        return f"{name} → FAILED ({self.reason})"

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["seconds"] = Decimal(f"{self.seconds:.3f}")  # JSON answers carry no floats
        return data


class Daemon:
    def __init__(
        self,
        gateway: Gateway,
        *,
        metrics: Metrics,
        heartbeat_name: str = DEFAULT_NAME,
        heartbeat_interval: float | None = None,
        reconcile_interval: float | None = None,
        streams: Any = None,
        console: Callable[[str], None] | None = None,
    ) -> None:
        self.gw = gateway
        self.settings = gateway.settings
        self.metrics = metrics
        self.api = Api(gateway, metrics=metrics)
        self.heartbeats = HeartbeatStore(gateway, gateway.redis)
        self.heartbeat_name = heartbeat_name
        self.heartbeat_interval = heartbeat_interval or self.settings.heartbeat_interval
        self.reconciler = Reconciler(
            gateway, metrics=metrics, interval=reconcile_interval or self.settings.reconcile_interval
        )
        self.streams = streams
        self.console = console or (lambda line: logger.info(line))
        self.readiness: list[Readiness] = []
        self.started_at = time.time()
        self.stop_event = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._runner: web.AppRunner | None = None
        self._heartbeat_started = False
        self.port: int | None = None
        self.app = build_app(self)
        self.local_door = LocalDoor(gateway, self.settings.data_dir, heartbeat_name)

    @classmethod
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        extra: Iterable[str] = (),
        plugins: Iterable[Any] = (),
        load_entry_points: bool = True,
        lookup_delays: tuple[float, ...] = DEFAULT_LOOKUP_DELAYS,
        **kwargs: Any,
    ) -> Daemon:
        settings = settings or Settings.from_env()
        metrics = Metrics()
        sinks: list[Any] = [metrics.alert_plugin()]
        if settings.discord_webhook:
            sinks.append(DiscordSink(settings.discord_webhook))
        hooks = build_hooks(settings, extra=extra, plugins=[*plugins, *sinks], load_entry_points=load_entry_points)
        gateway = await Gateway.open(settings=settings, hooks=hooks, lookup_delays=lookup_delays)
        # Observers go in before the first native client exists (each transport copies the list).
        gateway.call_observers.append(metrics.observe_call)
        gateway.call_observers.append(ErrorBurst(gateway.alerts.raise_))
        return cls(gateway, metrics=metrics, **kwargs)

    # --- tokens, health --------------------------------------------------------------------------
    async def verify_token(self, token: str) -> Principal | None:
        return Principal.of(await self.gw.find_token(token))

    async def health(self) -> dict[str, Any]:
        database: dict[str, Any] = {"ok": False, "url": redact_url(self.gw.database_url)}
        try:
            await asyncio.wait_for(self.gw.check_database(), 5)
            database["ok"] = True
        except Exception as exc:
            database["error"] = type(exc).__name__
        redis: dict[str, Any] = {"configured": self.gw.redis is not None, "ok": None}
        if self.gw.redis is not None:
            try:
                redis["ok"] = bool(await asyncio.to_thread(self.gw.redis.ping))
            except Exception as exc:
                redis["ok"] = False
                redis["error"] = type(exc).__name__
        terminals: list[dict[str, Any]] = []
        with contextlib.suppress(Exception):
            terminals = [b.to_dict() for b in await self.heartbeats.table()]
        failed = [
            {"broker_id": r.broker_id, "exchange": r.exchange, "label": r.label, "reason": r.reason}
            for r in self.readiness
            if r.state == "FAILED"
        ]
        ok = database["ok"] and redis["ok"] is not False and not failed
        problems = [f"database: {database.get('error', 'unreachable')}"] if not database["ok"] else []
        if redis["ok"] is False:
            problems.append(f"redis: {redis.get('error', 'unreachable')}")
        problems += [f"broker {b['broker_id']} ({b['exchange']}/{b['label']}) FAILED: {b['reason']}" for b in failed]
        return {
            "status": "ok" if ok else "degraded",
            "problems": problems,
            "failed_brokers": failed,
            "accepting": self.api.accepting,
            "uptime_seconds": int(time.time() - self.started_at),
            "terminals": terminals,
            "database": database,
            "redis": redis,
            "brokers": [r.to_dict() for r in self.readiness],
            "exchanges": self.gw.registry.names(),
        }

    async def refresh_gauges(self) -> None:
        self.metrics.stored_orders.clear()
        for exchange, status, n in await self.gw.stored_order_counts():
            self.metrics.stored_orders.labels(exchange, status).set(n)

    # --- start-up ----------------------------------------------------------------------------------
    async def check_brokers(self, timeout: float | None = None) -> list[Readiness]:
        """Load each exchange type once and check every enabled broker's keys (authenticated read)."""
        timeout = timeout or max(self.settings.http_timeout * 2, 1.0)
        loaded: set[str] = set()
        out: list[Readiness] = []
        for broker in await self.gw.list_brokers():
            if not broker.enabled:
                continue
            first = broker.exchange not in loaded
            started = time.perf_counter()
            state, reason = ("OK" if first else "SHARED"), None
            with request_scope(f"startup-{broker.id}-{uuid.uuid4().hex[:8]}"):
                try:
                    if first:
                        spec = self.gw.client_for(broker.exchange).spec
                        market_type = (
                            MarketType.SPOT if MarketType.SPOT in spec.market_types else min(spec.market_types)
                        )
                        await asyncio.wait_for(self.gw.market_book(broker, market_type), timeout)
                        loaded.add(broker.exchange)
                    await asyncio.wait_for(self.gw.fetch_balances(broker_id=broker.id), timeout)
                except TimeoutError:
                    state, reason = "FAILED", f"no answer within {timeout:.0f}s"
                except Terminal5Error as exc:
                    state, reason = "FAILED", f"{exc.kind}: {exc.message}"
                except Exception as exc:  # one broker must never stop the others
                    state, reason = "FAILED", type(exc).__name__
            item = Readiness(
                broker_id=broker.id,
                exchange=broker.exchange,
                label=broker.label,
                state=state,
                seconds=round(time.perf_counter() - started, 3),
                reason=reason,
            )
            self.console(item.line())
            out.append(item)
        if not out:
            self.console("no enabled broker yet (terminal5 broker add …)")
        self.readiness = out
        return out

    async def start(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        check_brokers: bool = True,
        reconcile: bool = True,
        heartbeat: bool = True,
    ) -> None:
        host = host or self.settings.http_host
        port = self.settings.http_port if port is None else port
        names = ", ".join(self.gw.registry.names()) or "none (see `terminal5 exchanges`)"
        self.console(f"exchanges: {names}")
        if check_brokers:
            await self.check_brokers()
        if heartbeat:
            self._heartbeat_started = True
            self._spawn(
                publish_forever(self.heartbeats, self.heartbeat_name, self.heartbeat_interval, self.stop_event),
                "heartbeat",
            )
        if reconcile:
            self._spawn(self.reconciler.run_forever(self.stop_event), "reconcile")
        if self.streams is not None:
            self._spawn(self.streams.run(self.stop_event), "streams")
        self._runner = web.AppRunner(self.app, access_log=None, handler_cancellation=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1] if sockets else port
        self.console(f"HTTP API on http://{host}:{self.port}/v1 (health: /health, metrics: /metrics)")
        await self.local_door.open(host, self.port)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(f"terminal5-{name}")
        self._tasks.append(task)

    async def run_until_stopped(self, max_seconds: float | None = None) -> None:
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop, sig.name)
                installed.append(sig)
        try:
            if max_seconds is None:
                await self.stop_event.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), max_seconds)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def request_stop(self, why: str = "stop") -> None:
        if not self.stop_event.is_set():
            logger.info("{} received: stopping (finishing in-flight orders)", why)
        self.api.stop_accepting()
        self.stop_event.set()

    async def shutdown(self, drain_timeout: float = 30.0) -> None:
        self.request_stop()
        if self.streams is not None:
            await self.streams.stop()
        await self.api.drain(drain_timeout)
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), 5)
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        await self.local_door.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._heartbeat_started:
            try:
                await self.heartbeats.forget(self.heartbeat_name)
            except Exception as exc:  # Redis or the DB already away: the key expires by itself
                logger.warning("heartbeat {} not removed: {}: {}", self.heartbeat_name, type(exc).__name__, exc)
        await self.gw.flush()
        await self.gw.close()
        logger.info("terminal5 stopped")

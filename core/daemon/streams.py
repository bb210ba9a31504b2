"""The Redis Streams front door (on when ``TERMINAL5_REDIS_URL`` is set).

Requests are entries of the stream ``terminal5:requests``, read through the consumer group
``terminal5`` so several gateway processes share the work. Each entry's fields (all strings):

=============  ================================================================================
``request_id`` required; unique per request (also the log correlation id)
``op``         required; one of ``OPS`` (place_order, cancel_order, get_order, list_orders, …)
``token``      required; an API token, exactly as for HTTP (tenancy is the same)
``body``       JSON object, the operation's arguments (see below); money as decimal strings
``reply_to``   optional; the stream to answer on (default ``terminal5:replies:<request_id>``)
=============  ================================================================================

The reply is one entry on ``reply_to`` with fields ``request_id``, ``ok`` (``"1"``/``"0"``), ``status``
(the HTTP status the same answer would have) and ``body`` (JSON: the result, or the error object
``{"error", "message", "field"?, "code"?}``). Reply streams expire after ``reply_ttl`` seconds.

Delivery is at-least-once: an entry is acknowledged (XACK) only after its reply is written, and deleted
(XDEL) in the same atomic script, so a request's token does not stay in Redis once it is answered; the
script writes only while the entry is still pending on its consumer, so a request gets one reply
(``terminal5.daemon.stream_replies``). Entries left pending by a consumer that died are claimed by a live
one with XAUTOCLAIM after ``min_idle_ms``.
Redelivery is harmless: ``place_order`` is idempotent on ``client_order_id``, and when the body has
none it is derived from ``request_id`` (``S5_<sha256(request_id)[:24]>``), so a request reaches the
exchange once however often it is delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from loguru import logger

from terminal5 import jsonutil
from terminal5.daemon.api import Api, parse_bool
from terminal5.daemon.stream_replies import reply_script, write_reply
from terminal5.daemon.tokens import Principal
from terminal5.errors import AuthenticationError, InvalidOrderRequest, Terminal5Error
from terminal5.logs import request_scope

STREAM = "terminal5:requests"
GROUP = "terminal5"
REPLY_PREFIX = "terminal5:replies:"
OPS = (
    "place_order",
    "cancel_order",
    "get_order",
    "list_orders",
    "open_orders",
    "balances",
    "positions",
    "reconcile",
    "kill_broker",
    "enable_broker",
)


def stream_client_order_id(request_id: str) -> str:
    return "S5_" + hashlib.sha256(request_id.encode()).hexdigest()[:24]


def _decode(fields: Mapping[Any, Any]) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }


class StreamConsumer:
    def __init__(
        self,
        api: Api,
        verify_token: Callable[[str], Awaitable[Principal | None]],
        redis: Any,
        *,
        stream: str = STREAM,
        group: str = GROUP,
        consumer: str | None = None,
        reply_prefix: str = REPLY_PREFIX,
        min_idle_ms: int = 30_000,
        block_ms: int = 1000,
        batch: int = 10,
        reply_ttl: int = 300,
        claim_every: float = 5.0,
        reconciler: Any = None,
        metrics: Any = None,
        max_in_flight: int = 64,
        drain_seconds: float = 4.0,
    ) -> None:
        self.api = api
        self.verify_token = verify_token
        self.redis = redis  # a redis.asyncio.Redis
        self.stream = stream
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.reply_prefix = reply_prefix
        self.min_idle_ms = min_idle_ms
        self.block_ms = block_ms
        self.batch = batch
        self.reply_ttl = reply_ttl
        self.claim_every = claim_every
        self.reconciler = reconciler
        self.metrics = metrics
        #: entries handled at once, at most; a stop waits ``drain_seconds`` for them (within ``stop``'s 5 s)
        self.max_in_flight = max_in_flight
        self.drain_seconds = drain_seconds
        self._in_flight: set[asyncio.Future[None]] = set()
        self.processed = 0
        self.claimed = 0
        #: test hook, awaited after the operation ran and before the reply/ack (simulates a crash there)
        self.before_ack: Callable[[str, dict[str, str]], Awaitable[None]] | None = None
        self._reply_script = reply_script(redis)  # registered on the client (no round trip until used)
        self._stopping = asyncio.Event()
        self._finished = asyncio.Event()
        self._running = False

    @classmethod
    def from_settings(cls, api: Api, verify_token: Any, settings: Any, **kwargs: Any) -> StreamConsumer:
        import redis.asyncio as aredis

        client = aredis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=2)
        return cls(api, verify_token, client, **kwargs)

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except Exception as exc:  # BUSYGROUP: it exists already
            if "BUSYGROUP" not in str(exc):
                raise

    @staticmethod
    def group_lost(exc: BaseException) -> bool:
        """Redis was flushed or restarted: the stream and its consumer group are gone (``NOGROUP``), or a
        blocked read was cut because the stream key vanished (``UNBLOCKED``)."""
        text = str(exc)
        return text.startswith("NOGROUP") or (text.startswith("UNBLOCKED") and "no longer exists" in text)

    # --- one request ----------------------------------------------------------------------------------
    async def dispatch(self, principal: Principal, op: str, body: Any, request_id: str) -> Any:
        api = self.api
        if not isinstance(body, Mapping):
            raise InvalidOrderRequest([("body", "must be a JSON object")])
        data = dict(body)

        def broker_id() -> int:
            value = data.get("broker_id")
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InvalidOrderRequest([("broker_id", "is required (a positive integer)")])
            return value

        def key() -> tuple[str, str]:
            if isinstance(data.get("client_order_id"), str):
                return data["client_order_id"], "client_order_id"
            if isinstance(data.get("order_id"), str):
                return data["order_id"], "order_id"
            raise InvalidOrderRequest([("client_order_id", "give client_order_id or order_id")])

        if op == "place_order":
            data.setdefault("client_order_id", stream_client_order_id(request_id))
            return await api.place_order(principal, data, request_id=request_id)
        if op == "cancel_order":
            k, by = key()
            return await api.cancel_order(
                principal, broker_id(), k, by=by, symbol=data.get("symbol"), request_id=request_id
            )
        if op == "get_order":
            k, by = key()
            return await api.get_order(
                principal,
                broker_id(),
                k,
                by=by,
                symbol=data.get("symbol"),
                refresh=parse_bool(data.get("refresh"), "refresh"),
                request_id=request_id,
            )
        if op == "list_orders":
            return await api.list_orders(principal, data)
        if op == "open_orders":
            return await api.open_orders(principal, broker_id(), data.get("symbol"))
        if op == "balances":
            return await api.balances(principal, broker_id())
        if op == "positions":
            return await api.positions(principal, broker_id())
        if op == "reconcile":
            return await api.reconcile(principal, broker_id(), self.reconciler)
        if op == "kill_broker":
            return await api.kill_broker(principal, broker_id(), data.get("reason"))
        if op == "enable_broker":
            return await api.enable_broker(principal, broker_id())
        raise InvalidOrderRequest([("op", f"{op!r} is not one of: {', '.join(OPS)}")])

    async def handle(self, entry_id: str, raw_fields: Mapping[Any, Any]) -> None:
        fields = _decode(raw_fields)
        request_id = fields.get("request_id") or f"stream-{entry_id}"
        reply_to = fields.get("reply_to") or self.reply_prefix + request_id
        with request_scope(request_id):
            status, ok = 200, True
            try:
                principal = await self.verify_token(fields.get("token", ""))
                if principal is None:
                    raise AuthenticationError("missing, invalid or revoked API token")
                try:
                    body = jsonutil.loads(fields.get("body") or "{}")
                except ValueError as exc:
                    raise InvalidOrderRequest([("body", f"invalid JSON: {exc}")]) from None
                result = await self.dispatch(principal, fields.get("op", ""), body, request_id)
            except Terminal5Error as exc:
                status, ok = exc.http_status, False
                result = {k: (Decimal(str(v)) if isinstance(v, float) else v) for k, v in exc.to_dict().items()}
                result["request_id"] = request_id
            except Exception:
                logger.exception("stream request {} failed", entry_id)
                status, ok = 500, False
                result = {
                    "error": "InternalError",
                    "message": f"internal error, see logs (request_id {request_id})",
                    "request_id": request_id,
                }
            if self.before_ack is not None:
                await self.before_ack(entry_id, fields)
            reply = {"request_id": request_id, "ok": "1" if ok else "0", "status": str(status),
                     "body": jsonutil.dumps(result)}
            if not await write_reply(self._reply_script, self.stream, self.group, self.consumer, entry_id, reply_to,
                                     reply, ttl=self.reply_ttl):
                logger.info("stream {} {}: not answered here (answered already, or claimed by another consumer)",
                            fields.get("op"), entry_id)
                return
            self.processed += 1
            if self.metrics is not None:
                op = fields.get("op")
                # the label names a known op only: a caller's made-up names must not grow the metrics
                self.metrics.request("redis", op if op in OPS else "other", status)
            logger.info("stream {} {} -> {}", fields.get("op"), entry_id, status)

    # --- the loop --------------------------------------------------------------------------------------
    async def claim_stale(self) -> int:
        """Take over entries another consumer left pending longer than ``min_idle_ms``."""
        start, total = "0-0", 0
        for _ in range(100):  # bounded: 100 pages of ``batch``
            result = await self.redis.xautoclaim(
                self.stream, self.group, self.consumer, self.min_idle_ms, start_id=start, count=self.batch
            )
            next_start, entries = result[0], result[1]
            for entry_id, fields in entries:
                if fields is None:
                    continue
                entry = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                logger.warning("stream: claimed {} left pending by a dead consumer", entry)
                self.claimed += 1
                total += 1
                await self.handle(entry, fields)
            next_start = next_start.decode() if isinstance(next_start, bytes) else next_start
            if next_start in ("0-0", start) or not entries:
                break
            start = next_start
        return total

    async def read_once(self) -> int:
        """Read as many entries as there are free slots (at most ``batch``) and start handling them. Reading
        goes on while they run: a slow order never holds the ones read after it (or with it)."""
        while len(self._in_flight) >= self.max_in_flight:
            await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
        count = min(self.batch, self.max_in_flight - len(self._in_flight))
        result = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=count, block=self.block_ms
        )
        started = 0
        for _stream, entries in result or []:
            for entry_id, fields in entries:
                task = asyncio.ensure_future(
                    self._handle_logged(entry_id.decode() if isinstance(entry_id, bytes) else entry_id, fields)
                )
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
                started += 1
        return started

    async def _handle_logged(self, entry_id: str, fields: Mapping[Any, Any]) -> None:
        try:
            await self.handle(entry_id, fields)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the reply could not be written (Redis away): the entry stays pending
            logger.error("stream entry {} not answered ({}: {}); it is claimed again later", entry_id,
                         type(exc).__name__, exc)

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) for the entries being handled; any left stay pending, claimed later."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=timeout)

    async def run(self, stop: asyncio.Event, *, max_seconds: float | None = None) -> None:
        self._running = True
        self._finished.clear()
        try:
            await self._run(stop, max_seconds)
            await self.drain(self.drain_seconds)
        except asyncio.CancelledError:
            # cancelled, as a dying process would be: what it started goes too (unanswered entries stay
            # pending and are claimed again), nothing answers later behind a live consumer's back
            for task in list(self._in_flight):
                task.cancel()
            raise
        finally:
            self._running = False
            self._finished.set()

    async def _run(self, stop: asyncio.Event, max_seconds: float | None) -> None:
        logger.info("Redis Streams front door: {} group {} as {}", self.stream, self.group, self.consumer)
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        last_claim = 0.0
        need_group = True  # at start, and again whenever Redis lost it (flush, restart)
        lost_again = 0  # group lost again before any successful read: pause instead of spinning
        while not stop.is_set() and not self._stopping.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                if need_group:
                    await self.ensure_group()
                    need_group = False
                if time.monotonic() - last_claim >= self.claim_every:
                    last_claim = time.monotonic()
                    await self.claim_stale()
                await self.read_once()
                lost_again = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if stop.is_set() or self._stopping.is_set():
                    break  # a clean shutdown closed the connection under a blocked read: not an error
                if self.group_lost(exc):
                    logger.warning("stream: consumer group {} gone ({}): recreating it", self.group, exc)
                    need_group = True
                    lost_again += 1
                    if lost_again == 1:
                        continue
                else:
                    logger.error("stream loop: {}: {}", type(exc).__name__, exc)  # Redis away: keep trying
                    need_group = True  # a restarted Redis comes back empty
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1)

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop reading, let a blocked read end by itself (at most ``block_ms``), then close the client."""
        self._stopping.set()
        if self._running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._finished.wait(), timeout)
        with contextlib.suppress(Exception):
            await self.redis.aclose()


async def request(
    redis: Any,
    op: str,
    body: Any,
    *,
    token: str,
    stream: str = STREAM,
    request_id: str | None = None,
    reply_to: str | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Client side: send one request and wait for its reply (for tools and tests)."""
    request_id = request_id or uuid.uuid4().hex
    reply_to = reply_to or REPLY_PREFIX + request_id
    await redis.xadd(
        stream, {"request_id": request_id, "op": op, "token": token, "body": jsonutil.dumps(body), "reply_to": reply_to}
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await redis.xread({reply_to: "0-0"}, count=1, block=200)
        for _s, entries in result or []:
            for _id, fields in entries:
                reply = _decode(fields)
                return {
                    "ok": reply["ok"] == "1",
                    "status": int(reply["status"]),
                    "body": jsonutil.loads(reply["body"]),
                    "request_id": reply["request_id"],
                }
    raise TimeoutError(f"no reply on {reply_to} within {timeout}s")

"""Rate-limit budgets shared by every gateway process through Redis (in-process without Redis).

A budget is a sliding window: at most ``limit`` units per ``window`` seconds under one ``key``. Keys name
what the exchange limits, e.g. ``binance:ip:203.0.113.7:weight`` (per exchange and IP) or
``kraken:account:<key fingerprint>`` (per account): two processes behind one IP then share one budget and
cannot together get the IP banned.

The core applies the limits a plugin declares in ``ExchangeSpec.rate_limits`` (``RateLimitRule``) to every
native call, in the transport, before sending. A plugin may also build budgets of its own::

    from terminal5.ratebudget import budget_store

    store = budget_store(os.environ.get("TERMINAL5_REDIS_URL"))        # shared when Redis is configured
    weight = store.budget(f"binance:ip:{ip}:weight", limit=6000, window=60)
    await weight.acquire(cost=call.cost)                                 # waits, never exceeds the budget

With Redis the check-and-take is one Lua script (atomic across processes); the key expires after one
window of inactivity.

**Priority.** Work done inside ``urgent(reason)`` (the kill switch's cancels) goes ahead of ordinary work
waiting for the same budget in this process: while an urgent caller waits for a key, ordinary callers of that
key hold back (``PriorityGate``). Plugins with limiters of their own use the same gate and ``urgency()``.
Every wait for a budget is logged with its key, its length and its reason.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from loguru import logger

_urgent: ContextVar[str | None] = ContextVar("terminal5_urgent", default=None)
P = ParamSpec("P")
T = TypeVar("T")
#: after Redis failed twice in a row, budgets are counted in this process for this long before trying it again
REDIS_RETRY_AFTER = 5.0


def urgency() -> str | None:
    """The reason of the surrounding ``urgent`` scope, or None for ordinary work."""
    return _urgent.get()


@contextmanager
def urgent(reason: str) -> Iterator[None]:
    """Calls made inside go ahead of ordinary work waiting for the same rate budget (e.g. the kill switch)."""
    token = _urgent.set(reason)
    try:
        yield
    finally:
        _urgent.reset(token)


def urgent_call(reason: str) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Decorator form of ``urgent`` for a coroutine function."""

    def wrap(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            with urgent(reason):
                return await fn(*args, **kwargs)

        return run

    return wrap


class PriorityGate:
    """Per budget key: while an urgent caller waits for it, ordinary callers hold back (in this process)."""

    def __init__(self) -> None:
        self._waiting: dict[Hashable, int] = {}
        self._clear: dict[Hashable, asyncio.Event] = {}

    def busy(self, key: Hashable) -> bool:
        return self._waiting.get(key, 0) > 0

    @contextmanager
    def entered(self, key: Hashable, urgent_reason: str | None) -> Iterator[None]:
        """Around one acquire: an urgent caller is counted as waiting for ``key`` until it has its units."""
        if urgent_reason is None:
            yield
            return
        self._waiting[key] = self._waiting.get(key, 0) + 1
        self._clear.setdefault(key, asyncio.Event()).clear()
        try:
            yield
        finally:
            self._waiting[key] -= 1
            if self._waiting[key] == 0:
                del self._waiting[key]
                self._clear.pop(key).set()

    async def hold_back(self, key: Hashable, timeout: float) -> None:
        """Wait (at most ``timeout`` s, then TimeoutError) until no urgent caller waits for ``key``."""
        event = self._clear.get(key)
        if event is not None and self.busy(key):
            await asyncio.wait_for(event.wait(), max(timeout, 0.0))


def log_wait(key: str, seconds: float, cost: Any, reason: str | None, urgent_reason: str | None) -> None:
    """One line per wait for a budget: which budget, how long, for what, and whether it jumps the queue."""
    why = reason or "a call"
    if urgent_reason:
        why += f" (priority: {urgent_reason})"
    logger.info("rate budget {} full: {} waits {:.3f}s for {} unit(s)", key, why, seconds, cost)

SCRIPT = """
local key, now, window, limit, cost, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local used = redis.call('ZCARD', key)
if used + cost <= limit then
  for i = 1, cost do redis.call('ZADD', key, now, member .. ':' .. i) end
  redis.call('PEXPIRE', key, window)
  return {1, limit - used - cost}
end
local oldest = redis.call('ZRANGE', key, used + cost - limit - 1, used + cost - limit - 1, 'WITHSCORES')
local wait = window
if oldest[2] then wait = tonumber(oldest[2]) + window - now end
return {0, wait}
"""


DECAY_SCRIPT = """
local key, now, capacity, decay, cost = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', key, 'level', 'at')
local level, at = tonumber(state[1]) or 0, tonumber(state[2]) or now
level = math.max(0, level - (now - at) * decay / 1000)
if level + cost <= capacity then
  redis.call('HSET', key, 'level', tostring(level + cost), 'at', now)
  redis.call('PEXPIRE', key, math.ceil((level + cost) / decay * 1000) + 1000)
  return {1, tostring(capacity - level - cost)}
end
return {0, tostring((level + cost - capacity) / decay)}
"""


class BudgetExceeded(RuntimeError):
    """``cost`` is larger than the whole budget: waiting can never help."""


class RateBudget:
    """A sliding window (``window`` seconds) or, with ``decay``, a counter draining ``decay`` per second."""

    def __init__(self, store: BudgetStore, key: str, limit: int, window: float, decay: float | None = None) -> None:
        if limit <= 0 or (decay is None and window <= 0) or (decay is not None and decay <= 0):
            raise ValueError("a budget needs a positive limit and a positive window or decay")
        self.store = store
        self.key = key
        self.limit = limit
        self.window = window
        self.decay = decay
        self.headroom = limit

    async def try_acquire(self, cost: int = 1) -> float:
        """Take ``cost`` units now and return 0, or take nothing and return the seconds to wait."""
        if cost > self.limit:
            raise BudgetExceeded(f"{self.key}: cost {cost} exceeds the whole budget {self.limit}")
        if self.decay is not None:
            allowed, value = await self.store.take_decay(self.key, self.limit, self.decay, cost)
        else:
            allowed, value = await self.store.take(self.key, self.limit, self.window, cost)
        if allowed:
            self.headroom = int(value)
            return 0.0
        return max(float(value), 0.001)  # seconds to wait (not money): float is right

    async def acquire(self, cost: int = 1, *, max_wait: float = 60.0, reason: str | None = None) -> None:
        """Wait until ``cost`` units are available (at most ``max_wait`` seconds, then TimeoutError).

        Inside ``urgent(...)`` the caller goes ahead of ordinary callers of this budget; every wait is
        logged with ``reason`` (e.g. the endpoint)."""
        deadline = time.monotonic() + max_wait
        urgent_reason = urgency()
        gate = self.store.gate
        with gate.entered(self.key, urgent_reason):
            while True:
                if urgent_reason is None and gate.busy(self.key):
                    logger.info("rate budget {}: {} holds back for urgent work", self.key, reason or "a call")
                    try:
                        await gate.hold_back(self.key, deadline - time.monotonic())
                    except TimeoutError:
                        raise TimeoutError(f"{self.key}: held back by urgent work longer than {max_wait}s") from None
                    continue
                wait = await self.try_acquire(cost)
                if wait == 0:
                    return
                if time.monotonic() + wait > deadline:
                    raise TimeoutError(f"{self.key}: budget exhausted for longer than {max_wait}s")
                log_wait(self.key, wait, cost, reason, urgent_reason)
                await asyncio.sleep(wait)


class BudgetStore:
    """In-process windows (one process)."""

    def __init__(self) -> None:
        self._windows: dict[str, deque[float]] = {}
        self._levels: dict[str, tuple[float, float]] = {}  # key -> (level, monotonic time)
        self._lock = asyncio.Lock()
        self.gate = PriorityGate()  # urgent work first, in this process

    def budget(self, key: str, *, limit: int, window: float = 0.0, decay: float | None = None) -> RateBudget:
        return RateBudget(self, key, limit, window, decay)

    async def take_decay(self, key: str, capacity: int, decay: float, cost: int) -> tuple[bool, float]:
        async with self._lock:
            now = time.monotonic()
            level, at = self._levels.get(key, (0.0, now))
            level = max(0.0, level - (now - at) * decay)
            if level + cost <= capacity:
                self._levels[key] = (level + cost, now)
                return True, capacity - level - cost
            self._levels[key] = (level, now)
            return False, (level + cost - capacity) / decay

    async def take(self, key: str, limit: int, window: float, cost: int) -> tuple[bool, float]:
        async with self._lock:
            now = time.monotonic()
            times = self._windows.setdefault(key, deque())
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) + cost <= limit:
                times.extend([now] * cost)
                return True, limit - len(times)
            index = len(times) + cost - limit - 1
            return False, times[index] + window - now


class RedisBudgetStore(BudgetStore):
    """Windows in Redis (``redis.asyncio`` client), shared by every process using the same keys."""

    def __init__(self, redis: Any, prefix: str = "terminal5:ratebudget:") -> None:
        # imported here, not at the top: a process without Redis never loads the client (~5 MB RSS)
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        super().__init__()
        #: what counts as "Redis unreachable" (this process's own windows are used meanwhile)
        self._unreachable: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(SCRIPT)
        self._decay_script = redis.register_script(DECAY_SCRIPT)
        self._down_until = 0.0

    async def take(self, key: str, limit: int, window: float, cost: int) -> tuple[bool, float]:
        async def shared() -> tuple[bool, float]:
            now_ms = int(time.time() * 1000)
            allowed, value = await self._script(
                keys=[self.prefix + key], args=[now_ms, int(window * 1000), limit, cost, uuid.uuid4().hex]
            )
            return bool(int(allowed)), (int(value) if int(allowed) else int(value) / 1000)

        return await self._shared_or_local(shared, lambda: super(RedisBudgetStore, self).take(key, limit, window, cost))

    async def take_decay(self, key: str, capacity: int, decay: float, cost: int) -> tuple[bool, float]:
        async def shared() -> tuple[bool, float]:
            allowed, value = await self._decay_script(
                keys=[self.prefix + key], args=[int(time.time() * 1000), capacity, repr(decay), cost]
            )
            return bool(int(allowed)), float(value)  # units left, or seconds to wait (not money)

        return await self._shared_or_local(
            shared, lambda: super(RedisBudgetStore, self).take_decay(key, capacity, decay, cost))

    async def _shared_or_local(self, shared: Callable[[], Awaitable[tuple[bool, float]]],
                               local: Callable[[], Awaitable[tuple[bool, float]]]) -> tuple[bool, float]:
        """Redis's windows; while Redis is unreachable, this process's own (a budget never fails a call).

        A restarted Redis leaves dead connections in the pool: one more try takes a fresh one."""
        if time.monotonic() >= self._down_until:
            for attempt in (1, 2):
                try:
                    return await shared()
                except self._unreachable as exc:
                    if attempt == 2:
                        self._down_until = time.monotonic() + REDIS_RETRY_AFTER
                        logger.warning("rate budgets: redis unavailable ({}); this process's own windows for {:.0f} s",
                                       type(exc).__name__, REDIS_RETRY_AFTER)
        return await local()


def budget_store(redis_url: str | None) -> BudgetStore:
    if not redis_url:
        return BudgetStore()
    import redis.asyncio as aredis

    return RedisBudgetStore(aredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2))

"""Client-side model of Binance's limits (reference §8), so the gateway slows down *before* Binance answers
429 and, if ignored, bans the IP with 418.

* ``REQUEST_WEIGHT`` is per IP: one ``Limiter`` per API host, shared by every broker (one client serves
  all accounts of this exchange type from this machine).
* ``ORDERS`` is per account: one ``Limiter`` per (credentials fingerprint, product).

Limits come from ``exchangeInfo.rateLimits`` (defaults until then). Binance counts in fixed windows, and
its ``X-MBX-USED-WEIGHT-1M`` / ``X-MBX-ORDER-COUNT-10S`` headers give the server's own count, which
replaces the local estimate after every response (other processes on the same IP are then accounted for).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import attrs
from loguru import logger

from terminal5.errors import RateLimitExceeded
from terminal5.ratebudget import PriorityGate, log_wait, urgency
from terminal5_binance.constants import EXCHANGE, INTERVAL_LETTERS, INTERVAL_MS

log = logger.bind(exchange=EXCHANGE)
_HEADER_SUFFIX = re.compile(r"^(\d+)([SMHD])$", re.IGNORECASE)


@attrs.define
class Window:
    """One fixed window: ``limit`` units per ``interval_ms``, aligned on multiples of the interval."""

    interval_ms: int
    limit: int
    used: int = 0
    start_ms: int = 0

    def roll(self, now_ms: int) -> None:
        start = now_ms - now_ms % self.interval_ms
        if start != self.start_ms:
            self.start_ms, self.used = start, 0

    def end_ms(self) -> int:
        return self.start_ms + self.interval_ms


class Limiter:
    """Waits before a request that would cross ``headroom`` times a limit; refuses when the wait is too long."""

    def __init__(
        self,
        name: str,
        clock_ms: Callable[[], int],
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        headroom: float = 0.9,
        max_wait_s: float = 15.0,
    ) -> None:
        self.name = name
        self._clock_ms = clock_ms
        self._sleep = sleep
        self.headroom = headroom
        self.max_wait_s = max_wait_s
        self.windows: list[Window] = []
        self.blocked_until_ms = 0
        self.gate = PriorityGate()  # the kill switch's cancels go ahead of queued requests

    def configure(self, limits: Iterable[Mapping[str, Any]], kind: str) -> None:
        """Read ``exchangeInfo.rateLimits`` entries of ``rateLimitType == kind``; keeps current counts."""
        old = {w.interval_ms: w for w in self.windows}
        windows = []
        for item in limits:
            if item.get("rateLimitType") != kind or item.get("interval") not in INTERVAL_MS:
                continue
            interval = INTERVAL_MS[item["interval"]] * int(item.get("intervalNum", 1))
            window = old.get(interval) or Window(interval_ms=interval, limit=int(item["limit"]))
            window.limit = int(item["limit"])
            windows.append(window)
        self.windows = windows

    def _budget(self, window: Window) -> int:
        return max(1, int(window.limit * self.headroom))

    def wait_ms(self, cost: int) -> int:
        """How long to wait before ``cost`` units fit (0 = now)."""
        now = self._clock_ms()
        wait = max(0, self.blocked_until_ms - now)
        for window in self.windows:
            window.roll(now)
            if cost and window.used + cost > self._budget(window):
                wait = max(wait, window.end_ms() - now)
        return wait

    async def acquire(self, cost: int, reason: str | None = None) -> None:
        urgent_reason = urgency()
        with self.gate.entered(self, urgent_reason):
            while True:
                if urgent_reason is None and self.gate.busy(self):
                    log.info("{}: {} holds back for urgent work", self.name, reason or "a request")
                    try:
                        await self.gate.hold_back(self, self.max_wait_s)
                    except TimeoutError:
                        raise RateLimitExceeded(
                            f"{self.name}: held back by urgent work", exchange=EXCHANGE, retry_after=self.max_wait_s
                        ) from None
                    continue
                wait = self.wait_ms(cost)
                if wait <= 0:
                    break
                if wait > self.max_wait_s * 1000:
                    raise RateLimitExceeded(
                        f"{self.name}: client-side limit reached, retry in {wait / 1000:.1f}s",
                        exchange=EXCHANGE,
                        retry_after=wait / 1000,
                    )
                log_wait(f"binance {self.name}", wait / 1000, cost, reason, urgent_reason)
                await self._sleep(wait / 1000)
            for window in self.windows:
                window.used += cost

    def observe(self, headers: Mapping[str, str], prefix: str) -> None:
        """Take the server's counts from ``<prefix><n><S|M|H|D>`` headers (e.g. ``x-mbx-used-weight-1m``)."""
        now = self._clock_ms()
        for name, value in headers.items():
            lowered = name.lower()
            if not lowered.startswith(prefix):
                continue
            match = _HEADER_SUFFIX.match(lowered[len(prefix) :])
            if match is None:
                continue
            interval = int(match[1]) * INTERVAL_MS[INTERVAL_LETTERS[match[2].upper()]]
            try:
                used = int(value)
            except ValueError:
                continue
            for window in self.windows:
                if window.interval_ms == interval:
                    window.roll(now)
                    window.used = used

    def block(self, seconds: float) -> None:
        """After a 418/429 with ``Retry-After``: nothing goes out before then."""
        self.blocked_until_ms = max(self.blocked_until_ms, self._clock_ms() + int(seconds * 1000))


class RateLimits:
    """The limiters of one client: weight per host (IP), order count per account and product."""

    def __init__(
        self,
        clock_ms: Callable[[], int],
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        defaults: Mapping[str, list[Mapping[str, Any]]] | None = None,
    ) -> None:
        self._clock_ms = clock_ms
        self._sleep = sleep
        self._defaults = dict(defaults or {})
        self._published: dict[str, list[Mapping[str, Any]]] = {}
        self._weight: dict[str, Limiter] = {}
        self._orders: dict[tuple[str, str], Limiter] = {}

    def publish(self, product: str, limits: list[Mapping[str, Any]]) -> None:
        """``exchangeInfo.rateLimits`` for ``product`` ("spot"/"futures"): reconfigure every limiter."""
        self._published[product] = list(limits)
        for host, limiter in self._weight.items():
            if host.startswith(product + "|"):
                limiter.configure(limits, "REQUEST_WEIGHT")
        for (_, prod), limiter in self._orders.items():
            if prod == product:
                limiter.configure(limits, "ORDERS")

    def _limits(self, product: str) -> list[Mapping[str, Any]]:
        return self._published.get(product) or list(self._defaults.get(product, ()))

    def weight(self, product: str, host: str) -> Limiter:
        key = f"{product}|{host}"
        if key not in self._weight:
            limiter = Limiter(f"weight {host}", self._clock_ms, sleep=self._sleep)
            limiter.configure(self._limits(product), "REQUEST_WEIGHT")
            self._weight[key] = limiter
        return self._weight[key]

    def orders(self, product: str, fingerprint: str) -> Limiter:
        key = (fingerprint, product)
        if key not in self._orders:
            limiter = Limiter(f"orders key#{fingerprint}", self._clock_ms, sleep=self._sleep)
            limiter.configure(self._limits(product), "ORDERS")
            self._orders[key] = limiter
        return self._orders[key]

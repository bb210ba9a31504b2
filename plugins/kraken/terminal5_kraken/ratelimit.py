"""Kraken's two rate limits, modelled client-side (reference §8): Kraken returns no usage headers.

* REST call counter per API key: +1 per call (+4 for trade history), decays per second by tier; over the
  maximum Kraken answers ``EAPI:Rate limit exceeded``. AddOrder/CancelOrder/AmendOrder do not count here.
* Trading-engine counter per (API key, pair): +1 per AddOrder, cancels and amends cost more when the order
  is young; over the threshold Kraken answers ``EOrder:Rate limit exceeded``.

A call that would overflow waits for the decay (bounded by ``max_wait``); if it would have to wait
longer, it fails fast with ``RateLimitExceeded(retry_after=...)`` and nothing is sent. Counters are keyed by
``Credentials.fingerprint``, never by the key. The model is per process: several gateway processes sharing
one key each count only their own calls (Kraken's answer is still mapped, with ``retry_after``).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs
from loguru import logger

from terminal5.contract import CallContext
from terminal5.errors import RateLimitExceeded
from terminal5.ratebudget import PriorityGate, log_wait, urgency
from terminal5_kraken.constants import (
    AMEND_PENALTY,
    CANCEL_PENALTY,
    DEFAULT_TIER,
    EXCHANGE,
    REST_COST,
    REST_COUNTER,
    REST_EXEMPT,
    TRADING_COUNTER,
)

log = logger.bind(exchange=EXCHANGE)

_NS = Decimal(1_000_000_000)
_ZERO = Decimal(0)


def tier_of(options: Mapping[str, Any] | None) -> str:
    tier = str((options or {}).get("tier") or DEFAULT_TIER)
    return tier if tier in REST_COUNTER else DEFAULT_TIER


def penalty(age_s: Decimal | None, table: tuple[tuple[int, int], ...]) -> int:
    """Extra trading-counter cost of touching an order of this age (unknown age: no extra cost)."""
    if age_s is None:
        return 0
    for below, extra in table:
        if age_s < below:
            return extra
    return 0


@attrs.define
class DecayingCounter:
    """A counter that loses ``decay`` points per second and may not exceed ``maximum``."""

    maximum: Decimal
    decay: Decimal
    value: Decimal = _ZERO
    stamp_ns: int = 0

    def level(self, now_ns: int) -> Decimal:
        elapsed = Decimal(max(0, now_ns - self.stamp_ns)) / _NS
        return max(_ZERO, self.value - elapsed * self.decay)

    def wait_for(self, cost: Decimal, now_ns: int) -> Decimal:
        """Seconds until ``cost`` fits (0 when it fits now)."""
        over = self.level(now_ns) + cost - self.maximum
        return _ZERO if over <= 0 else over / self.decay

    def add(self, cost: Decimal, now_ns: int) -> None:
        self.value = self.level(now_ns) + cost
        self.stamp_ns = now_ns


class RateLimiter:
    """Both counters for every key this process uses. Clock and sleep are injectable for tests."""

    def __init__(
        self,
        *,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        max_wait: Decimal = Decimal(10),
        remember_orders: int = 10_000,
    ) -> None:
        self._clock_ns = clock_ns
        self._sleep = sleep
        self.max_wait = max_wait
        self._rest: dict[str, DecayingCounter] = {}
        self._trading: dict[tuple[str, str], DecayingCounter] = {}
        self.gate = PriorityGate()  # the kill switch's cancels go ahead of queued orders
        self._placed: OrderedDict[str, int] = OrderedDict()  # txid -> monotonic ns, for cancel/amend costs
        self._remember = remember_orders

    # --- counters ---
    def rest_counter(self, ctx: CallContext) -> DecayingCounter:
        key = ctx.credentials.fingerprint if ctx.credentials else "public"
        maximum, decay = REST_COUNTER[tier_of(ctx.options)]
        counter = self._rest.get(key)
        if counter is None or (counter.maximum, counter.decay) != (maximum, decay):
            counter = self._rest[key] = DecayingCounter(maximum, decay, stamp_ns=self._clock_ns())
        return counter

    def trading_counter(self, ctx: CallContext, pair: str) -> DecayingCounter:
        fingerprint = ctx.credentials.fingerprint if ctx.credentials else "public"
        maximum, decay = TRADING_COUNTER[tier_of(ctx.options)]
        counter = self._trading.get((fingerprint, pair))
        if counter is None or (counter.maximum, counter.decay) != (maximum, decay):
            counter = self._trading[(fingerprint, pair)] = DecayingCounter(maximum, decay, stamp_ns=self._clock_ns())
        return counter

    async def _acquire(self, counter: DecayingCounter, cost: Decimal, what: str) -> None:
        urgent_reason = urgency()
        key = id(counter)  # one counter per key and pair, kept for the limiter's life
        with self.gate.entered(key, urgent_reason):
            while True:
                if urgent_reason is None and self.gate.busy(key):
                    log.info("Kraken counter: {} holds back for urgent work", what)
                    try:
                        await self.gate.hold_back(key, float(self.max_wait))
                    except TimeoutError:
                        raise RateLimitExceeded(
                            f"{what} held back by urgent work; nothing was sent",
                            exchange=EXCHANGE, code="client-side", retry_after=float(self.max_wait),
                        ) from None
                    continue
                now = self._clock_ns()
                wait = counter.wait_for(cost, now)
                if wait == 0:
                    counter.add(cost, now)  # no await between the check and the add: atomic under asyncio
                    return
                if wait > self.max_wait:
                    raise RateLimitExceeded(
                        f"{what} would exceed Kraken's limit; nothing was sent",
                        exchange=EXCHANGE, code="client-side", retry_after=float(wait),
                    )
                log_wait("kraken counter", float(wait), cost, what, urgent_reason)
                await self._sleep(float(wait))

    # --- what the client calls ---
    async def before_rest(self, ctx: CallContext, path: str) -> None:
        """Before any private non-trading call (public endpoints are limited per IP, not modelled)."""
        if path in REST_EXEMPT or ctx.credentials is None:
            return
        await self._acquire(self.rest_counter(ctx), Decimal(REST_COST.get(path, 1)), f"REST call {path}")

    async def before_add(self, ctx: CallContext, pair: str) -> None:
        await self._acquire(self.trading_counter(ctx, pair), Decimal(1), f"AddOrder on {pair}")

    async def before_cancel(self, ctx: CallContext, pair: str, txid: str | None) -> None:
        cost = 1 + penalty(self.age_s(txid), CANCEL_PENALTY)
        await self._acquire(self.trading_counter(ctx, pair), Decimal(cost), f"CancelOrder on {pair}")

    async def before_amend(self, ctx: CallContext, pair: str, txid: str | None) -> None:
        cost = 1 + penalty(self.age_s(txid), AMEND_PENALTY)
        await self._acquire(self.trading_counter(ctx, pair), Decimal(cost), f"AmendOrder on {pair}")

    # --- order ages ---
    def placed(self, txid: str) -> None:
        self._placed[txid] = self._clock_ns()
        while len(self._placed) > self._remember:
            self._placed.popitem(last=False)

    def age_s(self, txid: str | None) -> Decimal | None:
        if txid is None or txid not in self._placed:
            return None
        return Decimal(self._clock_ns() - self._placed[txid]) / _NS

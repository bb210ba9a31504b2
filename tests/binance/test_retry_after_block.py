"""A 429/418 ``Retry-After`` holds every request of the host, including one that had already passed the
weight limiter and was waiting for the account's order-count limiter (found by the chaos suite: placements
released from an order-count wait went out inside the Retry-After window)."""

from __future__ import annotations

from typing import Any

from terminal5.contract import CallContext, Credentials, HttpResponse
from terminal5_binance.client import BinanceClient

WINDOW_MS = 10_000  # the spot ORDERS window (10 s)


class StubTransport:
    """Records when each request leaves; answers an empty object."""

    def __init__(self, clock: list[int]) -> None:
        self.clock = clock
        self.sent_at: list[int] = []

    def now_ms(self) -> int:
        return self.clock[0]

    async def send(self, ctx: CallContext, request: Any) -> HttpResponse:
        self.sent_at.append(self.clock[0])
        return HttpResponse(status=200, headers={}, text="{}", latency_ms=0.0, data={})


async def test_a_request_waiting_for_the_order_count_obeys_a_retry_after_set_meanwhile() -> None:
    clock = [WINDOW_MS * 100_000 + WINDOW_MS - 1_000]  # one second before the order-count window rolls
    blocked: list[int] = []

    async def sleep(seconds: float) -> None:
        if not blocked:  # while this request waits, another one meets a 429 with Retry-After: 4
            client.limits.weight("spot", "api.binance.com").block(4)
            blocked.append(clock[0] + 4_000)
        clock[0] += max(1, int(seconds * 1000))

    transport = StubTransport(clock)
    client = BinanceClient(transport, use_disk_cache=False, sleep=sleep)  # type: ignore[arg-type]
    ctx = CallContext(exchange="binance", base_url="https://api.binance.com",
                      credentials=Credentials(api_key="k" * 64, api_secret="s" * 64), broker_id=1)
    orders = client.limits.orders("spot", ctx.credentials.fingerprint)  # type: ignore[union-attr]
    for window in orders.windows:  # this account's order count is used up for the current 10 s
        if window.interval_ms == WINDOW_MS:
            window.roll(clock[0])
            window.used = window.limit
    await client._send(ctx, "POST", "/api/v3/order", {"symbol": "BTCUSDT"}, signed=True, endpoint="order.place",
                       order=True)
    assert blocked and transport.sent_at, (blocked, transport.sent_at)
    assert transport.sent_at[0] >= blocked[0], f"sent {(blocked[0] - transport.sent_at[0]) / 1000}s inside Retry-After"


class ClockServer(StubTransport):
    """Answers ``/time`` with the shared clock (server and client agree) after ``latency`` ms."""

    def __init__(self, clock: list[int], latency: int = 20) -> None:
        super().__init__(clock)
        self.latency = latency

    async def send(self, ctx: CallContext, request: Any) -> HttpResponse:
        self.sent_at.append(self.clock[0])
        self.clock[0] += self.latency // 2
        server = self.clock[0]
        self.clock[0] += self.latency // 2
        return HttpResponse(status=200, headers={}, text="", latency_ms=float(self.latency),
                            data={"serverTime": server})


async def test_a_clock_resync_that_waits_out_a_retry_after_keeps_the_true_offset() -> None:
    """The -1021 resync's round trip is the HTTP call's, not the wait for the rate limiter before it:
    otherwise half of a Retry-After lands in the offset and every later signature is ahead of the server."""
    clock = [1_700_000_000_000]

    async def sleep(seconds: float) -> None:
        clock[0] += max(1, int(seconds * 1000))

    client = BinanceClient(ClockServer(clock), use_disk_cache=False, sleep=sleep)  # type: ignore[arg-type]
    ctx = CallContext(exchange="binance", base_url="https://api.binance.com",
                      credentials=Credentials(api_key="k" * 64, api_secret="s" * 64), broker_id=1)
    client.limits.weight("spot", "api.binance.com").block(4)  # a 429 with Retry-After: 4 just came back
    await client.sync_time(ctx)
    assert abs(client.offsets["https://api.binance.com"]) <= 20, client.offsets

"""Prometheus metrics at /metrics on a per-daemon registry."""

from __future__ import annotations

from prometheus_client import REGISTRY

from terminal5.contract import CallContext
from terminal5.daemon.metrics import ErrorBurst, Metrics
from terminal5.testing.loopback_server import Fault
from terminal5.transport import CallRecord

from .conftest import World, order_body


async def test_metrics_after_orders_and_errors(world: World) -> None:
    b = world.brokers["one"]
    h = world.auth("user1")
    assert (await world.client.post("/v1/orders", json=order_body(b, "m1"), headers=h)).status == 200
    assert (await world.client.delete(f"/v1/brokers/{b}/orders/m1", headers=h)).status == 200
    world.exchange.inject(Fault(kind="status", value="HALTED_BY_RISK"))
    assert (await world.client.post("/v1/orders", json=order_body(b, "m2"), headers=h)).status == 200
    world.exchange.inject(Fault(kind="error_before_accept", path="/api/balances", method="GET", status=503))
    assert (await world.client.get(f"/v1/brokers/{b}/balances", headers=h)).status == 503
    resp = await world.client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert 'terminal5_orders_total{exchange="loopback",operation="place",status="open"} 1.0' in text
    assert 'terminal5_orders_total{exchange="loopback",operation="cancel",status="cancelled"} 1.0' in text
    assert 'terminal5_stored_orders{exchange="loopback",status="cancelled"} 1.0' in text
    assert 'terminal5_unknown_statuses_total{exchange="loopback"} 1.0' in text
    assert 'terminal5_native_call_seconds_bucket{endpoint="order.place",exchange="loopback",le="0.5"}' in text
    assert 'terminal5_errors_total{exchange="loopback",origin="exchange",type="ExchangeNotAvailable"} 1.0' in text
    assert 'terminal5_errors_total{exchange="loopback",origin="http",type="ExchangeNotAvailable"} 1.0' in text
    assert 'terminal5_alerts_total{kind="unknown_status"} 1.0' in text
    assert 'terminal5_api_requests_total{door="http",route="place_order",status="200"} 2.0' in text
    assert "terminal5_orders_total" not in REGISTRY.get_sample_value.__doc__ or True
    assert REGISTRY.get_sample_value("terminal5_orders_total", {"exchange": "loopback", "operation": "place",
                                                                 "status": "open"}) is None  # not global


def record(**kw) -> CallRecord:  # type: ignore[no-untyped-def]
    base = {"exchange": "x", "endpoint": "order.place", "method": "POST", "url": "http://x", "request_headers": {},
            "request_body": None, "status": 200, "response_body": "", "rate_headers": {}, "latency_ms": 12.5}
    base.update(kw)
    return CallRecord(**base)


def test_rate_headers_and_two_registries() -> None:
    one, two = Metrics(), Metrics()
    ctx = CallContext(exchange="x", base_url="http://x")
    one.observe_call(ctx, record(rate_headers={"X-MBX-USED-WEIGHT-1M": "120", "Retry-After": "soon"}))
    text = one.render().decode()
    assert 'terminal5_rate_limit_header{exchange="x",header="x-mbx-used-weight-1m"} 120.0' in text
    assert "retry-after" not in text
    assert "terminal5_rate_limit_header{" not in two.render().decode()


def test_error_burst_alerts_once_per_threshold() -> None:
    alerts = []
    clock = [0.0]
    burst = ErrorBurst(alerts.append, threshold=3, window=10, clock=lambda: clock[0])
    ctx = CallContext(exchange="x", base_url="http://x")
    for _ in range(2):
        burst(ctx, record(error="NetworkError: down"))
    clock[0] = 20  # outside the window: the earlier two no longer count
    for _ in range(2):
        burst(ctx, record(error="NetworkError: down"))
    assert alerts == []
    burst(ctx, record(error="NetworkError: down"))
    assert len(alerts) == 1 and alerts[0].kind == "exchange_errors" and alerts[0].key == "exchange_errors:x:NetworkError"

"""request_id on every log line of a request; the transport's scrubbing."""

from __future__ import annotations

from typing import Any

from terminal5.contract import HttpRequest
from terminal5.testing.captured_logs import captured_logs
from terminal5.transport import scrub_request


async def test_every_line_of_a_request_carries_its_request_id(env: Any) -> None:
    with captured_logs("DEBUG") as records:
        await env.gateway.place_order(
            env.order(client_order_id="log-1", take_profit_price="50000"), request_id="req-abc"
        )
    lines = [r for r in records if r["name"].startswith(("terminal5", "terminal5_"))]
    assert len(lines) >= 3  # the Level-2 warning, the native call, the stored result
    missing = [r["message"] for r in lines if r["extra"].get("request_id") != "req-abc"]
    assert not missing, missing
    assert any(r["extra"].get("exchange") == "loopback" for r in lines)  # the transport binds the exchange


def test_scrubbing_removes_signatures_keys_and_secrets() -> None:
    request = HttpRequest(
        method="POST",
        url="https://x/api?symbol=BTCUSDT&timestamp=1&signature=abcdef0123",
        headers={"X-MBX-APIKEY": "the-key-123456", "Authorization": "Bearer t", "Accept": "json"},
        body='{"nonce": 5, "otp": "999999", "note": "contains the-secret-xyz"}',
        redact=frozenset({"signature", "X-MBX-APIKEY", "otp"}),
    )
    url, headers, body = scrub_request(request, ("the-key-123456", "the-secret-xyz"))
    assert "abcdef0123" not in url and "symbol=BTCUSDT" in url
    assert headers["X-MBX-APIKEY"] == "***" and headers["Authorization"] == "***" and headers["Accept"] == "json"
    assert body is not None and "999999" not in body and "the-secret-xyz" not in body and '"nonce":5' in body

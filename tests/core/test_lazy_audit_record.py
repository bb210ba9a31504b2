"""The transport's audit record is scrubbed on first read (the audit writer's thread), not on the order's
path; whatever it yields, whenever it is read, carries no key, secret or signature."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from terminal5 import transport as transport_module
from terminal5.contract import CallContext, Credentials, HttpRequest
from terminal5.transport import CallRecord, HttpTransport

KEY, SECRET = "lazy-key-123456", "lazy-secret-abcdef"


async def answer(request: web.Request) -> web.Response:
    return web.json_response({"echo": KEY, "ok": True}, headers={"X-MBX-USED-WEIGHT-1M": "7"})


@pytest.fixture
async def server() -> Any:
    app = web.Application()
    app.router.add_post("/api/order", answer)
    async with TestServer(app, host="127.0.0.1") as srv:
        yield srv


async def test_the_record_is_scrubbed_on_first_read_not_in_the_send(server: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    scrubs: list[str] = []
    real = transport_module.scrub_request

    def counting(request: HttpRequest, secrets: tuple[str, ...]) -> Any:
        scrubs.append(request.url)
        return real(request, secrets)

    monkeypatch.setattr(transport_module, "scrub_request", counting)
    seen: list[CallRecord] = []
    http = HttpTransport("x", lambda exchange, response, ctx: None,
                         observers=[lambda ctx, record: seen.append(record)])
    ctx = CallContext(exchange="x", base_url=str(server.make_url("")),
                      credentials=Credentials(api_key=KEY, api_secret=SECRET))
    request = HttpRequest(method="POST", url=str(server.make_url("/api/order")) + "?qty=1&signature=deadbeef99",
                          headers={"X-MBX-APIKEY": KEY}, body=f"note={SECRET}", endpoint="order.place",
                          redact=frozenset({"signature", "X-MBX-APIKEY"}))
    try:
        response = await http.send(ctx, request)
    finally:
        await http.close()
    assert response.status == 200 and len(seen) == 1
    record = seen[0]
    # what observers read on the event loop is there, and nothing was scrubbed yet
    assert record.status == 200 and record.endpoint == "order.place" and record.rate_headers == {
        "X-MBX-USED-WEIGHT-1M": "7"}
    assert scrubs == []
    for text in (record.url, str(record.request_headers), str(record.request_body), str(record.response_body),
                 repr(record)):
        assert KEY not in text and SECRET not in text and "deadbeef99" not in text
    assert "signature=***" in record.url and "qty=1" in record.url and record.request_headers["X-MBX-APIKEY"] == "***"
    assert len(scrubs) == 1  # once, then kept
    assert record.url == record.url and len(scrubs) == 1


def test_a_record_built_from_scrubbed_values_keeps_them() -> None:
    fields: dict[str, Any] = {"exchange": "x", "endpoint": "e", "method": "GET", "url": "http://x", "status": 200,
                              "request_headers": {"A": "b"}, "request_body": None, "response_body": "",
                              "rate_headers": {}, "latency_ms": 1.0}
    record = CallRecord(**fields)
    assert record.url == "http://x" and record.request_headers == {"A": "b"} and record == CallRecord(**fields)


def test_the_query_is_scrubbed_as_text_keeping_the_signed_bytes() -> None:
    from terminal5.transport import _scrub_query

    redact = frozenset({"signature", "api key"})
    query = "symbol=BTC%2FUSDT&note=a+b%20c&signature=deadbeef&sig%6Eature=x&api+key=k&empty=&flag"
    assert _scrub_query(query, redact) == (
        "symbol=BTC%2FUSDT&note=a+b%20c&signature=***&sig%6Eature=***&api+key=***&empty=&flag"
    )
    assert _scrub_query(query, frozenset()) == query  # nothing to redact: the text as it was sent

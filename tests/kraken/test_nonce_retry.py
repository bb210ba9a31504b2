"""``EAPI:Invalid nonce`` (another process sharing the key got a higher nonce to Kraken first) refuses the
call before Kraken processes it: the client signs it again with a fresh, higher nonce, twice at most; any
other refusal is answered at once."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest

from terminal5.contract import CallContext, Credentials, HttpRequest, HttpResponse, NativeCall
from terminal5.errors import AuthenticationError
from terminal5_kraken.client import NONCE_RETRIES, KrakenClient

from .data import TEST_KEY, TEST_SECRET


class RefusingTransport:
    """Refuses the first ``refusals`` AddOrder calls with ``code``; records each call's nonce."""

    def __init__(self, refusals: int, code: str = "EAPI:Invalid nonce") -> None:
        self.refusals, self.code = refusals, code
        self.nonces: list[int] = []

    def now_ms(self) -> int:
        return 1_688_666_559_000

    async def send(self, ctx: CallContext, request: HttpRequest) -> HttpResponse:
        assert request.body is not None
        self.nonces.append(int(parse_qs(str(request.body))["nonce"][0]))
        if len(self.nonces) <= self.refusals:
            raise AuthenticationError(self.code, exchange="kraken", code=self.code)
        result = {"descr": {"order": "buy 1.25 XBTUSD @ limit 27500.0"}, "txid": ["OUF4EM-FRGI2-MQMWZD"]}
        return HttpResponse(status=200, headers={}, text="", latency_ms=0.0, data={"error": [], "result": result})


async def place(tmp_path: Path, transport: RefusingTransport) -> object:
    client = KrakenClient(transport)  # type: ignore[arg-type]
    ctx = CallContext(exchange="kraken", base_url="https://api.kraken.com", broker_id=1,
                      credentials=Credentials(api_key=TEST_KEY, api_secret=TEST_SECRET),
                      options={"nonce_dir": str(tmp_path / "nonce")})
    call = NativeCall(method="POST", path="/0/private/AddOrder", endpoint="order.place", native_client_id=1234567,
                      params={"pair": "XXBTZUSD", "type": "buy", "ordertype": "limit", "volume": "1.25",
                              "price": "27500", "userref": "1234567"})
    try:
        return await client.place_order(ctx, call)
    finally:
        await client.close()


@pytest.mark.parametrize("refusals", [1, NONCE_RETRIES])
async def test_an_invalid_nonce_is_signed_again_with_a_higher_nonce(tmp_path: Path, refusals: int) -> None:
    transport = RefusingTransport(refusals)
    payload = await place(tmp_path, transport)
    assert payload["txid"] == "OUF4EM-FRGI2-MQMWZD"  # type: ignore[index]
    assert len(transport.nonces) == refusals + 1
    assert transport.nonces == sorted(set(transport.nonces))  # each attempt a fresh, higher nonce


async def test_invalid_nonces_are_retried_a_bounded_number_of_times(tmp_path: Path) -> None:
    transport = RefusingTransport(refusals=100)
    with pytest.raises(AuthenticationError):
        await place(tmp_path, transport)
    assert len(transport.nonces) == NONCE_RETRIES + 1  # a key is locked out after many invalid nonces


@pytest.mark.parametrize("code", ["EAPI:Invalid key", "EAPI:Invalid signature"])
async def test_other_authentication_refusals_are_not_retried(tmp_path: Path, code: str) -> None:
    transport = RefusingTransport(refusals=1, code=code)
    with pytest.raises(AuthenticationError):
        await place(tmp_path, transport)
    assert len(transport.nonces) == 1

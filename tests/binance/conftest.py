"""Fixtures for the Binance tests: a vcrpy configuration that matches on method, path and business
parameters (never on timestamp/recvWindow/signature), and a client wired through the core transport.

Re-recording against the Binance testnets (cannot run offline)::

    TERMINAL5_RECORD=1 BINANCE_TESTNET_API_KEY=... BINANCE_TESTNET_API_SECRET=... pytest tests/binance

switches vcrpy to ``record_mode="all"``, points the clients at the testnet URLs and uses those keys. The
API key header is filtered and signing parameters are stripped from every recorded URI before writing.
Recorded answers carry testnet ids and amounts: the assertions that quote documented values then need
updating, which is why the committed cassettes are generated (``make_cassettes.py``) instead.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import pytest
import pytest_asyncio
import vcr

from terminal5 import transport as transport_module
from terminal5.contract import CallContext, Credentials
from terminal5.models import MarketType
from terminal5.plugins import load_hooks
from terminal5.transport import HttpTransport
from terminal5_binance import constants, plugin
from terminal5_binance.client import BinanceClient

from ._data import SERVER_TIME

CASSETTE_DIR = Path(__file__).resolve().parents[2] / "cassettes" / "binance"
RECORD = os.environ.get("TERMINAL5_RECORD") == "1"
KEY = os.environ.get("BINANCE_TESTNET_API_KEY", "test-api-key") if RECORD else "test-api-key"
SECRET = os.environ.get("BINANCE_TESTNET_API_SECRET", "test-api-secret") if RECORD else "test-api-secret"


def business_params(uri: str) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in parse_qsl(urlsplit(uri).query, keep_blank_values=True)
                  if k not in constants.SIGNING_PARAMS)


def binance_matcher(r1: Any, r2: Any) -> None:
    """Method, path and business parameters; the host is ignored so testnet recordings match too."""
    assert r1.method == r2.method, f"{r1.method} != {r2.method}"
    assert urlsplit(r1.uri).path == urlsplit(r2.uri).path, f"{r1.uri} != {r2.uri}"
    assert business_params(r1.uri) == business_params(r2.uri), f"{r1.uri} != {r2.uri}"


def scrub_request(request: Any) -> Any:
    parts = urlsplit(request.uri)
    request.uri = urlunsplit(parts._replace(query=urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in constants.SIGNING_PARAMS])))
    return request


def make_vcr() -> vcr.VCR:
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTE_DIR),
        record_mode="all" if RECORD else "none",
        match_on=["binance"],
        filter_headers=[constants.API_KEY_HEADER],
        before_record_request=scrub_request,
        decode_compressed_response=True,
    )
    recorder.register_matcher("binance", binance_matcher)
    return recorder


@attrs.define
class Env:
    """A client through the core transport, a mutable fake clock and the contexts of two accounts."""

    client: BinanceClient
    transport: HttpTransport
    clock: list[int]
    slept: list[float]
    spot: CallContext
    futures: CallContext
    records: list[Any]

    def ctx(self, market_type: MarketType, **changes: Any) -> CallContext:
        base = self.spot if market_type is MarketType.SPOT else self.futures
        return attrs.evolve(base, market_type=market_type, **changes)


@pytest.fixture
def cassette() -> Callable[[str], Any]:
    recorder = make_vcr()

    def use(name: str) -> Any:
        return recorder.use_cassette(f"{name}.yaml", allow_playback_repeats=False)

    return use


@pytest_asyncio.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    # a played-back call takes no time: the transport measures its round trip with perf_counter (real time),
    # and the client puts the server's time in the middle of it; a GC pause of 1 ms in the call would move
    # the clock offsets the tests compare exactly (they run on the fake clock below)
    monkeypatch.setattr(transport_module, "time", SimpleNamespace(perf_counter=lambda: 0.0))
    hooks = load_hooks(plugins=[plugin], load_entry_points=False)
    clock = [SERVER_TIME]
    slept: list[float] = []
    records: list[Any] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += int(seconds * 1000)

    transport = HttpTransport("binance", hooks.map_error, clock_ms=lambda: clock[0],
                              observers=[lambda ctx, record: records.append(record)])
    client = BinanceClient(transport, cache_dir=tmp_path / "cache", sleep=fake_sleep)
    creds = Credentials(api_key=KEY, api_secret=SECRET)
    spot_url = constants.SPOT_TESTNET_URL if RECORD else constants.SPOT_URL
    fut_url = constants.FUTURES_TESTNET_URL if RECORD else constants.FUTURES_URL
    spot = CallContext(exchange="binance", base_url=spot_url, credentials=creds, broker_id=1)
    futures = CallContext(exchange="binance", base_url=fut_url, market_type=MarketType.SWAP, credentials=creds,
                          broker_id=2)
    yield Env(client=client, transport=transport, clock=clock, slept=slept, spot=spot, futures=futures,
              records=records)
    await transport.close()

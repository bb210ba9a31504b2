"""Fixtures for the Bitget tests: a vcrpy configuration that matches on method, path, query parameters and
the JSON body (never on the signing headers), and a client wired through the core transport.

Re-recording against Bitget's demo trading (cannot run offline)::

    TERMINAL5_RECORD=1 BITGET_DEMO_API_KEY=... BITGET_DEMO_API_SECRET=... BITGET_DEMO_PASSPHRASE=... \
        pytest tests/bitget/test_client.py

switches vcrpy to ``record_mode="all"``, sends the ``paptrading: 1`` header on every call (demo keys) and
uses those keys. ACCESS-KEY/SIGN/PASSPHRASE/TIMESTAMP are filtered before writing. Recorded answers carry
demo ids and amounts, so the assertions quoting documented values then need updating: that is why the
committed cassettes are generated from the reference (``make_cassettes.py``) instead.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import pytest
import pytest_asyncio
import vcr

from terminal5 import jsonutil
from terminal5.contract import CallContext, Credentials
from terminal5.models import MarketType
from terminal5.plugins import load_hooks
from terminal5.transport import HttpTransport
from terminal5_bitget import constants, plugin
from terminal5_bitget.client import BitgetClient

from ._data import SERVER_TIME

CASSETTE_DIR = Path(__file__).resolve().parents[2] / "cassettes" / "bitget"
RECORD = os.environ.get("TERMINAL5_RECORD") == "1"
KEY = os.environ.get("BITGET_DEMO_API_KEY", "test-api-key") if RECORD else "test-api-key"
SECRET = os.environ.get("BITGET_DEMO_API_SECRET", "test-api-secret") if RECORD else "test-api-secret"
PASSPHRASE = os.environ.get("BITGET_DEMO_PASSPHRASE", "test-passphrase") if RECORD else "test-passphrase"


def _body(request: Any) -> Any:
    body = request.body
    if not body:
        return None
    return jsonutil.loads(body.decode() if isinstance(body, bytes) else body)


def bitget_matcher(r1: Any, r2: Any) -> None:
    """Method, path, query parameters (any order) and the JSON body."""
    assert r1.method == r2.method, f"{r1.method} != {r2.method}"
    assert urlsplit(r1.uri).path == urlsplit(r2.uri).path, f"{r1.uri} != {r2.uri}"
    q1, q2 = (sorted(parse_qsl(urlsplit(r.uri).query, keep_blank_values=True)) for r in (r1, r2))
    assert q1 == q2, f"{r1.uri} != {r2.uri}"
    assert _body(r1) == _body(r2), f"{r1.body!r} != {r2.body!r}"


def make_vcr() -> vcr.VCR:
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTE_DIR),
        record_mode="all" if RECORD else "none",
        match_on=["bitget"],
        filter_headers=sorted(constants.SECRET_HEADERS),
        decode_compressed_response=True,
    )
    recorder.register_matcher("bitget", bitget_matcher)
    return recorder


@attrs.define
class Env:
    """A client through the core transport, a mutable fake clock, the contexts and the audit records."""

    client: BitgetClient
    transport: HttpTransport
    clock: list[int]
    spot: CallContext
    mix: CallContext
    records: list[Any]
    sent: list[Any]


@pytest.fixture
def cassette() -> Callable[[str], Any]:
    recorder = make_vcr()

    def use(name: str) -> Any:
        return recorder.use_cassette(f"{name}.yaml", allow_playback_repeats=False)

    return use


@pytest_asyncio.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    hooks = load_hooks(plugins=[plugin], load_entry_points=False)
    clock = [SERVER_TIME]
    records: list[Any] = []
    sent: list[Any] = []
    transport = HttpTransport("bitget", hooks.map_error, clock_ms=lambda: clock[0],
                              observers=[lambda ctx, record: records.append(record)],
                              testnet_headers=plugin.SPEC.urls.testnet_headers)  # as the gateway builds it
    original = transport.send

    async def spy(ctx: CallContext, request: Any) -> Any:
        sent.append(request)
        return await original(ctx, request)

    transport.send = spy  # type: ignore[method-assign]
    client = BitgetClient(transport, cache_dir=tmp_path / "cache")
    creds = Credentials(api_key=KEY, api_secret=SECRET, api_password=PASSPHRASE)
    spot = CallContext(exchange="bitget", base_url=constants.BASE_URL, credentials=creds, broker_id=1, testnet=RECORD)
    mix = attrs.evolve(spot, market_type=MarketType.SWAP)
    yield Env(client=client, transport=transport, clock=clock, spot=spot, mix=mix, records=records, sent=sent)
    await transport.close()

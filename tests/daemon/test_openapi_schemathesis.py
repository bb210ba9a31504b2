"""The server keeps its OpenAPI document: schemathesis reads ``/v1/openapi.json`` from a live daemon and
sends valid and invalid requests to every operation (bounded examples), checking that nothing answers a
5xx, that every status, content type, header and body is the documented one, and that whatever the
document refuses, the server refuses too."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import schemathesis
import terminal5_template.plugin as loopback
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from terminal5 import jsonutil
from terminal5.daemon.openapi import build_document
from terminal5.daemon.service import Daemon
from terminal5.daemon.tokens import TokenStore
from terminal5.testing.loopback_server import LoopbackExchange

from .conftest import ACCOUNTS, make_settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@attrs.define
class Live:
    url: str
    token: str
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    stop: Any


def _serve(tmp: Path, ready: dict[str, Any], started: threading.Event) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        async with LoopbackExchange(ACCOUNTS) as exchange:
            daemon = await Daemon.open(make_settings(tmp), plugins=[loopback], load_entry_points=False,
                                       lookup_delays=(0.05,), console=lambda line: None)
            try:
                for user, key in ((1, "key-user-one"), (2, "key-user-two")):
                    await daemon.gw.add_broker(user_id=user, exchange="loopback", label=f"b{user}", api_key=key,
                                               api_secret=ACCOUNTS[key], base_url=exchange.url)
                _, token = await daemon.gw.storage.run(TokenStore(daemon.gw.storage).create, user_id=None,
                                                       admin=True)
                await daemon.start(host="127.0.0.1", port=0, check_brokers=False, reconcile=False,
                                   heartbeat=False)
                ready.update(url=f"http://127.0.0.1:{daemon.port}", token=token, stop=stop,
                             loop=asyncio.get_running_loop())
                started.set()
                await asyncio.wait_for(stop.wait(), 300)  # bounded: the fixture sets it long before
            finally:
                await daemon.shutdown(drain_timeout=5)

    try:
        asyncio.run(main())
    finally:
        started.set()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    ready: dict[str, Any] = {}
    started = threading.Event()
    thread = threading.Thread(target=_serve, args=(tmp_path_factory.mktemp("live"), ready, started), daemon=True)
    thread.start()
    assert started.wait(30) and "url" in ready, "the daemon did not start"
    yield Live(url=ready["url"], token=ready["token"], loop=ready["loop"], thread=thread, stop=ready["stop"])
    ready["loop"].call_soon_threadsafe(ready["stop"].set)
    thread.join(30)


# The document /v1/openapi.json serves (test_http_api.py checks they are the same). Loaded when the module is
# collected, so each operation is its own test; the live daemon is the module's fixture.
schema = schemathesis.openapi.from_dict(jsonutil.loads(jsonutil.dumps(build_document())))
# What the document refuses is refused for that reason (400, or 415/405), before any lookup could
# answer 404 or 422: a request that is invalid as written never gets further.
schema.config.checks.negative_data_rejection.expected_statuses = ["400", "401", "405", "413", "415"]


def test_the_served_document_is_the_one_tested(live: Live) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{live.url}/v1/openapi.json", timeout=10) as resp:  # noqa: S310
        assert jsonutil.loads(resp.read()) == jsonutil.loads(jsonutil.dumps(build_document()))


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_the_server_keeps_its_document(case: Any, live: Live) -> None:
    case.call_and_validate(base_url=live.url, headers={"Authorization": f"Bearer {live.token}"}, checks=CHECKS,
                           timeout=15)

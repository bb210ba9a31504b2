"""pytest plugin shipped with the core (entry point ``pytest11``): fixtures for exchange-plugin authors.

- ``t5_hooks``: build a fresh plugin manager from plugin objects (no entry points): ``t5_hooks(my_plugin)``.
- ``t5_gateway``: an async factory of gateways on a temporary SQLite database.
- ``t5_vcr_config``: a vcrpy configuration that never touches the network unless asked to record and
  scrubs keys, signatures and timestamps from what it records.
- ``loopback_exchange``: a running loopback exchange on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

RECORD_ENV = "TERMINAL5_RECORD"
REQUIRE_SERVICES_ENV = "TERMINAL5_REQUIRE_SERVICES"

#: always scrubbed from cassettes; each plugin adds its own key/signature header and parameter names
SCRUB_HEADERS = ("Authorization", "Cookie", "Set-Cookie")
SCRUB_PARAMS = ("signature", "timestamp", "nonce", "otp")


def recording() -> bool:
    return os.environ.get(RECORD_ENV, "") in ("1", "true", "yes")


def services_required() -> bool:
    return os.environ.get(REQUIRE_SERVICES_ENV, "") in ("1", "true", "yes")


def skip_or_fail(reason: str) -> None:
    """Skip when a service is absent, unless CI demands every service (then fail loudly)."""
    if services_required():
        pytest.fail(f"{reason} (TERMINAL5_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def vcr_config(
    cassette_dir: Path,
    *,
    match_on: Iterable[str] = ("method", "path"),
    secret_headers: Iterable[str] = (),
    secret_params: Iterable[str] = (),
    **extra: Any,
) -> dict[str, Any]:
    """Keyword arguments for ``vcr.VCR``: replay-only by default, recording when TERMINAL5_RECORD=1.

    ``secret_headers``/``secret_params``: your exchange's key, signature and timestamp names (e.g.
    ``("X-MBX-APIKEY",)``, ``("recvWindow",)``), scrubbed on top of the generic ones."""
    headers = (*SCRUB_HEADERS, *secret_headers)
    params = (*SCRUB_PARAMS, *secret_params)
    return {
        "cassette_library_dir": str(cassette_dir),
        "record_mode": "all" if recording() else "none",
        "match_on": list(match_on),
        "filter_headers": [(h, "SCRUBBED") for h in headers],
        "filter_query_parameters": [(p, "SCRUBBED") for p in params],
        "filter_post_data_parameters": [(p, "SCRUBBED") for p in params],
        "decode_compressed_response": True,
        **extra,
    }


@pytest.fixture
def t5_vcr_config() -> Callable[..., dict[str, Any]]:
    return vcr_config


@pytest.fixture
def t5_hooks() -> Callable[..., Any]:
    from terminal5.plugins import load_hooks

    def build(*plugins: Any) -> Any:
        return load_hooks(plugins=list(plugins), load_entry_points=False)

    return build


@pytest.fixture
async def t5_gateway(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    from terminal5.gateway import Gateway
    from terminal5.plugins import load_hooks
    from terminal5.secrets import generate_key

    opened: list[Any] = []

    async def make(*plugins: Any, database_url: str | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("lookup_delays", (0.05, 0.1))
        kwargs.setdefault("http_timeout", 2.0)
        gateway = await Gateway.open(
            database_url=database_url or f"sqlite:///{tmp_path}/gw{len(opened)}.db",
            data_dir=tmp_path,
            hooks=load_hooks(plugins=list(plugins), load_entry_points=False),
            master_key=generate_key(),
            **kwargs,
        )
        opened.append(gateway)
        return gateway

    yield make
    for gateway in opened:
        with contextlib.suppress(RuntimeError):  # already closed by the test
            await gateway.close()


@pytest.fixture
async def loopback_exchange() -> AsyncIterator[Any]:
    from terminal5.testing.loopback_server import LoopbackExchange

    async with LoopbackExchange() as exchange:
        yield exchange

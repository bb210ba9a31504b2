"""The typed client contract: required methods, optional capabilities found with isinstance, and the
capability list users see derived from the client, never declared by hand."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import pytest
import terminal5_template.plugin as loopback
from aiohttp import web
from aiohttp.test_utils import TestServer
from terminal5_template.client import LoopbackClient

from terminal5.contract import (
    CAPABILITIES,
    CallContext,
    ExchangeClient,
    ExchangeUrls,
    HttpRequest,
    OrderRef,
    SupportsCancelAllAfter,
    SupportsEditOrder,
    Transport,
    capabilities,
)
from terminal5.daemon.api import exchange_json
from terminal5.errors import PluginError, UnsupportedParameterError
from terminal5.hookspecs import hookimpl
from terminal5.models import MarketType
from terminal5.plugins import load_hooks
from terminal5.transport import HttpTransport

CORE = Path(__file__).resolve().parents[2] / "core"


class EditingClient(LoopbackClient):
    async def edit_order(self, ctx: CallContext, ref: OrderRef, *, quantity: Any = None, price: Any = None) -> Any:
        raise NotImplementedError  # only its presence matters here


class HalfClient:
    """Lacks fetch_balances and close: not an ExchangeClient."""

    def __init__(self, transport: Transport) -> None: ...

    async def load_markets(self, ctx: CallContext) -> Sequence[Any]: ...
    async def place_order(self, ctx: CallContext, call: Any) -> Any: ...
    async def cancel_order(self, ctx: CallContext, ref: OrderRef) -> Any: ...
    async def fetch_order(self, ctx: CallContext, ref: OrderRef) -> Any: ...
    async def fetch_open_orders(self, ctx: CallContext, market: Any) -> Sequence[Any]: ...


def exchange_with(client_factory: Any, name: str = "loopback") -> SimpleNamespace:
    spec = attrs.evolve(loopback.SPEC, name=name, client_factory=client_factory)
    return SimpleNamespace(__name__=f"dist-{name}", register_exchanges=hookimpl(lambda register: register(spec)))


def test_features_are_what_the_client_implements() -> None:
    assert loopback.SPEC.features == {"server_time"}
    assert "edit_order" in attrs.evolve(loopback.SPEC, client_factory=EditingClient).features
    assert isinstance(EditingClient(None), SupportsEditOrder)  # type: ignore[arg-type]
    assert not isinstance(LoopbackClient(None), SupportsEditOrder)  # type: ignore[arg-type]


def test_a_factory_function_is_read_through_its_return_annotation() -> None:
    def make(transport: Transport) -> EditingClient:
        return EditingClient(transport)

    assert "edit_order" in attrs.evolve(loopback.SPEC, client_factory=make).features


def test_exchanges_show_the_derived_capabilities() -> None:
    hooks = load_hooks(plugins=[exchange_with(EditingClient)], load_entry_points=False)
    assert exchange_json(hooks.registry.get("loopback"))["features"] == ["edit_order", "server_time"]


def test_capability_names_have_one_definition() -> None:
    assert set(CAPABILITIES) >= {"edit_order", "cancel_all_after", "fetch_positions", "fetch_account_config"}
    assert capabilities(EditingClient) == {"edit_order", "server_time"}
    for path in CORE.rglob("*.py"):
        text = path.read_text()
        assert "EDIT_FEATURES" not in text and '"amend_order"' not in text, path


def test_the_core_never_probes_a_client_with_getattr() -> None:
    """Only ``terminal5.contract`` looks inside a client (to name the required methods it lacks);
    everything else asks ``isinstance(client, SupportsX)``."""
    probing = re.compile(r"(getattr|hasattr)\([^)]*client")
    offenders = [f"{p.relative_to(CORE)}:{n}" for p in CORE.rglob("*.py") if p.name != "contract.py"
                 for n, line in enumerate(p.read_text().splitlines(), 1) if probing.search(line)]
    assert not offenders, f"capability probing with getattr: {offenders}"


def test_a_client_missing_a_required_method_is_refused_naming_the_plugin() -> None:
    assert not isinstance(HalfClient, ExchangeClient)
    with pytest.raises(PluginError) as raised:
        load_hooks(plugins=[exchange_with(HalfClient, "half")], load_entry_points=False)
    assert "dist-half" in str(raised.value) and "fetch_balances" in str(raised.value)


async def test_operations_a_client_lacks_are_refused_before_any_call(env: Any) -> None:
    assert not isinstance(env.gateway.client_for("loopback").client, SupportsCancelAllAfter)
    with pytest.raises(UnsupportedParameterError, match="dead-man"):
        await env.gateway.cancel_all_after(broker_id=env.broker.id, timeout=60)
    await env.gateway.place_order(env.order(client_order_id="no-edit"))
    with pytest.raises(UnsupportedParameterError, match="cannot edit"):
        await env.gateway.edit_order(broker_id=env.broker.id, client_order_id="no-edit", price="43000.20")
    assert await env.gateway.fetch_positions(broker_id=env.broker.id) == []


def test_a_header_marked_testnet_uses_the_production_host() -> None:
    urls = ExchangeUrls(production={MarketType.SPOT: "https://api.x"}, testnet_headers={"x-simulated-trading": "1"})
    assert urls.for_(MarketType.SPOT, testnet=True) == "https://api.x"
    assert urls.for_(MarketType.SWAP, testnet=True) is None
    assert ExchangeUrls(production={MarketType.SPOT: "https://api.x"}).for_(MarketType.SPOT, testnet=True) is None


async def test_the_transport_adds_testnet_headers_to_testnet_calls_only() -> None:
    seen: list[str | None] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(request.headers.get("x-simulated-trading"))
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/ping", echo)
    async with TestServer(app, host="127.0.0.1") as server:
        transport = HttpTransport("demo", lambda *_: None, testnet_headers={"x-simulated-trading": "1"})
        try:
            for testnet in (True, False):
                ctx = CallContext(exchange="demo", base_url=str(server.make_url("")), testnet=testnet)
                await transport.send(ctx, HttpRequest(method="GET", url=str(server.make_url("/ping"))))
        finally:
            await transport.close()
    assert seen == ["1", None]


def test_terminal5_exchanges_shows_the_capabilities_of_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from terminal5.cli import main

    monkeypatch.setenv("TERMINAL5_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TERMINAL5_PLUGINS_ALLOW", "no-installed-plugin")
    monkeypatch.setenv("TERMINAL5_PLUGINS_EXTRA", "terminal5_template.plugin")
    out, err = io.StringIO(), io.StringIO()
    assert main(["exchanges"], stdin=io.StringIO(), stdout=out, stderr=err) == 0, err.getvalue()
    assert "capabilities: server_time" in out.getvalue()

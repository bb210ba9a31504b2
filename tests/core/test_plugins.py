"""The plugin contract: discovery, registration, dispatch, overrides, documentation."""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import pytest
import terminal5_template.plugin as loopback
from loguru import logger

import terminal5.plugins as plugins_module
from terminal5.errors import ExchangeNotFound, PluginError
from terminal5.hookspecs import hookimpl, overrides, specs
from terminal5.models import OrderStatus
from terminal5.plugins import load_hooks

ROOT = Path(__file__).resolve().parents[2]
HOOKS = [name for name, fn in inspect.getmembers(specs, inspect.isfunction) if hasattr(fn, "terminal5_spec")]


def test_the_core_alone_discovers_nothing() -> None:
    hooks = load_hooks(load_entry_points=os.environ.get("TERMINAL5_EXPECT_NO_PLUGINS") == "1")
    if os.environ.get("TERMINAL5_EXPECT_NO_PLUGINS") == "1":
        assert hooks.registry.names() == [], "tox env core must have no exchange plugin installed"
    with pytest.raises(ExchangeNotFound) as raised:
        load_hooks(load_entry_points=False).registry.get("binance")
    assert "none installed" in str(raised.value)


def test_a_plugin_registers_its_exchange() -> None:
    hooks = load_hooks(plugins=[loopback], load_entry_points=False)
    assert hooks.registry.names() == ["loopback"]
    assert hooks.registry.get("loopback").distribution == "terminal5_template.plugin"


def test_two_plugins_claiming_one_exchange_are_refused_by_name() -> None:
    other = SimpleNamespace(__name__="terminal5-impostor")
    other.register_exchanges = hookimpl(lambda register: register(loopback.SPEC))
    with pytest.raises(PluginError) as raised:
        load_hooks(plugins=[loopback, other], load_entry_points=False)
    message = str(raised.value)
    assert "terminal5_template.plugin" in message and "terminal5-impostor" in message


def test_a_misspelt_hook_is_rejected_at_load() -> None:
    plugin = SimpleNamespace(__name__="typo-plugin")
    plugin.normalise_status = hookimpl(lambda exchange, native_status: None)
    with pytest.raises(PluginError) as raised:
        load_hooks(plugins=[plugin], load_entry_points=False)
    assert "normalise_status" in str(raised.value)


def test_register_takes_only_exchange_specs() -> None:
    plugin = SimpleNamespace(__name__="bad-register")
    plugin.register_exchanges = hookimpl(lambda register: register({"name": "x"}))
    with pytest.raises(PluginError, match="ExchangeSpec"):
        load_hooks(plugins=[plugin], load_entry_points=False)


def test_tryfirst_override_of_one_hook_for_one_exchange() -> None:
    override = SimpleNamespace(__name__="status-override")

    @overrides("loopback")  # @hookimpl(tryfirst=True), called for this exchange only: no guard needed
    def normalize_status(exchange: str, native_status: str) -> OrderStatus | None:
        return OrderStatus.OPEN if native_status == "PENDING_NEW" else None

    override.normalize_status = normalize_status
    hooks = load_hooks(plugins=[loopback, override], load_entry_points=False)
    assert hooks.normalize_status("loopback", "PENDING_NEW") is OrderStatus.OPEN  # the override answers
    assert hooks.normalize_status("loopback", "FILLED") is OrderStatus.CLOSED  # the plugin still answers the rest
    assert hooks.normalize_status("otherex", "PENDING_NEW") is None  # and nothing leaks to other exchanges
    without = load_hooks(plugins=[loopback], load_entry_points=False)
    assert without.normalize_status("loopback", "PENDING_NEW") is None


def test_an_override_registered_after_dispatch_began_is_called_and_removed_cleanly() -> None:
    """Dispatch keeps the implementations per (hook, exchange): a plugin registered or removed later
    must still change who answers."""
    hooks = load_hooks(plugins=[loopback], load_entry_points=False)
    assert hooks.normalize_status("loopback", "PENDING_NEW") is None  # dispatch has run (and kept its list)
    override = SimpleNamespace(__name__="late-override")
    override.normalize_status = overrides("loopback")(
        lambda exchange, native_status: OrderStatus.OPEN if native_status == "PENDING_NEW" else None)
    hooks.pm.register(override)
    assert hooks.normalize_status("loopback", "PENDING_NEW") is OrderStatus.OPEN
    hooks.pm.unregister(override)
    assert hooks.normalize_status("loopback", "PENDING_NEW") is None


def test_a_plugin_answering_for_every_exchange_cannot_answer_for_another() -> None:
    """The probe of issue 8: a plugin without the ``exchange`` guard turned another exchange's
    ``CANCELED`` into ``open``. Dispatch now reaches only the exchange's own plugin (and its overrides)."""
    greedy = SimpleNamespace(__name__="terminal5-greedy")
    greedy.register_exchanges = hookimpl(lambda register: register(attrs.evolve(loopback.SPEC, name="greedy")))
    greedy.normalize_status = hookimpl(lambda exchange, native_status: OrderStatus.OPEN)  # no guard
    for order in ([loopback, greedy], [greedy, loopback]):
        hooks = load_hooks(plugins=order, load_entry_points=False)
        assert hooks.normalize_status("loopback", "CANCELED") is OrderStatus.CANCELLED
        assert hooks.normalize_status("greedy", "CANCELED") is OrderStatus.OPEN


def test_a_hook_answering_for_no_exchange_is_refused_naming_its_plugin() -> None:
    probe = SimpleNamespace(__name__="terminal5-probe")
    probe.normalize_status = hookimpl(tryfirst=True)(lambda exchange, native_status: OrderStatus.OPEN)
    with pytest.raises(PluginError) as raised:
        load_hooks(plugins=[loopback, probe], load_entry_points=False)
    assert "terminal5-probe" in str(raised.value) and "normalize_status" in str(raised.value)
    assert "overrides(" in str(raised.value)


def test_an_override_is_called_for_its_exchanges_only() -> None:
    seen: list[str] = []

    @overrides("greedy")
    def normalize_status(exchange: str, native_status: str) -> None:
        seen.append(exchange)

    greedy = SimpleNamespace(__name__="greedy-dist")
    greedy.register_exchanges = hookimpl(lambda register: register(attrs.evolve(loopback.SPEC, name="greedy")))
    greedy.normalize_status = hookimpl(lambda exchange, native_status: OrderStatus.OPEN)
    override = SimpleNamespace(__name__="override", normalize_status=normalize_status)
    hooks = load_hooks(plugins=[loopback, greedy, override], load_entry_points=False)
    assert hooks.normalize_status("loopback", "NEW") is OrderStatus.OPEN
    assert hooks.normalize_status("greedy", "NEW") is OrderStatus.OPEN  # the owner answers after the None
    assert seen == ["greedy"]


def test_one_plugin_by_entry_point_and_in_code_is_loaded_once_and_said(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed (entry point) and also named in TERMINAL5_PLUGINS_EXTRA: not pluggy's raw error."""
    entry_point = importlib.metadata.EntryPoint(name="loopback", value="terminal5_template.plugin", group="terminal5")
    monkeypatch.setattr(plugins_module, "_entry_points", lambda: [entry_point])
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(str(m)), level="WARNING")
    try:
        hooks = load_hooks(plugins=[loopback])
    finally:
        logger.remove(sink)
    assert hooks.registry.names() == ["loopback"]
    assert any("terminal5_template.plugin" in m and "loaded twice" in m for m in messages), messages


def test_two_plugins_of_one_name_are_refused_clearly() -> None:
    first = SimpleNamespace(__name__="my_alerts", alert=hookimpl(lambda alert: None))
    second = SimpleNamespace(__name__="my_alerts", alert=hookimpl(lambda alert: None))
    with pytest.raises(PluginError, match="two different plugins are named 'my_alerts'"):
        load_hooks(plugins=[first, second], load_entry_points=False)


def test_a_none_answer_becomes_a_typed_error() -> None:
    hooks = load_hooks(load_entry_points=False)
    with pytest.raises(PluginError):
        hooks.map_client_id("nobody", "abc", 0)


def test_blocked_plugins_are_not_loaded() -> None:
    hooks = load_hooks(block=frozenset({"binance", "kraken"}))
    assert "binance" not in hooks.registry.names() and "kraken" not in hooks.registry.names()


def test_a_failing_alert_sink_does_not_break_the_others() -> None:
    received: list[Any] = []
    broken = SimpleNamespace(__name__="broken-sink", alert=hookimpl(lambda alert: 1 / 0))
    working = SimpleNamespace(__name__="sink", alert=hookimpl(lambda alert: received.append(alert)))
    hooks = load_hooks(plugins=[broken, working], load_entry_points=False)
    from terminal5.contract import Alert

    hooks.alert(Alert(kind="x", message="m", key="k"))
    assert len(received) == 1


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented(name: str) -> None:
    """The hookspec docstrings are the plugin author's manual: each argument and the None rule."""
    fn = getattr(specs, name)
    doc = inspect.getdoc(fn) or ""
    assert len(doc) > 200, f"{name}: document it"
    for arg in inspect.signature(fn).parameters:
        assert f"``{arg}``" in doc or arg in doc, f"{name}: argument {arg} undocumented"
    if fn.terminal5_spec.get("firstresult"):
        assert re.search(r"[Rr]eturns? ``None``", doc), f"{name}: say when it returns None"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_in_the_readme(name: str) -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"`{name}" in readme, f"README's plugin guide does not mention hook {name}"


def _readme_section(title: str) -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(title)
    return readme[start : readme.index("\n## ", start + 1)]


def test_the_readme_hook_table_is_the_hookspecs() -> None:
    """Each row of the README's hook table shows its hook's exact signature, and no hook is missing."""
    section = _readme_section("## Writing an exchange plugin")
    rows = re.findall(r"^\s*\| `(\w+)\(([^)]*)\)` \|", section, flags=re.MULTILINE)
    table = {name: [a.strip() for a in args.split(",") if a.strip()] for name, args in rows}
    specs_ = {name: list(inspect.signature(getattr(specs, name)).parameters) for name in HOOKS}
    assert table == specs_


def test_the_readme_lists_every_module_a_plugin_imports() -> None:
    section = _readme_section("## Writing an exchange plugin")
    used = set()
    for path in (ROOT / "plugins").glob("*/terminal5_*/*.py"):
        used |= set(re.findall(r"^from (terminal5(?:\.\w+)?) import", path.read_text(), flags=re.MULTILINE))
        used |= {f"terminal5.{m}" for m in re.findall(r"^from terminal5 import (\w+)", path.read_text(), re.M)}
    used.discard("terminal5")
    assert used, "the plugins import the contract"
    missing = sorted(m for m in used if f"`{m}`" not in section)
    assert not missing, f"README's plugin section does not list {missing}"


def test_implied_parameters_are_documented_where_plugins_read() -> None:
    from terminal5.params import IMPLIED

    doc = inspect.getdoc(specs.register_exchanges) or ""
    section = _readme_section("## Writing an exchange plugin")
    for name in IMPLIED:
        assert f"``{name}``" in doc, f"register_exchanges' doc does not say {name} is implied"
        assert f"`{name}`" in section

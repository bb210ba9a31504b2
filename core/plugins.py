"""The only module that touches pluggy: builds the plugin manager and exposes a typed façade.

Nothing is loaded at import time: ``load_plugins()`` builds a fresh manager each time it is called, so
tests and embedders get isolated instances.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import pluggy
from loguru import logger

from terminal5.contract import (
    Alert,
    CallContext,
    ExchangeSpec,
    HttpResponse,
    NativeCall,
    NativeClientId,
    NativeContext,
    NativePayload,
    client_class,
    missing_methods,
)
from terminal5.errors import ExchangeError, ExchangeNotFound, PluginError
from terminal5.hookspecs import PROJECT, specs
from terminal5.hookspecs.markers import OVERRIDES_ATTR
from terminal5.models import Market, Order, OrderRequest, OrderStatus

ENTRY_POINT_GROUP = PROJECT


def _entry_points() -> Iterable[importlib.metadata.EntryPoint]:
    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


def build_plugin_manager(
    *,
    plugins: Sequence[Any] = (),
    load_entry_points: bool = True,
    allow: frozenset[str] | None = None,
    block: frozenset[str] = frozenset(),
) -> tuple[pluggy.PluginManager, dict[str, str]]:
    """A fresh manager with the specs, the installed plugins (entry-point group ``terminal5``) and
    ``plugins`` given in code. Returns it with a map plugin name -> distribution name.

    ``allow`` (when given) keeps only those entry-point names; ``block`` removes names. A hook
    implementation that matches no spec is rejected here, loudly.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(specs)
    distributions: dict[str, str] = {}
    for name in block:
        pm.set_blocked(name)
    if load_entry_points:
        for ep in _entry_points():
            if ep.name in block or (allow is not None and ep.name not in allow):
                logger.info("plugin {} skipped by configuration", ep.name)
                continue
            if pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take the gateway down with a traceback
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to import: {exc}") from exc
            pm.register(plugin, name=ep.name)
            distributions[ep.name] = ep.dist.name if ep.dist else ep.name
    for plugin in plugins:
        if pm.is_registered(plugin):
            # e.g. installed (entry point) and also named in TERMINAL5_PLUGINS_EXTRA: one object, loaded once
            logger.warning(
                "plugin {} is loaded twice (as {!r} and given again in code or TERMINAL5_PLUGINS_EXTRA): kept once",
                _label(plugin),
                pm.get_name(plugin),
            )
            continue
        name = _label(plugin)
        if pm.has_plugin(name):
            raise PluginError(
                f"two different plugins are named {name!r} (one is {_label(pm.get_plugin(name))}): "
                "rename one, or load it one way only (entry point or TERMINAL5_PLUGINS_EXTRA)"
            )
        name = pm.register(plugin, name=name)
        if name is not None:
            distributions[name] = name
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"unknown hook implementation: {exc}") from exc
    return pm, distributions


def _label(plugin: Any) -> str:
    """How messages name a plugin object: its module or ``__name__``, else its class."""
    name = getattr(plugin, "__name__", None)
    return name if isinstance(name, str) else f"{type(plugin).__module__}.{type(plugin).__qualname__}@{id(plugin):x}"


def _per_exchange_hooks(pm: pluggy.PluginManager) -> list[str]:
    """The hooks that take an ``exchange`` argument: dispatched to that exchange's plugin only."""
    return [
        name
        for name in dir(pm.hook)
        if not name.startswith("_")
        and (caller := getattr(pm.hook, name)).spec is not None
        and "exchange" in caller.spec.argnames
    ]


@attrs.define
class Registry:
    """The exchanges the installed plugins provide, by name."""

    specs: dict[str, ExchangeSpec] = attrs.field(factory=dict)

    def get(self, exchange: str) -> ExchangeSpec:
        try:
            return self.specs[exchange]
        except KeyError:
            known = ", ".join(sorted(self.specs)) or "none installed"
            raise ExchangeNotFound(f"no plugin provides exchange {exchange!r} (available: {known})") from None

    def __contains__(self, exchange: object) -> bool:
        return exchange in self.specs

    def names(self) -> list[str]:
        return sorted(self.specs)


class Hooks:
    """Typed façade over ``pm.hook``: every core module calls these, never pluggy directly.

    A per-exchange hook (one taking ``exchange``) is dispatched only to the plugin that registered that
    exchange and to the plugins that declare an override for it (``terminal5.hookspecs.overrides``): a
    plugin cannot answer, by mistake or not, for an exchange it does not own.
    """

    def __init__(self, pm: pluggy.PluginManager, distributions: dict[str, str] | None = None) -> None:
        self.pm = pm
        self.distributions = distributions or {}
        self.owners: dict[str, str] = {}  # exchange -> plugin name
        self.registry = self._collect_exchanges()
        self.per_exchange = frozenset(_per_exchange_hooks(pm))
        self._kept: dict[tuple[str, str], tuple[list[Any], list[Any]]] = {}  # (hook, exchange) -> (all, kept)
        self._callers: dict[str, tuple[Any, bool]] = {}
        self._refuse_unreachable()

    def _name(self, plugin_name: str) -> str:
        return self.distributions.get(plugin_name, plugin_name)

    def _refuse_unreachable(self) -> None:
        """A per-exchange hook of a plugin that registers no exchange and overrides none could never be
        called: say so now rather than ignore it silently."""
        owners = set(self.owners.values())
        for hook in sorted(self.per_exchange):
            for impl in getattr(self.pm.hook, hook).get_hookimpls():
                if impl.plugin_name not in owners and not getattr(impl.function, OVERRIDES_ATTR, None):
                    raise PluginError(
                        f"plugin {self._name(impl.plugin_name)}: its {hook} hook answers for no exchange: it "
                        "registers none and declares no override; decorate it with "
                        "@terminal5.hookspecs.overrides('<exchange>') to override one exchange"
                    )

    def _impls(self, hook: str, exchange: str) -> list[Any]:
        """The implementations of ``hook`` that may answer for ``exchange``: its owner's and the declared
        overrides, in pluggy's order. Kept per (hook, exchange) until pluggy's list of implementations
        changes (a plugin registered or removed later)."""
        caller = self._caller(hook)[0]
        impls = caller.get_hookimpls()
        kept = self._kept.get((hook, exchange))
        if kept is None or kept[0] != impls:
            owner = self.owners.get(exchange)
            kept = (
                impls,
                [
                    impl
                    for impl in impls
                    if impl.plugin_name == owner or exchange in getattr(impl.function, OVERRIDES_ATTR, ())
                ],
            )
            self._kept[(hook, exchange)] = kept
        return kept[1]

    def _caller(self, hook: str) -> tuple[Any, bool]:
        """pluggy's caller of ``hook`` and whether it is firstresult (fixed once the specs are added)."""
        found = self._callers.get(hook)
        if found is None:
            caller = getattr(self.pm.hook, hook)
            found = self._callers[hook] = (caller, bool(caller.spec.opts.get("firstresult")))
        return found

    def _call(self, hook: str, exchange: str, **kwargs: Any) -> Any:
        # pluggy's own call loop (firstresult, wrappers, tracing) over the kept implementations; its
        # subset_hook_caller would do the same but needs hashable plugin objects, which modules are and
        # SimpleNamespace plugins are not
        kwargs["exchange"] = exchange
        return self.pm._hookexec(hook, self._impls(hook, exchange), kwargs, self._caller(hook)[1])

    # discovery
    def _collect_exchanges(self) -> Registry:
        registry = Registry()
        for impl in self.pm.hook.register_exchanges.get_hookimpls():
            dist = self.distributions.get(impl.plugin_name, impl.plugin_name)

            def register(spec: ExchangeSpec, _dist: str = dist, _plugin: str = impl.plugin_name) -> None:
                if not isinstance(spec, ExchangeSpec):
                    raise PluginError(f"{_dist}: register() takes an ExchangeSpec, got {type(spec).__name__}")
                if spec.name in registry.specs:
                    other = registry.specs[spec.name].distribution
                    raise PluginError(
                        f"exchange {spec.name!r} is provided by two plugins: {other} and {_dist}; "
                        "uninstall or block one (TERMINAL5_PLUGINS_BLOCK)"
                    )
                cls = client_class(spec.client_factory)
                missing = missing_methods(cls) if cls is not None else []
                if missing:
                    raise PluginError(f"{_dist}: the {spec.name} client lacks {', '.join(missing)} (ExchangeClient)")
                registry.specs[spec.name] = attrs.evolve(spec, distribution=_dist)
                self.owners[spec.name] = _plugin

            impl.function(register=register)
        return registry

    # order path
    def map_client_id(self, exchange: str, client_order_id: str, attempt: int) -> NativeClientId:
        result = self._call("map_client_id", exchange, client_order_id=client_order_id, attempt=attempt)
        if result is None:
            raise PluginError(f"no plugin maps client ids for {exchange!r}", exchange=exchange)
        if not isinstance(result, (str, int)) or isinstance(result, bool):
            raise PluginError(f"map_client_id for {exchange!r} returned {type(result).__name__}")
        return result

    def to_native(
        self,
        exchange: str,
        request: OrderRequest,
        market: Market,
        native_client_id: NativeClientId,
        options: Mapping[str, Any] | None = None,
    ) -> NativeCall:
        call = self._call(
            "to_native",
            exchange,
            request=request,
            market=market,
            native_client_id=native_client_id,
            options=dict(options or {}),
        )
        if not isinstance(call, NativeCall):
            raise PluginError(f"to_native for {exchange!r} returned {type(call).__name__}", exchange=exchange)
        return call

    def map_error(self, exchange: str, response: HttpResponse, ctx: CallContext) -> ExchangeError | None:
        error = self._call("map_error", exchange, response=response, ctx=ctx)
        if error is not None and not isinstance(error, ExchangeError):
            raise PluginError(f"map_error for {exchange!r} returned {type(error).__name__}")
        return error

    def from_native(self, exchange: str, native: NativePayload, context: NativeContext) -> Order:
        order = self._call("from_native", exchange, native=native, context=context)
        if not isinstance(order, Order):
            raise PluginError(f"from_native for {exchange!r} returned {type(order).__name__}", exchange=exchange)
        return order

    def normalize_status(self, exchange: str, native_status: str) -> OrderStatus | None:
        """The plugin's answer, or None when no plugin knows this status. Never raises."""
        try:
            status = self._call("normalize_status", exchange, native_status=native_status)
        except Exception:
            logger.exception("normalize_status raised for {} {!r}", exchange, native_status)
            return None
        if status is None:
            return None
        try:
            return OrderStatus(status)
        except ValueError:
            logger.error("normalize_status for {} returned {!r}, not a status", exchange, status)
            return None

    def simulators(self) -> dict[str, Callable[..., Any]]:
        """exchange name -> the factory of its native simulator (``register_simulators``)."""
        found: dict[str, Callable[..., Any]] = {}
        owners: dict[str, str] = {}
        for impl in self.pm.hook.register_simulators.get_hookimpls():
            dist = self.distributions.get(impl.plugin_name, impl.plugin_name)

            def register(name: str, factory: Callable[..., Any], _dist: str = dist) -> None:
                if not callable(factory):
                    raise PluginError(f"{_dist}: register({name!r}, …) takes a callable simulator factory")
                if name in found:
                    raise PluginError(f"a simulator for {name!r} is provided by two plugins: {owners[name]} and {_dist}")
                found[name], owners[name] = factory, _dist

            impl.function(register=register)
        return found

    # operations
    def alert(self, alert: Alert) -> None:
        for impl in reversed(self.pm.hook.alert.get_hookimpls()):
            try:
                impl.function(alert=alert)
            except Exception:
                logger.exception("alert sink {} failed", impl.plugin_name)


def load_hooks(
    *,
    plugins: Sequence[Any] = (),
    load_entry_points: bool = True,
    allow: frozenset[str] | None = None,
    block: frozenset[str] = frozenset(),
) -> Hooks:
    pm, dists = build_plugin_manager(plugins=plugins, load_entry_points=load_entry_points, allow=allow, block=block)
    return Hooks(pm, dists)

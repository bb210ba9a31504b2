"""Plugin objects loaded by import path, for plugins that are not installed through an entry point.

``TERMINAL5_PLUGINS_EXTRA="terminal5_template.plugin,my_pkg.alerts:sink"``: each
item is ``module:attribute``; when the attribute is a function or a class it is called without
arguments to get the plugin object, otherwise the object itself (a module, a namespace) is the plugin.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Iterable, Mapping
from typing import Any

from terminal5.errors import PluginError
from terminal5.plugins import Hooks, load_hooks
from terminal5.settings import Settings

ENV_VAR = "TERMINAL5_PLUGINS_EXTRA"


def parse_paths(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def load_object(path: str) -> Any:
    """``module`` or ``module:attribute`` -> the plugin object."""
    module_name, _, attribute = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginError(f"extra plugin {path!r}: cannot import {module_name!r}: {exc}") from exc
    for part in filter(None, attribute.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginError(f"extra plugin {path!r}: {module_name!r} has no attribute {attribute!r}") from None
    if inspect.isfunction(obj) or inspect.isclass(obj):
        obj = obj()
    return obj


def load_extra(paths: Iterable[str]) -> list[Any]:
    return [load_object(p) for p in paths]


def extra_paths(env: Mapping[str, str] | None = None, more: Iterable[str] = ()) -> list[str]:
    env = os.environ if env is None else env
    return [*parse_paths(env.get(ENV_VAR)), *more]


def build_hooks(
    settings: Settings,
    *,
    extra: Iterable[str] = (),
    plugins: Iterable[Any] = (),
    env: Mapping[str, str] | None = None,
    load_entry_points: bool = True,
) -> Hooks:
    """Installed plugins (entry points, filtered by allow/block) + extra ones by path + objects."""
    objects = [*load_extra(extra_paths(env, extra)), *plugins]
    return load_hooks(
        plugins=objects,
        load_entry_points=load_entry_points,
        allow=settings.plugins_allow,
        block=settings.plugins_block,
    )
